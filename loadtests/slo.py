"""SLO gate decisions over plain numbers: what CI trusts, so it is unit-tested with made-up statistics.

Why apart from ``gates.py``: importing Locust monkey-patches the whole process with gevent, which a
pytest session running asyncio servers must not suffer; this module imports no Locust at run time
(``collect`` only duck-types Locust's ``RequestStats``), so the decision logic is testable anywhere.

The gates (thresholds from the profile's ``[loadtest.slo]``):

1. **unexpected failures**: failed events / all events must not exceed ``max_failure_ratio`` (0 in
   the shipped profiles). Expected refusals are successes under their own names, so every failure
   left is unexpected.
2. **task errors**: exceptions that escaped a task unreported (a bug in the test or a crash);
   none allowed, because the run then did not do what its numbers claim.
3. **p95 per name**: each name in ``slo.p95_ms`` must have samples (a gate on a method that never
   ran would pass vacuously) and a 95th percentile at or under its threshold.
4. **rate-limit invariant**: no principal ever held more active sessions than the limit; it must
   also have been checked at least once when the profile runs probers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .profile import SloSettings

if TYPE_CHECKING:
    from locust.stats import RequestStats

__all__ = [
    "INVARIANT_NAME",
    "Gate",
    "InvariantState",
    "MethodStats",
    "RunStats",
    "collect",
    "evaluate",
    "render",
]

INVARIANT_NAME = "invariant:max_active_sessions"


@dataclass
class InvariantState:
    """The rate-limit invariant's verdict in this process; the master also receives workers' breaks."""

    checks: int = 0
    broken: bool = False
    details: list[str] = field(default_factory=list)

    def mark_broken(self, detail: str) -> None:
        self.broken = True
        if len(self.details) < 20:  # enough to diagnose; a broken canister would otherwise flood memory
            self.details.append(detail)


@dataclass(frozen=True, slots=True)
class MethodStats:
    request_type: str
    name: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    avg: float = 0.0
    rps: float = 0.0
    max: float = 0.0


@dataclass(frozen=True, slots=True)
class RunStats:
    methods: tuple[MethodStats, ...]
    total_requests: int
    total_failures: int
    task_errors: int = 0
    duration_s: float = 0.0

    def by_name(self, name: str) -> MethodStats | None:
        found = [m for m in self.methods if m.name == name]
        return found[0] if found else None


@dataclass(frozen=True, slots=True)
class Gate:
    gate: str
    threshold: str
    observed: str
    passed: bool


def evaluate(
    stats: RunStats, slo: SloSettings, invariant: InvariantState, *, probers_expected: bool = True
) -> list[Gate]:
    gates: list[Gate] = []
    ratio = stats.total_failures / stats.total_requests if stats.total_requests else 0.0
    gates.append(
        Gate(
            "unexpected failure ratio",
            f"<= {slo.max_failure_ratio:g}",
            f"{ratio:.4g} ({stats.total_failures}/{stats.total_requests})",
            stats.total_requests > 0 and ratio <= slo.max_failure_ratio,
        )
    )
    gates.append(Gate("task errors", "0", str(stats.task_errors), stats.task_errors == 0))
    for name, limit in sorted(slo.p95_ms.items()):
        row = stats.by_name(name)
        if row is None or row.requests == 0:
            gates.append(Gate(f"p95 {name}", f"<= {limit:g} ms", "no samples", False))
        else:
            gates.append(
                Gate(
                    f"p95 {name}", f"<= {limit:g} ms", f"{row.p95:g} ms (n={row.requests})", row.p95 <= limit
                )
            )
    row = stats.by_name(INVARIANT_NAME)
    checks = row.requests if row is not None else 0
    violations = row.failures if row is not None else 0
    broken = invariant.broken or violations > 0
    if broken:
        observed = f"BROKEN ({violations} of {checks} checks)" + (
            f": {invariant.details[0]}" if invariant.details else ""
        )
    elif checks == 0:
        observed = "never checked" if probers_expected else "not exercised (the profile runs no prober)"
    else:
        observed = f"held in {checks} checks"
    gates.append(
        Gate(
            "rate-limit invariant",
            "active sessions <= limit",
            observed,
            not broken and (checks > 0 or not probers_expected),
        )
    )
    return gates


def render(gates: Iterable[Gate]) -> str:
    rows = [("gate", "threshold", "observed", "result")]
    rows += [(g.gate, g.threshold, g.observed, "pass" if g.passed else "FAIL") for g in gates]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def collect(stats: RequestStats, exceptions: Mapping[Any, Mapping[str, Any]] | None = None) -> RunStats:
    """The numbers the gates need, from Locust's (on a master: the workers' merged) statistics."""
    methods = tuple(
        MethodStats(
            request_type=str(e.method),
            name=str(e.name),
            requests=e.num_requests,
            failures=e.num_failures,
            p50=float(e.get_response_time_percentile(0.5) or 0),
            p95=float(e.get_response_time_percentile(0.95) or 0),
            p99=float(e.get_response_time_percentile(0.99) or 0),
            avg=float(e.avg_response_time),
            rps=float(e.total_rps),
            max=float(e.max_response_time or 0),
        )
        for e in sorted(stats.entries.values(), key=lambda e: (str(e.method), str(e.name)))
    )
    total = stats.total
    errors = sum(int(v.get("count", 1)) for v in (exceptions or {}).values())
    duration = max(0.0, (total.last_request_timestamp or total.start_time) - total.start_time)
    return RunStats(methods, total.num_requests, total.num_failures, errors, duration)
