"""Start and stop real emulator processes: the same command an engineer runs.

Tests, the conformance suite and the load-test script talk to a process over real HTTP rather than an
in-process app, so start-up, signal handling, the state directory and restarts are exercised as in use.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from contract import ARTIFACT_CANISTER_ID as DEFAULT_ID
from contract import EXAMPLE_CANISTER_ID as EXAMPLE_ID

__all__ = ["DEFAULT_ID", "EXAMPLE_ID", "EmulatorProcess"]


@dataclass
class EmulatorProcess:
    state_dir: Path
    extra_args: list[str] = field(default_factory=list)
    canisters: list[str] = field(default_factory=lambda: [f"example={EXAMPLE_ID}"])
    proc: subprocess.Popen[bytes] | None = None
    url: str = ""
    admin_url: str = ""
    info: dict[str, object] = field(default_factory=dict)
    log_path: Path | None = None

    @property
    def example_canister_id(self) -> str:
        return EXAMPLE_ID

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        port_file = self.state_dir.parent / f"{self.state_dir.name}.ports.json"
        port_file.unlink(missing_ok=True)
        self.log_path = self.state_dir.parent / f"{self.state_dir.name}.log"
        cmd = [
            sys.executable,
            "-m",
            "storeforever",
            "emulator",
            "--port",
            "0",
            "--admin-port",
            "0",
            "--state-dir",
            str(self.state_dir),
            "--port-file",
            str(port_file),
            "--timer-tick",
            "0.2",
        ]
        for spec in self.canisters:
            cmd += ["--canister", spec]
        cmd += self.extra_args
        log = open(self.log_path, "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        deadline = time.monotonic() + timeout
        while not port_file.exists():
            if self.proc.poll() is not None:
                raise RuntimeError(f"emulator exited early:\n{self.log_path.read_text()[-4000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("emulator did not become ready")
            time.sleep(0.02)
        self.info = json.loads(port_file.read_text())
        self.url = str(self.info["url"])
        self.admin_url = str(self.info.get("admin_url", ""))
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> EmulatorProcess:
        """`with EmulatorProcess(...) as proc:` starts it and stops it whatever happens."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kill(self) -> None:
        """SIGKILL: no clean-up code runs, as in a crash."""
        self.stop(signal.SIGKILL)

    def restart(self) -> EmulatorProcess:
        self.stop()
        return self.start()

    def alive(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v2/status", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False
