"""Upload throughput at chunk concurrency 1, 4 and 8, each against the upload floor of the same run.

One emulator (artifact canister, default `--durability full`) and one floor server run side by side;
each round does, per concurrency, a floor measurement and then a real upload, so noise from other
processes on the machine falls on both. The upload is the client's own `clients.artifact.upload`
(hash first, begin, chunks with the given concurrency, commit, presence check), timed end to end, of
one in-memory source of `--mib` MiB in 1 MiB chunks under a fresh memory id and identity.

Upload floor = SHA-256 of the same bytes + POSTing them over loopback in 1 MiB bodies to a bare
aiohttp handler with the same concurrency and the same HTTP client library.

    python -m benchmarks.upload --mib 100 --rounds 3 --json out.json
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.common import ARTIFACT, MIB, emulator, floor_server, machine, median, write_json
from benchmarks.floors import FloorClient, sha256_seconds
from clients.artifact import ArtifactClient, upload
from clients.ic import Connection, generate_ed25519


def make_source(mib: int) -> bytes:
    """Incompressible-looking, reproducible bytes (random data would be as good; this is cheaper)."""
    block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(MIB // 32))
    return b"".join(bytes([i % 251]) + block[1:] for i in range(mib))


def upload_seconds(url: str, data: bytes, concurrency: int) -> float:
    connection = Connection(url, generate_ed25519())
    client = ArtifactClient(connection)
    started = time.perf_counter()
    result = upload(client, str(uuid.uuid4()), data, concurrency=concurrency)
    elapsed = time.perf_counter() - started
    if not (result.completed and result.presence_verified and result.size == len(data)):
        raise AssertionError(f"upload did not complete: {result}")
    connection.close()
    return elapsed


def run(mib: int, rounds: int, concurrencies: list[int]) -> dict[str, Any]:
    data = make_source(mib)
    size = len(data)
    chunk = data[:MIB]
    extra = [
        "--quiet",
        "--limit",
        f"max_asset_size={max(size, MIB)}",
        "--limit",
        f"max_chunk_count={max(mib, 1)}",
    ]
    floor_s: dict[int, list[float]] = {c: [] for c in concurrencies}
    upload_s: dict[int, list[float]] = {c: [] for c in concurrencies}
    sha_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with floor_server(root / "floor") as floor, emulator(root / "state", [ARTIFACT], extra) as emu:
            fc = FloorClient(floor.url)
            upload_seconds(emu.url, data[:MIB], 1)  # warm both processes and the page cache
            fc.transfer(2, chunk, 1)
            for _ in range(rounds):
                for c in concurrencies:
                    sha = sha256_seconds(mib, chunk)
                    sha_s.append(sha)
                    floor_s[c].append(sha + fc.transfer(mib, chunk, c))
                    upload_s[c].append(upload_seconds(emu.url, data, c))
            fc.close()
    figures: dict[str, Any] = {"mib": mib, "rounds": rounds, "sha256_mb_s": size / median(sha_s) / 1e6}
    for c in concurrencies:
        floor_rate = size / median(floor_s[c]) / 1e6
        rate = size / median(upload_s[c]) / 1e6
        figures[f"c{c}"] = {
            "mb_s": rate,
            "seconds": median(upload_s[c]),
            "floor_mb_s": floor_rate,
            "ratio": floor_rate / rate,  # how many times slower than the floor
            "all_mb_s": [size / s / 1e6 for s in upload_s[c]],
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    figures = run(args.mib, args.rounds, args.concurrency)
    for c in args.concurrency:
        f = figures[f"c{c}"]
        print(
            f"concurrency {c}: {f['mb_s']:.0f} MB/s (floor {f['floor_mb_s']:.0f} MB/s, "
            f"{f['ratio']:.2f}x the floor's time)"
        )
    write_json(args.json, {"machine": machine(), "upload": figures})


if __name__ == "__main__":
    main()
