"""The chunked uploader against the emulator: resume, verification, progress, interruption."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from clients.admin import AdminClient
from clients.artifact import (
    ArtifactClient,
    IntegrityError,
    InvalidHashError,
    ProgressEvent,
    upload,
)
from clients.artifact.types import UploadStatus
from tests.client.conftest import downloaded_sha256, new_id, sha256
from tests.emulator_process import DEFAULT_ID, EmulatorProcess

KIB = 1024


def put_chunk_calls(admin_url: str, principal: str) -> int:
    with AdminClient(admin_url) as admin:
        rows = admin.inspect(DEFAULT_ID, "audit", principal=principal, limit=1000)["audit"]
    return sum(1 for r in rows if r["method"] == "put_chunk" and r["outcome"] == "ok")


def test_multi_chunk_file_upload_is_verified_and_stored_exactly(
    client: ArtifactClient, artifact_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    data = os.urandom(3 * 1024 * KIB + 123)
    path = tmp_path / "asset.bin"
    path.write_bytes(data)
    events: list[ProgressEvent] = []
    mid = new_id()
    result = upload(client, mid, path, progress=events.append)
    assert result.completed and result.presence_verified and not result.already_present
    assert result.chunk_count == 4 and result.chunks_sent == 4 and result.chunks_resumed == 0
    assert result.final_hash == result.sha256 == sha256(data)
    assert result.total_bytes == len(data)
    assert downloaded_sha256(artifact_emulator.admin_url, mid) == sha256(data)

    uploading = [e for e in events if e.phase == "uploading"]
    assert [e.chunks_done for e in uploading] == [0, 1, 2, 3, 4]
    done = [e.bytes_done for e in uploading]
    assert done == sorted(done) and done[-1] == len(data)
    assert all(e.rate is not None and e.rate > 0 for e in uploading[1:])
    assert uploading[-1].eta_seconds == 0.0
    assert [e.phase for e in events if e.phase not in ("hashing", "uploading")] == [
        "beginning",
        "committing",
        "verifying",
        "done",
    ]
    hashing = [e.bytes_done for e in events if e.phase == "hashing"]
    assert hashing[-1] == len(data)


def test_same_bytes_again_is_already_present(client: ArtifactClient, tmp_path: Path) -> None:
    data = os.urandom(10 * KIB)
    mid = new_id()
    upload(client, mid, data)
    again = upload(client, mid, data)
    assert again.already_present and again.chunks_sent == 0 and again.presence_verified
    assert again.final_hash == sha256(data)


def test_new_bytes_replace_an_asset(client: ArtifactClient, artifact_emulator: EmulatorProcess) -> None:
    mid = new_id()
    upload(client, mid, b"version one")
    second = upload(client, mid, b"version two!")
    assert not second.already_present
    assert downloaded_sha256(artifact_emulator.admin_url, mid) == sha256(b"version two!")


def test_streams_seekable_and_not(client: ArtifactClient, artifact_emulator: EmulatorProcess) -> None:
    data = os.urandom(2 * 1024 * KIB + 5)
    mid = new_id()
    assert upload(client, mid, io.BytesIO(data), chunk_size=512 * KIB).chunk_count == 5
    assert downloaded_sha256(artifact_emulator.admin_url, mid) == sha256(data)

    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data[::-1])

    t = threading.Thread(target=writer)
    t.start()
    with os.fdopen(read_fd, "rb") as pipe:
        mid2 = new_id()
        result = upload(client, mid2, pipe)
    t.join()
    assert result.size == len(data) and result.final_hash == sha256(data[::-1])
    assert downloaded_sha256(artifact_emulator.admin_url, mid2) == sha256(data[::-1])


def test_empty_asset(client: ArtifactClient) -> None:
    result = upload(client, new_id(), b"")
    assert result.chunk_count == 1 and result.total_bytes == 0 and result.presence_verified


def test_stop_and_resume_sends_only_missing_chunks(
    client: ArtifactClient, artifact_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    data = os.urandom(10 * 64 * KIB)
    mid = new_id()
    partial = upload(client, mid, data, chunk_size=64 * KIB, stop_after_chunks=4, concurrency=2)
    assert not partial.completed and partial.chunks_sent == 4
    progress = client.get_upload_progress(partial.session_id or "")
    assert progress.status is UploadStatus.ACTIVE and progress.chunks_received == 4

    events: list[ProgressEvent] = []
    resumed = upload(client, mid, data, chunk_size=64 * KIB, progress=events.append)
    assert resumed.session_id == partial.session_id
    assert (resumed.chunks_resumed, resumed.chunks_sent) == (4, 6)
    assert resumed.bytes_sent == 6 * 64 * KIB
    first = next(e for e in events if e.phase == "uploading")
    assert (first.chunks_done, first.bytes_done, first.resumed_chunks) == (4, 4 * 64 * KIB, 4)
    assert put_chunk_calls(artifact_emulator.admin_url, client.principal) == 10  # every chunk once
    assert downloaded_sha256(artifact_emulator.admin_url, mid) == sha256(data)


def test_wrong_declared_hash_fails_at_commit_and_frees_the_session(client: ArtifactClient) -> None:
    with pytest.raises(InvalidHashError) as info:
        upload(client, new_id(), b"payload", expected_hash="ab" * 32)
    assert info.value.method == "commit_asset"
    assert any("cancelled" in n for n in info.value.__notes__)
    assert client.get_user_upload_sessions() == []


def test_interrupt_cancels_the_session_and_reraises(client: ArtifactClient) -> None:
    mid = new_id()
    seen: list[str] = []

    def ctrl_c_after_two(event: ProgressEvent) -> None:
        if event.session_id:
            seen.append(event.session_id)
        if event.phase == "uploading" and event.chunks_done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        upload(
            client,
            mid,
            os.urandom(8 * 32 * KIB),
            chunk_size=32 * KIB,
            concurrency=1,
            progress=ctrl_c_after_two,
        )
    assert client.get_user_upload_sessions() == []
    assert client.get_upload_progress(seen[-1]).status is UploadStatus.CANCELLED
    assert not client.get_memory_presence_icp(mid).asset_present


def test_failure_can_keep_the_session_for_a_later_resume(client: ArtifactClient) -> None:
    mid, data = new_id(), os.urandom(6 * 16 * KIB)

    def fail_after_three(event: ProgressEvent) -> None:
        if event.phase == "uploading" and event.chunks_done == 3:
            raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        upload(
            client,
            mid,
            data,
            chunk_size=16 * KIB,
            concurrency=1,
            progress=fail_after_three,
            cancel_on_error=False,
        )
    (session,) = client.get_user_upload_sessions()
    kept = session.chunks_received
    assert kept in (3, 4)  # the chunk in flight when the failure happened may have landed too
    result = upload(client, mid, data, chunk_size=16 * KIB)
    assert result.chunks_resumed == kept and result.chunks_sent == 6 - kept


def test_source_changed_during_upload_is_an_integrity_error(client: ArtifactClient, tmp_path: Path) -> None:
    path = tmp_path / "moving.bin"
    path.write_bytes(b"A" * 64 * KIB)

    def modify(event: ProgressEvent) -> None:
        # After hashing, before any chunk is read: the chunk thread runs ahead of the "uploading"
        # events (all chunks are queued at once), so a change made there may come too late to matter.
        if event.phase == "beginning":
            path.write_bytes(b"B" * 64 * KIB)

    with pytest.raises(IntegrityError, match="changed"):
        upload(client, new_id(), path, chunk_size=16 * KIB, concurrency=1, progress=modify)
    assert client.get_user_upload_sessions() == []


def test_corruption_in_transit_is_detected_and_reuploaded(
    client: ArtifactClient, artifact_emulator: EmulatorProcess, tmp_path: Path
) -> None:
    """Bytes that reach the canister differ from the hashed ones (simulated by editing the file after
    it was hashed and restoring it before commit): commit says InvalidHash, the source still
    hashes the same, so the uploader starts over once with a new session (requirement 18.4)."""
    good = os.urandom(64 * KIB)
    path = tmp_path / "flaky.bin"
    path.write_bytes(good)
    state = {"corrupted": False}

    def corrupt_then_restore(event: ProgressEvent) -> None:
        if event.phase == "beginning" and not state["corrupted"]:  # before any chunk is read
            state["corrupted"] = True
            path.write_bytes(b"\0" * len(good))
        elif event.phase == "committing" and state["corrupted"]:
            path.write_bytes(good)

    mid = new_id()
    result = upload(client, mid, path, chunk_size=16 * KIB, concurrency=1, progress=corrupt_then_restore)
    assert result.restarts == 1 and result.final_hash == sha256(good)
    assert downloaded_sha256(artifact_emulator.admin_url, mid) == sha256(good)
