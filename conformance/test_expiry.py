"""§5 "Expiry and clean-up", seed task 1.4: sessions expire `lifetime` after their begin, every
method treats them as expired, a timer frees their chunks without waiting for a call, and finished
sessions stay answerable for a day. All need a target whose clock the suite can move."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clients.artifact.types import UploadStatus

from .calls import SuiteClient
from .kit import ANY_CODE, begin, new_id, put_all, refused, sha
from .target import Target

pytestmark = [
    pytest.mark.task("1.4"),
    pytest.mark.req("22.2"),
    pytest.mark.method("begin_asset_upload", "put_chunk", "commit_asset"),
]


def _lifetime(target: Target) -> int:
    return target.limits["session_lifetime_seconds"]


def _expire_and_clean(target: Target, owner: str) -> dict[str, object]:
    """Move past the lifetime, then let the clean-up timer tick (each tick frees a bounded batch,
    and other tests leave expired sessions behind, so a few ticks may be needed); no canister call."""
    interval = target.limits["cleanup_interval_seconds"]
    target.advance_clock(_lifetime(target) + interval + 1)
    for _ in range(50):
        (session,) = target.inspect("sessions", owner=owner)
        if session["stored_bytes"] == 0:
            break
        target.advance_clock(interval + 1)
    return dict(session)


@pytest.mark.needs("clock")
def test_session_lives_until_its_lifetime(
    target: Target, alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """Just before `created_at + lifetime` the session still takes chunks and commits."""
    data = blob(2000)
    staged = begin(alice, new_id(), data)
    put_all(alice, staged, [0])
    target.advance_clock(_lifetime(target) - 30)
    put_all(alice, staged, [1])
    assert alice.commit_asset(staged.session_id, sha(data)).final_hash == sha(data)


@pytest.mark.needs("clock")
def test_put_chunk_after_the_lifetime(target: Target, alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """A chunk for a session past its lifetime is `Internal("Session expired")`; the session is
    finished (a later commit fails too)."""
    data = blob(2000)
    staged = begin(alice, new_id(), data)
    put_all(alice, staged, [0])
    target.advance_clock(_lifetime(target) + 1)
    with refused("Internal", "Session expired"):
        alice.put_chunk(staged.session_id, 1, staged.chunks[1])
    with refused(ANY_CODE):
        alice.commit_asset(staged.session_id, sha(data))


@pytest.mark.needs("clock")
@pytest.mark.method("get_memory_presence_icp")
def test_commit_after_the_lifetime(target: Target, alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Every method treats an expired session as expired, commit included: complete chunks do not
    save a session past its lifetime, and nothing becomes present."""
    mid, data = new_id(), blob(1500)
    staged = begin(alice, mid, data)
    put_all(alice, staged)
    target.advance_clock(_lifetime(target) + 1)
    with refused("Internal", "Session expired"):
        alice.commit_asset(staged.session_id, sha(data))
    assert not alice.get_memory_presence_icp(mid).asset_present


@pytest.mark.needs("clock")
@pytest.mark.req("20.1")
def test_expired_sessions_release_their_slots(target: Target, alice: SuiteClient) -> None:
    """Expired sessions do not count against the concurrent-session limit."""
    for i in range(target.limits["max_active_sessions"]):
        begin(alice, new_id(), f"old {i}".encode())
    target.advance_clock(_lifetime(target) + 1)
    begin(alice, new_id(), b"new")


@pytest.mark.needs("clock")
def test_begin_after_expiry_is_a_new_session(
    target: Target, alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """An expired session is not resumed: the same begin afterwards starts a new, empty session."""
    mid, data = new_id(), blob(2000)
    staged = begin(alice, mid, data)
    put_all(alice, staged, [0])
    target.advance_clock(_lifetime(target) + 1)
    fresh = begin(alice, mid, data)
    assert fresh.session_id != staged.session_id
    assert fresh.session.chunks_received == (False, False)
    assert fresh.session.bytes_received == 0


@pytest.mark.needs("clock")
@pytest.mark.method("cancel_upload")
def test_cancel_after_expiry_succeeds(target: Target, alice: SuiteClient) -> None:
    """Cancelling an expired session is still a success."""
    staged = begin(alice, new_id(), b"expiring")
    target.advance_clock(_lifetime(target) + 1)
    alice.cancel_upload(staged.session_id)


@pytest.mark.needs("clock", "inspect")
@pytest.mark.req("22.2", "6")
def test_cleanup_frees_expired_chunks_without_a_call(
    target: Target, alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """The clean-up timer frees an expired session's chunk data although nobody calls it again."""
    staged = begin(alice, new_id(), blob(3000))
    put_all(alice, staged, [0, 1])
    sessions = target.inspect("sessions", owner=alice.principal)
    assert [(s["session_id"], s["stored_bytes"]) for s in sessions] == [(staged.session_id, 2000)]
    after = _expire_and_clean(target, alice.principal)
    assert after["status"] == "Expired"
    assert after["stored_bytes"] == 0, "the expired session's chunks were not freed by the timer"


@pytest.mark.needs("clock")
@pytest.mark.req("22.2", "6")
@pytest.mark.task("1.7")
def test_finished_sessions_answer_for_a_day(
    target: Target, alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """A completed session keeps its record for at least 24 hours: a commit retry 23 hours later
    still returns the same success."""
    data = blob(1200)
    staged = begin(alice, new_id(), data)
    put_all(alice, staged)
    first = alice.commit_asset(staged.session_id, sha(data))
    target.advance_clock(23 * 3600)
    again = alice.commit_asset(staged.session_id, sha(data))
    assert (again.final_hash, again.total_bytes) == (first.final_hash, first.total_bytes)
    if "get_upload_progress" in target.methods:
        assert alice.get_upload_progress(staged.session_id).status is UploadStatus.COMPLETED


@pytest.mark.needs("clock", "upgrade", "inspect")
@pytest.mark.req("23")
@pytest.mark.task("1.2")
def test_timers_run_again_after_an_upgrade(
    target: Target, alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """After an upgrade the clean-up timer runs again: an expired session's chunks are freed."""
    staged = begin(alice, new_id(), blob(2000))
    put_all(alice, staged, [0])
    target.upgrade()
    after = _expire_and_clean(target, alice.principal)
    assert (after["status"], after["stored_bytes"]) == ("Expired", 0)
