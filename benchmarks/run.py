"""Run every benchmark of issue 7 in one go and write the figures (JSON) and the table (Markdown).

Each stage measures its own floor in the same run, interleaved with the figure it normalises (see
each module's docstring); this driver only sequences them, keeps every result in one JSON file and
hands it to `benchmarks.report`. `--quick` runs every stage once with tiny sizes: the figures are
meaningless then, but every code path runs, which is what CI checks (`tests/bench_quick`).

    python -m benchmarks.run                      # full sizes, writes docs/performance.md
    python -m benchmarks.run --quick --out /tmp/b  # tiny sizes, leaves docs/ alone
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import gallery, roundtrip, scaling, startup, upload, upload_rss
from benchmarks.common import machine
from benchmarks.report import render, write_report

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("codec", "roundtrip", "upload", "gallery", "scaling", "startup", "upload_rss")


@dataclass(frozen=True)
class Sizes:
    calls: int
    upload_mib: int
    upload_rounds: int
    memories: int
    scaling_small: int
    scaling_large: int
    scaling_reps: int
    startup_mib: int
    startup_rounds: int
    rss_mib: int


FULL = Sizes(500, 100, 3, 1000, 1000, 100_000, 300, 1024, 5, 1024)
QUICK = Sizes(10, 2, 1, 4, 10, 40, 5, 4, 1, 4)


def codec(quick: bool, out_dir: Path) -> dict[str, Any]:
    """pytest-benchmark in a child process (it owns timing, calibration and rounds)."""
    out = out_dir / "codec.json"
    args = [
        sys.executable,
        "-m",
        "pytest",
        str(ROOT / "benchmarks" / "test_codec.py"),
        "-q",
        "-p",
        "no:cacheprovider",
        f"--benchmark-json={out}",
        "--benchmark-columns=median,iqr,rounds",
    ]
    if quick:
        args += [
            "--benchmark-min-time=0",
            "--benchmark-max-time=0",
            "--benchmark-min-rounds=1",
            "--benchmark-warmup=off",
        ]
    else:
        args += ["--benchmark-min-rounds=20", "--benchmark-max-time=2"]
    env = {**os.environ, "BENCH_QUICK": "1" if quick else "0"}
    subprocess.run(args, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    data = json.loads(out.read_text())
    medians = {b["name"].removeprefix("test_"): b["stats"]["median"] for b in data["benchmarks"]}
    figures: dict[str, Any] = {
        "payload_blob_bytes": 64 * 1024 if quick else 1024 * 1024,
        "payload_records": 100 if quick else 10_000,
    }
    floors = {
        "blob": medians["floor_blob_copy"],
        "entries_encode": medians["floor_entries_json_encode"],
        "entries_decode": medians["floor_entries_json_decode"],
    }
    for side in ("emulator", "client"):
        for op in ("encode", "decode"):
            for payload in ("blob", "entries"):
                seconds = medians[f"{side}_{op}[{payload}]"]
                floor = floors["blob"] if payload == "blob" else floors[f"entries_{op}"]
                figures[f"{side}_{op}_{payload}"] = {
                    "ms": seconds * 1e3,
                    "floor_ms": floor * 1e3,
                    "ratio": seconds / floor,
                }
    return figures


def run_all(quick: bool, out_dir: Path, only: tuple[str, ...] = STAGES) -> dict[str, Any]:
    sizes = QUICK if quick else FULL
    stages: dict[str, Callable[[], dict[str, Any]]] = {
        "codec": lambda: codec(quick, out_dir),
        "roundtrip": lambda: roundtrip.run(sizes.calls, warmup=5 if quick else 20),
        "upload": lambda: upload.run(sizes.upload_mib, sizes.upload_rounds, [1, 4, 8]),
        "gallery": lambda: gallery.run(sizes.memories, floor_calls=10 if quick else 200),
        "scaling": lambda: dict(scaling.run(sizes.scaling_small, sizes.scaling_large, sizes.scaling_reps)),
        "startup": lambda: startup.run(sizes.startup_mib, sizes.startup_rounds),
        "upload_rss": lambda: dict(upload_rss.run(sizes.rss_mib)),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "quick": quick,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "command": " ".join(["python -m benchmarks.run", *sys.argv[1:]]),
        "sizes": sizes.__dict__,
        "stage_seconds": {},
    }
    for name in only:
        started = time.perf_counter()
        print(f"[bench] {name} …", flush=True)
        results[name] = stages[name]()
        results["stage_seconds"][name] = round(time.perf_counter() - started, 1)
        (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    results["machine_after"] = machine()
    (out_dir / "results.json").write_text(json.dumps(results, indent=2))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, every stage once (CI)")
    parser.add_argument("--out", type=Path, default=ROOT / ".benchmarks", help="where results.json goes")
    parser.add_argument(
        "--doc",
        type=Path,
        default=None,
        help="Markdown file to update (default docs/performance.md, none with --quick)",
    )
    parser.add_argument("--only", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument(
        "--command", default=None, help="the command line to record (bench.sh passes its own)"
    )
    args = parser.parse_args()
    results = run_all(args.quick, args.out, tuple(args.only))
    if args.command:
        results["command"] = args.command
    table = render(results)
    print(table)
    doc = args.doc or (None if args.quick else ROOT / "docs" / "performance.md")
    if doc is not None:
        write_report(doc, table)
        print(f"[bench] wrote {doc}")


if __name__ == "__main__":
    main()
