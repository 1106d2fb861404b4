"""Start-up time to the first accepted call, with an empty state directory and with `--gib` GiB of state.

Measured from the caller's side, as a developer or CI job experiences it: from spawning
`python -m storeforever emulator …` to the first signed query that the canister answers. The floor is the
same measurement for the bare floor server (interpreter start, aiohttp and the crypto libraries
imported, socket bound, first request answered). Starts alternate floor / empty / full, `--rounds`
times, and medians are reported.

The large state is built in-process through the canister's own methods (committed assets of 1 MiB
chunks, `--durability normal` while building), which is what a state directory looks like after
real uploads.

    python -m benchmarks.startup --gib 1 --rounds 5 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import MIB, FloorProcess, machine, median, wait_accepting, write_json
from clients.ic import Connection, generate_ed25519
from emulator.canisters.artifact import ArtifactCanister
from emulator.principal import Principal
from emulator.process import DEFAULT_ID
from emulator.runtime.canister import CallContext
from emulator.runtime.clock import CanisterClock
from emulator.runtime.host import CanisterHost
from emulator.runtime.stable_store import StableStore

CID = Principal.from_text(DEFAULT_ID)
ASSET_CHUNKS = 64  # 64 MiB per asset
EMPTY_ARGS = b"DIDL\x00\x00"


def populate(state_dir: Path, mib: int) -> None:
    """`mib` MiB of committed assets in the artifact canister's store."""
    db_path = state_dir / "canisters" / f"{DEFAULT_ID}.sqlite3"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    store = StableStore(db_path, durability="normal")
    config = {"max_asset_size": ASSET_CHUNKS * MIB, "daily_upload_quota": 100_000}
    host = CanisterHost(CID, ArtifactCanister, store, CanisterClock(store), config=config)
    canister = host.instance
    assert isinstance(canister, ArtifactCanister)
    owner = Principal.self_authenticating(b"startup-benchmark")
    written = 0
    while written < mib:
        chunks = min(ASSET_CHUNKS, mib - written)
        parts = [hashlib.sha256(f"{written + i}".encode()).digest() * (MIB // 32) for i in range(chunks)]
        digest = hashlib.sha256(b"".join(parts)).hexdigest()
        with store.atomic() as db:
            ctx = CallContext(caller=owner, time_ns=host.clock.now(), canister_id=CID, method="x", db=db)
            begun: Any = canister.begin_asset_upload(ctx, str(uuid.uuid4()), digest, chunks, chunks * MIB)
            sid = begun["data"]["session"]["session_id"]
            for index, part in enumerate(parts):
                canister.put_chunk(ctx, sid, index, part)
            committed = canister.commit_asset(ctx, sid, digest)
            if not committed["success"]:
                raise RuntimeError(f"populate: commit failed: {committed}")
        written += chunks
    store.close()


def _first_call(url: str, deadline: float) -> None:
    conn = Connection(url, generate_ed25519())
    try:
        while True:
            try:
                conn.query_raw(DEFAULT_ID, "get_api_version", EMPTY_ARGS)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.002)
    finally:
        conn.close()


def emulator_startup(state_dir: Path) -> float:
    """Seconds from spawning the emulator to its first answered signed query."""
    port_file = state_dir.parent / f"{state_dir.name}.ports.json"
    port_file.unlink(missing_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "storeforever",
        "emulator",
        "--port",
        "0",
        "--admin-port",
        "0",
        "--state-dir",
        str(state_dir),
        "--port-file",
        str(port_file),
        "--quiet",
        "--canister",
        f"artifact={DEFAULT_ID}",
    ]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("emulator did not start")
            time.sleep(0.002)
        url = str(json.loads(port_file.read_text())["url"])
        _first_call(url, deadline)
        return time.perf_counter() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def floor_startup(work_dir: Path) -> float:
    floor = FloorProcess(work_dir).start()
    try:
        wait_accepting(floor.url, "/ready", time.monotonic() + 60)
        return time.perf_counter() - floor.started_at
    finally:
        floor.stop()


def run(mib: int, rounds: int) -> dict[str, Any]:
    floor_s, empty_s, full_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        built = time.perf_counter()
        populate(root / "full", mib)
        build_seconds = time.perf_counter() - built
        state_bytes = sum(p.stat().st_size for p in (root / "full").rglob("*") if p.is_file())
        emulator_startup(root / "empty")  # creates the empty state (keys, schema) once, like a first run
        for _ in range(rounds):
            floor_s.append(floor_startup(root / "floor"))
            empty_s.append(emulator_startup(root / "empty"))
            full_s.append(emulator_startup(root / "full"))
    floor = median(floor_s)
    return {
        "state_mib": state_bytes / MIB,
        "build_seconds": build_seconds,
        "rounds": rounds,
        "floor_ms": floor * 1e3,
        "empty_ms": median(empty_s) * 1e3,
        "full_ms": median(full_s) * 1e3,
        "empty_ratio": median(empty_s) / floor,
        "full_ratio": median(full_s) / floor,
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=1024, help="size of the large state (MiB)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    f = run(args.mib, args.rounds)
    print(
        f"floor {f['floor_ms']:.0f} ms | empty {f['empty_ms']:.0f} ms ({f['empty_ratio']:.2f}x) | "
        f"{f['state_mib']:.0f} MiB state {f['full_ms']:.0f} ms ({f['full_ratio']:.2f}x)"
    )
    write_json(args.json, {"machine": machine(), "startup": f})


if __name__ == "__main__":
    main()
