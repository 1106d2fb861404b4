"""The SLO gates inside Locust: a ``quitting`` listener that prints the verdict and sets the exit code.

The decisions themselves are in ``slo.py`` (pure, unit-tested); this module only wires them to a
run: statistics from Locust, invariant breaks reported by workers, the table on stdout, a JSON copy
next to the CSV files, and ``environment.process_exit_code``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from .context import INVARIANT_MESSAGE, invariant_for, profile_for
from .events import add_listener
from .profile import Profile
from .slo import Gate, RunStats, collect, evaluate, render

__all__ = ["install"]

log = logging.getLogger(__name__)


def _write_json(path: Path, profile: Profile, stats: RunStats, gates: list[Gate], workers: int) -> None:
    """A machine-readable verdict next to Locust's CSV files (``loadtests.report`` renders it)."""
    document = {
        "profile": profile.name,
        "passed": all(g.passed for g in gates),
        "users": {name: s.count for name, s in profile.users().items()},
        "workers": workers,
        "gallery_event": profile.gallery_event,
        "gates": [asdict(g) for g in gates],
        "duration_s": stats.duration_s,
        "total_requests": stats.total_requests,
        "total_failures": stats.total_failures,
        "methods": [asdict(m) for m in stats.methods],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def install(environment: Environment) -> None:
    """Register the gate (``quitting``) and the workers' invariant reports; nothing on workers.

    Workers skip both because their statistics are partial and reset after every report to the
    master: only the master (or a local run) sees the whole run, so only it may decide the exit code.
    """
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        return
    invariant = invariant_for(environment)
    if isinstance(runner, MasterRunner):

        def on_invariant_broken(msg: Any, **_: Any) -> None:
            detail = str(msg.data.get("detail", msg.data)) if isinstance(msg.data, dict) else str(msg.data)
            invariant.mark_broken(detail)
            log.error("rate-limit invariant broken on a worker: %s", detail)

        runner.register_message(INVARIANT_MESSAGE, on_invariant_broken)

    workers = {"count": 0}

    def count_workers(**_: Any) -> None:
        if isinstance(environment.runner, MasterRunner):
            workers["count"] = max(workers["count"], environment.runner.worker_count)

    add_listener(environment.events.spawning_complete, count_workers)

    def apply_gates(environment: Environment, **_: Any) -> None:
        profile = profile_for(environment)
        run_stats = collect(environment.stats, environment.runner.exceptions if environment.runner else None)
        gates = evaluate(run_stats, profile.slo, invariant, probers_expected=profile.prober.count > 0)
        passed = all(g.passed for g in gates)
        print(
            f"\nSLO gates of profile {profile.name}: {'PASSED' if passed else 'FAILED'}\n{render(gates)}\n",
            flush=True,
        )
        options = environment.parsed_options
        prefix = getattr(options, "csv_prefix", None) if options is not None else None
        if prefix:
            _write_json(Path(f"{prefix}_gates.json"), profile, run_stats, gates, workers["count"])
        environment.process_exit_code = 0 if passed else 1

    add_listener(environment.events.quitting, apply_gates)
