"""Running the conformance suite as its users do: `python -m pytest conformance/ ...` in a child process.

A child process, not `pytester`, because the suite's plugin starts an emulator, writes report files
and reads options exactly as it does for an engineer; running it in-process would share this
session's plugins, options and imported modules and prove less.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FAULTY = "tests.conformance_meta.faulty_canisters"


@dataclass
class SuiteRun:
    returncode: int
    output: str
    results: dict[str, Any]

    def outcomes(self) -> dict[str, str]:
        return {r["nodeid"]: r["outcome"] for r in self.results.get("results", [])}

    def by_outcome(self, *outcomes: str) -> set[str]:
        return {nodeid for nodeid, outcome in self.outcomes().items() if outcome in outcomes}

    def result(self, nodeid: str) -> dict[str, Any]:
        for r in self.results["results"]:
            if r["nodeid"] == nodeid:
                return dict(r)
        raise KeyError(f"{nodeid} not in the results; ran: {sorted(self.outcomes())[:20]}")


def run_suite(args: list[str], report_dir: Path, timeout: float = 300.0, *, quiet: bool = True) -> SuiteRun:
    cmd = [sys.executable, "-m", "pytest", *args, "--report-dir", str(report_dir), *(["-q"] if quiet else [])]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    }
    done = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    output = done.stdout + done.stderr
    results_file = report_dir / "conformance-results.json"
    results = json.loads(results_file.read_text()) if results_file.exists() else {}
    return SuiteRun(done.returncode, output, results)
