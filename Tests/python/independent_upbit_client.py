"""Drives the Upbit simulator with pyupbit (PyPI), an independent and widely used Upbit client.

Usage: python independent_upbit_client.py BASE_URL ACCESS_KEY SECRET_KEY
pyupbit hard-codes https://api.upbit.com; requests are sent to BASE_URL instead (nothing else is
changed: its own JWTs, query hashes, and its habit of sending a GET's parameters as a form body and a
DELETE's as JSON). Places, lists, queries and cancels; prints one line per check and
"N passed, 0 failed"; exits non-zero on the first failure.
"""
import sys

import requests
import pyupbit
from pyupbit import errors, request_api

base, access, secret = sys.argv[1], sys.argv[2], sys.argv[3]
real = "https://api.upbit.com"
original = requests.Session.request


def to_simulator(self, method, url, *args, **kwargs):
    if url.startswith(real):
        url = base + url[len(real):]
    kwargs.setdefault("timeout", 30)  # the test bounds the whole run (120 s)
    return original(self, method, url, *args, **kwargs)


requests.Session.request = to_simulator
passed = 0


def check(name, condition, detail=""):
    global passed
    if not condition:
        print(f"FAIL {name}: {detail}")
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1
    print(f"ok   {name}")


tickers = pyupbit.get_tickers(fiat="KRW")
check("market/all lists KRW-BTC", "KRW-BTC" in tickers, tickers)
upbit = pyupbit.Upbit(access, secret)
balances = upbit.get_balances()
check("accounts answer", isinstance(balances, list) and balances[0]["currency"] == "KRW", balances)
chance = upbit.get_chance("KRW-BTC")
check("orders/chance answers", chance is not None and chance["market"]["id"] == "KRW-BTC", chance)

a = upbit.buy_limit_order("KRW-BTC", 90000000, 0.01)
check("limit buy placed", a is not None and a.get("state") == "wait" and a.get("side") == "bid", a)
b = upbit.sell_limit_order("KRW-BTC", 120000000, 0.02)
check("limit sell placed", b is not None and b.get("side") == "ask", b)
c = upbit.buy_limit_order("KRW-ETH", 5000000, 0.1)
check("another market", c is not None and c.get("market") == "KRW-ETH", c)

listed = upbit.get_order("KRW-BTC")
check("open orders of KRW-BTC", sorted(o["uuid"] for o in listed) == sorted([a["uuid"], b["uuid"]]), listed)
one = upbit.get_individual_order(a["uuid"])
check("one order by uuid", one["uuid"] == a["uuid"] and one["price"] == "90000000" and "trades" in one, one)
by_get_order = upbit.get_order(c["uuid"])
check("get_order with a uuid", by_get_order["uuid"] == c["uuid"], by_get_order)

cancelled = upbit.cancel_order(a["uuid"])
check("cancel accepted", cancelled is not None and cancelled.get("uuid") == a["uuid"], cancelled)
after = upbit.get_individual_order(a["uuid"])
check("cancelled order is cancel", after["state"] == "cancel", after)
check("cancelled order left the open list", [o["uuid"] for o in upbit.get_order("KRW-BTC")] == [b["uuid"]])
done = upbit.get_order("KRW-BTC", state="cancel")
check("the cancel list has it", [o["uuid"] for o in done] == [a["uuid"]], done)
check("a second cancel is refused", upbit.cancel_order(a["uuid"]) is None)
try:
    request_api._send_delete_request(real + "/v1/order", upbit._request_headers({"uuid": a["uuid"]}), {"uuid": a["uuid"]})
    check("the refusal is an error", False)
except errors.UpbitError as e:
    check("the refusal is 404 order_not_found", e.code == 404 and e.name == "order_not_found", e.__dict__)
for o in (b, c):
    upbit.cancel_order(o["uuid"])
check("nothing left open", upbit.get_order("KRW-BTC") == [] and upbit.get_order("KRW-ETH") == [])
print(f"{passed} passed, 0 failed")
