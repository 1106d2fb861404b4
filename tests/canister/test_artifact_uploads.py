"""Chunked uploads: begin (with its check order), put_chunk, commit, cancel, expiry, rate limit, quotas."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.canisters.artifact.errors import some
from tests.canister.artifact_harness import (
    ALICE,
    ANON,
    BOB,
    DAY,
    HOUR,
    MINUTE,
    SMALL_LIMITS,
    Harness,
    Unchanged,
    chunks_of,
    data_of,
    err,
    idem_key,
    internal_text,
    metadata_value,
    new_uuid,
    payload,
    sha,
)

KB = 1024


def begin_args(data: bytes, chunk_size: int = KB) -> tuple[str, int, int]:
    return sha(data), len(chunks_of(data, chunk_size)), len(data)


def session_of(result: Any) -> Any:
    return data_of(result)["session"]


def new_session(
    h: Harness, caller: Any = ALICE, data: bytes | None = None, memory_id: str | None = None
) -> Any:
    data = payload(2 * KB + 10) if data is None else data
    return session_of(h.begin(caller, memory_id or new_uuid(), data))


def status_of(h: Harness, session_id: str) -> str:
    return str(h.sql("SELECT status FROM af_sessions WHERE session_id = ?", session_id)[0][0])


def chunk_rows(h: Harness, session_id: str) -> int:
    return h.count("af_chunks", "sid = (SELECT sid FROM af_sessions WHERE session_id = ?)", session_id)


# -- begin_asset_upload ------------------------------------------------------------------------------


def test_begin_creates_a_fresh_session(h: Harness) -> None:
    memory_id = new_uuid()
    data = payload(2 * KB + 10)
    result = h.call(ALICE, "begin_asset_upload", memory_id, sha(data).upper(), 3, len(data))
    body = data_of(result)
    assert body["success"] is True and body["error"] is None and body["message"]
    session = body["session"]
    assert session["memory_id"] == memory_id
    assert session["expected_hash"] == sha(data)  # answered lowercase
    assert session["chunk_count"] == 3 and session["total_size"] == len(data)
    assert session["created_at"] == h.now
    assert session["chunks_received"] == [False, False, False]
    assert session["bytes_received"] == 0
    assert len(session["session_id"]) * 4 >= 128  # hex: at least 128 random bits


def test_session_ids_are_unguessable_and_distinct(h: Harness) -> None:
    ids = {new_session(h)["session_id"] for _ in range(3)}
    assert len(ids) == 3
    for sid in ids:
        assert len(sid) >= 32 and int(sid, 16) >= 0


@pytest.mark.parametrize(
    "memory_id",
    [
        "550E8400-E29B-41D4-A716-446655440000",  # uppercase
        "550e8400-e29b-11d4-a716-446655440000",  # version 1
        "550e8400e29b41d4a716446655440000",  # no hyphens
        "{550e8400-e29b-41d4-a716-446655440000}",
        "550e8400-e29b-41d4-c716-446655440000",  # variant not RFC 4122
        "550e8400-e29b-41d4-a716-446655440000\n",
        " 550e8400-e29b-41d4-a716-446655440000",
        "",
        "memory_1703123456789",
    ],
)
def test_begin_refuses_non_canonical_uuids(h: Harness, memory_id: str) -> None:
    data = payload(10)
    with Unchanged(h):
        result = h.call(ALICE, "begin_asset_upload", memory_id, *begin_args(data))
    assert internal_text(result).startswith("Invalid UUID: ")


def test_begin_refuses_anonymous(h: Harness) -> None:
    data = payload(10)
    with Unchanged(h):
        result = h.call(ANON, "begin_asset_upload", new_uuid(), *begin_args(data))
    assert err(result) == {"Unauthorized": None}


def test_begin_refuses_another_principals_memory(h: Harness) -> None:
    memory_id = new_uuid()
    data_of(h.call(BOB, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id)))
    with Unchanged(h):
        result = h.call(ALICE, "begin_asset_upload", memory_id, *begin_args(payload(10)))
    assert err(result) == {"Unauthorized": None}


@pytest.mark.parametrize("bad_hash", ["", "ab" * 31 + "a", "ab" * 33, "zz" * 32, "0x" + "ab" * 31])
def test_begin_refuses_malformed_hash(h: Harness, bad_hash: str) -> None:
    with Unchanged(h):
        result = h.call(ALICE, "begin_asset_upload", new_uuid(), bad_hash, 1, 10)
    assert err(result) == {"InvalidHash": None}


def test_begin_refuses_oversized_asset_with_the_configured_limit_in_the_text(h: Harness) -> None:
    with Unchanged(h):
        result = h.call(ALICE, "begin_asset_upload", new_uuid(), "a" * 64, 9, 8 * KB + 1)
    assert internal_text(result) == "File size exceeds 8KB limit"


def test_default_limit_text_is_the_deployed_one() -> None:
    h = Harness(config={})
    result = h.call(ALICE, "begin_asset_upload", new_uuid(), "a" * 64, 1000, 100 * 1024 * 1024 + 1)
    assert internal_text(result) == "File size exceeds 100MB limit"


@pytest.mark.parametrize(
    ("chunk_count", "total_size"),
    [
        (0, 10),  # zero chunks
        (17, 100),  # above max_chunk_count (16)
        (2, 2 * KB + 1),  # cannot carry total_size with 1 KiB chunks
        (11, 10),  # more chunks than bytes
        (2, 0),  # an empty asset is one (empty) chunk
    ],
)
def test_begin_refuses_invalid_chunk_counts(h: Harness, chunk_count: int, total_size: int) -> None:
    with Unchanged(h):
        result = h.call(ALICE, "begin_asset_upload", new_uuid(), "a" * 64, chunk_count, total_size)
    assert internal_text(result) == "Invalid chunk count"


@pytest.mark.parametrize(
    ("chunk_count", "total_size"), [(1, 0), (1, 1), (8, 8 * KB), (16, 8 * KB), (2, 2), (10, 10)]
)
def test_begin_accepts_boundary_chunk_counts(h: Harness, chunk_count: int, total_size: int) -> None:
    data_of(h.call(ALICE, "begin_asset_upload", new_uuid(), "a" * 64, chunk_count, total_size))


def test_begin_for_an_asset_already_committed_with_that_hash_is_already_exists(h: Harness) -> None:
    memory_id, data = new_uuid(), payload(1500)
    h.upload(ALICE, memory_id, data)
    with Unchanged(h):
        result = h.call(ALICE, "begin_asset_upload", memory_id, *begin_args(data))
    assert err(result) == {"AlreadyExists": None}
    # Another hash for the same memory is a replacement upload, not a duplicate.
    data_of(h.call(ALICE, "begin_asset_upload", memory_id, *begin_args(payload(1500))))


def test_begin_resumes_the_matching_active_session(h: Harness) -> None:
    memory_id, data = new_uuid(), payload(2 * KB + 10)
    first = session_of(h.begin(ALICE, memory_id, data))
    data_of(h.call(ALICE, "put_chunk", first["session_id"], 1, chunks_of(data, KB)[1]))
    h.advance(MINUTE)
    with Unchanged(h):
        again = session_of(h.begin(ALICE, memory_id, data))
    assert again["session_id"] == first["session_id"]
    assert again["chunks_received"] == [False, True, False]
    assert again["bytes_received"] == KB
    assert again["created_at"] == first["created_at"]
    # Different count/size/hash is a different upload.
    other = session_of(h.begin(ALICE, memory_id, data, chunk_size=512))
    assert other["session_id"] != first["session_id"]


def test_begin_does_not_resume_an_expired_session(h: Harness) -> None:
    memory_id, data = new_uuid(), payload(100)
    first = session_of(h.begin(ALICE, memory_id, data))
    h.advance(30 * MINUTE + 1)
    second = session_of(h.begin(ALICE, memory_id, data))
    assert second["session_id"] != first["session_id"]
    assert status_of(h, first["session_id"]) == "Expired"


def _fill_active(h: Harness, caller: Any = ALICE, n: int = 3) -> list[str]:
    return [new_session(h, caller)["session_id"] for _ in range(n)]


def test_rate_limit_refuses_the_n_plus_first_session_and_frees_the_slot_on_cancel(h: Harness) -> None:
    sessions = _fill_active(h)
    with Unchanged(h):
        result = h.call(ALICE, "begin_asset_upload", new_uuid(), *begin_args(payload(10)))
    assert internal_text(result) == "Rate limit exceeded: 3 concurrent uploads (max 3)"
    # Other callers have their own allowance.
    new_session(h, BOB)
    data_of(h.call(ALICE, "cancel_upload", sessions[0]))
    new_session(h)


@pytest.mark.parametrize("finish", ["commit", "expire", "fail"])
def test_finished_sessions_release_their_rate_limit_slot(h: Harness, finish: str) -> None:
    data = payload(100)
    memory_id = new_uuid()
    sid = session_of(h.begin(ALICE, memory_id, data))["session_id"]
    _fill_active(h, n=2)
    if finish == "commit":
        data_of(h.call(ALICE, "put_chunk", sid, 0, data))
        data_of(h.call(ALICE, "commit_asset", sid, sha(data)))
    elif finish == "fail":
        data_of(h.call(ALICE, "put_chunk", sid, 0, data))
        err(h.call(ALICE, "commit_asset", sid, "0" * 64))
    else:
        h.advance(30 * MINUTE + 1)
        internal_text(h.call(ALICE, "put_chunk", sid, 0, data))
    new_session(h)


def test_rate_limit_counts_only_unexpired_sessions(h: Harness) -> None:
    _fill_active(h)
    h.advance(30 * MINUTE + 1)  # all three expire without any call touching them
    new_session(h)


def test_daily_quota_counts_begins_in_a_sliding_24_hours() -> None:
    h = Harness(config={**SMALL_LIMITS, "daily_upload_quota": 2, "max_active_sessions": 10})
    first = new_session(h)["session_id"]
    h.advance(HOUR)
    new_session(h)
    data_of(h.call(ALICE, "cancel_upload", first))  # cancelling does not give a begin back
    with Unchanged(h):
        result = h.call(ALICE, "begin_asset_upload", new_uuid(), *begin_args(payload(10)))
    assert internal_text(result).startswith("Quota exceeded: ")
    new_session(h, BOB)  # per caller
    h.advance(DAY - HOUR)  # the first begin is now exactly 24 h old
    new_session(h)
    with Unchanged(h):
        assert internal_text(h.begin(ALICE, new_uuid(), payload(10))).startswith("Quota exceeded: ")
    h.advance(HOUR + 1)
    new_session(h)


def test_resuming_does_not_count_against_the_daily_quota() -> None:
    h = Harness(config={**SMALL_LIMITS, "daily_upload_quota": 1})
    memory_id, data = new_uuid(), payload(10)
    first = session_of(h.begin(ALICE, memory_id, data))
    assert session_of(h.begin(ALICE, memory_id, data))["session_id"] == first["session_id"]


def test_byte_quota_counts_committed_bytes_plus_the_new_upload() -> None:
    h = Harness(config={**SMALL_LIMITS, "byte_quota": 3000})
    h.upload(ALICE, new_uuid(), payload(2000))
    with Unchanged(h):
        result = h.begin(ALICE, new_uuid(), payload(1001))
    assert internal_text(result).startswith("Quota exceeded: ")
    data_of(h.begin(ALICE, new_uuid(), payload(1000)))  # exactly at the quota is allowed
    data_of(h.begin(BOB, new_uuid(), payload(3000)))


def test_replacing_an_asset_moves_the_committed_byte_count() -> None:
    h = Harness(config={**SMALL_LIMITS, "byte_quota": 3000})
    memory_id = new_uuid()
    h.upload(ALICE, memory_id, payload(2000))
    h.upload(ALICE, memory_id, payload(500))  # replaces: committed is now 500
    assert h.sql("SELECT committed_bytes FROM af_caller_stats")[0][0] == 500
    data_of(h.begin(ALICE, new_uuid(), payload(2500)))


# Check order: where two rules apply, the earlier one answers.
@pytest.mark.parametrize(
    "case",
    [
        "anonymous_before_uuid",
        "uuid_before_hash",
        "foreign_before_hash",
        "hash_before_size",
        "size_before_chunk_count",
        "chunk_count_before_already_exists",
        "already_exists_before_rate_limit",
        "resume_before_rate_limit",
        "rate_limit_before_quota",
    ],
)
def test_begin_check_order(case: str) -> None:
    h = Harness(config={**SMALL_LIMITS, "daily_upload_quota": 4})
    good_hash = "ab" * 32
    if case == "anonymous_before_uuid":
        assert err(h.call(ANON, "begin_asset_upload", "NOT-A-UUID", good_hash, 1, 1)) == {
            "Unauthorized": None
        }
    elif case == "uuid_before_hash":
        assert internal_text(h.call(ALICE, "begin_asset_upload", "x", "bad", 1, 1)).startswith("Invalid UUID")
    elif case == "foreign_before_hash":
        memory_id = new_uuid()
        new_session(h, BOB, memory_id=memory_id)
        result = h.call(ALICE, "begin_asset_upload", memory_id, "bad", 1, 1)
        assert err(result) == {"Unauthorized": None}
    elif case == "hash_before_size":
        result = h.call(ALICE, "begin_asset_upload", new_uuid(), "bad", 1, 10**9)
        assert err(result) == {"InvalidHash": None}
    elif case == "size_before_chunk_count":
        result = h.call(ALICE, "begin_asset_upload", new_uuid(), good_hash, 0, 10**9)
        assert internal_text(result) == "File size exceeds 8KB limit"
    elif case == "chunk_count_before_already_exists":
        memory_id, data = new_uuid(), payload(100)
        h.upload(ALICE, memory_id, data)
        result = h.call(ALICE, "begin_asset_upload", memory_id, sha(data), 0, len(data))
        assert internal_text(result) == "Invalid chunk count"
    elif case == "already_exists_before_rate_limit":
        memory_id, data = new_uuid(), payload(100)
        h.upload(ALICE, memory_id, data)
        _fill_active(h)
        assert err(h.begin(ALICE, memory_id, data)) == {"AlreadyExists": None}
    elif case == "resume_before_rate_limit":
        memory_id, data = new_uuid(), payload(100)
        first = session_of(h.begin(ALICE, memory_id, data))
        _fill_active(h, n=2)
        assert session_of(h.begin(ALICE, memory_id, data))["session_id"] == first["session_id"]
    elif case == "rate_limit_before_quota":
        h2 = Harness(config={**SMALL_LIMITS, "daily_upload_quota": 3})
        _fill_active(h2)
        result = h2.begin(ALICE, new_uuid(), payload(10))
        assert internal_text(result).startswith("Rate limit exceeded")
    else:  # pragma: no cover
        pytest.fail(case)


def test_concurrent_begins_never_exceed_the_limit(h: Harness) -> None:
    """The runtime serialises updates; the count and the insert share one transaction."""
    results = [h.begin(ALICE, new_uuid(), payload(10)) for _ in range(10)]
    assert sum(r["success"] for r in results) == 3
    assert h.count("af_sessions", "status = 'Active'") == 3


# -- put_chunk ---------------------------------------------------------------------------------------


def test_put_chunk_stores_chunks_and_reports_cumulative_bytes(h: Harness) -> None:
    data = payload(2 * KB + 10)
    sid = new_session(h, data=data)["session_id"]
    parts = chunks_of(data, KB)
    first = data_of(h.call(ALICE, "put_chunk", sid, 2, parts[2]))
    assert first == {
        "success": True,
        "chunk_index": 2,
        "bytes_received": 10,
        "message": first["message"],
        "error": None,
    }
    assert data_of(h.call(ALICE, "put_chunk", sid, 0, parts[0]))["bytes_received"] == KB + 10
    assert data_of(h.call(ALICE, "put_chunk", sid, 1, parts[1]))["bytes_received"] == 2 * KB + 10
    assert chunk_rows(h, sid) == 3


def test_put_chunk_identical_retry_is_counted_once(h: Harness) -> None:
    data = payload(2 * KB)
    sid = new_session(h, data=data)["session_id"]
    part = chunks_of(data, KB)[0]
    data_of(h.call(ALICE, "put_chunk", sid, 0, part))
    with Unchanged(h):
        retry = data_of(h.call(ALICE, "put_chunk", sid, 0, part))
    assert retry["bytes_received"] == KB and retry["success"] is True


def test_put_chunk_identical_retry_of_the_last_chunk_succeeds_when_complete(h: Harness) -> None:
    data = payload(2 * KB)
    sid = new_session(h, data=data)["session_id"]
    for i, part in enumerate(chunks_of(data, KB)):
        data_of(h.call(ALICE, "put_chunk", sid, i, part))
    assert data_of(h.call(ALICE, "put_chunk", sid, 1, chunks_of(data, KB)[1]))["bytes_received"] == 2 * KB


def test_put_chunk_with_different_bytes_keeps_the_stored_chunk(h: Harness) -> None:
    data = payload(2 * KB)
    sid = new_session(h, data=data)["session_id"]
    part = chunks_of(data, KB)[0]
    data_of(h.call(ALICE, "put_chunk", sid, 0, part))
    with Unchanged(h):
        assert err(h.call(ALICE, "put_chunk", sid, 0, b"x" * KB)) == {"AlreadyExists": None}
    stored = h.sql("SELECT data FROM af_chunks WHERE idx = 0")[0][0]
    assert bytes(stored) == part


def test_put_chunk_refusals(h: Harness) -> None:
    data = payload(2 * KB)
    sid = new_session(h, data=data)["session_id"]
    with Unchanged(h):
        assert err(h.call(ANON, "put_chunk", sid, 0, b"x")) == {"Unauthorized": None}
        assert err(h.call(ALICE, "put_chunk", "no-such-session", 0, b"x")) == {"NotFound": None}
        assert err(h.call(BOB, "put_chunk", sid, 0, b"x")) == {"Unauthorized": None}
        assert (
            internal_text(h.call(ALICE, "put_chunk", sid, 0, b"x" * (KB + 1)))
            == "Chunk size exceeds 1KB limit"
        )
        assert internal_text(h.call(ALICE, "put_chunk", sid, 2, b"x")) == "Invalid chunk index"
        assert internal_text(h.call(ALICE, "put_chunk", sid, 2**32 - 1, b"x")) == "Invalid chunk index"


def test_put_chunk_refuses_bytes_beyond_the_declared_total(h: Harness) -> None:
    data = payload(KB + 10)
    sid = new_session(h, data=data)["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, data[:KB]))
    with Unchanged(h):
        result = h.call(ALICE, "put_chunk", sid, 1, b"y" * 11)
    assert internal_text(result) == "Upload exceeds declared total size"


def test_put_chunk_rule_order_size_before_index(h: Harness) -> None:
    sid = new_session(h, data=payload(10))["session_id"]
    assert (
        internal_text(h.call(ALICE, "put_chunk", sid, 99, b"x" * (KB + 1))) == "Chunk size exceeds 1KB limit"
    )


def test_put_chunk_on_an_expired_session_finishes_it(h: Harness) -> None:
    data = payload(2 * KB)
    sid = new_session(h, data=data)["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, data[:KB]))
    h.advance(30 * MINUTE)
    data_of(h.call(ALICE, "put_chunk", sid, 1, data[KB:]))  # at exactly created_at + lifetime: still alive
    h.advance(1)
    assert internal_text(h.call(ALICE, "put_chunk", sid, 1, data[KB:])) == "Session expired"
    assert status_of(h, sid) == "Expired"
    assert chunk_rows(h, sid) == 0
    with Unchanged(h):
        assert internal_text(h.call(ALICE, "put_chunk", sid, 1, data[KB:])) == "Session expired"


@pytest.mark.parametrize(
    ("finish", "prefix"),
    [("cancel", "Session cancelled"), ("fail", "Session failed"), ("commit", "Session already committed")],
)
def test_put_chunk_on_finished_sessions(h: Harness, finish: str, prefix: str) -> None:
    data = payload(100)
    sid = new_session(h, data=data)["session_id"]
    if finish == "cancel":
        data_of(h.call(ALICE, "cancel_upload", sid))
    else:
        data_of(h.call(ALICE, "put_chunk", sid, 0, data))
        data_of(h.call(ALICE, "commit_asset", sid, sha(data))) if finish == "commit" else err(
            h.call(ALICE, "commit_asset", sid, "0" * 64)
        )
    with Unchanged(h):
        assert internal_text(h.call(ALICE, "put_chunk", sid, 0, data)).startswith(prefix)


# -- commit_asset ------------------------------------------------------------------------------------


def test_commit_verifies_and_stores_the_asset(h: Harness) -> None:
    from emulator.canisters.artifact.uploads import iter_asset_chunks

    memory_id, data = new_uuid(), payload(3 * KB - 7)
    sid = session_of(h.begin(ALICE, memory_id, data))["session_id"]
    for i, part in enumerate(chunks_of(data, KB)):
        data_of(h.call(ALICE, "put_chunk", sid, i, part))
    assert data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))["asset_present"] is False
    result = data_of(h.call(ALICE, "commit_asset", sid, sha(data).upper()))
    assert result == {
        "success": True,
        "memory_id": memory_id,
        "final_hash": sha(data),
        "total_bytes": len(data),
        "message": result["message"],
        "error": None,
    }
    assert status_of(h, sid) == "Completed"
    assert data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))["asset_present"] is True
    assert chunk_rows(h, sid) == 3  # the asset keeps the session's chunk rows
    with h.store.read() as db:
        streamed = list(iter_asset_chunks(db, memory_id))
    assert streamed == chunks_of(data, KB)
    # A retry of the commit (reply lost) gets the same success, and nothing changes.
    with Unchanged(h):
        assert data_of(h.call(ALICE, "commit_asset", sid, sha(data))) == result


def test_commit_of_an_empty_asset(h: Harness) -> None:
    memory_id = new_uuid()
    sid = session_of(h.call(ALICE, "begin_asset_upload", memory_id, sha(b""), 1, 0))["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, b""))
    assert data_of(h.call(ALICE, "commit_asset", sid, sha(b"")))["total_bytes"] == 0


def test_commit_with_missing_chunks_keeps_the_session_active(h: Harness) -> None:
    data = payload(3 * KB)
    sid = new_session(h, data=data)["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 1, data[KB : 2 * KB]))
    with Unchanged(h):
        text = internal_text(h.call(ALICE, "commit_asset", sid, sha(data)))
    assert text.startswith("Missing chunks: 2")
    assert status_of(h, sid) == "Active"


def test_commit_with_a_size_mismatch_fails_the_session(h: Harness) -> None:
    data = payload(2 * KB)
    sid = new_session(h, data=data)["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, data[:KB]))
    data_of(h.call(ALICE, "put_chunk", sid, 1, data[KB : KB + 100]))
    assert internal_text(h.call(ALICE, "commit_asset", sid, sha(data))).startswith("Size mismatch")
    assert status_of(h, sid) == "Failed"
    assert chunk_rows(h, sid) == 0


def test_commit_with_a_final_hash_other_than_expected_fails_the_session(h: Harness) -> None:
    memory_id, data = new_uuid(), payload(100)
    sid = session_of(h.begin(ALICE, memory_id, data))["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, data))
    assert err(h.call(ALICE, "commit_asset", sid, sha(b"other"))) == {"InvalidHash": None}
    assert status_of(h, sid) == "Failed"
    assert chunk_rows(h, sid) == 0
    assert data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))["asset_present"] is False
    # The caller must start again (requirement 18.4): the session can no longer be used.
    assert internal_text(h.call(ALICE, "commit_asset", sid, sha(data))).startswith("Session failed")
    h.upload(ALICE, memory_id, data)


def test_commit_detects_corrupted_chunks(h: Harness) -> None:
    """The bytes stored do not hash to the declared hash, though the client claims they do."""
    memory_id, data = new_uuid(), payload(2 * KB)
    corrupted = data[:-1] + bytes([data[-1] ^ 0xFF])
    sid = session_of(h.begin(ALICE, memory_id, data))["session_id"]
    for i, part in enumerate(chunks_of(corrupted, KB)):
        data_of(h.call(ALICE, "put_chunk", sid, i, part))
    assert err(h.call(ALICE, "commit_asset", sid, sha(data))) == {"InvalidHash": None}
    assert status_of(h, sid) == "Failed"
    assert h.count("af_assets") == 0
    assert data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))["asset_present"] is False


def test_commit_refusals(h: Harness) -> None:
    data = payload(10)
    sid = new_session(h, data=data)["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, data))
    with Unchanged(h):
        assert err(h.call(ANON, "commit_asset", sid, sha(data))) == {"Unauthorized": None}
        assert err(h.call(ALICE, "commit_asset", "nope", sha(data))) == {"NotFound": None}
        assert err(h.call(BOB, "commit_asset", sid, sha(data))) == {"Unauthorized": None}
    h.advance(31 * MINUTE)
    assert internal_text(h.call(ALICE, "commit_asset", sid, sha(data))) == "Session expired"
    assert status_of(h, sid) == "Expired"
    assert chunk_rows(h, sid) == 0


def test_commit_replacing_an_asset_frees_the_old_chunks(h: Harness) -> None:
    memory_id = new_uuid()
    old = h.upload(ALICE, memory_id, payload(2 * KB))
    new_data = payload(KB)
    new = h.upload(ALICE, memory_id, new_data)
    assert chunk_rows(h, old) == 0
    assert chunk_rows(h, new) == 1
    assert h.sql("SELECT sha256, total_bytes FROM af_assets")[0] == (sha(new_data), KB)


def test_commit_streams_a_many_chunk_asset() -> None:
    h = Harness(config={**SMALL_LIMITS, "max_chunk_count": 200, "max_asset_size": 200 * KB})
    data = payload(200 * KB)
    h.upload(ALICE, new_uuid(), data)
    assert h.count("af_chunks") == 200


# -- cancel_upload -----------------------------------------------------------------------------------


def test_cancel_frees_chunks_and_is_repeatable(h: Harness) -> None:
    data = payload(2 * KB)
    sid = new_session(h, data=data)["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, data[:KB]))
    result = h.call(ALICE, "cancel_upload", sid)
    assert data_of(result) == some(None)
    assert status_of(h, sid) == "Cancelled"
    assert chunk_rows(h, sid) == 0
    with Unchanged(h):
        data_of(h.call(ALICE, "cancel_upload", sid))
        data_of(h.call(ALICE, "cancel_upload", "unknown-session"))


def test_cancel_refusals(h: Harness) -> None:
    data = payload(10)
    sid = new_session(h, data=data)["session_id"]
    with Unchanged(h):
        assert err(h.call(ANON, "cancel_upload", sid)) == {"Unauthorized": None}
        assert err(h.call(ANON, "cancel_upload", "unknown")) == {"Unauthorized": None}
        assert err(h.call(BOB, "cancel_upload", sid)) == {"Unauthorized": None}
    data_of(h.call(ALICE, "put_chunk", sid, 0, data))
    data_of(h.call(ALICE, "commit_asset", sid, sha(data)))
    with Unchanged(h):
        assert err(h.call(BOB, "cancel_upload", sid)) == {"Unauthorized": None}
        data_of(h.call(ALICE, "cancel_upload", sid))  # a completed upload stays completed
    assert status_of(h, sid) == "Completed"


def test_cancel_of_an_expired_session_finishes_it_as_expired(h: Harness) -> None:
    sid = new_session(h)["session_id"]
    h.advance(31 * MINUTE)
    data_of(h.call(ALICE, "cancel_upload", sid))
    assert status_of(h, sid) == "Expired"


# -- expiry and the clean-up timer ---------------------------------------------------------------------


def test_cleanup_timer_frees_expired_chunks_without_a_call(h: Harness) -> None:
    data = payload(2 * KB)
    sid = new_session(h, data=data)["session_id"]
    data_of(h.call(ALICE, "put_chunk", sid, 0, data[:KB]))
    h.run_cleanup_timer()
    assert chunk_rows(h, sid) == 1  # not expired yet
    h.advance(30 * MINUTE + 1)
    h.run_cleanup_timer()
    assert status_of(h, sid) == "Expired"
    assert chunk_rows(h, sid) == 0


def test_cleanup_purges_finished_records_after_the_retention_only(h: Harness) -> None:
    memory_id, data = new_uuid(), payload(100)
    done = h.upload(ALICE, memory_id, data)
    cancelled = new_session(h)["session_id"]
    data_of(h.call(ALICE, "cancel_upload", cancelled))
    h.advance(DAY - 1)
    h.run_cleanup_timer()
    assert data_of(h.query(ALICE, "get_upload_progress", done))["status"] == {"Completed": None}
    data_of(h.call(ALICE, "commit_asset", done, sha(data)))  # retry still answered
    h.advance(2)
    h.run_cleanup_timer()
    assert err(h.query(ALICE, "get_upload_progress", done)) == {"NotFound": None}
    assert err(h.query(ALICE, "get_upload_progress", cancelled)) == {"NotFound": None}
    # The committed asset outlives its session record.
    assert data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))["asset_present"] is True
    assert h.count("af_chunks") == 1


def test_cleanup_works_in_bounded_batches() -> None:
    h = Harness(config={**SMALL_LIMITS, "cleanup_batch_size": 2, "max_active_sessions": 5})
    for _ in range(5):
        new_session(h)
    h.advance(31 * MINUTE)
    h.run_cleanup_timer()
    assert h.count("af_sessions", "status = 'Expired'") == 2
    h.run_cleanup_timer()
    h.run_cleanup_timer()
    assert h.count("af_sessions", "status = 'Expired'") == 5


def test_cleanup_timer_interval_is_configurable() -> None:
    h = Harness(config={**SMALL_LIMITS, "cleanup_interval_seconds": 5})
    (timer,) = h.canister.timers()
    assert timer.interval_ns == 5_000_000_000
    assert Harness().canister.timers()[0].interval_ns == 60_000_000_000


# -- progress ------------------------------------------------------------------------------------------


def test_upload_progress_reports_real_numbers(h: Harness) -> None:
    memory_id, data = new_uuid(), payload(4 * KB)
    session = session_of(h.begin(ALICE, memory_id, data))
    sid = session["session_id"]
    progress = data_of(h.query(ALICE, "get_upload_progress", sid))
    assert progress == {
        "session_id": sid,
        "memory_id": memory_id,
        "total_chunks": 4,
        "chunks_received": 0,
        "bytes_received": 0,
        "total_size": 4 * KB,
        "progress_percentage": 0.0,
        "estimated_time_remaining": None,
        "status": {"Active": None},
        "created_at": session["created_at"],
        "expires_at": session["created_at"] + 30 * MINUTE,
    }
    h.advance(2 * 1_000_000_000)
    data_of(h.call(ALICE, "put_chunk", sid, 0, data[:KB]))
    progress = data_of(h.query(ALICE, "get_upload_progress", sid))
    assert progress["chunks_received"] == 1 and progress["bytes_received"] == KB
    assert progress["progress_percentage"] == 25.0
    # 1 KiB in 2 s: the remaining 3 KiB take 6 s.
    assert progress["estimated_time_remaining"] == 6 * 1_000_000_000
    h.advance(2 * 1_000_000_000)  # a stall: the average rate halves
    assert (
        data_of(h.query(ALICE, "get_upload_progress", sid))["estimated_time_remaining"] == 12 * 1_000_000_000
    )


def test_upload_progress_in_every_final_state(h: Harness) -> None:
    data = payload(100)
    done = h.upload(ALICE, new_uuid(), data)
    finished = data_of(h.query(ALICE, "get_upload_progress", done))
    assert finished["status"] == {"Completed": None}
    assert finished["progress_percentage"] == 100.0 and finished["estimated_time_remaining"] == 0
    cancelled = new_session(h)["session_id"]
    data_of(h.call(ALICE, "cancel_upload", cancelled))
    assert data_of(h.query(ALICE, "get_upload_progress", cancelled))["status"] == {"Cancelled": None}
    failed = new_session(h, data=data)["session_id"]
    data_of(h.call(ALICE, "put_chunk", failed, 0, data))
    err(h.call(ALICE, "commit_asset", failed, "0" * 64))
    assert data_of(h.query(ALICE, "get_upload_progress", failed))["status"] == {"Failed": None}
    stale = new_session(h)["session_id"]
    h.advance(31 * MINUTE)  # no call touched it: the query still says Expired
    stale_progress = data_of(h.query(ALICE, "get_upload_progress", stale))
    assert stale_progress["status"] == {"Expired": None}
    assert stale_progress["estimated_time_remaining"] is None


def test_upload_progress_of_other_principals_is_not_found(h: Harness) -> None:
    sid = new_session(h)["session_id"]
    assert err(h.query(BOB, "get_upload_progress", sid)) == {"NotFound": None}
    assert err(h.query(ANON, "get_upload_progress", sid)) == {"NotFound": None}
    assert err(h.query(ALICE, "get_upload_progress", "nope")) == {"NotFound": None}


def test_user_upload_sessions_lists_active_ones_newest_first() -> None:
    h = Harness(config={**SMALL_LIMITS, "max_active_sessions": 6, "max_listed_sessions": 3})
    sids = []
    for _ in range(5):
        sids.append(new_session(h)["session_id"])
        h.advance(1_000)
    data_of(h.call(ALICE, "cancel_upload", sids[4]))
    new_session(h, BOB)
    listed = [s["session_id"] for s in data_of(h.query(ALICE, "get_user_upload_sessions"))["sessions"]]
    assert listed == [sids[3], sids[2], sids[1]]
    assert data_of(h.query(ANON, "get_user_upload_sessions")) == {"sessions": []}
    h.advance(31 * MINUTE)
    assert data_of(h.query(ALICE, "get_user_upload_sessions")) == {"sessions": []}


def test_default_listing_limit_is_ten() -> None:
    h = Harness(config={**SMALL_LIMITS, "max_active_sessions": 12})
    for _ in range(12):
        new_session(h)
    assert len(data_of(h.query(ALICE, "get_user_upload_sessions"))["sessions"]) == 10
