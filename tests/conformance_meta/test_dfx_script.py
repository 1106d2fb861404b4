"""`scripts/conformance-dfx.sh`: dfx cannot be installed here, so the script is kept honest twice:
its `--dry-run` output is checked command by command (and must run nothing), and the real path runs
against a stand-in `dfx` that logs its invocations and is backed by an emulator, so the order of the
steps, the upgrade command and the clean-up on exit are exercised for real."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from clients.ic import generate_ed25519, identity_to_pem
from emulator.process import DEFAULT_ID, EmulatorProcess
from tests.conformance_meta.suite import REPO

SCRIPT = REPO / "scripts" / "conformance-dfx.sh"


def _fake_dfx(bin_dir: Path) -> Path:
    """A `dfx` that logs every call; `canister id`, `identity export` and `--mode upgrade` are served
    from the environment (an emulator the test started)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    dfx = bin_dir / "dfx"
    dfx.write_text(
        """#!/usr/bin/env bash
echo "$*" >> "$FAKE_DFX_LOG"
case "$1" in
  canister) echo "$FAKE_CANISTER_ID" ;;
  identity) if [ "$2" = whoami ]; then echo default; else cat "$FAKE_PEM"; fi ;;
  deploy)
    if [[ " $* " == *" --mode upgrade "* ]]; then
      exec "$FAKE_PY" -m storeforever emulator upgrade --admin-url "$FAKE_ADMIN" > /dev/null
    fi ;;
esac
exit 0
"""
    )
    dfx.chmod(0o755)
    return dfx


def _run(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_dry_run_prints_every_command_and_runs_none(tmp_path: Path) -> None:
    log = tmp_path / "dfx.log"
    _fake_dfx(tmp_path / "bin")
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_DFX_LOG": str(log),
    }
    project = tmp_path / "my project"
    done = _run([str(project), "--canister", "artifact", "--dry-run", "--", "-k", "upload"], env)
    assert done.returncode == 0, done.stderr
    assert not log.exists(), f"--dry-run ran dfx: {log.read_text()}"
    lines = [line for line in done.stdout.splitlines() if line.startswith("+ ")]
    commands = [line[2:] for line in lines]
    assert commands[:6] == [
        f"cd '{project}'",
        "dfx start --clean --background",
        "dfx deploy artifact --yes",
        "CANISTER_ID=$(dfx canister id artifact)",
        "IDENTITY_DIR=$(mktemp -d)",
        'dfx identity export "$(dfx identity whoami)" > "$IDENTITY_DIR/identity.pem"',
    ]
    assert commands[6] == f"cd {REPO}"
    suite = shlex.split(
        commands[7].replace('"$CANISTER_ID"', "CANISTER_ID").replace('"$IDENTITY_DIR/identity.pem"', "PEM")
    )
    assert suite[1:4] == ["-m", "pytest", "conformance"]
    options = dict(zip(suite[4::2], suite[5::2], strict=False))
    assert options["--target"] == "replica"
    assert options["--url"] == "http://127.0.0.1:4943"
    assert options["--canister-id"] == "CANISTER_ID"
    assert options["--identity"] == "PEM"
    assert (
        options["--upgrade-command"]
        == f"cd {shlex.quote(str(project))} && dfx deploy artifact --mode upgrade --yes"
    )
    assert options["--report-dir"] == str(REPO / "reports" / "conformance" / "dfx-artifact")
    assert suite[-2:] == ["-k", "upload"]
    assert commands[8] == "dfx stop"
    assert "on exit, whatever happened: dfx stop" in done.stdout


def test_usage_errors(tmp_path: Path) -> None:
    assert _run([], dict(os.environ)).returncode == 2
    done = _run([str(tmp_path), "--bogus"], dict(os.environ))
    assert done.returncode == 2 and "unknown option --bogus" in done.stderr
    done = _run([str(tmp_path)], dict(os.environ))
    assert done.returncode == 2 and "no dfx.json" in done.stderr


@pytest.mark.slow
def test_real_run_against_a_stand_in_dfx(tmp_path: Path) -> None:
    proc = EmulatorProcess(
        tmp_path / "state",
        canisters=[f"artifact={DEFAULT_ID}"],
        extra_args=["--config", str(REPO / "conformance" / "emulator-limits.json")],
    )
    proc.start()
    try:
        project = tmp_path / "project"
        project.mkdir()
        (project / "dfx.json").write_text(json.dumps({"canisters": {"backend": {"type": "custom"}}}))
        pem = tmp_path / "dfx-identity.pem"
        pem.write_text(identity_to_pem(generate_ed25519()))
        log = tmp_path / "dfx.log"
        _fake_dfx(tmp_path / "bin")
        scratch = tmp_path / "scratch"  # the script's mktemp -d lands here (TMPDIR)
        scratch.mkdir()
        env = {
            **os.environ,
            "TMPDIR": str(scratch),
            "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
            "FAKE_DFX_LOG": str(log),
            "FAKE_CANISTER_ID": DEFAULT_ID,
            "FAKE_PEM": str(pem),
            "FAKE_PY": sys.executable,
            "FAKE_ADMIN": proc.admin_url,
            "PYTHON": sys.executable,
        }
        report = tmp_path / "report"
        done = _run(
            [
                str(project),
                "--url",
                proc.url,
                "--report-dir",
                str(report),
                "--",
                "-q",
                "-k",
                "test_persistence and galleries or test_whoami",
            ],
            env,
            cwd=tmp_path,
        )
    finally:
        proc.stop()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    calls = log.read_text().splitlines()
    assert calls == [
        "start --clean --background",
        "deploy backend --yes",
        "canister id backend",
        "identity whoami",
        "identity export default",
        "deploy backend --mode upgrade --yes",
        "deploy backend --mode upgrade --yes",
        "stop",
    ]
    results = json.loads((report / "conformance-results.json").read_text())
    assert results["target"]["name"] == "dfx-backend"
    assert results["counts"]["passed"] == 2 and results["counts"]["failed"] == 0
    assert not any(scratch.iterdir()), "the exported identity was not deleted"
