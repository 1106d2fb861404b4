"""Do concurrent calls of one client process overlap? Client CPU per call, and cores used, by threads.

One `clients.ic.Connection` (Ed25519 identity, certificate and query-signature checks on) against an
emulator hosting the example canister, shared by 1, 2 and 4 threads, each making `--calls` update
(`inc`) or query (`get`) calls in a row. For each thread count it prints the wall time per call (all
threads together), the client's CPU per call (`time.process_time`, all its threads) and the cores
the client used (CPU / wall), with the emulator's CPU per call beside it (`/proc/<pid>/stat`).

Reading it: a client whose calls overlap uses more than one core once it has 2 threads (on a quiet
machine); one that serialises stays at or below 1.0 however many threads call. The CPU per call is
the figure that changes when the client does less work per call, whatever the load.

    python -m benchmarks.client_calls --calls 200 --threads 1 2 4
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from benchmarks.common import EXAMPLE, emulator
from benchmarks.gallery import process_cpu_seconds
from clients.ic import Connection, generate_ed25519
from emulator.process import EXAMPLE_ID

EMPTY_ARGS = b"DIDL\x00\x00"


def measure(conn: Connection, emulator_pid: int, kind: str, threads: int, calls: int) -> dict[str, float]:
    def one_thread(_: int) -> None:
        for _ in range(calls):
            if kind == "update":
                conn.update_raw(EXAMPLE_ID, "inc", EMPTY_ARGS)
            else:
                conn.query_raw(EXAMPLE_ID, "get", EMPTY_ARGS)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one_thread, range(threads)))  # warm: connections in the pool, caches filled
        emu_cpu, cpu, wall = process_cpu_seconds(emulator_pid), time.process_time(), time.perf_counter()
        list(pool.map(one_thread, range(threads)))
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        emu_cpu = process_cpu_seconds(emulator_pid) - emu_cpu
    total = threads * calls
    return {
        "wall_ms_per_call": wall / total * 1e3,
        "client_cpu_ms_per_call": cpu / total * 1e3,
        "client_cores": cpu / wall,
        "emulator_cpu_ms_per_call": emu_cpu / total * 1e3,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=200, help="calls per thread")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--kinds", nargs="+", default=["update", "query"], choices=["update", "query"])
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp, emulator(Path(tmp) / "state", [EXAMPLE], ["--quiet"]) as emu:
        assert emu.proc is not None
        with Connection(emu.url, generate_ed25519()) as conn:
            for kind in args.kinds:
                for threads in args.threads:
                    r = measure(conn, emu.proc.pid, kind, threads, args.calls)
                    print(
                        f"{kind:6} {threads} thread(s): wall {r['wall_ms_per_call']:.2f} ms/call, client CPU "
                        f"{r['client_cpu_ms_per_call']:.2f} ms/call, client cores {r['client_cores']:.2f}, "
                        f"emulator CPU {r['emulator_cpu_ms_per_call']:.2f} ms/call"
                    )


if __name__ == "__main__":
    main()
