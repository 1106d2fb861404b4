"""Signed update and query round trips against their floors, interleaved call by call.

The emulator runs as `storeforever emulator` does by default (durability full, one JSON log line per
call, here into its log file) with the example canister; the client is `clients.ic.Connection`
(Ed25519 identity, certificate and query-signature verification on). Each sample pair is one floor
call immediately followed by one emulator call, so a burst of load from other processes on the
machine hits both sides of the ratio alike. Reported: p50 and p95 of each, the ratios of the p50s and
p95s, and the server's own time per update and per query from its `duration_ms` log lines (time from
the request reaching the replica to the reply being ready, i.e. without HTTP and client work).

    python -m benchmarks.roundtrip --calls 500 --json out.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import EXAMPLE, emulator, floor_server, machine, summary_ms, write_json
from benchmarks.floors import FloorClient
from clients.ic import Connection, generate_ed25519
from emulator.process import EXAMPLE_ID

EMPTY_ARGS = b"DIDL\x00\x00"


def _timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _server_ms(log_path: Path, endpoint: str, method: str) -> list[float]:
    values = []
    for line in log_path.read_text().splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if record.get("endpoint") == endpoint and record.get("method") == method:
            values.append(float(record["duration_ms"]) / 1e3)
    return values


def _pair(name: str, emu: list[float], floor: list[float]) -> dict[str, Any]:
    e, f = summary_ms(emu), summary_ms(floor)
    return {
        name: e,
        f"{name}_floor": f,
        f"{name}_ratio_p50": e["p50_ms"] / f["p50_ms"],
        f"{name}_ratio_p95": e["p95_ms"] / f["p95_ms"],
    }


def run(calls: int, warmup: int = 20) -> dict[str, Any]:
    update, update_floor, query, query_floor = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with floor_server(root / "floor") as floor, emulator(root / "state", [EXAMPLE]) as emu:
            assert emu.log_path is not None
            fc = FloorClient(floor.url)
            conn = Connection(emu.url, generate_ed25519())
            for _ in range(warmup):
                fc.update()
                fc.query()
                conn.update_raw(EXAMPLE_ID, "inc", EMPTY_ARGS)
                conn.query_raw(EXAMPLE_ID, "get", EMPTY_ARGS)
            for _ in range(calls):
                update_floor.append(_timed(fc.update))
                update.append(_timed(lambda: conn.update_raw(EXAMPLE_ID, "inc", EMPTY_ARGS)))
                query_floor.append(_timed(fc.query))
                query.append(_timed(lambda: conn.query_raw(EXAMPLE_ID, "get", EMPTY_ARGS)))
            conn.close()
            fc.close()
        server_update = _server_ms(emu.log_path, "call", "inc")[warmup:]
        server_query = _server_ms(emu.log_path, "query", "get")[warmup:]
    figures: dict[str, Any] = {"calls": calls}
    figures.update(_pair("update", update, update_floor))
    figures.update(_pair("query", query, query_floor))
    figures["server_update"] = summary_ms(server_update)
    figures["server_query"] = summary_ms(server_query)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    figures = run(args.calls)
    for name in ("update", "query"):
        e, f = figures[name], figures[f"{name}_floor"]
        print(
            f"{name}: p50 {e['p50_ms']:.2f} ms p95 {e['p95_ms']:.2f} ms | floor p50 {f['p50_ms']:.2f} "
            f"p95 {f['p95_ms']:.2f} | ratio p50 {figures[f'{name}_ratio_p50']:.2f} "
            f"p95 {figures[f'{name}_ratio_p95']:.2f}"
        )
    for name in ("server_update", "server_query"):
        print(f"{name}: p50 {figures[name]['p50_ms']:.3f} ms p95 {figures[name]['p95_ms']:.3f} ms")
    write_json(args.json, {"machine": machine(), "roundtrip": figures})


if __name__ == "__main__":
    main()
