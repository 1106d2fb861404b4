"""§5 `commit_asset` and `cancel_upload`, seed task 1.4: the SHA-256 of the assembled bytes is
verified before anything is present, corruption fails the session, and commits and cancels are safe
to repeat."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clients.artifact.uploader import upload as uploader_upload

from .calls import SuiteClient
from .kit import ANY_CODE, begin, new_id, put_all, refused, sha
from .target import Target

pytestmark = [
    pytest.mark.task("1.4"),
    pytest.mark.portable,
    pytest.mark.method("begin_asset_upload", "put_chunk", "commit_asset"),
]


@pytest.mark.req("18.1", "18.3")
def test_commit_answers_the_hash_and_size_of_what_was_sent(
    alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """`CommitResponse` names the memory, the SHA-256 of the bytes sent (lowercase hex) and the
    bytes stored, which equal the sum of the chunks."""
    mid, data = new_id(), blob(2500)
    staged = begin(alice, mid, data)
    chunk_replies = put_all(alice, staged)
    reply = alice.commit_asset(staged.session_id, sha(data))
    assert reply.success and reply.error is None
    assert reply.memory_id == mid
    assert reply.final_hash == sha(data) == reply.final_hash.lower()
    assert (
        reply.total_bytes
        == len(data)
        == sum(len(c) for c in staged.chunks)
        == chunk_replies[-1].bytes_received
    )


@pytest.mark.req("6", "22.2")
def test_missing_chunks_keep_the_session_active(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Committing with chunks missing is `Internal("Missing chunks: …")` naming how many; the session
    stays active and completes once they are sent."""
    data = blob(3000)
    staged = begin(alice, new_id(), data)
    put_all(alice, staged, [1])
    with refused("Internal", "Missing chunks") as refusal:
        alice.commit_asset(staged.session_id, sha(data))
    assert "2" in refusal.message, f"the message must say how many chunks are missing: {refusal.message!r}"
    put_all(alice, staged, [0, 2])
    assert alice.commit_asset(staged.session_id, sha(data)).total_bytes == len(data)


@pytest.mark.req("18.4")
def test_short_upload_is_a_size_mismatch(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """All chunks received but fewer bytes than `total_size`: `Internal("Size mismatch …")`."""
    data = blob(2100)
    staged = begin(alice, new_id(), data, total_size=2500)
    put_all(alice, staged)
    with refused("Internal", "Size mismatch"):
        alice.commit_asset(staged.session_id, sha(data))


@pytest.mark.req("18.4", "18.3", "24.4")
@pytest.mark.method("get_memory_presence_icp")
def test_corrupted_bytes_fail_the_upload(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Bytes whose SHA-256 is not the expected hash are `InvalidHash`; the session is finished as
    failed (no retry of the commit, no more chunks), nothing is present, and a new upload works."""
    mid, good, bad = new_id(), blob(1500, "good"), blob(1500, "bad")
    staged = begin(alice, mid, bad, declared_hash=sha(good))
    put_all(alice, staged)
    with refused("InvalidHash"):
        alice.commit_asset(staged.session_id, sha(good))
    assert not alice.get_memory_presence_icp(mid).asset_present
    with refused(ANY_CODE):
        alice.commit_asset(staged.session_id, sha(good))
    with refused(ANY_CODE):
        alice.put_chunk(staged.session_id, 0, good[:1000])
    fresh = begin(alice, mid, good)
    assert fresh.session_id != staged.session_id
    put_all(alice, fresh)
    assert alice.commit_asset(fresh.session_id, sha(good)).final_hash == sha(good)
    assert alice.get_memory_presence_icp(mid).asset_present


@pytest.mark.req("18.4")
def test_final_hash_must_equal_the_expected_hash(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """A `final_hash` other than the expected hash is `InvalidHash` and fails the session."""
    data = blob(800)
    staged = begin(alice, new_id(), data)
    put_all(alice, staged)
    with refused("InvalidHash"):
        alice.commit_asset(staged.session_id, sha(b"something else"))
    with refused(ANY_CODE):
        alice.commit_asset(staged.session_id, sha(data))


@pytest.mark.req("6", "18.5")
@pytest.mark.task("1.7")
def test_commit_retry_returns_the_same_success(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Committing a completed session again (a client that lost the reply) returns the same success."""
    mid, data = new_id(), blob(1800)
    staged = begin(alice, mid, data)
    put_all(alice, staged)
    first = alice.commit_asset(staged.session_id, sha(data))
    again = alice.commit_asset(staged.session_id, sha(data))
    assert (again.success, again.memory_id, again.final_hash, again.total_bytes) == (
        True,
        first.memory_id,
        first.final_hash,
        first.total_bytes,
    )


@pytest.mark.req("18.1", "18.3")
@pytest.mark.task("1.7")
@pytest.mark.snapshot_skip(reason="the uploader sends chunks from several threads")
@pytest.mark.method("get_memory_presence_icp", "cancel_upload")
def test_the_client_uploader_stores_and_verifies(
    target: Target, alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """The project's own uploader (hash, begin, chunks in parallel, commit, presence check) stores
    the bytes and sees them verified on this target."""
    mid, data = new_id(), blob(5500)
    result = uploader_upload(alice, mid, data, chunk_size=1000, concurrency=3)
    assert result.completed and result.presence_verified
    assert (result.final_hash, result.total_bytes, result.chunk_count) == (sha(data), len(data), 6)
    assert alice.get_memory_presence_icp(mid).asset_present


@pytest.mark.req("22.2", "20.1")
@pytest.mark.method("cancel_upload")
def test_cancel_finishes_the_session(target: Target, alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Cancelling an active session finishes it (no more chunks, no commit) and releases its slot."""
    limit = target.limits["max_active_sessions"]
    sessions = [begin(alice, new_id(), blob(1500, str(i))) for i in range(limit)]
    put_all(alice, sessions[0], [0])
    alice.cancel_upload(sessions[0].session_id)
    with refused(ANY_CODE):
        alice.put_chunk(sessions[0].session_id, 1, sessions[0].chunks[1])
    with refused(ANY_CODE):
        alice.commit_asset(sessions[0].session_id, sha(sessions[0].data))
    begin(alice, new_id(), blob(10, "after"))  # the slot is free again


@pytest.mark.req("6")
@pytest.mark.task("1.7")
@pytest.mark.method("cancel_upload", "get_memory_presence_icp")
def test_cancel_is_always_success_for_own_ids(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Cancelling an unknown id, a session twice, or a completed session succeeds; a completed
    asset stays present and its commit retry still succeeds."""
    alice.cancel_upload("never-issued")
    staged = begin(alice, new_id(), blob(100, "twice"))
    alice.cancel_upload(staged.session_id)
    alice.cancel_upload(staged.session_id)
    mid, data = new_id(), blob(100, "done")
    done = begin(alice, mid, data)
    put_all(alice, done)
    alice.commit_asset(done.session_id, sha(data))
    alice.cancel_upload(done.session_id)
    assert alice.get_memory_presence_icp(mid).asset_present
    assert alice.commit_asset(done.session_id, sha(data)).final_hash == sha(data)


@pytest.mark.req("22.2", "18.1")
@pytest.mark.method("get_memory_presence_icp")
def test_empty_asset(alice: SuiteClient) -> None:
    """An empty asset (`total_size = 0`, one empty chunk) commits to the SHA-256 of no bytes."""
    mid = new_id()
    staged = begin(alice, mid, b"")
    assert staged.session.chunk_count == 1
    assert alice.put_chunk(staged.session_id, 0, b"").bytes_received == 0
    reply = alice.commit_asset(staged.session_id, sha(b""))
    assert (reply.final_hash, reply.total_bytes) == (sha(b""), 0)
    assert alice.get_memory_presence_icp(mid).asset_present
