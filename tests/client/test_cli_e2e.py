"""The client commands (``clients.cli.main``) against the emulator: --json output and exit codes."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from clients.cli import (
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_PERMANENT,
    EXIT_UNAVAILABLE,
    EXIT_USAGE,
    default_identity_path,
    main,
)
from clients.ic import generate_ed25519, save_pem
from tests.client.conftest import make_client, new_id, sha256
from tests.emulator_process import EmulatorProcess

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(
    artifact_emulator: EmulatorProcess,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Any:
    """``cli(*args) -> (exit code, parsed JSON)`` as a fresh user (own XDG config dir)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("STOREFOREVER_IDENTITY", raising=False)

    def run(*args: str, url: str | None = None) -> tuple[int, dict[str, Any]]:
        capsys.readouterr()
        code = main(
            [
                *args,
                "--url",
                url or artifact_emulator.url,
                "--json",
                "--retry-base-delay",
                "0.01",
                "--retry-max-delay",
                "0.02",
            ]
        )
        out = capsys.readouterr().out
        return code, json.loads(out)

    return run


def test_upload_creates_a_private_identity_and_reports_json(cli: Any, tmp_path: Path) -> None:
    data = os.urandom(3 * 1024 * 1024)
    path = tmp_path / "a.bin"
    path.write_bytes(data)
    mid = new_id()
    code, doc = cli("upload", str(path), "--memory-id", mid)
    assert code == EXIT_OK and doc["ok"] and doc["command"] == "upload"
    result = doc["result"]
    assert result["final_hash"] == sha256(data) and result["chunk_count"] == 3 and result["presence_verified"]
    pem = default_identity_path()
    assert pem.is_file() and stat.S_IMODE(pem.stat().st_mode) == 0o600
    assert str(tmp_path / "config") in str(pem)

    code, doc = cli("upload", str(path), "--memory-id", mid)
    assert code == EXIT_OK and doc["result"]["already_present"] is True  # the same key was reused

    code, doc = cli("presence", mid, new_id())
    assert code == EXIT_OK
    assert [(p["metadata_present"], p["asset_present"]) for p in doc["result"]] == [
        (False, True),
        (False, False),
    ]


def test_exit_codes_for_usage_and_permanent_failures(cli: Any, tmp_path: Path) -> None:
    code, doc = cli("upload", str(tmp_path / "missing.bin"), "--memory-id", new_id())
    assert code == EXIT_USAGE and doc["error"]["category"] == "usage"
    path = tmp_path / "x.bin"
    path.write_bytes(b"x")
    code, doc = cli("upload", str(path), "--memory-id", "NOT-A-UUID")
    assert code == EXIT_PERMANENT and doc["error"]["type"] == "ValidationError" and not doc["ok"]
    code, doc = cli("upload", str(path), "--memory-id", new_id(), "--anonymous")
    assert code == EXIT_PERMANENT and doc["error"]["type"] == "UnauthorizedError"
    code, doc = cli("upload", str(path), "--memory-id", new_id(), "--expected-hash", "ab" * 32)
    assert code == EXIT_PERMANENT and doc["error"]["code"] == "InvalidHash"
    code, doc = cli("progress", "no-such-session")
    assert code == EXIT_PERMANENT and doc["error"]["code"] == "NotFound"
    code, doc = cli("upload", str(path), "--memory-id", new_id(), "--identity", str(tmp_path / "nope.pem"))
    assert code == EXIT_USAGE


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["upload", "file-without-memory-id"])
    assert info.value.code == EXIT_USAGE
    with pytest.raises(SystemExit) as info:
        main(["upload", "f", "--memory-id", "m", "--concurrency", "0"])
    assert info.value.code == EXIT_USAGE
    with pytest.raises(SystemExit):
        main(["store-gallery", "--help"])
    help_text = capsys.readouterr().out
    assert "exit codes:" in help_text and "5  partial success" in help_text


def test_sessions_progress_cancel_and_the_limit(cli: Any, tmp_path: Path) -> None:
    path = tmp_path / "two.bin"
    path.write_bytes(os.urandom(2048))
    sessions = []
    for _ in range(3):
        code, doc = cli(
            "upload", str(path), "--memory-id", new_id(), "--chunk-size", "1024", "--stop-after", "1"
        )
        assert code == EXIT_OK and doc["result"]["completed"] is False
        sessions.append(doc["result"]["session_id"])
    code, doc = cli("upload", str(path), "--memory-id", new_id(), "--retries", "0")
    assert code == EXIT_UNAVAILABLE
    assert doc["error"]["type"] == "RateLimitedError" and "Rate limit exceeded" in doc["error"]["message"]

    code, doc = cli("sessions")
    assert code == EXIT_OK and sorted(s["session_id"] for s in doc["result"]) == sorted(sessions)
    code, doc = cli("progress", sessions[0])
    assert code == EXIT_OK
    assert (doc["result"]["status"], doc["result"]["chunks_received"], doc["result"]["total_chunks"]) == (
        "Active",
        1,
        2,
    )
    code, doc = cli("cancel", *sessions)
    assert code == EXIT_OK and doc["result"] == {"cancelled": sessions}
    code, doc = cli("sessions")
    assert doc["result"] == []
    code, doc = cli("progress", sessions[0])
    assert doc["result"]["status"] == "Cancelled"


def test_unreachable_target_exits_4(cli: Any, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, doc = cli("sessions", "--retries", "1", url=f"http://127.0.0.1:{port}")
    assert code == EXIT_UNAVAILABLE and doc["error"]["category"] == "retryable"
    assert doc["error"]["kind"] == "transport" and doc["error"]["retries_exhausted"]


def test_store_gallery_complete_partial_and_invalid(
    cli: Any, artifact_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    (tmp_path / "f").mkdir()
    memories = []
    for i in range(3):
        (tmp_path / "f" / f"{i}.bin").write_bytes(os.urandom(4096))
        memories.append({"id": new_id(), "memory_type": "Image", "file": f"f/{i}.bin"})
    manifest = tmp_path / "g.json"
    manifest.write_text(json.dumps({"gallery": {"id": new_id(), "title": "G"}, "memories": memories}))
    code, doc = cli("store-gallery", str(manifest))
    assert code == EXIT_OK and doc["result"]["status"] == "complete"
    edges = (tmp_path / "g.edges.jsonl").read_text().splitlines()
    assert len(edges) == 6 and all(json.loads(e)["present"] for e in edges)

    other = make_client(artifact_emulator.url)
    stolen = new_id()
    other.upsert_metadata(stolen, *_note())
    memories.append({"id": stolen, "memory_type": "Note"})
    manifest.write_text(json.dumps({"gallery": {"id": new_id(), "title": "G2"}, "memories": memories}))
    edge_file = tmp_path / "edges.jsonl"
    code, doc = cli("store-gallery", str(manifest), "--edges", str(edge_file))
    assert code == EXIT_PARTIAL and not doc["ok"]
    assert doc["result"]["counts"] == {"stored": 0, "skipped": 3, "failed": 1, "not_attempted": 0}
    assert len(edge_file.read_text().splitlines()) == 6

    manifest.write_text(json.dumps({"gallery": {"id": "nope"}, "memories": []}))
    code, doc = cli("store-gallery", str(manifest))
    assert code == EXIT_USAGE and any("gallery.id" in p for p in doc["error"]["problems"])


def _note() -> tuple[Any, Any]:
    from clients.artifact import MemoryType, SimpleMemoryMetadata

    return MemoryType.NOTE, SimpleMemoryMetadata(title="someone else's")


def test_entry_points_run_as_programs(artifact_emulator: EmulatorProcess, tmp_path: Path) -> None:
    pem = tmp_path / "id.pem"
    save_pem(generate_ed25519(), pem)
    data = tmp_path / "d.bin"
    data.write_bytes(b"hello")
    for cmd in ([sys.executable, "-m", "clients.cli"], [str(Path(sys.executable).parent / "storeforever")]):
        mid = new_id()
        proc = subprocess.run(
            [
                *cmd,
                "upload",
                str(data),
                "--memory-id",
                mid,
                "--url",
                artifact_emulator.url,
                "--identity",
                str(pem),
                "--json",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["result"]["final_hash"] == sha256(b"hello")
