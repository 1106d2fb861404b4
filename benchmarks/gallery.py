"""Storing a whole gallery with one client process: metadata + a 4 KiB asset + presence, per memory.

The client is the project's own orchestrator (`clients.artifact.store_gallery`, at its default
memory concurrency unless `--memory-concurrency` is given), fed a manifest of `--memories` memories,
each with its own 4 KiB file. Per memory it upserts metadata, uploads the asset (begin, one chunk,
commit, presence), and checks presence; it also reads presence in pages first and stores the gallery
record last. The daily upload quota is raised so one caller may begin that many uploads. The CPU
seconds both processes spent during the run are reported beside the time.

The floor of the whole run is the same number of calls at the call floors of this run: the update
floor times the number of update calls the emulator saw plus the query floor times its queries (both
counted from the emulator's `/metrics`). It is sequential, like a single caller; the orchestrator
overlaps two memories, so a ratio below 1 is possible and means the overlap paid off.

    python -m benchmarks.gallery --memories 1000 --json out.json
    python -m benchmarks.gallery --memories 1000 --memory-concurrency 3
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import ARTIFACT, emulator, floor_server, machine, median, write_json
from benchmarks.floors import FloorClient
from clients.artifact import (
    ArtifactClient,
    Manifest,
    MemorySpec,
    MemoryType,
    SimpleMemoryMetadata,
    store_gallery,
)
from clients.artifact.manifest import GallerySpec
from clients.ic import Connection, generate_ed25519

ASSET_BYTES = 4096


def build_manifest(folder: Path, memories: int) -> Manifest:
    folder.mkdir(parents=True, exist_ok=True)
    specs = []
    for i in range(memories):
        path = folder / f"m{i:05d}.jpg"
        path.write_bytes(i.to_bytes(4, "big") * (ASSET_BYTES // 4))
        metadata = SimpleMemoryMetadata(
            title=f"memory {i}",
            tags=("bench",),
            created_at=1_700_000_000_000_000_000,
            updated_at=1_700_000_000_000_000_000,
            size=ASSET_BYTES,
            content_type="image/jpeg",
        )
        specs.append(MemorySpec(str(uuid.uuid4()), MemoryType.IMAGE, path, metadata, i))
    return Manifest(None, GallerySpec(str(uuid.uuid4()), "Benchmark gallery"), tuple(specs))


def call_counts(admin_url: str) -> tuple[int, int]:
    """(updates, queries) the emulator has handled, from its Prometheus counters."""
    text = httpx.get(f"{admin_url}/metrics", timeout=10).text
    counts = {"call": 0.0, "query": 0.0}
    for match in re.finditer(r'^storeforever_calls_total\{endpoint="(\w+)"[^}]*\} ([0-9.e+]+)$', text, re.M):
        if match.group(1) in counts:
            counts[match.group(1)] += float(match.group(2))
    return int(counts["call"]), int(counts["query"])


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of another process so far (`/proc/<pid>/stat`, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def floor_call_ms(fc: FloorClient, calls: int) -> tuple[float, float]:
    updates, queries = [], []
    for _ in range(calls):
        started = time.perf_counter()
        fc.update()
        updates.append(time.perf_counter() - started)
        started = time.perf_counter()
        fc.query()
        queries.append(time.perf_counter() - started)
    return median(updates) * 1e3, median(queries) * 1e3


def run(memories: int, floor_calls: int = 200, memory_concurrency: int | None = None) -> dict[str, Any]:
    quota = ["--limit", f"daily_upload_quota={max(1000, 2 * memories)}", "--quiet"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        manifest = build_manifest(root / "files", memories)
        with floor_server(root / "floor") as floor, emulator(root / "state", [ARTIFACT], quota) as emu:
            fc = FloorClient(floor.url)
            before_update, before_query = floor_call_ms(fc, floor_calls // 2)
            connection = Connection(emu.url, generate_ed25519())
            client = ArtifactClient(connection)
            calls_before = call_counts(emu.admin_url)
            assert emu.proc is not None
            emu_cpu = process_cpu_seconds(emu.proc.pid)
            client_cpu = time.process_time()
            started = time.perf_counter()
            if memory_concurrency is None:
                outcome = store_gallery(client, manifest)
            else:
                outcome = store_gallery(client, manifest, memory_concurrency=memory_concurrency)
            elapsed = time.perf_counter() - started
            client_cpu = time.process_time() - client_cpu
            emu_cpu = process_cpu_seconds(emu.proc.pid) - emu_cpu
            calls_after = call_counts(emu.admin_url)
            after_update, after_query = floor_call_ms(fc, floor_calls // 2)
            fc.close()
            connection.close()
    if outcome.status != "complete" or not outcome.gallery_stored:
        raise AssertionError(f"gallery not stored completely: {outcome.status} {outcome.counts}")
    updates = calls_after[0] - calls_before[0]
    queries = calls_after[1] - calls_before[1]
    update_floor = (before_update + after_update) / 2
    query_floor = (before_query + after_query) / 2
    floor_s = (updates * update_floor + queries * query_floor) / 1e3
    return {
        "memories": memories,
        "memory_concurrency": memory_concurrency,
        "seconds": elapsed,
        "updates": updates,
        "queries": queries,
        "update_floor_ms": update_floor,
        "query_floor_ms": query_floor,
        "floor_seconds": floor_s,
        "ratio": elapsed / floor_s,
        "edges": outcome.edges_written,
        "client_cpu_seconds": client_cpu,
        "emulator_cpu_seconds": emu_cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=1000)
    parser.add_argument(
        "--memory-concurrency", type=int, default=None, help="default: the orchestrator's own default"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    figures = run(args.memories, memory_concurrency=args.memory_concurrency)
    print(
        f"{figures['memories']} memories in {figures['seconds']:.2f} s "
        f"({figures['updates']} updates, {figures['queries']} queries); "
        f"floor {figures['floor_seconds']:.2f} s, ratio {figures['ratio']:.2f}; CPU: client "
        f"{figures['client_cpu_seconds']:.2f} s, emulator {figures['emulator_cpu_seconds']:.2f} s"
    )
    write_json(args.json, {"machine": machine(), "gallery": figures})


if __name__ == "__main__":
    main()
