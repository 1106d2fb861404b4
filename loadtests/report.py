"""Render a finished run's reports as the Markdown recorded in docs/loadtests.md.

``python -m loadtests.report reports/loadtests/full`` reads ``<name>_stats.csv`` (Locust's own numbers)
and ``<name>_gates.json`` (the gate verdict, user mix and worker count) from that directory.

Why a generator instead of copying numbers by hand: the recorded tables must be exactly what the run
wrote, and the next person repeating the run should get the same layout to compare against.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["render_markdown"]

CANISTER_TYPES = ("query", "update")


def _load(directory: Path) -> tuple[dict[str, Any], list[dict[str, str]]]:
    gates_files = sorted(directory.glob("*_gates.json"))
    if not gates_files:
        raise FileNotFoundError(f"no *_gates.json in {directory}: was the run made with --csv?")
    gates = json.loads(gates_files[0].read_text(encoding="utf-8"))
    stats_file = gates_files[0].with_name(gates_files[0].name.replace("_gates.json", "_stats.csv"))
    with stats_file.open(newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.DictReader(fh) if row["Name"] != "Aggregated"]
    return gates, rows


def _ms(value: str) -> str:
    number = float(value or 0)
    return f"{number / 1000:.1f} s" if number >= 10_000 else f"{number:.0f}"


def render_markdown(directory: Path) -> str:
    gates, rows = _load(directory)
    duration = float(gates.get("duration_s") or 0.0)
    calls = [r for r in rows if r["Type"] in CANISTER_TYPES]
    call_count = sum(int(r["Request Count"]) for r in calls)
    users = ", ".join(f"{name} x{count}" for name, count in gates["users"].items())
    workers = gates.get("workers") or 0
    lines = [
        f"- profile `{gates['profile']}`, {sum(gates['users'].values())} users ({users}), "
        + (f"{workers} workers + 1 master" if workers else "one local Locust process"),
        f"- duration {duration:.0f} s of load; {gates['total_requests']} events, "
        f"{call_count} canister calls = **{call_count / duration if duration else 0:.1f} calls/s** "
        f"({gates['total_requests'] / duration if duration else 0:.1f} events/s incl. whole-operation events)",
        f"- unexpected failures: {gates['total_failures']}; gates: **{'PASSED' if gates['passed'] else 'FAILED'}**",
        "",
        "| type | name | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in sorted(rows, key=lambda r: (r["Type"] not in CANISTER_TYPES, r["Type"], r["Name"])):
        lines.append(
            f"| {r['Type']} | `{r['Name']}` | {r['Request Count']} | {r['Failure Count']} | "
            f"{float(r['Requests/s']):.2f} | {_ms(r['50%'])} | {_ms(r['95%'])} | {_ms(r['99%'])} | "
            f"{_ms(r['Max Response Time'])} |"
        )
    gallery = next((r for r in rows if r["Name"] == gates.get("gallery_event")), None)
    lines.append("")
    if gallery is not None and int(gallery["Request Count"]) > 0:
        lines.append(
            f"- time to store one gallery (`{gallery['Name']}`, metadata + asset + presence for every memory, "
            f"then `store_gallery_forever`): {gallery['Request Count']} galleries, "
            f"median {float(gallery['50%']) / 1000:.1f} s, min {float(gallery['Min Response Time']) / 1000:.1f} s, "
            f"max {float(gallery['Max Response Time']) / 1000:.1f} s"
        )
    invariant = next((g for g in gates["gates"] if g["gate"] == "rate-limit invariant"), None)
    if invariant is not None:
        lines.append(
            f"- rate-limit invariant (no principal above the active-session limit): {invariant['observed']}"
        )
    lines += ["", "| gate | threshold | observed | result |", "|---|---|---|---|"]
    for g in gates["gates"]:
        lines.append(f"| {g['gate']} | {g['threshold']} | {g['observed']} | {'pass' if g['passed'] else 'FAIL'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m loadtests.report REPORT_DIR", file=sys.stderr)
        return 2
    try:
        print(render_markdown(Path(argv[0])), end="")
    except (OSError, KeyError, ValueError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
