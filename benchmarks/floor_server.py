"""The bare server the floors are measured against: aiohttp handlers doing only the unavoidable work.

Every ratio in `docs/performance.md` divides an emulator figure by what this process achieves on the
same machine in the same run, so the floor must be honest in both directions: it does every
cryptographic and durability step the real path cannot skip, with the same libraries (PyNaCl for
Ed25519, pyblst for the BLS certificate signature, SQLite WAL with `synchronous=FULL` for the durable
write), and nothing else (no CBOR, no Candid, no request-id hashing, no canister code, no executor
hop). Handlers run inline on the event loop: that is what "a bare aiohttp handler" means.

Routes (bodies are raw bytes, not CBOR):

* `POST /update` — `pubkey(32) ‖ sig(64) ‖ message`: verify the Ed25519 signature, one fsynced
  single-row SQLite commit, BLS-sign SHA-256(message); answers the 48-byte BLS signature.
* `POST /query` — same body: verify, then Ed25519-sign the reply; answers `sig(64) ‖ reply`.
* `POST /sink` — read the body and drop it (the loopback half of the upload floor).
* `GET /ready` — start-up floor: the first accepted call.
* `GET /keys` — the public keys the client verifies with.

    python -m benchmarks.floor_server --port-file ports.json --db floor.sqlite3
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import signal
import sqlite3
from pathlib import Path

import nacl.signing
from aiohttp import web

from emulator.protocol.certificate import RootKey

DB_KEY: web.AppKey[sqlite3.Connection] = web.AppKey("db")
ROOT_KEY: web.AppKey[RootKey] = web.AppKey("root_key")
NODE_KEY: web.AppKey[nacl.signing.SigningKey] = web.AppKey("node_key")
PUBKEY_LEN = 32
SIG_LEN = 64


def _split(body: bytes) -> tuple[bytes, bytes, bytes]:
    return body[:PUBKEY_LEN], body[PUBKEY_LEN : PUBKEY_LEN + SIG_LEN], body[PUBKEY_LEN + SIG_LEN :]


def _verify(body: bytes) -> bytes:
    pubkey, sig, message = _split(body)
    # A fresh VerifyKey per call, as the emulator builds one per request from the envelope's key.
    nacl.signing.VerifyKey(pubkey).verify(message, sig)
    return message


async def update(request: web.Request) -> web.Response:
    message = _verify(await request.read())
    db = request.app[DB_KEY]
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT INTO t (k, v) VALUES (?, ?)", (os.urandom(16), message[:64]))
    db.execute("COMMIT")
    signature = request.app[ROOT_KEY].sign(hashlib.sha256(message).digest())
    return web.Response(body=signature, content_type="application/octet-stream")


async def query(request: web.Request) -> web.Response:
    message = _verify(await request.read())
    reply = hashlib.sha256(message).digest()
    signature = request.app[NODE_KEY].sign(reply).signature
    return web.Response(body=signature + reply, content_type="application/octet-stream")


async def sink(request: web.Request) -> web.Response:
    received = 0
    async for block in request.content.iter_any():
        received += len(block)
    return web.Response(text=str(received))


async def ready(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def keys(request: web.Request) -> web.Response:
    """The BLS public key (96 bytes) and the node's Ed25519 key (32 bytes) the client checks against."""
    node = bytes(request.app[NODE_KEY].verify_key)
    return web.Response(body=request.app[ROOT_KEY].public_key + node, content_type="application/octet-stream")


def open_db(path: Path) -> sqlite3.Connection:
    """The same journal and sync settings as the emulator's stable store with `--durability full`."""
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE IF NOT EXISTS t (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID")
    return db


def create_app(db_path: Path) -> web.Application:
    app = web.Application(client_max_size=4 * 1024 * 1024)
    app[DB_KEY] = open_db(db_path)
    app[ROOT_KEY] = RootKey.generate()
    app[NODE_KEY] = nacl.signing.SigningKey.generate()
    app.router.add_post("/update", update)
    app.router.add_post("/query", query)
    app.router.add_post("/sink", sink)
    app.router.add_get("/ready", ready)
    app.router.add_get("/keys", keys)
    return app


async def serve(db_path: Path, port_file: Path | None) -> None:
    runner = web.AppRunner(create_app(db_path), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    if port_file is not None:
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"url": f"http://127.0.0.1:{port}"}))
        tmp.replace(port_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--port-file", type=Path, default=None)
    args = parser.parse_args()
    asyncio.run(serve(args.db, args.port_file))


if __name__ == "__main__":
    main()
