"""Chaos: SIGKILL the emulator at random moments while the Locust smoke profile runs against it.

After each kill the emulator restarts on the same state directory and ports, as an engineer's
would. Afterwards every commit a load-test client saw acknowledged (the load generator's ledger,
`STOREFOREVER_ACK_LEDGER`) is intact: the stored bytes hash to the acknowledged SHA-256, and the
asset is listed as present for its owner. The load run itself is expected to see failures (calls in
flight when the process dies); its gates are not the point here.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from clients.admin import AdminClient
from emulator.process import DEFAULT_ID

REPO = Path(__file__).resolve().parents[2]
RUN_SECONDS = 30
KILLS = 3
SEED = int(os.environ.get("CHAOS_SEED", "20261206"))


class Emulator:
    """One emulator process on fixed ports (known after the first start) and a fixed state dir."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.port_file = state_dir.parent / "ports.json"
        self.log = state_dir.parent / "emulator.log"
        self.ports = (0, 0)
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}

    def start(self) -> None:
        self.port_file.unlink(missing_ok=True)
        cmd = [
            sys.executable, "-m", "storeforever", "emulator", "--quiet",
            "--port", str(self.ports[0]), "--admin-port", str(self.ports[1]),
            "--state-dir", str(self.state_dir), "--port-file", str(self.port_file),
            "--canister", f"artifact={DEFAULT_ID}", "--timer-tick", "0.2",
            "--limit", "daily_upload_quota=1000000",
        ]  # fmt: skip
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60  # hang guard
        while not self.port_file.exists():
            assert self.proc.poll() is None, self.log.read_text()[-4000:]
            assert time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.05)
        self.info = json.loads(self.port_file.read_text())
        self.ports = (int(self.info["port"]), int(self.info["admin_url"].rsplit(":", 1)[1]))

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


@pytest.mark.slow
def test_acknowledged_commits_survive_sigkills_under_load(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    emu = Emulator(tmp_path / "state")
    emu.start()
    ledger = tmp_path / "acks.jsonl"
    env = {**os.environ, "STOREFOREVER_ACK_LEDGER": str(ledger)}
    command = ["bash", "scripts/loadtest.sh", "--profile", "smoke", "--url", emu.info["url"]]
    command += ["--canister-id", DEFAULT_ID, "--report-dir", str(tmp_path / "report")]
    command += ["--", "--run-time", f"{RUN_SECONDS}s"]
    load = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    kills: list[float] = []
    try:
        started = time.monotonic()
        moments = sorted(rng.uniform(4, RUN_SECONDS - 6) for _ in range(KILLS))
        for moment in moments:
            time.sleep(max(0.0, moment - (time.monotonic() - started)))
            emu.kill()
            kills.append(round(time.monotonic() - started, 2))
            emu.start()  # same state directory, same ports
        output, _ = load.communicate(timeout=RUN_SECONDS + 240)  # hang guard
    finally:
        if load.poll() is None:
            load.kill()
    try:
        text = output.decode(errors="replace")
        assert "SLO gates of profile smoke" in text, text[-4000:]  # the run went to its end
        acks = [json.loads(line) for line in ledger.read_text().splitlines()] if ledger.exists() else []
        assert len(acks) >= 5, f"too few acknowledged commits to judge ({len(acks)}); kills at {kills}"

        admin = AdminClient(emu.info["admin_url"])
        owners = {a["principal"] for a in acks}
        present: set[str] = set()
        for owner in owners:
            after = None
            while True:
                params = {"owner": owner, "limit": "1000", **({"after": after} if after else {})}
                page = admin.inspect(DEFAULT_ID, "assets", **params)
                present.update(row["memory_id"] for row in page["assets"])
                after = page.get("next")
                if not after:
                    break
        lost = [a for a in acks if a["memory_id"] not in present]
        assert not lost, f"{len(lost)} acknowledged commits not present after kills at {kills}: {lost[:3]}"
        for ack in acks:
            digest = hashlib.sha256()
            size = 0
            for block in admin.download_asset(DEFAULT_ID, ack["memory_id"]):
                digest.update(block)
                size += len(block)
            assert (digest.hexdigest(), size) == (ack["sha256"], ack["total_bytes"]), ack
        assert httpx.get(f"{emu.info['url']}/api/v2/status", timeout=30).status_code == 200
    finally:
        emu.stop()
