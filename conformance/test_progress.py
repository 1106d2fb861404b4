"""§2.3 and §5 "Progress", seed task 1.6: progress from real data, for the caller's own sessions in
any state, and the caller's active sessions newest first. The deployed canister does not have these
methods yet; against it these tests report "not implemented by target"."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clients.artifact.types import UploadStatus

from .calls import SuiteClient
from .catalog import MISSING_CAPABILITY
from .kit import begin, new_id, put_all, refused, sha
from .target import Target

pytestmark = [
    pytest.mark.task("1.6"),
    pytest.mark.req("2.2", "10.2"),
    pytest.mark.method("begin_asset_upload", "put_chunk", "get_upload_progress"),
]

NS = 1_000_000_000


@pytest.mark.portable
def test_progress_of_a_new_session(target: Target, alice: SuiteClient) -> None:
    """A new session: all of its totals, nothing received, 0 %, no time estimate yet, `Active`,
    expiring `lifetime` after `created_at`."""
    mid = new_id()
    staged = begin(alice, mid, b"p" * 3500)
    p = alice.get_upload_progress(staged.session_id)
    assert (p.session_id, p.memory_id, p.total_chunks, p.total_size) == (staged.session_id, mid, 4, 3500)
    assert (p.chunks_received, p.bytes_received, p.progress_percentage) == (0, 0, 0.0)
    assert p.estimated_time_remaining is None, "no rate can be measured before any byte arrived"
    assert p.status is UploadStatus.ACTIVE
    assert p.created_at == staged.session.created_at
    assert p.expires_at == p.created_at + target.limits["session_lifetime_seconds"] * NS


@pytest.mark.portable
@pytest.mark.req("20.1")
def test_progress_counts_what_was_received(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Chunks and bytes received are counted as they arrive; the percentage is
    chunks_received / total_chunks × 100; the estimate is absent or a non-negative duration."""
    staged = begin(alice, new_id(), blob(3500))
    expected = [(1, 1000, 25.0), (2, 2000, 50.0), (3, 2500, 75.0)]
    for index, (chunks, size, percent) in zip([0, 1, 3], expected, strict=True):
        alice.put_chunk(staged.session_id, index, staged.chunks[index])
        p = alice.get_upload_progress(staged.session_id)
        assert (p.chunks_received, p.bytes_received, p.progress_percentage) == (chunks, size, percent)
        assert p.estimated_time_remaining is None or p.estimated_time_remaining >= 0
        assert p.status is UploadStatus.ACTIVE


@pytest.mark.portable
@pytest.mark.req("18.4")
@pytest.mark.method("commit_asset", "cancel_upload")
@pytest.mark.parametrize("finish", ["Completed", "Cancelled", "Failed"])
def test_progress_of_finished_sessions(alice: SuiteClient, blob: Callable[..., bytes], finish: str) -> None:
    """Finished sessions still answer, with their final status (`Completed` at 100 %)."""
    data = blob(2000)
    staged = begin(alice, new_id(), data)
    put_all(alice, staged)
    if finish == "Completed":
        alice.commit_asset(staged.session_id, sha(data))
    elif finish == "Cancelled":
        alice.cancel_upload(staged.session_id)
    else:
        with refused("InvalidHash"):
            alice.commit_asset(staged.session_id, sha(b"other"))
    p = alice.get_upload_progress(staged.session_id)
    assert p.status is UploadStatus(finish)
    assert (p.chunks_received, p.total_chunks) == (2, 2)
    if finish == "Completed":
        assert (p.progress_percentage, p.bytes_received) == (100.0, len(data))


@pytest.mark.needs("clock")
@pytest.mark.req("22.2")
def test_progress_of_an_expired_session(target: Target, alice: SuiteClient) -> None:
    """A session past its lifetime reads as `Expired` (without any other call touching it)."""
    staged = begin(alice, new_id(), b"will expire")
    target.advance_clock(target.limits["session_lifetime_seconds"] + 1)
    assert alice.get_upload_progress(staged.session_id).status is UploadStatus.EXPIRED


@pytest.mark.needs("clock")
def test_time_estimate_comes_from_the_measured_rate(
    target: Target, alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """Once bytes arrived over measurable time, the estimate is a positive number of nanoseconds."""
    staged = begin(alice, new_id(), blob(4000))
    target.advance_clock(10)
    alice.put_chunk(staged.session_id, 0, staged.chunks[0])
    target.advance_clock(10)
    eta = alice.get_upload_progress(staged.session_id).estimated_time_remaining
    assert eta is not None and eta > 0


@pytest.mark.portable
@pytest.mark.req("17.1", "22.1")
@pytest.mark.task("1.5")
def test_progress_of_unknown_sessions_is_not_found(alice: SuiteClient) -> None:
    """A session id that was never issued answers `NotFound`."""
    with refused("NotFound"):
        alice.get_upload_progress("never-issued")


@pytest.mark.portable
@pytest.mark.method("get_user_upload_sessions", "cancel_upload", "commit_asset")
def test_user_sessions_are_the_active_ones_newest_first(
    target: Target, alice: SuiteClient, bob: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """`get_user_upload_sessions` lists the caller's active sessions only (not finished ones, not
    another principal's), newest first, each with the same data as `get_upload_progress`."""
    done_data = blob(100, "done")
    done = begin(alice, new_id(), done_data)
    put_all(alice, done)
    alice.commit_asset(done.session_id, sha(done_data))
    older = begin(alice, new_id(), blob(100, "older"))
    cancelled = begin(alice, new_id(), blob(100, "cancelled"))
    alice.cancel_upload(cancelled.session_id)
    newer = begin(alice, new_id(), blob(100, "newer"))
    begin(bob, new_id(), blob(100, "bob"))
    listed = alice.get_user_upload_sessions()
    shown = min(2, target.limits["max_listed_sessions"])
    assert [s.session_id for s in listed] == [newer.session_id, older.session_id][:shown]
    for entry in listed:
        assert entry == alice.get_upload_progress(entry.session_id)
        assert entry.status is UploadStatus.ACTIVE


@pytest.mark.portable
@pytest.mark.method("get_user_upload_sessions")
def test_user_sessions_are_capped(target: Target, alice: SuiteClient) -> None:
    """At most the listing limit (10) of sessions is listed: the newest ones."""
    cap, active = target.limits["max_listed_sessions"], target.limits["max_active_sessions"]
    if cap >= active:
        pytest.skip(
            f"{MISSING_CAPABILITY}limits: max_listed_sessions ({cap}) >= max_active_sessions ({active}), "
            "so the cap cannot be reached"
        )
    staged = [begin(alice, new_id(), f"s{i}".encode()) for i in range(active)]
    listed = alice.get_user_upload_sessions()
    assert [s.session_id for s in listed] == [s.session_id for s in reversed(staged)][:cap]
