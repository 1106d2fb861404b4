"""The app's dev loop: `--write-env` and scripts/with-emulator.sh around a Node script on @icp-sdk/core."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import cbor2
import httpx
import pytest

from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "with-emulator.sh"
NODE_SCRIPT = REPO / "tests" / "node" / "dev_loop.mjs"


def read_env(path: Path) -> dict[str, str]:
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_write_env_names_host_and_canisters_under_both_spellings(tmp_path: Path) -> None:
    env_file = tmp_path / "app.env"
    proc = EmulatorProcess(
        tmp_path / "state",
        canisters=[f"artifact={DEFAULT_ID}", f"example={EXAMPLE_ID}"],
        extra_args=["--write-env", str(env_file)],
    )
    proc.start()
    try:
        env = read_env(env_file)
        status = cbor2.loads(httpx.get(f"{proc.url}/api/v2/status").content)
    finally:
        proc.stop()
    assert env["NEXT_PUBLIC_IC_HOST"] == env["VITE_IC_HOST"] == env["ICP_NETWORK"] == proc.url
    assert env["DFX_NETWORK"] == "local" and env["STOREFOREVER_ADMIN_URL"] == proc.admin_url
    assert env["IC_ROOT_KEY"] == bytes(status["root_key"]).hex() and len(env["IC_ROOT_KEY"]) == 266
    assert env["CANISTER_ID_BACKEND"] == env["PUBLIC_CANISTER_ID:backend"] == DEFAULT_ID
    assert env["CANISTER_ID_EXAMPLE"] == env["PUBLIC_CANISTER_ID:example"] == EXAMPLE_ID


def run_wrapped(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("node") is None:
        pytest.fail("node is required (the project's tests need Node 20+)")
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=180, cwd=REPO)


def stopped(url: str) -> bool:
    try:
        httpx.get(f"{url}/api/v2/status", timeout=5)
    except httpx.TransportError:
        return True
    return False


def test_with_emulator_runs_the_apps_script_and_stops_the_emulator() -> None:
    result = run_wrapped("node", str(NODE_SCRIPT))
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["canister"] == DEFAULT_ID and seen["apiVersion"] == "1.0.0"
    assert seen["whoamiMatches"] is True and seen["registered"] is True
    assert stopped(seen["host"])


def test_with_emulator_passes_emulator_options_and_the_commands_exit_status() -> None:
    result = run_wrapped(
        "--limit", "max_active_sessions=3", "--", "node", str(NODE_SCRIPT), "--exit-with", "7"
    )
    assert result.returncode == 7, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert stopped(seen["host"])


def test_with_emulator_reports_an_emulator_that_cannot_start() -> None:
    result = run_wrapped("--no-such-option", "--", "true")
    assert result.returncode == 1
    assert "the emulator exited before it was ready" in result.stderr
