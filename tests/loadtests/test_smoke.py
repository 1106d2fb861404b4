"""CI's load-test gate: the smoke profile against a fresh emulator, through scripts/loadtest.sh."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pytest

from emulator.process import DEFAULT_ID, EmulatorProcess
from loadtests.profile import load_profile
from loadtests.slo import INVARIANT_NAME

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_smoke_profile_passes_its_gates(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", "scripts/loadtest.sh", "--profile", "smoke", "--report-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout[-6000:] + proc.stderr[-6000:]
    assert proc.returncode == 0, output
    assert "SLO gates of profile smoke: PASSED" in proc.stdout

    with (tmp_path / "smoke_stats.csv").open(newline="") as fh:
        rows = {row["Name"]: row for row in csv.DictReader(fh)}
    profile = load_profile("smoke")
    canister_methods = {name for name in profile.slo.p95_ms if ":" not in name}
    for name in [*profile.slo.p95_ms, INVARIANT_NAME]:
        assert name in rows and int(rows[name]["Request Count"]) > 0, f"no samples for {name}"
    for name in canister_methods:
        assert rows[name]["Type"] in ("query", "update")
        assert int(rows[name]["Failure Count"]) == 0
    assert rows["begin_asset_upload:rate_limited"]["Type"] == "update"
    assert rows[profile.gallery_event]["Type"] == "gallery"

    gates = json.loads((tmp_path / "smoke_gates.json").read_text())
    assert gates["passed"] is True and all(g["passed"] for g in gates["gates"])
    assert (tmp_path / "smoke.html").stat().st_size > 10_000


@pytest.mark.slow
def test_a_canister_admitting_one_session_too_many_fails_the_run(tmp_path: Path) -> None:
    """End to end, through a worker: the break is seen on the worker and reaches the master's gate."""
    emulator = EmulatorProcess(
        tmp_path / "state",
        canisters=[f"artifact={DEFAULT_ID}"],
        extra_args=["--quiet", "--limit", "max_active_sessions=4", "--limit", "daily_upload_quota=1000000"],
    ).start()
    try:
        proc = subprocess.run(
            [
                "bash",
                "scripts/loadtest.sh",
                "--profile",
                "smoke",
                "--url",
                emulator.url,
                "--canister-id",
                DEFAULT_ID,
                "--workers",
                "1",
                "--report-dir",
                str(tmp_path / "r"),
                "--",
                "--run-time",
                "15s",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        emulator.stop()
    assert proc.returncode == 1, proc.stdout[-6000:] + proc.stderr[-6000:]
    gate = next(line for line in proc.stdout.splitlines() if line.startswith("rate-limit invariant"))
    assert "BROKEN" in gate and gate.rstrip().endswith("FAIL")
    assert "begins accepted" in gate, "the worker's invariant message reached the master"
