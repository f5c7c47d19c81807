"""Plays the origin app against a shared SQLite database while ordersync runs: places orders on the
simulator (control API) and writes their open_orders rows, updates some, deletes some of its own
rows, in its own process and its own transactions. Prints one JSON line: what it did.

usage: origin_app.py DB SIMULATOR_URL SECONDS SEED
"""
import datetime, json, random, sqlite3, sys, time, urllib.request


def utcnow():
    # What SQLAlchemy writes into a SQLite DATETIME column for datetime.utcnow().
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


db_path, base, seconds, seed = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
db = sqlite3.connect(db_path, timeout=10, isolation_level=None)
db.execute("PRAGMA busy_timeout = 10000")
links = db.execute("SELECT sa.id, sa.account_id FROM strategy_accounts sa JOIN strategies s ON s.id = sa.strategy_id "
                   "WHERE s.market_type = 'FUTURES' AND s.is_active AND sa.is_active").fetchall()
inserted, deleted, updated, busy = [], [], 0, 0
deadline = time.time() + seconds
while time.time() < deadline:
    link, account = rng.choice(links)
    price = str(1000 + rng.randint(0, 500))
    body = json.dumps({"account_id": account, "market": "FUTURES", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
                       "price": price, "quantity": "0.010"}).encode()
    request = urllib.request.Request(base + "/_sim/place", data=body, method="POST", headers={"Content-Type": "application/json"})
    order_id = str(json.load(urllib.request.urlopen(request, timeout=10))["order_id"])
    try:
        db.execute("BEGIN IMMEDIATE")
        # As its single-order path leaves the row: BTC/USDT, lower-case market type, is_processing false.
        db.execute("INSERT INTO open_orders (strategy_account_id, exchange_order_id, symbol, side, order_type, price, quantity, "
                   "filled_quantity, status, market_type, created_at, updated_at, is_processing) VALUES (?, ?, 'BTC/USDT', 'BUY', 'LIMIT', ?, "
                   "0.01, 0, 'OPEN', 'futures', ?, ?, 0)", (link, order_id, float(price), utcnow(), utcnow()))
        db.execute("COMMIT")
        inserted.append(order_id)
    except sqlite3.IntegrityError:
        # ordersync adopted it first (only possible with its tag or a claim: never here).
        db.execute("ROLLBACK")
    except sqlite3.OperationalError:
        busy += 1
        db.execute("ROLLBACK")
    if inserted and rng.random() < 0.2:
        victim = rng.choice(inserted)
        db.execute("DELETE FROM open_orders WHERE exchange_order_id = ?", (victim,))
        inserted.remove(victim)
        deleted.append(victim)
    if inserted and rng.random() < 0.3:
        db.execute("UPDATE open_orders SET updated_at = ? WHERE exchange_order_id = ?", (utcnow(), rng.choice(inserted)))
        updated += 1
print(json.dumps({"inserted": inserted, "deleted": deleted, "updated": updated, "busy": busy}))
