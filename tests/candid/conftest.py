"""Prints the spec-suite tally (per file, binary vs textual assertions) after the run."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

_tally: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)


def pytest_runtest_logreport(report: Any) -> None:
    props = dict(report.user_properties)
    if "spec_file" not in props or report.when != "call":
        return
    outcome = "xfailed" if hasattr(report, "wasxfail") else report.outcome
    _tally[props["spec_file"], "binary" if props["binary"] else "textual"][outcome] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _tally:
        return
    terminalreporter.section("Candid spec suite")
    for (file, kind), counts in sorted(_tally.items()):
        terminalreporter.write_line(
            f"{file:22} {kind:8} run {sum(counts.values()):4}  passed {counts['passed']:4}  "
            f"failed {counts['failed']:3}  xfailed {counts['xfailed']:3}"
        )
