"""Where a 1 MiB ``put_chunk`` spends the emulator's CPU, piece by piece (issue 13, item 4).

Two parts, both in this process, so no HTTP or scheduling noise enters the figures:

* ``pieces``: the per-request work outside SQLite, on a real 1 MiB put_chunk envelope signed by the
  client: CBOR decode of the body (``emulator.protocol.cbor_codec.decode_body``), the request id
  (``emulator.protocol.request_id``: SHA-256 of the 1 MiB argument), the Candid decode of the
  argument (``emulator.candid.decoder.decode_args``), one copy of the chunk, the BLS signature of
  the reply's certificate (``RootKey.sign``) and the Ed25519 check of the request signature;
* ``sqlite``: the store's write of one chunk, in a scratch database with the artifact canister's
  chunk table (``af_chunks``: id, sid, idx, size, data, UNIQUE (sid, idx)) plus the two small
  updates a put_chunk makes in the same transaction (session row, stored-bytes counter), one
  transaction per chunk as the canister does, under variants of the store's settings. The variant
  "as shipped" opens the scratch database with ``StableStore`` itself, so it measures whatever
  settings the store ships; "before" is the store as it was until 16 KiB pages (4 KiB pages,
  SQLite's default autocheckpoint). Rounds alternate between the variants.

Every figure is CPU seconds of this process (``time.process_time``) and wall seconds per 1 MiB
chunk, median of ``--rounds`` rounds of ``--chunks`` chunks. SQLite's fsync and checkpoint costs
appear in both: CPU for the copy into the WAL and the checkpoint's copy into the database, wall for
the disk waits.

    python -m benchmarks.chunk_store --chunks 64 --rounds 3
    python -m benchmarks.chunk_store --sqlite-only --variant before --variant "as shipped"
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from clients.ic import generate_ed25519
from clients.ic.candid import encode_args
from clients.ic.envelope import build_envelope, call_content
from contract import ARTIFACT_CANISTER_ID
from emulator.candid.decoder import decode_args
from emulator.candid.types import NAT8 as CANDID_NAT8
from emulator.candid.types import NAT32, TEXT, Type, Vec
from emulator.protocol.cbor_codec import decode_body
from emulator.protocol.certificate import RootKey
from emulator.protocol.request_id import request_id
from emulator.runtime.stable_store import StableStore

MIB = 1024 * 1024
CANISTER = ARTIFACT_CANISTER_ID

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sessions (sid INTEGER PRIMARY KEY, received INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
    """CREATE TABLE IF NOT EXISTS af_chunks (
        id INTEGER PRIMARY KEY, sid INTEGER NOT NULL, idx INTEGER NOT NULL, size INTEGER NOT NULL,
        data BLOB NOT NULL, UNIQUE (sid, idx))""",
    # Variant "separate": the bytes in a table of their own, the chunk row holds only metadata.
    """CREATE TABLE IF NOT EXISTS chunk_meta (
        id INTEGER PRIMARY KEY, sid INTEGER NOT NULL, idx INTEGER NOT NULL, size INTEGER NOT NULL,
        UNIQUE (sid, idx))""",
    "CREATE TABLE IF NOT EXISTS chunk_bytes (id INTEGER PRIMARY KEY, data BLOB NOT NULL)",
)


def _timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call, median over ``repeat`` single calls."""
    cpu, wall = [], []
    for _ in range(repeat):
        c, w = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - w)
    return statistics.median(cpu), statistics.median(wall)


def pieces(repeat: int) -> dict[str, tuple[float, float]]:
    identity = generate_ed25519()
    chunk = os.urandom(MIB)
    from icp_candid import Types

    arg = encode_args([Types.Text, Types.Nat32, Types.Vec(Types.Nat8)], ["s" * 36, 7, chunk])
    content = call_content(bytes(identity.sender().bytes), CANISTER, "put_chunk", arg)
    body = build_envelope(content, identity)
    envelope = decode_body(body, "put_chunk envelope")
    decoded_content = envelope["content"]
    root = RootKey.generate()
    from nacl.signing import VerifyKey

    verify_key = VerifyKey(identity.der_pubkey[-32:])
    rid = request_id(decoded_content)
    signature = identity.sign(b"\x0aic-request" + rid)[1]
    assert signature is not None
    types: list[Type] = [TEXT, NAT32, Vec(CANDID_NAT8)]
    return {
        "CBOR decode of the body": _timed(lambda: decode_body(body, "put_chunk envelope"), repeat),
        "request id (SHA-256 of the argument)": _timed(lambda: request_id(decoded_content), repeat),
        "Candid decode of the argument": _timed(
            lambda: decode_args(bytes(decoded_content["arg"]), types), repeat
        ),
        "one copy of 1 MiB": _timed(lambda: bytes(bytearray(chunk)), repeat),
        "SHA-256 of 1 MiB": _timed(lambda: hashlib.sha256(chunk).digest(), repeat),
        "Ed25519 verify of the request": _timed(
            lambda: verify_key.verify(b"\x0aic-request" + rid, signature), repeat
        ),
        "BLS sign of the reply certificate": _timed(lambda: root.sign(b"\x0dic-state-root" + rid), repeat),
    }


def _open(
    path: Path, synchronous: str, autocheckpoint: int | None, page_size: int | None, store: bool
) -> sqlite3.Connection:
    if store:
        conn = StableStore(path).conn  # closed with the connection; the store object holds nothing else
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # SQLite's own default is what the store had before 16 KiB pages: set it, whatever the build.
        conn.execute(f"PRAGMA page_size={page_size or 4096}")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        if autocheckpoint is not None:
            conn.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
    for statement in _SCHEMA:
        conn.execute(statement)
    conn.execute("INSERT OR IGNORE INTO sessions VALUES (1, 0)")
    conn.execute("INSERT OR IGNORE INTO counters VALUES ('stored_bytes', 0)")
    return conn


def _write_chunk(conn: sqlite3.Connection, layout: str, idx: int, chunk: bytes) -> None:
    conn.execute("BEGIN IMMEDIATE")
    # put_chunk first looks for a stored chunk at this index (retries).
    if layout == "separate":
        conn.execute("SELECT id FROM chunk_meta WHERE sid = 1 AND idx = ?", (idx,)).fetchone()
        cur = conn.execute("INSERT INTO chunk_meta (sid, idx, size) VALUES (1, ?, ?)", (idx, len(chunk)))
        conn.execute("INSERT INTO chunk_bytes (id, data) VALUES (?, ?)", (cur.lastrowid, chunk))
    elif layout == "blobio":
        conn.execute("SELECT data FROM af_chunks WHERE sid = 1 AND idx = ?", (idx,)).fetchone()
        cur = conn.execute(
            "INSERT INTO af_chunks (sid, idx, size, data) VALUES (1, ?, ?, zeroblob(?))",
            (idx, len(chunk), len(chunk)),
        )
        assert cur.lastrowid is not None
        with conn.blobopen("af_chunks", "data", cur.lastrowid) as blob:
            blob.write(chunk)
    else:
        conn.execute("SELECT data FROM af_chunks WHERE sid = 1 AND idx = ?", (idx,)).fetchone()
        conn.execute(
            "INSERT INTO af_chunks (sid, idx, size, data) VALUES (1, ?, ?, ?)", (idx, len(chunk), chunk)
        )
    conn.execute("UPDATE sessions SET received = received + ? WHERE sid = 1", (len(chunk),))
    conn.execute("UPDATE counters SET value = value + ? WHERE name = 'stored_bytes'", (len(chunk),))
    conn.execute("COMMIT")


VARIANTS: dict[str, dict[str, object]] = {
    "before: 4 KiB pages, WAL, synchronous=FULL, autocheckpoint 1000 pages": {},
    "as shipped: StableStore's own settings": {"store": True},
    "page_size 16384, autocheckpoint 1000 pages (16 MiB)": {"page_size": 16384},
    "synchronous=NORMAL": {"synchronous": "NORMAL"},
    "wal_autocheckpoint=16384 pages (64 MiB)": {"autocheckpoint": 16384},
    "no autocheckpoint (checkpoint cost shown apart)": {"autocheckpoint": 0},
    "page_size 65536": {"page_size": 65536},
    "page_size 16384, synchronous=NORMAL": {"page_size": 16384, "synchronous": "NORMAL"},
    "synchronous=OFF (no fsync at all: the cost of the copies alone)": {"synchronous": "OFF"},
    "bytes in a separate table": {"layout": "separate"},
    "incremental blob I/O (zeroblob + blobopen)": {"layout": "blobio"},
}


def sqlite_variant(directory: Path, chunks: int, **options: object) -> dict[str, float]:
    """CPU and wall per chunk for ``chunks`` one-chunk transactions, then the final checkpoint's."""
    path = directory / f"chunks-{time.monotonic_ns()}.sqlite3"
    synchronous = str(options.get("synchronous", "FULL"))
    autocheckpoint = options.get("autocheckpoint")
    page_size = options.get("page_size")
    layout = str(options.get("layout", "row"))
    conn = _open(
        path,
        synchronous,
        None if autocheckpoint is None else int(str(autocheckpoint)),
        None if page_size is None else int(str(page_size)),
        bool(options.get("store")),
    )
    chunk = os.urandom(MIB)
    try:
        c, w = time.process_time(), time.perf_counter()
        for idx in range(chunks):
            _write_chunk(conn, layout, idx, chunk)
        cpu, wall = (time.process_time() - c) / chunks, (time.perf_counter() - w) / chunks
        c, w = time.process_time(), time.perf_counter()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        ckpt_cpu, ckpt_wall = (time.process_time() - c) / chunks, (time.perf_counter() - w) / chunks
    finally:
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    return {"cpu": cpu, "wall": wall, "checkpoint_cpu": ckpt_cpu, "checkpoint_wall": ckpt_wall}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=40, help="calls per piece in the pieces part")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where the scratch databases go (default: a temp dir)"
    )
    parser.add_argument("--sqlite-only", action="store_true", help="skip the pieces outside SQLite")
    parser.add_argument(
        "--variant",
        action="append",
        default=None,
        help="run only the variants whose name starts with this (repeatable; default: all)",
    )
    args = parser.parse_args()
    variants = {
        name: options
        for name, options in VARIANTS.items()
        if args.variant is None or any(name.startswith(v) for v in args.variant)
    }
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    if not args.sqlite_only:
        print("\nper 1 MiB put_chunk, outside SQLite (median CPU / wall):")
        for name, (cpu, wall) in pieces(args.repeat).items():
            print(f"  {name:40} {cpu * 1e3:6.2f} ms CPU  {wall * 1e3:6.2f} ms wall")
    print(f"\nSQLite, one transaction per 1 MiB chunk, {args.chunks} chunks, median of {args.rounds} rounds:")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        # Round-robin, so a busy minute on the shared machine falls on every variant alike.
        results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
        for _ in range(args.rounds):
            for name, options in variants.items():
                results[name].append(sqlite_variant(Path(tmp), args.chunks, **options))
        width = max(len(name) for name in results)
        for name, rounds in results.items():
            med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
            extra = ""
            if med["checkpoint_wall"] > 0.0001:
                extra = (
                    f"  + final checkpoint {med['checkpoint_cpu'] * 1e3:.2f} ms CPU"
                    f" / {med['checkpoint_wall'] * 1e3:.2f} ms wall per chunk"
                )
            print(f"  {name:{width}} {med['cpu'] * 1e3:6.2f} ms CPU  {med['wall'] * 1e3:6.2f} ms wall{extra}")


if __name__ == "__main__":
    main()
