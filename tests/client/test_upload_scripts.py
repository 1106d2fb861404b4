"""The bash end-to-end scripts (scripts/tests/backend/icp-upload) on a fresh emulator, as CI runs them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.client.conftest import start_artifact_emulator
from tests.emulator_process import DEFAULT_ID, EmulatorProcess

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "tests" / "backend" / "icp-upload"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("bash") is None, reason="the scripts need bash"),
]


@pytest.fixture(scope="module")
def scripts_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    proc = start_artifact_emulator(tmp_path_factory.mktemp("scripts") / "state")
    yield proc
    proc.stop()


def run_all(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPTS / "run-all.sh"), *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_every_script_passes_with_the_admin_api(scripts_emulator: EmulatorProcess) -> None:
    proc = run_all(
        "--url",
        scripts_emulator.url,
        "--admin-url",
        scripts_emulator.admin_url,
        env={"CANISTER_ID": DEFAULT_ID},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if re.match(r"(PASS|FAIL|SKIP) ", line)]
    names = sorted(p.stem for p in SCRIPTS.glob("[0-9][0-9]-*.sh"))
    assert len(names) >= 8
    assert [line.split()[1] for line in lines] == names
    assert all(line.startswith("PASS") for line in lines), proc.stdout


def test_without_clock_control_the_timeout_script_skips(scripts_emulator: EmulatorProcess) -> None:
    env = {"URL": scripts_emulator.url, "ADMIN_URL": ""}
    proc = subprocess.run(
        ["bash", str(SCRIPTS / "04-session-timeout.sh")],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 77
    assert proc.stdout.strip().startswith("SKIP: session timeout needs the emulator admin API")


def test_a_failing_script_fails_the_runner(scripts_emulator: EmulatorProcess, tmp_path: Path) -> None:
    """The runner must not hide failures: point it at a canister id that does not exist."""
    proc = subprocess.run(
        [
            "bash",
            str(SCRIPTS / "01-single-chunk.sh"),
            "--url",
            scripts_emulator.url,
            "--canister-id",
            "aaaaa-aa",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1 and "FAIL" in proc.stdout
