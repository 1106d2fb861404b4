"""Emulator memory while a 1 GiB asset is uploaded: chunk bytes must stream to disk, never accumulate.

Samples the emulator process's resident set size (`/proc/<pid>/status`) while one client uploads and
commits a 1 GiB asset in 1 MiB chunks with 4 concurrent puts, then reports the baseline, the peak and
the growth. The asset is generated chunk by chunk on the client side too.

    python -m benchmarks.upload_rss --mib 1024
"""

from __future__ import annotations

import argparse
import hashlib
import json
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from clients.artifact import ArtifactClient
from clients.ic import Connection, generate_ed25519
from emulator.process import DEFAULT_ID, EmulatorProcess

MIB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def chunk(index: int) -> bytes:
    seed = hashlib.sha256(index.to_bytes(8, "big")).digest()
    return seed * (MIB // len(seed))


def run(mib: int, concurrency: int = 4) -> dict[str, float]:
    """Upload `mib` MiB as one asset and return the emulator's RSS baseline, peak and growth (MiB)."""
    size = mib * MIB
    with tempfile.TemporaryDirectory() as tmp:
        proc = EmulatorProcess(
            Path(tmp) / "state",
            canisters=[f"artifact={DEFAULT_ID}"],
            extra_args=[
                "--quiet",
                "--limit",
                f"max_asset_size={size}",
                "--limit",
                f"max_chunk_count={max(mib, 1)}",
            ],
        ).start()
        assert proc.proc is not None
        pid = proc.proc.pid
        try:
            art = ArtifactClient(Connection(proc.url, generate_ed25519()), DEFAULT_ID)
            digest = hashlib.sha256()
            for i in range(mib):
                digest.update(chunk(i))
            baseline = rss_bytes(pid)
            peak = baseline
            stop = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not stop.is_set():
                    peak = max(peak, rss_bytes(pid))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            started = time.perf_counter()
            memory_id = str(uuid.uuid4())
            try:
                begun = art.begin_asset_upload(memory_id, digest.hexdigest(), mib, size)
                assert begun.session is not None
                sid = begun.session.session_id
                with ThreadPoolExecutor(concurrency) as pool:
                    list(pool.map(lambda i: art.put_chunk(sid, i, chunk(i)), range(mib)))
                commit = art.commit_asset(sid, digest.hexdigest())
                elapsed = time.perf_counter() - started
            finally:
                stop.set()
                sampler.join()
            assert commit.total_bytes == size
        finally:
            proc.stop()
    return {
        "mib": float(mib),
        "seconds": elapsed,
        "mb_s": size / elapsed / 1e6,
        "baseline_mib": baseline / MIB,
        "peak_mib": peak / MIB,
        "growth_mib": (peak - baseline) / MIB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    f = run(args.mib, args.concurrency)
    print(f"uploaded {args.mib} MiB in {f['seconds']:.1f} s ({f['mb_s']:.0f} MB/s, incl. commit hashing)")
    print(
        f"emulator RSS: baseline {f['baseline_mib']:.0f} MiB, peak {f['peak_mib']:.0f} MiB, "
        f"growth {f['growth_mib']:.0f} MiB"
    )
    if args.json:
        args.json.write_text(json.dumps({"upload_rss": f}, indent=2))


if __name__ == "__main__":
    main()
