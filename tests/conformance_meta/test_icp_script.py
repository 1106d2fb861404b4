"""`scripts/conformance-icp.sh`: a real `icp network start` needs icp-cli's network launcher (a
PocketIC download or Docker), which these machines lack, so the script is kept honest twice, like the
dfx script: its `--dry-run` output is checked command by command (and must run nothing), and the real
path runs against a stand-in `icp` that logs its invocations and is backed by an emulator, so the order
of the steps, the upgrade command and the clean-up on exit are exercised for real."""

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

SCRIPT = REPO / "scripts" / "conformance-icp.sh"


def _fake_icp(bin_dir: Path) -> Path:
    """An `icp` that logs every call; `canister status --id-only`, `identity default/export` and
    `deploy --mode upgrade` are served from the environment (an emulator the test started)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    icp = bin_dir / "icp"
    icp.write_text(
        """#!/usr/bin/env bash
echo "$*" >> "$FAKE_ICP_LOG"
case "$1" in
  canister) echo "$FAKE_CANISTER_ID" ;;
  identity) if [ "$2" = default ]; then echo alice; else cat "$FAKE_PEM"; fi ;;
  network) if [ "$2" = stop ] && [ ! -f "$FAKE_ICP_LOG.started" ]; then
             echo "Error: no network is running" >&2; exit 1
           fi
           [ "$2" = start ] && touch "$FAKE_ICP_LOG.started" ;;
  deploy)
    if [[ " $* " == *" --mode upgrade "* ]]; then
      exec "$FAKE_PY" -m storeforever emulator upgrade --admin-url "$FAKE_ADMIN" > /dev/null
    fi ;;
esac
exit 0
"""
    )
    icp.chmod(0o755)
    return icp


def _run(args: list[str], env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard
        check=False,
    )


def _env(tmp_path: Path, log: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_ICP_LOG": str(log),
    }


def test_dry_run_prints_every_command_and_runs_none(tmp_path: Path) -> None:
    log = tmp_path / "icp.log"
    _fake_icp(tmp_path / "bin")
    project = tmp_path / "my project"
    done = _run(
        [str(project), "--canister", "artifact", "--dry-run", "--", "-k", "upload"], _env(tmp_path, log)
    )
    assert done.returncode == 0, done.stderr
    assert not log.exists(), f"--dry-run ran icp: {log.read_text()}"
    commands = [line[2:] for line in done.stdout.splitlines() if line.startswith("+ ")]
    assert commands[:8] == [
        f"cd '{project}'",
        "icp network stop",
        "icp network start --background",
        "icp deploy artifact --yes",
        "CANISTER_ID=$(icp canister status artifact --id-only)",
        "IDENTITY_DIR=$(mktemp -d)",
        'icp identity export "$(icp identity default)" > "$IDENTITY_DIR/identity.pem"',
        f"cd {REPO}",
    ]
    suite = shlex.split(
        commands[8].replace('"$CANISTER_ID"', "CANISTER_ID").replace('"$IDENTITY_DIR/identity.pem"', "PEM")
    )
    assert suite[1:4] == ["-m", "pytest", "conformance"]
    options = dict(zip(suite[4::2], suite[5::2], strict=False))
    assert options["--target"] == "replica"
    assert options["--url"] == "http://127.0.0.1:8000"
    assert options["--canister-id"] == "CANISTER_ID"
    assert options["--identity"] == "PEM"
    assert (
        options["--upgrade-command"]
        == f"cd {shlex.quote(str(project))} && icp deploy artifact --mode upgrade --yes"
    )
    assert options["--target-name"] == "icp-artifact"
    assert options["--report-dir"] == str(REPO / "reports" / "conformance" / "icp-artifact")
    assert suite[-2:] == ["-k", "upload"]
    assert commands[9] == "icp network stop"
    assert "on exit, whatever happened: icp network stop" in done.stdout


def test_usage_errors(tmp_path: Path) -> None:
    assert _run([], dict(os.environ)).returncode == 2
    done = _run([str(tmp_path), "--bogus"], dict(os.environ))
    assert done.returncode == 2 and "unknown option --bogus" in done.stderr
    done = _run([str(tmp_path)], dict(os.environ))
    assert done.returncode == 2 and "no icp.yaml" in done.stderr
    (tmp_path / "icp.yaml").write_text("canisters: []\n")
    done = _run([str(tmp_path)], {**os.environ, "ICP": str(tmp_path / "no-such-icp")})
    assert done.returncode == 2 and "is not on PATH" in done.stderr


@pytest.mark.slow
def test_real_run_against_a_stand_in_icp(tmp_path: Path) -> None:
    proc = EmulatorProcess(
        tmp_path / "state",
        canisters=[f"artifact={DEFAULT_ID}"],
        extra_args=["--config", str(REPO / "conformance" / "emulator-limits.json")],
    )
    proc.start()
    try:
        project = tmp_path / "project"
        project.mkdir()
        (project / "icp.yaml").write_text("canisters:\n  - name: backend\n")
        pem = tmp_path / "icp-identity.pem"
        pem.write_text(identity_to_pem(generate_ed25519()))
        log = tmp_path / "icp.log"
        _fake_icp(tmp_path / "bin")
        scratch = tmp_path / "scratch"  # the script's mktemp -d lands here (TMPDIR)
        scratch.mkdir()
        env = {
            **_env(tmp_path, log),
            "TMPDIR": str(scratch),
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
        "network stop",  # none running yet: the stand-in fails, the script goes on
        "network start --background",
        "deploy backend --yes",
        "canister status backend --id-only",
        "identity default",
        "identity export alice",
        "deploy backend --mode upgrade --yes",
        "deploy backend --mode upgrade --yes",
        "network stop",
    ]
    results = json.loads((report / "conformance-results.json").read_text())
    assert results["target"]["name"] == "icp-backend"
    assert results["counts"]["passed"] == 2 and results["counts"]["failed"] == 0
    assert not any(scratch.iterdir()), "the exported identity was not deleted"


@pytest.mark.slow
def test_a_failing_deploy_still_stops_the_network_and_deletes_nothing_it_did_not_make(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "icp.yaml").write_text("canisters:\n  - name: backend\n")
    bin_dir = tmp_path / "bin"
    _fake_icp(bin_dir)
    failing = bin_dir / "icp"
    failing.write_text(
        failing.read_text().replace("  deploy)\n", '  deploy)\n    echo "Error: build failed" >&2; exit 4\n')
    )
    log = tmp_path / "icp.log"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = _run([str(project)], {**_env(tmp_path, log), "TMPDIR": str(scratch)}, cwd=tmp_path)
    assert done.returncode == 4 and "build failed" in done.stderr
    assert log.read_text().splitlines()[-1] == "network stop"
    assert not any(scratch.iterdir())
