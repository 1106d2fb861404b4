"""Resume after the client process is killed mid-upload (SIGKILL: no clean-up code runs)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from clients.admin import AdminClient
from clients.artifact import ProgressEvent, upload
from clients.ic import generate_ed25519, save_pem
from tests.client.conftest import downloaded_sha256, make_client, new_id, sha256
from tests.emulator_process import DEFAULT_ID, EmulatorProcess

REPO = Path(__file__).resolve().parents[2]
CHUNK = 64 * 1024
CHUNKS = 12


def test_killed_upload_resumes_with_only_the_missing_chunks(
    faulty_emulator: EmulatorProcess, admin: AdminClient, tmp_path: Path
) -> None:
    identity = generate_ed25519()
    pem = tmp_path / "id.pem"
    save_pem(identity, pem)
    data = os.urandom(CHUNK * CHUNKS - 100)
    asset = tmp_path / "asset.bin"
    asset.write_bytes(data)
    mid = new_id()
    client = make_client(faulty_emulator.url, identity)

    admin.add_fault(action="latency", method="put_chunk", endpoint="call", latency_ms=150)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clients.cli",
            "upload",
            str(asset),
            "--memory-id",
            mid,
            "--url",
            faulty_emulator.url,
            "--identity",
            str(pem),
            "--chunk-size",
            str(CHUNK),
            "--concurrency",
            "1",
            "--json",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            sessions = client.get_user_upload_sessions()
            if sessions and sessions[0].chunks_received >= 4:
                break
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the upload made no progress"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    admin.clear_faults()
    time.sleep(0.3)  # a chunk in flight at the kill may still land; read the state after it settled

    (session,) = client.get_user_upload_sessions()
    kept = session.chunks_received
    assert 4 <= kept < CHUNKS

    events: list[ProgressEvent] = []
    result = upload(client, mid, asset, chunk_size=CHUNK, progress=events.append)
    assert result.session_id == session.session_id
    assert (result.chunks_resumed, result.chunks_sent) == (kept, CHUNKS - kept)
    first = next(e for e in events if e.phase == "uploading")
    assert first.chunks_done == kept and first.resumed_chunks == kept
    rows = admin.inspect(DEFAULT_ID, "audit", principal=client.principal, limit=1000)["audit"]
    assert sum(1 for r in rows if r["method"] == "put_chunk" and r["outcome"] == "ok") == CHUNKS
    assert result.final_hash == sha256(data)
    assert downloaded_sha256(faulty_emulator.admin_url, mid) == sha256(data)


def test_ctrl_c_cancels_the_session_and_exits_130(
    faulty_emulator: EmulatorProcess, admin: AdminClient, tmp_path: Path
) -> None:
    identity = generate_ed25519()
    pem = tmp_path / "id.pem"
    save_pem(identity, pem)
    asset = tmp_path / "asset.bin"
    asset.write_bytes(os.urandom(CHUNK * CHUNKS))
    client = make_client(faulty_emulator.url, identity)
    admin.add_fault(action="latency", method="put_chunk", endpoint="call", latency_ms=150)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "clients.cli",
            "upload",
            str(asset),
            "--memory-id",
            new_id(),
            "--url",
            faulty_emulator.url,
            "--identity",
            str(pem),
            "--chunk-size",
            str(CHUNK),
            "--json",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (sessions := client.get_user_upload_sessions()) or sessions[0].chunks_received < 2:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        session_id = sessions[0].session_id
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert '"KeyboardInterrupt"' in out
    assert client.get_user_upload_sessions() == []
    assert client.get_upload_progress(session_id).status.value == "Cancelled"
