"""Retries, exactly-once effects and the circuit breaker under the emulator's fault injection.

Each test adds rules to a module-private emulator (``faulty_emulator``) and removes them after, and
uses real agents: the failures travel over HTTP exactly as a flaky replica's would.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from clients.admin import AdminClient
from clients.artifact import (
    BreakerState,
    CircuitBreaker,
    CircuitOpenError,
    RetryEvent,
    RetryPolicy,
    TransientError,
    load_manifest,
    store_gallery,
    upload,
)
from clients.artifact.types import Gallery, GalleryData, UploadStatus
from tests.client.conftest import downloaded_sha256, make_client, new_id, sha256
from tests.emulator_process import DEFAULT_ID, EmulatorProcess

KIB = 1024


def state_of(breaker: CircuitBreaker) -> BreakerState:
    """Read through a function so mypy does not narrow a property that time changes."""
    return breaker.state


def sessions_of(admin: AdminClient, principal: str) -> list[dict[str, object]]:
    return list(admin.inspect(DEFAULT_ID, "sessions", owner=principal)["sessions"])


def audit_of(admin: AdminClient, principal: str, method: str) -> list[dict[str, object]]:
    rows = admin.inspect(DEFAULT_ID, "audit", principal=principal, limit=1000)["audit"]
    return [r for r in rows if r["method"] == method]


def test_transient_rejects_on_put_chunk_are_retried(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    retries: list[RetryEvent] = []
    client = make_client(faulty_emulator.url, on_retry=retries.append)
    admin.add_fault(action="reject", method="put_chunk", endpoint="call", count=2, reject_code=2)
    data, mid = os.urandom(4 * 64 * KIB), new_id()
    result = upload(client, mid, data, chunk_size=64 * KIB)
    assert result.completed and result.chunks_sent == 4
    assert [(e.operation, type(e.error).__name__) for e in retries] == [("put_chunk", "TransientError")] * 2
    assert all(getattr(e.error, "reject_code", None) == 2 for e in retries)
    assert admin.faults() == []  # both fired
    assert downloaded_sha256(faulty_emulator.admin_url, mid) == sha256(data)


def test_503s_on_put_chunk_are_retried(faulty_emulator: EmulatorProcess, admin: AdminClient) -> None:
    retries: list[RetryEvent] = []
    client = make_client(faulty_emulator.url, on_retry=retries.append)
    admin.add_fault(action="http_status", method="put_chunk", count=3, http_status=503)
    data, mid = os.urandom(3 * 32 * KIB), new_id()
    upload(client, mid, data, chunk_size=32 * KIB, concurrency=1)
    assert len(retries) == 3
    assert {getattr(e.error, "http_status", None) for e in retries} == {503}
    assert downloaded_sha256(faulty_emulator.admin_url, mid) == sha256(data)


def test_429_on_queries_is_retried(faulty_emulator: EmulatorProcess, admin: AdminClient) -> None:
    retries: list[RetryEvent] = []
    client = make_client(faulty_emulator.url, on_retry=retries.append)
    admin.add_fault(
        action="http_status", method="get_memory_presence_icp", endpoint="query", count=2, http_status=429
    )
    assert client.get_memory_presence_icp(new_id()).asset_present is False
    assert [type(e.error).__name__ for e in retries] == ["RateLimitedError"] * 2


def test_dropped_commit_reply_completes_exactly_once(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    """The commit executes but its reply is lost: the retried commit gets the same success (spec §5)."""
    retries: list[RetryEvent] = []
    client = make_client(faulty_emulator.url, on_retry=retries.append)
    admin.add_fault(action="drop_reply", method="commit_asset", endpoint="call", count=1)
    data, mid = os.urandom(3 * 64 * KIB + 7), new_id()
    result = upload(client, mid, data, chunk_size=64 * KIB)
    assert result.completed and result.final_hash == sha256(data) and result.presence_verified
    assert [e.operation for e in retries] == ["commit_asset"]
    assert (
        retries[0].error.__class__ is TransientError and getattr(retries[0].error, "kind", "") == "transport"
    )
    commits = audit_of(admin, client.principal, "commit_asset")
    assert len(commits) == 2 and {c["outcome"] for c in commits} == {"ok"}
    (session,) = sessions_of(admin, client.principal)  # one session, committed once
    assert session["status"] == "Completed"
    assets = [a for a in admin.inspect(DEFAULT_ID, "assets", owner=client.principal)["assets"]]
    assert [(a["memory_id"], a["total_bytes"]) for a in assets] == [(mid, len(data))]
    assert downloaded_sha256(faulty_emulator.admin_url, mid) == sha256(data)


def test_dropped_begin_reply_resumes_the_same_session(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    client = make_client(faulty_emulator.url)
    admin.add_fault(action="drop_reply", method="begin_asset_upload", endpoint="call", count=1)
    data, mid = os.urandom(2 * 16 * KIB), new_id()
    upload(client, mid, data, chunk_size=16 * KIB)
    assert len(audit_of(admin, client.principal, "begin_asset_upload")) == 2
    assert len(sessions_of(admin, client.principal)) == 1  # the retry found the active session
    assert downloaded_sha256(faulty_emulator.admin_url, mid) == sha256(data)


def test_dropped_chunk_replies_are_not_counted_twice(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    client = make_client(faulty_emulator.url)
    admin.add_fault(action="drop_reply", method="put_chunk", endpoint="call", count=2)
    data, mid = os.urandom(4 * 16 * KIB), new_id()
    result = upload(client, mid, data, chunk_size=16 * KIB, concurrency=1)
    assert result.total_bytes == len(data)
    (session,) = sessions_of(admin, client.principal)
    assert session["bytes_received"] == len(data)
    assert downloaded_sha256(faulty_emulator.admin_url, mid) == sha256(data)


def test_non_idempotent_delete_is_not_retried(faulty_emulator: EmulatorProcess, admin: AdminClient) -> None:
    client = make_client(faulty_emulator.url)
    gid = new_id()
    client.store_gallery_forever(GalleryData(Gallery(gid, client.principal, "x"), client.principal))
    admin.add_fault(action="reject", method="delete_gallery", count=1, reject_code=2)
    with pytest.raises(TransientError) as info:
        client.delete_gallery(gid)
    assert info.value.attempts == 1 and not info.value.retries_exhausted
    assert client.delete_gallery(gid).success


def test_exhausted_retries_keep_the_target_error(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    client = make_client(
        faulty_emulator.url, policy=RetryPolicy(retries=2, base_delay=0.01, max_delay=0.02, jitter=0.0)
    )
    admin.add_fault(action="reject", method="get_memory_presence_icp", count=5, reject_code=2)
    with pytest.raises(TransientError) as info:
        client.get_memory_presence_icp(new_id())
    assert info.value.retries_exhausted and info.value.attempts == 3
    assert info.value.reject_code == 2
    assert admin.faults()[0]["fired"] == 3


def test_breaker_opens_under_503s_and_closes_after_cool_down(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    breaker = CircuitBreaker(failure_threshold=4, window_seconds=30.0, cool_down_seconds=0.5)
    client = make_client(faulty_emulator.url, policy=RetryPolicy(retries=0), breaker=breaker)
    mid = new_id()
    assert client.get_memory_presence_icp(mid).asset_present is False  # fetches keys while healthy
    admin.add_fault(action="http_status", method="*", http_status=503, count=1000)
    for _ in range(4):
        with pytest.raises(TransientError):
            client.get_memory_presence_icp(mid)
    assert state_of(breaker) is BreakerState.OPEN
    fired = admin.faults()[0]["fired"]
    for _ in range(20):  # refused locally: the target sees nothing
        with pytest.raises(CircuitOpenError, match="temporarily unavailable"):
            client.get_memory_presence_icp(mid)
    assert admin.faults()[0]["fired"] == fired

    time.sleep(0.6)  # cool-down over while the target still fails: the probe reopens it
    with pytest.raises(TransientError):
        client.get_memory_presence_icp(mid)
    assert state_of(breaker) is BreakerState.OPEN
    assert admin.faults()[0]["fired"] == fired + 1

    admin.clear_faults()
    time.sleep(0.6)
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert client.get_memory_presence_icp(mid).asset_present is False  # the probe succeeds
    assert state_of(breaker) is BreakerState.CLOSED


def test_upload_fails_fast_with_unavailable_when_the_breaker_is_open(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    breaker = CircuitBreaker(failure_threshold=3, window_seconds=30.0, cool_down_seconds=60.0)
    client = make_client(faulty_emulator.url, breaker=breaker)
    client.whoami()
    admin.add_fault(action="http_status", method="put_chunk", http_status=503, count=1000)
    with pytest.raises(CircuitOpenError) as info:
        upload(client, new_id(), os.urandom(4 * 16 * KIB), chunk_size=16 * KIB, concurrency=2)
    assert info.value.retryable and info.value.retries_exhausted
    # Fails fast: once open, the breaker stops calls from reaching the target. Without it the 4 chunks
    # would be tried 4 times each (16 calls); with it at most the threshold plus the calls already in
    # flight (concurrency 2) get through.
    reached = admin.faults()[0]["fired"]
    assert reached <= breaker.failure_threshold + 2 < 4 * (1 + 3)
    admin.clear_faults()
    assert any("cancelled" in n for n in info.value.__notes__)  # clean-up goes past the open breaker
    same_caller = make_client(faulty_emulator.url, client.connection.identity)
    assert same_caller.get_user_upload_sessions() == []


def test_session_expiring_mid_upload_is_restarted(
    faulty_emulator: EmulatorProcess, admin: AdminClient
) -> None:
    client = make_client(faulty_emulator.url)
    data, mid = os.urandom(4 * 16 * KIB), new_id()
    moved = {"done": False}

    def expire_after_first_chunk(event: object) -> None:
        if (
            getattr(event, "phase", "") == "uploading"
            and getattr(event, "chunks_done", 0) == 1
            and not moved["done"]
        ):
            moved["done"] = True
            admin.advance_clock(DEFAULT_ID, 31 * 60)

    result = upload(client, mid, data, chunk_size=16 * KIB, concurrency=1, progress=expire_after_first_chunk)
    assert result.restarts == 1 and result.completed
    statuses = sorted(str(s["status"]) for s in sessions_of(admin, client.principal))
    assert statuses == ["Completed", "Expired"]
    assert downloaded_sha256(faulty_emulator.admin_url, mid) == sha256(data)
    assert client.get_upload_progress(result.session_id or "").status is UploadStatus.COMPLETED


def test_gallery_run_stops_when_the_target_becomes_unavailable(
    faulty_emulator: EmulatorProcess, admin: AdminClient, tmp_path: Path
) -> None:
    memories = []
    for i in range(6):
        (tmp_path / f"{i}.bin").write_bytes(os.urandom(1024))
        memories.append({"id": new_id(), "memory_type": "Image", "file": f"{i}.bin"})
    manifest_path = tmp_path / "g.json"
    manifest_path.write_text(json.dumps({"gallery": {"id": new_id(), "title": "G"}, "memories": memories}))
    breaker = CircuitBreaker(failure_threshold=3, window_seconds=30.0, cool_down_seconds=60.0)
    client = make_client(faulty_emulator.url, breaker=breaker)
    client.whoami()
    admin.add_fault(action="http_status", method="upsert_metadata", http_status=503, count=1000)
    outcome = store_gallery(client, load_manifest(manifest_path), memory_concurrency=1)
    assert outcome.status == "failed" and not outcome.gallery_stored
    assert outcome.counts["stored"] == 0 and outcome.counts["not_attempted"] >= 4
    assert outcome.error is not None and outcome.error["category"] == "retryable"
    assert all(m.error is not None and m.error["category"] == "retryable" for m in outcome.memories)
