"""Drives the simulator with python-binance (PyPI), an independent and widely used Binance client.

Usage: python independent_client.py BASE_URL API_KEY API_SECRET
Places, lists, queries and cancels orders on spot and USDⓈ-M futures (batch cancel and the Algo
service included) with nothing changed but the base URLs. Prints one line per check and
"N passed, 0 failed"; exits non-zero on the first failure.
"""
import sys

from binance.client import Client
from binance.exceptions import BinanceAPIException

base, key, secret = sys.argv[1], sys.argv[2], sys.argv[3]
client = Client(key, secret, ping=False)
client.API_URL = base + "/api"
client.FUTURES_URL = base + "/fapi"
passed = 0


def check(name, condition, detail=""):
    global passed
    if not condition:
        print(f"FAIL {name}: {detail}")
        print(f"{passed} passed, 1 failed")
        sys.exit(1)
    passed += 1
    print(f"ok   {name}")


client.ping()
check("spot server time", client.get_server_time()["serverTime"] > 0)
info = client.get_exchange_info()
check("spot exchangeInfo lists BTCUSDT", any(s["symbol"] == "BTCUSDT" for s in info["symbols"]))

# Spot: place, list, query, cancel (by id and by client id).
a = client.create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.002", price="50000", newClientOrderId="py-spot-1")
check("spot order placed", a["status"] == "NEW" and a["clientOrderId"] == "py-spot-1", a)
b = client.create_order(symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.002", price="90000")
open_spot = client.get_open_orders(symbol="BTCUSDT")
check("spot open orders list both", sorted(o["orderId"] for o in open_spot) == sorted([a["orderId"], b["orderId"]]), open_spot)
q = client.get_order(symbol="BTCUSDT", orderId=a["orderId"])
check("spot query by id", q["status"] == "NEW" and q["origQty"] == "0.00200000", q)
c = client.cancel_order(symbol="BTCUSDT", origClientOrderId="py-spot-1")
check("spot cancel by client id", c["status"] == "CANCELED" and c["origClientOrderId"] == "py-spot-1", c)
c = client.cancel_order(symbol="BTCUSDT", orderId=b["orderId"])
check("spot cancel by id", c["status"] == "CANCELED", c)
try:
    client.cancel_order(symbol="BTCUSDT", orderId=b["orderId"])
    check("spot cancel twice is rejected", False, "no error")
except BinanceAPIException as e:
    check("spot cancel twice is rejected with -2011", e.code == -2011 and e.status_code == 400, e)
m = client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
check("spot market order fills", m["status"] == "FILLED" and len(m["fills"]) == 1, m)

# Futures: place, list, query, cancel one, batch-cancel the rest.
ids = []
for i, price in enumerate(["50000", "51000", "52000"]):
    o = client.futures_create_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.002", price=price, newClientOrderId=f"py-fut-{i}")
    check(f"futures order {i} placed", o["status"] == "NEW", o)
    ids.append(o["orderId"])
open_fut = client.futures_get_open_orders(symbol="BTCUSDT")
check("futures open orders list three", sorted(o["orderId"] for o in open_fut) == sorted(ids), open_fut)
q = client.futures_get_order(symbol="BTCUSDT", origClientOrderId="py-fut-0")
check("futures query by client id", q["orderId"] == ids[0] and q["status"] == "NEW", q)
c = client.futures_cancel_order(symbol="BTCUSDT", orderId=ids[0])
check("futures cancel", c["status"] == "CANCELED", c)
batch = client.futures_cancel_orders(symbol="BTCUSDT", orderidlist=[ids[1], ids[2], 987654321])
check("futures batch cancel: two cancelled", [r.get("status") for r in batch[:2]] == ["CANCELED", "CANCELED"], batch)
check("futures batch cancel: unknown id answered -2011 in place", batch[2].get("code") == -2011, batch)
check("futures nothing left open", client.futures_get_open_orders(symbol="BTCUSDT") == [])
try:
    client.futures_create_order(symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.002", price="50000.05")
    check("futures tick size enforced", False, "no error")
except BinanceAPIException as e:
    check("futures tick size enforced (-4014)", e.code == -4014, e)

# Futures Algo service: a conditional order lives apart from regular orders.
algo = client.futures_create_algo_order(algoType="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity="0.002", triggerPrice="40000", clientAlgoId="py-stop-1")
check("algo order placed", algo["algoStatus"] == "NEW" and algo["clientAlgoId"] == "py-stop-1", algo)
check("algo order not in regular open orders", client.futures_get_open_orders(symbol="BTCUSDT") == [])
algos = client.futures_get_open_algo_orders(symbol="BTCUSDT")
check("algo order in openAlgoOrders", [o["algoId"] for o in algos] == [algo["algoId"]], algos)
cancelled = client.futures_cancel_algo_order(algoId=algo["algoId"])
check("algo order cancelled", str(cancelled.get("code")) == "200", cancelled)
check("no algo order left", client.futures_get_open_algo_orders(symbol="BTCUSDT") == [])

print(f"{passed} passed, 0 failed")
