"""Per-call cost against stored data size: the same calls with N and 100·N stored memories and sessions.

The state is built in-process through the canister's own methods (metadata, a committed one-chunk
asset per memory, so one completed session per memory, plus open sessions), which is how the data
would look after real use but takes seconds instead of hours over HTTP. The calls are then timed over
real HTTP against an emulator process started on that state directory. Only ratios measured in one
run mean anything on a shared machine.

    python -m benchmarks.scaling --small 1000 --large 100000 --reps 300
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.seeding import store_photo
from clients.artifact import ArtifactClient, upload
from clients.ic import Connection, generate_ed25519
from emulator.canisters.artifact import ArtifactCanister
from emulator.principal import Principal
from emulator.process import DEFAULT_ID, EmulatorProcess
from emulator.runtime.canister import CallContext
from emulator.runtime.clock import CanisterClock
from emulator.runtime.host import CanisterHost
from emulator.runtime.stable_store import StableStore

CID = Principal.from_text(DEFAULT_ID)
MEMORIES_PER_OWNER = 100
BATCH = 2000


def populate(state_dir: Path, memories: int) -> None:
    """`memories` memories with metadata and a committed asset, plus one open session per owner."""
    db_path = state_dir / "canisters" / f"{DEFAULT_ID}.sqlite3"
    db_path.parent.mkdir(parents=True, exist_ok=True)
    store = StableStore(db_path, durability="normal")
    host = CanisterHost(CID, ArtifactCanister, store, CanisterClock(store))
    canister = host.instance
    assert isinstance(canister, ArtifactCanister)
    owners = max(1, memories // MEMORIES_PER_OWNER)
    done = 0
    while done < memories:
        with store.atomic() as db:
            for _ in range(min(BATCH, memories - done)):
                owner = Principal.self_authenticating(f"owner-{done % owners}".encode())
                ctx = CallContext(caller=owner, time_ns=host.clock.now(), canister_id=CID, method="x", db=db)
                memory_id = str(uuid.uuid4())
                data = done.to_bytes(8, "big") * 8
                digest = store_photo(canister, ctx, memory_id, data, f"m{done}")
                if done < owners:  # one session left open per owner
                    open_id = str(uuid.uuid4())
                    canister.begin_asset_upload(ctx, open_id, digest, 1, len(data))
                done += 1
    store.close()


def measure(state_dir: Path, reps: int) -> dict[str, float]:
    proc = EmulatorProcess(state_dir, canisters=[f"artifact={DEFAULT_ID}"], extra_args=["--quiet"]).start()
    try:
        art = ArtifactClient(Connection(proc.url, generate_ed25519()), DEFAULT_ID)
        ids = [str(uuid.uuid4()) for _ in range(100)]
        for memory_id in ids[:10]:
            upload(art, memory_id, memory_id.encode(), chunk_size=1024)
        presence, begin = [], []
        for _ in range(reps):
            t = time.perf_counter()
            page = art.get_memory_list_presence_icp(ids, None, 100)
            presence.append(time.perf_counter() - t)
            assert len(page.results) == 100
        data = b"bench"
        digest = hashlib.sha256(data).hexdigest()
        for _ in range(reps):
            memory_id = str(uuid.uuid4())
            t = time.perf_counter()
            begun = art.begin_asset_upload(memory_id, digest, 1, len(data))
            begin.append(time.perf_counter() - t)
            assert begun.session is not None
            art.cancel_upload(begun.session.session_id)
        return {
            "presence_100_ms": statistics.median(presence) * 1e3,
            "begin_asset_upload_ms": statistics.median(begin) * 1e3,
        }
    finally:
        proc.stop()


def run(small: int, large: int, reps: int) -> dict[str, dict[str, float]]:
    """Median per-call milliseconds at `small` and at `large` stored memories, best of two passes each."""
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (small, large):
            state = Path(tmp) / f"state-{n}"
            t = time.perf_counter()
            populate(state, n)
            print(f"populated {n} memories in {time.perf_counter() - t:.1f} s", flush=True)
        # Measure both after populating, interleaved, so machine noise hits both alike.
        for _ in range(2):
            for n in (small, large):
                figures = measure(Path(tmp) / f"state-{n}", reps)
                for key, value in figures.items():
                    results.setdefault(n, {}).setdefault(key, value)
                    results[n][key] = min(results[n][key], value)
    return {
        key: {
            "small_ms": results[small][key],
            "large_ms": results[large][key],
            "ratio": results[large][key] / results[small][key],
        }
        for key in results[small]
    } | {"sizes": {"small": float(small), "large": float(large)}}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    results = run(args.small, args.large, args.reps)
    print(f"| call | {args.small:,} stored | {args.large:,} stored | ratio |")
    print("|---|---|---|---|")
    for key, row in results.items():
        if key != "sizes":
            print(f"| {key} | {row['small_ms']:.2f} | {row['large_ms']:.2f} | {row['ratio']:.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"scaling": results}, indent=2))


if __name__ == "__main__":
    main()
