"""An icp-cli project reaches the emulator by name: a connected network in icp.yaml (URL and pinned root
key, as docs/emulator.md shows), an environment on it, and `icp canister link` recording the hosted
canister's id, so `icp canister call backend …` works inside the app's own project."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.emulator_process import DEFAULT_ID, EmulatorProcess
from tests.icpcli.icp import IcpCli, find_icp

# What an app project adds to its icp.yaml (docs/emulator.md, "The emulator as an icp-cli network").
ICP_YAML = """\
canisters:
  - name: backend
    build:
      steps:
        - type: pre-built
          path: backend.wasm
          sha256: {sha256}

networks:
  - name: storeforever
    mode: connected
    url: {url}
    root-key: {root_key}

environments:
  - name: emulator
    network: storeforever
    canisters: [backend]
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[IcpCli, Path, EmulatorProcess]]:
    icp = IcpCli(find_icp(), tmp_path / "home")
    icp.home.mkdir()
    icp.new_identity("dev")
    pem = icp.export_pem("dev", tmp_path / "dev.pem")
    env_file = tmp_path / "emulator.env"
    proc = EmulatorProcess(
        tmp_path / "state",
        canisters=[f"artifact={DEFAULT_ID}"],
        extra_args=["--controller", str(pem), "--write-env", str(env_file)],
    )
    proc.start()
    root_key = dict(
        line.split("=", 1) for line in env_file.read_text().splitlines() if line.startswith("IC_ROOT_KEY=")
    )["IC_ROOT_KEY"]
    app = tmp_path / "gallery-app"
    app.mkdir()
    wasm = b"\0asm\1\0\0\0"  # the app's own build output; never installed on the emulator
    (app / "backend.wasm").write_bytes(wasm)
    (app / "icp.yaml").write_text(
        ICP_YAML.format(sha256=hashlib.sha256(wasm).hexdigest(), url=proc.url, root_key=root_key)
    )
    yield icp, app, proc
    proc.stop()


def test_link_then_call_status_and_logs_by_name(project: tuple[IcpCli, Path, EmulatorProcess]) -> None:
    icp, app, _ = project
    linked = icp.run("canister", "link", "backend", DEFAULT_ID, "-e", "emulator", cwd=app)
    assert f"Linked canister 'backend' to ID {DEFAULT_ID}" in linked.stderr
    as_dev = ["-e", "emulator", "--identity", "dev"]
    called = icp.run("canister", "call", "backend", "register", "()", *as_dev, cwd=app)
    assert "(true)" in called.stdout
    assert "fetching the root key" not in called.stderr  # the pinned key is used
    status = icp.run("canister", "status", "backend", *as_dev, cwd=app).stdout
    assert "Canister Name: backend" in status and "Status: Running" in status
    ids = icp.run("canister", "status", "backend", "--id-only", *as_dev, cwd=app).stdout.strip()
    assert ids == DEFAULT_ID
    icp.run("canister", "logs", "backend", *as_dev, cwd=app)
