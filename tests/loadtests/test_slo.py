"""The SLO gate decisions, fed with made-up statistics (no Locust run, no Locust import)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loadtests.profile import SloSettings
from loadtests.slo import INVARIANT_NAME, InvariantState, MethodStats, RunStats, collect, evaluate, render

REPO = Path(__file__).resolve().parents[2]
SLO = SloSettings(max_failure_ratio=0.0, p95_ms={"put_chunk": 500.0, "gallery:store_1000": 60_000.0})


def row(
    name: str, requests: int = 100, failures: int = 0, p95: float = 50.0, kind: str = "update"
) -> MethodStats:
    return MethodStats(kind, name, requests, failures, p50=p95 / 2, p95=p95, p99=p95 * 1.5)


def run(*rows: MethodStats, task_errors: int = 0) -> RunStats:
    return RunStats(
        methods=rows,
        total_requests=sum(r.requests for r in rows),
        total_failures=sum(r.failures for r in rows),
        task_errors=task_errors,
    )


def healthy() -> list[MethodStats]:
    return [
        row("put_chunk", 1000, p95=120.0),
        row("gallery:store_1000", 3, p95=41_000.0, kind="gallery"),
        row("begin_asset_upload:rate_limited", 50),
        row(INVARIANT_NAME, 40, kind="invariant"),
    ]


def verdict(
    stats: RunStats, invariant: InvariantState | None = None, probers: bool = True
) -> dict[str, bool]:
    gates = evaluate(stats, SLO, invariant or InvariantState(), probers_expected=probers)
    return {g.gate: g.passed for g in gates}


def test_a_healthy_run_passes_every_gate() -> None:
    result = verdict(run(*healthy()))
    assert all(result.values()), result
    assert set(result) == {
        "unexpected failure ratio",
        "task errors",
        "p95 put_chunk",
        "p95 gallery:store_1000",
        "rate-limit invariant",
    }


def test_any_unexpected_failure_fails_the_ratio_gate() -> None:
    rows = healthy()
    rows[0] = row("put_chunk", 1000, failures=1, p95=120.0)
    result = verdict(run(*rows))
    assert not result["unexpected failure ratio"]
    assert result["p95 put_chunk"] and result["rate-limit invariant"]


def test_a_tolerated_ratio_is_honoured() -> None:
    rows = healthy()
    rows[0] = row("put_chunk", 1000, failures=5, p95=120.0)
    lenient = SloSettings(max_failure_ratio=0.01, p95_ms={})
    gates = evaluate(run(*rows), lenient, InvariantState())
    assert gates[0].passed and "5/1093" in gates[0].observed


def test_p95_above_its_threshold_fails_only_that_gate() -> None:
    rows = healthy()
    rows[1] = row("gallery:store_1000", 3, p95=61_000.0, kind="gallery")
    result = verdict(run(*rows))
    assert not result["p95 gallery:store_1000"]
    assert result["p95 put_chunk"] and result["unexpected failure ratio"]


def test_p95_equal_to_the_threshold_passes() -> None:
    rows = healthy()
    rows[0] = row("put_chunk", 1000, p95=500.0)
    assert verdict(run(*rows))["p95 put_chunk"]


def test_a_gated_name_without_samples_fails() -> None:
    rows = [r for r in healthy() if r.name != "put_chunk"]
    gates = evaluate(run(*rows), SLO, InvariantState())
    gate = next(g for g in gates if g.gate == "p95 put_chunk")
    assert not gate.passed and gate.observed == "no samples"


def test_the_invariant_flag_fails_the_run_even_without_failed_events() -> None:
    invariant = InvariantState()
    invariant.mark_broken("principal abc: 4 begins accepted, 4 listed active, limit 3")
    gates = evaluate(run(*healthy()), SLO, invariant)
    gate = next(g for g in gates if g.gate == "rate-limit invariant")
    assert not gate.passed and "limit 3" in gate.observed


def test_a_failed_invariant_event_fails_the_invariant_gate() -> None:
    rows = healthy()
    rows[3] = row(INVARIANT_NAME, 40, failures=1, kind="invariant")
    result = verdict(run(*rows))
    assert not result["rate-limit invariant"] and not result["unexpected failure ratio"]


def test_an_invariant_never_checked_fails_when_probers_were_expected() -> None:
    rows = [r for r in healthy() if r.name != INVARIANT_NAME]
    assert not verdict(run(*rows))["rate-limit invariant"]
    assert verdict(run(*rows), probers=False)["rate-limit invariant"]


def test_task_errors_and_empty_runs_fail() -> None:
    assert not verdict(run(*healthy(), task_errors=1))["task errors"]
    assert not verdict(run())["unexpected failure ratio"]


def test_render_lists_every_gate_with_its_result() -> None:
    rows = healthy()
    rows[0] = row("put_chunk", 1000, p95=900.0)
    table = render(evaluate(run(*rows), SLO, InvariantState()))
    lines = table.splitlines()
    assert lines[0].split() == ["gate", "threshold", "observed", "result"]
    assert set(lines[1]) <= {"-", " "}
    put_chunk = next(line for line in lines if "p95 put_chunk" in line)
    assert put_chunk.rstrip().endswith("FAIL") and "900 ms" in put_chunk
    assert sum(line.rstrip().endswith("pass") for line in lines) == 4


# ---- collect(): duck-typed Locust statistics


@dataclass
class FakeEntry:
    name: str
    method: str
    num_requests: int
    num_failures: int
    percentiles: dict[float, int]
    avg_response_time: float = 10.0
    total_rps: float = 2.0
    max_response_time: float = 99.0

    def get_response_time_percentile(self, percent: float) -> int:
        return self.percentiles[percent]


@dataclass
class FakeTotal:
    num_requests: int
    num_failures: int
    start_time: float = 1000.0
    last_request_timestamp: float | None = 1060.0


@dataclass
class FakeStats:
    entries: dict[tuple[str, str], FakeEntry]
    total: FakeTotal
    extra: dict[str, Any] = field(default_factory=dict)


def test_collect_reads_per_name_percentiles_totals_and_task_errors() -> None:
    entries = {
        ("put_chunk", "update"): FakeEntry("put_chunk", "update", 10, 1, {0.5: 8, 0.95: 40, 0.99: 70}),
        ("gallery:store_1000", "gallery"): FakeEntry(
            "gallery:store_1000", "gallery", 2, 0, {0.5: 40000, 0.95: 42000, 0.99: 42000}
        ),
    }
    stats = FakeStats(entries, FakeTotal(12, 1))
    exceptions = {1: {"count": 2, "msg": "boom"}, 2: {"count": 1, "msg": "bang"}}
    result = collect(stats, exceptions)  # type: ignore[arg-type]
    assert result.total_requests == 12 and result.total_failures == 1
    assert result.task_errors == 3 and result.duration_s == 60.0
    put = result.by_name("put_chunk")
    assert put is not None and (put.p50, put.p95, put.p99) == (8.0, 40.0, 70.0)
    assert [m.request_type for m in result.methods] == ["gallery", "update"]


def test_the_modules_tests_import_do_not_import_locust() -> None:
    """Importing Locust would gevent-patch the whole pytest process (asyncio servers included)."""
    modules = "loadtests.slo, loadtests.profile, loadtests.sizes, loadtests.client, loadtests.events"
    code = f"import sys, {modules}; print('locust' in sys.modules, 'gevent' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.split() == ["False", "False"]
