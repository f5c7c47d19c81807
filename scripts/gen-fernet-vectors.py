#!/usr/bin/env python3
"""Generates fixtures/fernet/vectors.json: Fernet tokens made by Python's `cryptography` (what the
origin app uses to encrypt accounts.secret_api), for the client's decryption tests.

Run: python3 scripts/gen-fernet-vectors.py   (needs `pip install cryptography`)
The output is committed; tests do not need Python. Keys and plaintexts are test values only.
"""
import base64
import json
import os
import time

from cryptography.fernet import Fernet

vectors = []
key = Fernet.generate_key()
f = Fernet(key)
for plaintext in ["simsecret-account-x", "", "a" * 64, "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j", "ünïcødé-秘密"]:
    token = f.encrypt_at_time(plaintext.encode(), int(time.time()))
    vectors.append({"key": key.decode(), "token": token.decode(), "plaintext": plaintext})
other = Fernet.generate_key()
out = {
    "generator": "cryptography.fernet " + __import__("cryptography").__version__,
    "vectors": vectors,
    "wrong_key": other.decode(),
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "fernet", "vectors.json")
with open(path, "w") as fh:
    json.dump(out, fh, indent=2, ensure_ascii=False)
    fh.write("\n")
print(f"wrote {len(vectors)} vectors to {os.path.normpath(path)}")
