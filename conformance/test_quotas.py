"""§5 check 10, requirement 22.3: uploads begun per caller per 24 hours, committed bytes per caller.

These tests exhaust a quota, so they run only where the quota is stated (the emulator target's
limits file, or a replica profile's `limits`) and small enough to reach; elsewhere they are skipped
with the reason, never assumed."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from .calls import SuiteClient
from .kit import begin, new_id, refused, require_limit, sha, upload
from .target import Target

MIB = 1024 * 1024

pytestmark = [
    pytest.mark.task("1.4"),
    pytest.mark.req("22.3"),
    pytest.mark.method("begin_asset_upload", "cancel_upload"),
]


def _use_daily_quota(caller: SuiteClient, count: int) -> None:
    """Begin and cancel `count` uploads: cancelling frees the session slot, not the quota."""
    for i in range(count):
        staged = begin(caller, new_id(), f"upload {i}".encode())
        caller.cancel_upload(staged.session_id)


@pytest.mark.portable
def test_daily_upload_quota(target: Target, alice: SuiteClient) -> None:
    """After the daily number of begins (cancelled ones included) the next begin is
    `Internal("Quota exceeded: …")`."""
    quota = require_limit(target, "daily_upload_quota", at_most=60)
    _use_daily_quota(alice, quota)
    with refused("Internal", "Quota exceeded"):
        alice.begin_asset_upload(new_id(), sha(b"one too many"), 1, 12)


@pytest.mark.portable
@pytest.mark.req("20.1")
def test_session_limit_is_checked_before_the_quota(target: Target, alice: SuiteClient) -> None:
    """A caller at both its session limit and its daily quota is told about the session limit
    (check 9 before check 10); once a slot frees, the quota answers."""
    limit = target.limits["max_active_sessions"]
    quota = require_limit(target, "daily_upload_quota", at_most=60)
    if quota < limit:
        pytest.skip("daily_upload_quota is below max_active_sessions: the case cannot arise")
    _use_daily_quota(alice, quota - limit)
    active = [begin(alice, new_id(), f"active {i}".encode()) for i in range(limit)]
    with refused("Internal", "Rate limit exceeded"):
        alice.begin_asset_upload(new_id(), sha(b"both"), 1, 4)
    alice.cancel_upload(active[0].session_id)
    with refused("Internal", "Quota exceeded"):
        alice.begin_asset_upload(new_id(), sha(b"both"), 1, 4)


@pytest.mark.needs("clock")
def test_daily_quota_is_a_sliding_24_hours(target: Target, alice: SuiteClient) -> None:
    """Begins older than 24 hours no longer count."""
    quota = require_limit(target, "daily_upload_quota", at_most=60)
    _use_daily_quota(alice, quota)
    with refused("Internal", "Quota exceeded"):
        alice.begin_asset_upload(new_id(), sha(b"too soon"), 1, 8)
    target.advance_clock(24 * 3600 + 1)
    begin(alice, new_id(), b"next day")


@pytest.mark.portable
@pytest.mark.method("put_chunk", "commit_asset")
def test_byte_quota_counts_committed_bytes(
    target: Target, alice: SuiteClient, blob: Callable[..., bytes]
) -> None:
    """A begin whose `total_size` would take the caller's committed bytes over the byte quota is
    `Internal("Quota exceeded: …")`; exactly up to the quota is accepted."""
    max_size, max_chunk = target.limits["max_asset_size"], target.limits["max_chunk_size"]
    quota = require_limit(target, "byte_quota", at_most=max_size + 8 * MIB, why=" (commit it first)")
    # Commit enough that the rest of the quota fits in one asset, so the quota (not the size limit)
    # is what refuses the next begin.
    committed = blob(max(2000, quota - max_size + 1000))
    upload(alice, new_id(), committed, chunk_size=max_chunk)
    remaining = quota - len(committed)

    def count_for(size: int) -> int:
        return max(1, math.ceil(size / max_chunk))

    with refused("Internal", "Quota exceeded"):
        alice.begin_asset_upload(new_id(), sha(b"over"), count_for(remaining + 1), remaining + 1)
    reply = alice.begin_asset_upload(new_id(), sha(b"exactly"), count_for(remaining), remaining)
    assert reply.session is not None
    alice.cancel_upload(reply.session.session_id)


@pytest.mark.portable
@pytest.mark.method("put_chunk", "commit_asset")
def test_byte_quota_is_per_caller(target: Target, alice: SuiteClient, bob: SuiteClient) -> None:
    """One caller's committed bytes do not count against another's quota."""
    max_size, max_chunk = target.limits["max_asset_size"], target.limits["max_chunk_size"]
    quota = require_limit(target, "byte_quota", at_most=max_size + 8 * MIB, why=" (commit it first)")
    committed = max(2000, quota - max_size + 1000)
    upload(alice, new_id(), b"a" * committed, chunk_size=max_chunk)
    size = min(max_size, quota)
    assert committed + size > quota, "the test must put alice over the quota to prove anything"
    reply = bob.begin_asset_upload(new_id(), sha(b"bob"), max(1, math.ceil(size / max_chunk)), size)
    assert reply.session is not None
    bob.cancel_upload(reply.session.session_id)
