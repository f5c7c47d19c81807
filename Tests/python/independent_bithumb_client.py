"""Drives the Bithumb simulator with python-bithumb (PyPI), an independent Bithumb client, and
Bithumb's batch cancel (which python-bithumb lacks) with requests + PyJWT as Bithumb's documents
write it.

Usage: python independent_bithumb_client.py BASE_URL ACCESS_KEY SECRET_KEY
python-bithumb's private client takes a base URL (Bithumb.BASE_URL); its public functions hard-code
https://api.bithumb.com, so their requests are sent to BASE_URL instead. Places, lists, queries,
cancels and batch-cancels; prints one line per check and "N passed, 0 failed"; exits non-zero on
the first failure.
"""
import hashlib
import json
import sys
import time
import uuid
from urllib.parse import urlencode

import jwt
import python_bithumb
import requests
from python_bithumb.private_api import Bithumb
from python_bithumb.public_api import BithumbAPIException

base, access, secret = sys.argv[1], sys.argv[2], sys.argv[3]
real = "https://api.bithumb.com"
original = requests.Session.request


def to_simulator(self, method, url, *args, **kwargs):
    if url.startswith(real):
        url = base + url[len(real):]
    kwargs.setdefault("timeout", 30)  # the test bounds the whole run (120 s)
    return original(self, method, url, *args, **kwargs)


requests.Session.request = to_simulator
Bithumb.BASE_URL = base
passed = 0


def check(name, condition, detail=""):
    global passed
    if not condition:
        print(f"FAIL {name}: {detail}")
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1
    print(f"ok   {name}")


markets = python_bithumb.get_market_all()
check("market/all lists KRW-BTC", any(m["market"] == "KRW-BTC" for m in markets), markets)
client = Bithumb(access, secret)
chance = client.get_order_chance("KRW-BTC")
check("orders/chance answers", chance["market"]["id"] == "KRW-BTC", chance)

placed = [client.buy_limit_order("KRW-BTC", 90000000, 0.001) for _ in range(3)]
placed.append(client.sell_limit_order("KRW-ETH", 6000000, 0.1))
check("limit orders placed", all(p["state"] == "wait" and p["uuid"].startswith("C0101") for p in placed), placed)
one = client.get_order(placed[0]["uuid"])
check("one order by id", one["uuid"] == placed[0]["uuid"] and one["price"] == "90000000", one)
listed = client.get_orders(market="KRW-BTC", state="wait")
check("wait orders of KRW-BTC", sorted(o["uuid"] for o in listed) == sorted(p["uuid"] for p in placed[:3]), listed)

cancelled = client.cancel_order(placed[0]["uuid"])
check("cancel accepted", cancelled["uuid"] == placed[0]["uuid"], cancelled)
check("cancelled order is cancel", client.get_order(placed[0]["uuid"])["state"] == "cancel")
try:
    client.cancel_order(placed[0]["uuid"])
    check("a second cancel is refused", False)
except BithumbAPIException as e:
    check("a second cancel is 404 order_not_found", e.status_code == 404 and "order_not_found" in str(e), str(e))

# POST /v2/orders/cancel with a JSON body; the query hash is of order_ids[]=…&order_ids[]=….
ids = [placed[1]["uuid"], placed[3]["uuid"], "C0101999999999999999"]
query = urlencode([("order_ids[]", i) for i in ids])
payload = {
    "access_key": access,
    "nonce": str(uuid.uuid4()),
    "timestamp": round(time.time() * 1000),
    "query_hash": hashlib.sha512(query.replace("%5B%5D", "[]").encode()).hexdigest(),
    "query_hash_alg": "SHA512",
}
token = jwt.encode(payload, secret, algorithm="HS256")
resp = requests.post(base + "/v2/orders/cancel", headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
                     data=json.dumps({"order_ids": ids}))
batch = resp.json()
check("batch cancel answers success and fail", resp.status_code == 200 and sorted(o["order_id"] for o in batch["success"]) == sorted(ids[:2])
      and [o["order_id"] for o in batch["fail"]] == ids[2:], batch)
left = client.get_orders(market="KRW-BTC", state="wait")
check("only the untouched order rests", [o["uuid"] for o in left] == [placed[2]["uuid"]], left)
client.cancel_order(placed[2]["uuid"])
print(f"{passed} passed, 0 failed")
