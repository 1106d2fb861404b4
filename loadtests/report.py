"""Render a finished run's reports as the Markdown recorded in docs/loadtests.md.

``python -m loadtests.report reports/loadtests/full`` reads ``<name>_gates.json`` from that directory:
the gate verdict, the user mix, the worker count and every name's final statistics.

Why the gate JSON and not Locust's ``_stats.csv``: Locust rewrites the CSV every couple of seconds
and not once more at shutdown, so it misses the last requests; the JSON is written by the gate
listener from the final statistics, the same numbers the gates judged. Why a generator at all: the
recorded tables must be exactly what the run measured, in a layout the next run can be compared to.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["render_markdown"]

CANISTER_TYPES = ("query", "update")


def _load(directory: Path) -> dict[str, Any]:
    found = sorted(directory.glob("*_gates.json"))
    if not found:
        raise FileNotFoundError(f"no *_gates.json in {directory}: was the run made with --csv?")
    document: dict[str, Any] = json.loads(found[0].read_text(encoding="utf-8"))
    return document


def _ms(value: float) -> str:
    return f"{value / 1000:.1f} s" if value >= 10_000 else f"{value:.0f}"


def render_markdown(directory: Path) -> str:
    run = _load(directory)
    methods: list[dict[str, Any]] = run["methods"]
    duration = float(run.get("duration_s") or 0.0)
    calls = sum(int(m["requests"]) for m in methods if m["request_type"] in CANISTER_TYPES)
    rate = calls / duration if duration else 0.0
    events_rate = run["total_requests"] / duration if duration else 0.0
    users = ", ".join(f"{name} x{count}" for name, count in run["users"].items())
    workers = run.get("workers") or 0
    verdict = "PASSED" if run["passed"] else "FAILED"
    lines = [
        f"- profile `{run['profile']}`, {sum(run['users'].values())} users ({users}), "
        + (f"{workers} workers + 1 master" if workers else "one local Locust process"),
        f"- duration {duration:.0f} s of load; {run['total_requests']} events, "
        f"{calls} canister calls = **{rate:.1f} calls/s** ({events_rate:.1f} events/s incl. "
        "whole-operation events)",
        f"- unexpected failures: {run['total_failures']}; gates: **{verdict}**",
        "",
        "| type | name | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ordered = sorted(
        methods, key=lambda m: (m["request_type"] not in CANISTER_TYPES, m["request_type"], m["name"])
    )
    for m in ordered:
        lines.append(
            f"| {m['request_type']} | `{m['name']}` | {m['requests']} | {m['failures']} | {m['rps']:.2f} | "
            f"{_ms(m['p50'])} | {_ms(m['p95'])} | {_ms(m['p99'])} | {_ms(m.get('max', 0.0))} |"
        )
    lines.append("")
    gallery = next((m for m in methods if m["name"] == run.get("gallery_event")), None)
    if gallery is not None and gallery["requests"] > 0:
        lines.append(
            f"- time to store one gallery (`{gallery['name']}`: metadata + asset + presence for every "
            f"memory, then `store_gallery_forever`): {gallery['requests']} galleries, "
            f"median {gallery['p50'] / 1000:.1f} s, mean {gallery['avg'] / 1000:.1f} s, "
            f"max {gallery.get('max', 0.0) / 1000:.1f} s"
        )
    invariant = next((g for g in run["gates"] if g["gate"] == "rate-limit invariant"), None)
    if invariant is not None:
        lines.append(
            f"- rate-limit invariant (no principal above the active-session limit): {invariant['observed']}"
        )
    lines += ["", "| gate | threshold | observed | result |", "|---|---|---|---|"]
    for g in run["gates"]:
        result = "pass" if g["passed"] else "FAIL"
        lines.append(f"| {g['gate']} | {g['threshold']} | {g['observed']} | {result} |")
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
