#!/usr/bin/env python3
"""Generates fixtures/scenarios/origin-shaped.json: the origin app's rows as its own code writes them
(ORIGIN-FACTS §2-3) with API keys encrypted by the origin's own rule — Fernet under
urlsafe_b64encode(sha256(SECRET_KEY)), SECRET_KEY being its hard-coded default. Needs `cryptography`
(what the origin uses). The output is committed; tests do not need Python.

Run: python3 scripts/gen-origin-fixture.py
"""
import base64
import hashlib
import json
import os

from cryptography.fernet import Fernet

SECRET_KEY = "dev-secret-key-change-in-production"
fernet = Fernet(base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()))


def enc(text):
    return fernet.encrypt(text.encode()).decode()


def account(id, user, name, exchange, key, secret):
    return {"id": id, "user_id": user, "name": name, "exchange": exchange, "api_key": key, "api_secret": secret,
            "stored_public_api": enc(key), "stored_secret_api": enc(secret)}


def row(id, link, eid, symbol, side, market, status="OPEN", qty="0.010", price="60000", type="LIMIT", **extra):
    r = {"id": id, "strategy_account_id": link, "exchange_order_id": eid, "symbol": symbol, "side": side, "order_type": type,
         "quantity": qty, "status": status, "market_type": market}
    if price is not None:
        r["price"] = price
    r.update(extra)
    return r


def order(account, market, id, symbol, side, status="NEW", qty="0.010", price="60000", type="LIMIT", **extra):
    o = {"account_id": account, "market": market, "order_id": id, "symbol": symbol, "side": side, "type": type,
         "quantity": qty, "price": price, "status": status}
    o.update(extra)
    return o


scenario = {
    "name": "origin-shaped",
    "description": "Rows as binee108/webserver writes them: Fernet keys under the SECRET_KEY derivation, lower-case exchange and "
                   "market types, slash symbols, a PENDING placeholder, a FAILED give-up, a CANCELLING row, a held row, a MARKET row left OPEN.",
    "users": [
        {"id": 1, "username": "owner", "webhook_token": "origin-owner-token-0001"},
        {"id": 2, "username": "subscriber", "webhook_token": "origin-subscriber-token-0002"},
        {"id": 3, "username": "upbit-user", "webhook_token": "origin-upbit-token-0003"},
    ],
    "accounts": [
        account(1, 1, "owner-binance", "binance", "origin-api-key-1", "origin-api-secret-1"),
        account(2, 2, "subscriber-binance", "binance", "origin-api-key-2", "origin-api-secret-2"),
        account(3, 3, "upbit-krw", "upbit", "origin-upbit-key-3", "origin-upbit-secret-3"),
    ],
    "strategies": [
        {"id": 1, "user_id": 1, "name": "Origin futures", "group_name": "origin-futures", "market_type": "FUTURES", "is_public": True},
        {"id": 2, "user_id": 1, "name": "Other futures", "group_name": "origin-other", "market_type": "FUTURES"},
        {"id": 3, "user_id": 1, "name": "Origin spot", "group_name": "origin-spot", "market_type": "SPOT"},
        {"id": 4, "user_id": 3, "name": "Upbit spot", "group_name": "origin-upbit", "market_type": "SPOT"},
    ],
    "strategy_accounts": [
        {"id": 1, "strategy_id": 1, "account_id": 1},
        {"id": 2, "strategy_id": 1, "account_id": 2},
        {"id": 3, "strategy_id": 2, "account_id": 1},
        {"id": 4, "strategy_id": 3, "account_id": 1},
        {"id": 5, "strategy_id": 4, "account_id": 3},
    ],
    "db_orders": [
        # Single-order path: born PENDING, then OPEN with the real id; lower-case market type.
        row(1, 1, "7001", "BTC/USDT", "BUY", "futures"),
        # Batch path: the exchange's NEW, upper-case market type.
        row(2, 1, "7002", "ETH/USDT", "SELL", "FUTURES", status="NEW", qty="0.5", price="3500"),
        row(3, 2, "7003", "BTC/USDT", "BUY", "futures"),
        row(4, 3, "7004", "BTC/USDT", "SELL", "FUTURES", price="70000"),
        # Being placed right now: a placeholder the origin resolves itself.
        row(5, 1, "PENDING-" + "3f2a9c1b" * 4, "BTC/USDT", "BUY", "futures", status="PENDING", age_ms=30000),
        # The origin gave up on this one after 120 s (never asked the exchange) and keeps it forever.
        row(6, 1, "PENDING-" + "77aa0e12" * 4, "BTC/USDT", "BUY", "futures", status="FAILED", age_ms=7200000),
        # The origin's own cancel in progress (60 s ago).
        row(7, 1, "7005", "BTC/USDT", "BUY", "futures", status="CANCELLING", price="59000", cancel_age_ms=60000),
        # Held by the origin's job right now (its order has filled).
        row(8, 1, "7006", "BTC/USDT", "BUY", "futures", price="58000", is_processing=True, processing_age_ms=30000),
        # A MARKET order's row left OPEN (the origin deletes it only when its 29 s job sees FILLED).
        row(9, 1, "7007", "BTC/USDT", "BUY", "futures", type="MARKET", price=None),
        row(10, 4, "7008", "BTC/USDT", "BUY", "spot", price="50000"),
    ],
    "exchange_orders": [
        order(1, "FUTURES", 7001, "BTCUSDT", "BUY"),
        order(1, "FUTURES", 7002, "ETHUSDT", "SELL", qty="0.5", price="3500"),
        order(2, "FUTURES", 7003, "BTCUSDT", "BUY"),
        order(1, "FUTURES", 7004, "BTCUSDT", "SELL", price="70000"),
        order(1, "FUTURES", 7005, "BTCUSDT", "BUY", price="59000"),
        order(1, "FUTURES", 7006, "BTCUSDT", "BUY", price="58000", status="FILLED", executed_quantity="0.010"),
        order(1, "FUTURES", 7007, "BTCUSDT", "BUY", type="MARKET", price="0", status="FILLED", executed_quantity="0.010"),
        order(1, "SPOT", 7008, "BTCUSDT", "BUY", price="50000"),
        # Placed by hand on the owner's account: nobody's.
        order(1, "FUTURES", 7100, "BTCUSDT", "SELL", price="80000"),
        # An order the origin lost (no row) that an operator claims for strategy link 1.
        order(1, "FUTURES", 7101, "SOLUSDT", "BUY", qty="3", price="150"),
    ],
}

# Issue #12: orders the origin lost, and what its own tables still say about them.
evidence = {
    "name": "origin-evidence",
    "description": "Orders the origin app lost, with the evidence its own tables keep: a FAILED placeholder whose order is live, "
                   "a partial fill in trades for an order without a row, a failed_orders CANCEL record, identical twin orders for one "
                   "placeholder, and a record naming another account's link.",
    "users": scenario["users"][:2],
    "accounts": scenario["accounts"][:2],
    "strategies": scenario["strategies"][:2],
    "strategy_accounts": scenario["strategy_accounts"][:3],
    "db_orders": [
        row(1, 1, "8001", "BTC/USDT", "BUY", "futures"),
        # The origin wrote its placeholder, called the exchange, lost the answer, and gave up after 120 s.
        row(2, 1, "PENDING-" + "5be0c4d2" * 4, "ETH/USDT", "SELL", "futures", status="FAILED", qty="0.5", price="3500",
            age_ms=302000),
        # One placeholder of strategy 2 for two identical orders: which one it was cannot be told.
        row(3, 3, "PENDING-" + "0d9e61aa" * 4, "BNB/USDT", "BUY", "futures", status="FAILED", qty="2", price="600", age_ms=241000),
    ],
    "exchange_orders": [
        order(1, "FUTURES", 8001, "BTCUSDT", "BUY"),
        order(1, "FUTURES", 8010, "ETHUSDT", "SELL", qty="0.5", price="3500", age_ms=300000),
        order(1, "FUTURES", 8020, "SOLUSDT", "BUY", qty="3", price="150", status="PARTIALLY_FILLED", executed_quantity="1.2", age_ms=600000),
        order(1, "FUTURES", 8021, "XRPUSDT", "SELL", qty="100", price="0.6", age_ms=900000),
        order(1, "FUTURES", 8030, "BNBUSDT", "BUY", qty="2", price="600", age_ms=240000),
        order(1, "FUTURES", 8031, "BNBUSDT", "BUY", qty="2", price="600", age_ms=240000),
        order(1, "FUTURES", 8040, "DOGEUSDT", "BUY", qty="1000", price="0.1", age_ms=600000),
    ],
    "origin_records": [
        # The origin saw a partial fill of 8020 (its row since deleted by its 29 s job).
        {"table": "trades", "strategy_account_id": 1, "exchange_order_id": "8020", "symbol": "SOL/USDT", "side": "BUY",
         "order_type": "LIMIT", "quantity": "1.2", "price": "150", "market_type": "futures", "age_ms": 500000},
        # A cancel of 8021 by strategy 2 failed; the origin dropped the row and kept this.
        {"table": "failed_orders", "strategy_account_id": 3, "exchange_order_id": "8021", "symbol": "XRP/USDT", "side": "SELL",
         "order_type": "LIMIT", "quantity": "100", "price": "0.6", "market_type": "FUTURES", "operation_type": "CANCEL", "age_ms": 800000},
        # A record of 8040 on the subscriber's link (account 2), though the order is on account 1.
        {"table": "trades", "strategy_account_id": 2, "exchange_order_id": "8040", "symbol": "DOGE/USDT", "side": "BUY",
         "order_type": "LIMIT", "quantity": "1000", "price": "0.1", "market_type": "futures", "age_ms": 500000},
    ],
}

for name, content in [("origin-shaped.json", scenario), ("origin-evidence.json", evidence)]:
    path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "scenarios", name)
    with open(path, "w") as fh:
        json.dump(content, fh, indent=2)
        fh.write("\n")
    print(f"wrote {os.path.normpath(path)}")
