"""§5 `put_chunk`, seed task 1.4: bounded chunks, cumulative byte counts, idempotent retries,
immutable received chunks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .calls import SuiteClient
from .kit import ANY_CODE, begin, new_id, put_all, refused, sha
from .target import Target

pytestmark = [
    pytest.mark.task("1.4"),
    pytest.mark.portable,
    pytest.mark.method("begin_asset_upload", "put_chunk", "commit_asset"),
]

MIB = 1024 * 1024


@pytest.mark.req("22.2", "10.2")
def test_bytes_received_is_cumulative(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Each `ChunkResponse` echoes the chunk index and the session's cumulative bytes received."""
    data = blob(2500)
    staged = begin(alice, new_id(), data)
    replies = put_all(alice, staged)
    assert [(r.chunk_index, r.bytes_received) for r in replies] == [(0, 1000), (1, 2000), (2, 2500)]
    assert all(r.success and r.error is None for r in replies)


@pytest.mark.req("22.2", "20.1")
def test_chunk_size_limit(target: Target, alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """A chunk of exactly the max chunk size is accepted; one byte more is `Internal("Chunk size
    exceeds 1MB limit")`, the text following the configured limit."""
    max_chunk = target.limits["max_chunk_size"]
    data = blob(2 * max_chunk)
    staged = begin(alice, new_id(), data, chunk_size=max_chunk)
    label = f"{max_chunk // MIB}MB" if max_chunk % MIB == 0 else None
    with refused("Internal", f"Chunk size exceeds {label} limit" if label else "Chunk size exceeds"):
        alice.put_chunk(staged.session_id, 0, staged.chunks[0] + b"!")
    replies = put_all(alice, staged)
    assert [r.bytes_received for r in replies] == [max_chunk, 2 * max_chunk]
    assert alice.commit_asset(staged.session_id, sha(data)).total_bytes == 2 * max_chunk


@pytest.mark.req("22.2")
@pytest.mark.parametrize("index", ["chunk_count", "nat32 max"])
def test_chunk_index_out_of_range(alice: SuiteClient, index: str) -> None:
    """`chunk_index >= chunk_count` is `Internal("Invalid chunk index")`."""
    staged = begin(alice, new_id(), b"x" * 1500)
    bad = len(staged.chunks) if index == "chunk_count" else 2**32 - 1
    with refused("Internal", "Invalid chunk index"):
        alice.put_chunk(staged.session_id, bad, b"x")


@pytest.mark.req("22.2")
def test_bytes_beyond_total_size_are_refused(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """A chunk that would take the bytes received past `total_size` is `Internal("Upload exceeds
    declared total size")` and is not counted; the right chunk then completes the upload."""
    data = blob(1500)
    staged = begin(alice, new_id(), data)
    alice.put_chunk(staged.session_id, 0, staged.chunks[0])
    with refused("Internal", "Upload exceeds declared total size"):
        alice.put_chunk(staged.session_id, 1, blob(1000, "too much"))
    assert alice.put_chunk(staged.session_id, 1, staged.chunks[1]).bytes_received == 1500
    assert alice.commit_asset(staged.session_id, sha(data)).final_hash == sha(data)


@pytest.mark.req("18.5", "6")
@pytest.mark.task("1.7")
def test_identical_retry_is_counted_once(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Sending a received chunk again with identical bytes succeeds and counts nothing twice."""
    data = blob(2000)
    staged = begin(alice, new_id(), data)
    first = alice.put_chunk(staged.session_id, 0, staged.chunks[0])
    retry = alice.put_chunk(staged.session_id, 0, staged.chunks[0])
    assert retry.success and (retry.chunk_index, retry.bytes_received) == (0, first.bytes_received) == (
        0,
        1000,
    )
    assert alice.put_chunk(staged.session_id, 1, staged.chunks[1]).bytes_received == 2000
    reply = alice.commit_asset(staged.session_id, sha(data))
    assert reply.total_bytes == len(data)


@pytest.mark.req("18.5", "18.4")
def test_received_chunk_cannot_be_replaced(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """A received chunk sent again with different bytes is `AlreadyExists`; the stored chunk is kept."""
    data = blob(2000)
    staged = begin(alice, new_id(), data)
    alice.put_chunk(staged.session_id, 0, staged.chunks[0])
    with refused("AlreadyExists"):
        alice.put_chunk(staged.session_id, 0, blob(1000, "different"))
    alice.put_chunk(staged.session_id, 1, staged.chunks[1])
    reply = alice.commit_asset(staged.session_id, sha(data))
    assert (reply.final_hash, reply.total_bytes) == (sha(data), len(data))


@pytest.mark.req("18.1")
def test_chunks_may_arrive_in_any_order(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Chunks sent out of order are assembled by index: the committed hash is that of the original."""
    data = blob(3500)
    staged = begin(alice, new_id(), data)
    replies = put_all(alice, staged, [3, 1, 0, 2])
    assert [r.bytes_received for r in replies] == [500, 1500, 2500, 3500]
    assert alice.commit_asset(staged.session_id, sha(data)).final_hash == sha(data)


@pytest.mark.req("22.1")
def test_unknown_session_is_not_found(alice: SuiteClient) -> None:
    """A session id that was never issued is `NotFound`."""
    with refused("NotFound"):
        alice.put_chunk("0" * 40, 0, b"x")
    with refused("NotFound"):
        alice.commit_asset("no-such-session", "ab" * 32)


@pytest.mark.req("6", "22.2")
@pytest.mark.method("cancel_upload")
@pytest.mark.parametrize("finished_by", ["cancel", "commit"])
def test_finished_session_takes_no_chunks(
    alice: SuiteClient, blob: Callable[..., bytes], finished_by: str
) -> None:
    """A cancelled or committed session accepts no more chunks (the caller must begin again).

    The contract requires the refusal but not its code, so any `ICPErrorCode` passes."""
    data = blob(1500)
    staged = begin(alice, new_id(), data)
    alice.put_chunk(staged.session_id, 0, staged.chunks[0])
    if finished_by == "cancel":
        alice.cancel_upload(staged.session_id)
        with refused(ANY_CODE):
            alice.put_chunk(staged.session_id, 1, staged.chunks[1])
    else:
        alice.put_chunk(staged.session_id, 1, staged.chunks[1])
        alice.commit_asset(staged.session_id, sha(data))
        with refused(ANY_CODE):
            alice.put_chunk(staged.session_id, 1, blob(500, "late"))
