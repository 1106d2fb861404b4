"""agent-js 3.x and @icp-sdk/core: canister_status through aaaaa-aa agrees with read_state.

The Node side (tests/node/management.test.mjs) derives an Ed25519 identity from a seed; this side
computes the same principal from the same seed and starts the emulator with it as controller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from nacl.signing import SigningKey

from emulator.principal import Principal
from tests.emulator_process import EXAMPLE_ID, EmulatorProcess

NODE_DIR = Path(__file__).resolve().parents[1] / "node"
ED25519_DER_PREFIX = bytes.fromhex("302a300506032b6570032100")

pytestmark = pytest.mark.node


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[EmulatorProcess, str, str]]:
    seed = os.urandom(32)
    public = bytes(SigningKey(seed).verify_key)
    controller = Principal.self_authenticating(ED25519_DER_PREFIX + public).to_text()
    proc = EmulatorProcess(tmp_path / "state", extra_args=["--controller", controller])
    proc.start()
    yield proc, seed.hex(), controller
    proc.stop()


def test_agents_canister_status_agrees_with_read_state(seeded: tuple[EmulatorProcess, str, str]) -> None:
    if shutil.which("node") is None or not (NODE_DIR / "node_modules").exists():
        pytest.fail("node and tests/node/node_modules are required: run `npm ci --prefix tests/node`")
    proc, seed, controller = seeded
    env = os.environ | {
        "MGMT_URL": proc.url,
        "MGMT_CANISTER_ID": EXAMPLE_ID,
        "MGMT_SEED": seed,
        "MGMT_CONTROLLER": controller,
    }
    result = subprocess.run(
        ["node", "--test", "--test-concurrency=1", "--test-reporter=spec", "management.test.mjs"],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "ℹ pass 6" in result.stdout and "ℹ fail 0" in result.stdout, result.stdout[-3000:]
