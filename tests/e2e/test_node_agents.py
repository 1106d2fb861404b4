"""Runs the agent-js / @icp-sdk/core suite (tests/node) against real emulator processes.

The Node suite is the proof that unmodified official agents, with verification on, accept the
emulator; each Node test's pass/fail is reported back as one pytest failure listing what failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator_process import DEFAULT_ID, EmulatorProcess

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
CONTROLLER = "yavxl-ppty4-enezb-hcalr-cdgzv-zoexx-7od3c-urvk6-rfzs4-552ct-7ae"

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def v2_only_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(tmp_path_factory.mktemp("emu-v2") / "state", extra_args=["--no-sync-call"])
    proc.start()
    yield proc
    proc.stop()


def test_official_agents(
    emulator: EmulatorProcess, v2_only_emulator: EmulatorProcess, artifact_emulator: EmulatorProcess
) -> None:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules").exists():
        pytest.fail("node and tests/node/node_modules are required: run `npm ci --prefix tests/node`")
    env = os.environ | {
        "EMULATOR_URL": emulator.url,
        "EMULATOR_V2_URL": v2_only_emulator.url,
        "EXAMPLE_CANISTER_ID": emulator.example_canister_id,
        "EXPECTED_CONTROLLER": CONTROLLER,
        "ARTIFACT_URL": artifact_emulator.url,
        "ARTIFACT_CANISTER_ID": DEFAULT_ID,
    }
    result = subprocess.run(
        [
            "node",
            "--test",
            "--test-concurrency=1",
            "--test-reporter=spec",
            "agents.test.mjs",
            "artifact_upload.test.mjs",
        ],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    print(result.stdout[-20000:])
    assert result.returncode == 0, (
        f"Node agent tests failed:\n{result.stdout[-8000:]}\n{result.stderr[-4000:]}"
    )
