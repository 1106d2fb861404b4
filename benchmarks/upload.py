"""Upload throughput at chunk concurrency 1, 4 and 8, each against the upload floor of the same run.

One emulator (artifact canister, default `--durability full`) and one floor server run side by side;
each round does, per concurrency, a floor measurement and then a real upload, so noise from other
processes on the machine falls on both. The upload is the client's own `clients.artifact.upload`
(hash first, begin, chunks with the given concurrency, commit, presence check), timed end to end, of
one in-memory source of `--mib` MiB in 1 MiB chunks under a fresh memory id and identity.

Upload floor = SHA-256 of the same bytes + POSTing them over loopback in 1 MiB bodies to a bare
aiohttp handler with the same concurrency and the same HTTP client library. The emulator's CPU per
MiB (user + system, `/proc/<pid>/stat`, all its threads) is reported beside each rate.

`--baseline DIR` runs a second emulator whose code comes from DIR (a git worktree of an older commit:
`git worktree add /tmp/old <commit>`), beside the current one; each round uploads to both, in
alternating order, so a change to the emulator is compared old against new in one run.

    python -m benchmarks.upload --mib 100 --rounds 3 --json out.json
    python -m benchmarks.upload --mib 64 --rounds 3 --concurrency 4 --baseline /tmp/old
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import ARTIFACT, MIB, emulator, floor_server, machine, median, write_json
from benchmarks.floors import FloorClient, sha256_seconds
from benchmarks.gallery import process_cpu_seconds
from clients.artifact import ArtifactClient, upload
from clients.ic import Connection, generate_ed25519
from contract import ARTIFACT_CANISTER_ID
from emulator.process import EmulatorProcess


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


@contextlib.contextmanager
def _code_from(source: Path | None) -> Iterator[None]:
    """While a process starts: `python -m storeforever` imports the package under `source`.

    `-m` puts the working directory first on the child's path, then PYTHONPATH, so both point at
    `source`; the installed packages (same virtual environment) are shared.
    """
    if source is None:
        yield
        return
    cwd, pythonpath = Path.cwd(), os.environ.get("PYTHONPATH")
    os.chdir(source)
    os.environ["PYTHONPATH"] = str(source)
    try:
        yield
    finally:
        os.chdir(cwd)
        if pythonpath is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = pythonpath


def _store_page_size(state_dir: Path) -> int:
    """The artifact canister's database page size, read beside the running emulator (WAL readers)."""
    db = state_dir / "canisters" / f"{ARTIFACT_CANISTER_ID}.sqlite3"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


def _timed_upload(emu: EmulatorProcess, data: bytes, concurrency: int) -> tuple[float, float, float]:
    """(wall seconds, emulator CPU seconds, client CPU seconds) of one upload.

    The client is this process (its threads only upload meanwhile), so its CPU is `process_time`."""
    assert emu.proc is not None
    cpu = process_cpu_seconds(emu.proc.pid)
    client_cpu = time.process_time()
    seconds = upload_seconds(emu.url, data, concurrency)
    return seconds, process_cpu_seconds(emu.proc.pid) - cpu, time.process_time() - client_cpu


def _figure(
    size: int, floor_s: list[float], upload_s: list[float], cpu_s: list[float], client_s: list[float]
) -> dict[str, Any]:
    floor_rate = size / median(floor_s) / 1e6
    rate = size / median(upload_s) / 1e6
    return {
        "mb_s": rate,
        "seconds": median(upload_s),
        "floor_mb_s": floor_rate,
        "ratio": floor_rate / rate,  # how many times slower than the floor
        "all_mb_s": [size / s / 1e6 for s in upload_s],
        "emulator_cpu_ms_per_mib": median(cpu_s) * 1e3 / (size / MIB),
        "all_emulator_cpu_ms_per_mib": [c * 1e3 / (size / MIB) for c in cpu_s],
        "client_cpu_ms_per_mib": median(client_s) * 1e3 / (size / MIB),
    }


def run(mib: int, rounds: int, concurrencies: list[int], baseline: Path | None = None) -> dict[str, Any]:
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
    names = ["current"] if baseline is None else ["current", "baseline"]
    floor_s: dict[int, list[float]] = {c: [] for c in concurrencies}
    upload_s: dict[str, dict[int, list[float]]] = {n: {c: [] for c in concurrencies} for n in names}
    cpu_s: dict[str, dict[int, list[float]]] = {n: {c: [] for c in concurrencies} for n in names}
    client_s: dict[str, dict[int, list[float]]] = {n: {c: [] for c in concurrencies} for n in names}
    page_sizes: dict[str, int] = {}
    sha_s: list[float] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        floor = stack.enter_context(floor_server(root / "floor"))
        emus: dict[str, EmulatorProcess] = {}
        for name in names:
            with _code_from(baseline if name == "baseline" else None):
                emus[name] = stack.enter_context(emulator(root / name, [ARTIFACT], extra))
            upload_seconds(emus[name].url, data[:MIB], 1)  # warm the process and the page cache
        fc = FloorClient(floor.url)
        fc.transfer(2, chunk, 1)
        for index in range(rounds):
            for c in concurrencies:
                sha = sha256_seconds(mib, chunk)
                sha_s.append(sha)
                floor_s[c].append(sha + fc.transfer(mib, chunk, c))
                # Alternate which emulator goes first, so neither always gets the quieter moment.
                for name in names if index % 2 == 0 else names[::-1]:
                    seconds, cpu, client_cpu = _timed_upload(emus[name], data, c)
                    upload_s[name][c].append(seconds)
                    cpu_s[name][c].append(cpu)
                    client_s[name][c].append(client_cpu)
        fc.close()
        page_sizes = {name: _store_page_size(emus[name].state_dir) for name in names}
    figures: dict[str, Any] = {
        "mib": mib,
        "rounds": rounds,
        "sha256_mb_s": size / median(sha_s) / 1e6,
        "store_page_size": page_sizes["current"],
    }
    for c in concurrencies:
        figures[f"c{c}"] = _figure(
            size, floor_s[c], upload_s["current"][c], cpu_s["current"][c], client_s["current"][c]
        )
    if baseline is not None:
        figures["baseline"] = {"source": str(baseline), "store_page_size": page_sizes["baseline"]}
        for c in concurrencies:
            figures["baseline"][f"c{c}"] = _figure(
                size, floor_s[c], upload_s["baseline"][c], cpu_s["baseline"][c], client_s["baseline"][c]
            )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="also run an emulator from this source tree (e.g. a git worktree of an older commit)",
    )
    args = parser.parse_args()
    figures = run(args.mib, args.rounds, args.concurrency, args.baseline)
    sides = [("current", figures)]
    if args.baseline is not None:
        sides.append(("baseline", figures["baseline"]))
    for c in args.concurrency:
        for label, side in sides:
            f = side[f"c{c}"]
            print(
                f"{label:8} ({side['store_page_size']} B pages) concurrency {c}: {f['mb_s']:.0f} MB/s "
                f"(floor {f['floor_mb_s']:.0f} MB/s, {f['ratio']:.2f}x the floor's time), "
                f"CPU per MiB: emulator {f['emulator_cpu_ms_per_mib']:.2f} ms, "
                f"client {f['client_cpu_ms_per_mib']:.2f} ms "
                f"(rounds: {', '.join(f'{x:.0f}' for x in f['all_mb_s'])} MB/s)"
            )
    write_json(args.json, {"machine": machine(), "upload": figures})


if __name__ == "__main__":
    main()
