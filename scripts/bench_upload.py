"""Measure upload throughput of the client against a target (informational; issue 4's closing note).

    .venv/bin/python scripts/bench_upload.py                      # own emulator, 100 MiB, c = 1 4 8
    .venv/bin/python scripts/bench_upload.py --url http://127.0.0.1:4943 --size-mib 20 --concurrency 1 2

Without --url an emulator with the artifact canister is started in a temporary directory with the
defaults an engineer gets from `storeforever emulator` (durability "full": one fsync per commit).
Each run uploads a fresh random file under a fresh memory id with a fresh identity, and reports the
transfer rate from begin to verified presence (the local SHA-256 pass before it is excluded; it runs
at ~1 GB/s). With --repeat N the median of N runs is printed, with min and max.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from clients.artifact import ArtifactClient, ProgressEvent, upload
from clients.ic import Connection, generate_ed25519
from emulator.process import DEFAULT_ID, EmulatorProcess

MIB = 1024 * 1024


def _run(url: str, canister_id: str, path: Path, concurrency: int) -> float:
    """One upload with a fresh identity and memory id; MiB/s from begin to verified presence."""
    client = ArtifactClient(Connection(url, generate_ed25519()), canister_id)
    marks: dict[str, float] = {}

    def on_progress(event: ProgressEvent) -> None:
        marks.setdefault(event.phase, time.perf_counter())

    result = upload(client, str(uuid.uuid4()), path, concurrency=concurrency, progress=on_progress)
    transfer = time.perf_counter() - marks["beginning"]
    size = path.stat().st_size
    assert result.presence_verified and result.total_bytes == size
    return size / MIB / transfer


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", default=None, help="target URL (default: start a private emulator)")
    p.add_argument("--canister-id", default=DEFAULT_ID)
    p.add_argument("--size-mib", type=int, default=100)
    p.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--repeat", type=int, default=1, help="runs per concurrency; the median is reported")
    p.add_argument(
        "--durability", choices=["full", "normal"], default="full", help="for the private emulator"
    )
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        emu = None
        url = args.url
        if url is None:
            emu = EmulatorProcess(
                Path(tmp) / "state",
                canisters=[f"artifact={DEFAULT_ID}"],
                extra_args=["--quiet", "--durability", args.durability],
            ).start()
            url = emu.url
        try:
            path = Path(tmp) / "bench.bin"
            with path.open("wb") as fh:
                for _ in range(args.size_mib):
                    fh.write(os.urandom(MIB))
            size = path.stat().st_size
            print(f"target {url}  file {size / MIB:.0f} MiB  chunk 1 MiB")
            for concurrency in args.concurrency:
                rates = sorted(_run(url, args.canister_id, path, concurrency) for _ in range(args.repeat))
                median = statistics.median(rates)
                spread = (
                    f" (min {rates[0]:.1f}, max {rates[-1]:.1f}, n={len(rates)})" if len(rates) > 1 else ""
                )
                print(f"concurrency {concurrency}: {median:6.1f} MiB/s{spread}")
        finally:
            if emu is not None:
                emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
