"""§5 `begin_asset_upload`, seed task 1.4: a new session, or the resumed one, or the first of the
contract's ten refusals that applies, in the contract's order."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

from .calls import SuiteClient
from .kit import begin, new_id, put_all, refused, sha, upload
from .target import Target

pytestmark = [pytest.mark.task("1.4"), pytest.mark.portable, pytest.mark.method("begin_asset_upload")]

MIB = 1024 * 1024
NS_2017 = 1_483_228_800 * 10**9


def _size_label(size: int) -> str | None:
    """How the contract spells a limit in messages ("100MB"); None when it fixes no spelling."""
    return f"{size // MIB}MB" if size % MIB == 0 else None


@pytest.mark.req("22.2", "20.1", "24.1")
def test_begin_creates_a_fresh_session(alice: SuiteClient) -> None:
    """A new session echoes the request and has received nothing: `chunks_received` all false
    (one flag per chunk), `bytes_received = 0`, `created_at` in nanoseconds."""
    mid, data = new_id(), b"z" * 2500
    reply = alice.begin_asset_upload(mid, sha(data), 3, len(data))
    assert reply.success and reply.error is None
    s = reply.session
    assert s is not None
    assert (s.memory_id, s.expected_hash, s.chunk_count, s.total_size) == (mid, sha(data), 3, 2500)
    assert s.chunks_received == (False, False, False)
    assert s.bytes_received == 0
    assert s.created_at > NS_2017
    assert s.session_id


@pytest.mark.req("18.1")
def test_expected_hash_is_case_insensitive_and_answered_lowercase(alice: SuiteClient) -> None:
    """The expected hash is compared case-insensitively and answered in lowercase."""
    data = b"case"
    reply = alice.begin_asset_upload(new_id(), sha(data).upper(), 1, len(data))
    assert reply.session is not None
    assert reply.session.expected_hash == sha(data)


SESSION_ID_SAMPLES = 12


def _bits_per_char(alphabet: set[str]) -> float:
    """What one character can carry at most, judged by the alphabet the ids use."""
    if alphabet <= set("0123456789abcdef") or alphabet <= set("0123456789ABCDEF"):
        return 4.0
    if alphabet <= set("abcdefghijklmnopqrstuvwxyz234567") or alphabet <= set(
        "0123456789abcdefghijklmnopqrstuv"
    ):
        return 5.0
    return 6.0


def varying_bits(ids: list[str]) -> float:
    """Upper bound on the random bits the ids carry: only positions that differ between ids count.

    A constant prefix, a fixed separator or padding adds length but no entropy, so each character
    position is counted only if the samples disagree there; ids of different lengths are compared
    over their common length (the extra length is structure, not randomness, as far as samples show).
    """
    width = min(len(i) for i in ids)
    varying = [p for p in range(width) if len({i[p] for i in ids}) > 1]
    alphabet = {i[p] for i in ids for p in varying}
    return len(varying) * _bits_per_char(alphabet) if varying else 0.0


@pytest.mark.req("17.1")
@pytest.mark.task("1.5")
@pytest.mark.method("cancel_upload")
def test_session_ids_are_unguessable(alice: SuiteClient) -> None:
    """Session ids never repeat, even for identical arguments sent back to back (as close to the same
    canister time as a client can get: on a replica, messages of one block share `ic0.time`), and the
    part of them that varies between ids carries at least 128 bits; constant structure counts for
    nothing."""
    mid, data = new_id(), b"id"
    ids = []
    for _ in range(SESSION_ID_SAMPLES):  # identical arguments every time: same memory, hash and sizes
        staged = begin(alice, mid, data)
        ids.append(staged.session_id)
        alice.cancel_upload(staged.session_id)
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert not repeated, f"session ids repeat for identical arguments: {repeated}"
    bits = varying_bits(ids)
    assert bits >= 128, (
        f"only {bits:.0f} bits vary between {len(ids)} session ids (constant parts carry none), e.g. "
        f"{ids[0]!r} and {ids[1]!r}"
    )


BAD_HASHES = {
    "short": "abc",
    "63 digits": "a" * 63,
    "65 digits": "a" * 65,
    "not hex": "g" * 64,
    "0x prefix": "0x" + "a" * 62,
    "empty": "",
    "spaces": " " + "a" * 63,
}


@pytest.mark.req("18.1")
@pytest.mark.parametrize("shape", sorted(BAD_HASHES))
def test_malformed_expected_hash_is_invalid_hash(alice: SuiteClient, shape: str) -> None:
    """An expected hash that is not 64 hex digits is `InvalidHash`."""
    with refused("InvalidHash"):
        alice.begin_asset_upload(new_id(), BAD_HASHES[shape], 1, 10)


@pytest.mark.req("22.2")
@pytest.mark.method("cancel_upload")
def test_total_size_limit(target: Target, alice: SuiteClient) -> None:
    """`total_size` up to the max is accepted; above it is `Internal("File size exceeds 100MB
    limit")`, the text following the configured limit."""
    max_size, max_chunk = target.limits["max_asset_size"], target.limits["max_chunk_size"]
    label = _size_label(max_size)
    prefix = f"File size exceeds {label} limit" if label else "File size exceeds"
    count = math.ceil((max_size + 1) / max_chunk)
    with refused("Internal", prefix):
        alice.begin_asset_upload(
            new_id(), "ab" * 32, min(count, target.limits["max_chunk_count"]), max_size + 1
        )
    at_max = math.ceil(max_size / max_chunk)
    if at_max <= target.limits["max_chunk_count"]:
        reply = alice.begin_asset_upload(new_id(), "ab" * 32, at_max, max_size)
        assert reply.session is not None and reply.session.total_size == max_size
        alice.cancel_upload(reply.session.session_id)


def _bad_counts(limits: Target) -> dict[str, tuple[int, int]]:
    max_chunk, max_count = limits.limits["max_chunk_size"], limits.limits["max_chunk_count"]
    return {
        "zero chunks": (0, 10),
        "above the maximum count": (max_count + 1, max_count + 1),
        "too few chunks for the size": (2, 2 * max_chunk + 1),
        "more chunks than bytes": (6, 5),
        "two chunks for an empty asset": (2, 0),
    }


@pytest.mark.req("22.2")
@pytest.mark.parametrize(
    "case",
    [
        "zero chunks",
        "above the maximum count",
        "too few chunks for the size",
        "more chunks than bytes",
        "two chunks for an empty asset",
    ],
)
def test_invalid_chunk_count(target: Target, alice: SuiteClient, case: str) -> None:
    """`chunk_count` 0, above the max, unable to carry `total_size`, or larger than
    `max(total_size, 1)` is `Internal("Invalid chunk count")`."""
    count, size = _bad_counts(target)[case]
    if size > target.limits["max_asset_size"]:
        pytest.skip("the case needs an asset larger than the target's max asset size")
    with refused("Internal", "Invalid chunk count"):
        alice.begin_asset_upload(new_id(), "ab" * 32, count, size)


@pytest.mark.req("22.2")
@pytest.mark.method("cancel_upload")
def test_boundary_chunk_counts_are_accepted(target: Target, alice: SuiteClient) -> None:
    """The largest chunk count, a count that exactly carries the size, and one chunk for an empty
    asset are all accepted."""
    max_chunk, max_count = target.limits["max_chunk_size"], target.limits["max_chunk_count"]
    for count, size in ((max_count, max_count), (2, 2 * max_chunk), (1, 0)):
        reply = alice.begin_asset_upload(new_id(), "ab" * 32, count, size)
        assert reply.session is not None and (reply.session.chunk_count, reply.session.total_size) == (
            count,
            size,
        )
        alice.cancel_upload(reply.session.session_id)


@pytest.mark.req("18.5", "22.1")
@pytest.mark.task("1.7")
@pytest.mark.method("put_chunk", "commit_asset")
def test_same_committed_bytes_are_already_exists(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Beginning an upload whose SHA-256 the caller already committed for this memory is
    `AlreadyExists` (in either letter case): there is nothing to do."""
    mid, data = new_id(), blob(1200)
    upload(alice, mid, data)
    with refused("AlreadyExists"):
        alice.begin_asset_upload(mid, sha(data), 2, len(data))
    with refused("AlreadyExists"):
        alice.begin_asset_upload(mid, sha(data).upper(), 2, len(data))


@pytest.mark.req("18.5", "18.1")
@pytest.mark.method("put_chunk", "commit_asset", "get_memory_presence_icp", "cancel_upload")
def test_other_bytes_replace_the_committed_asset(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """Other bytes for the same memory are a new upload that replaces the asset; the old bytes are
    then no longer "already there"."""
    mid, first, second = new_id(), blob(700, "first"), blob(900, "second")
    upload(alice, mid, first)
    reply = upload(alice, mid, second)
    assert (reply.final_hash, reply.total_bytes) == (sha(second), len(second))
    assert alice.get_memory_presence_icp(mid).asset_present
    again = begin(alice, mid, first)
    assert again.session.expected_hash == sha(first)
    alice.cancel_upload(again.session_id)


@pytest.mark.req("6", "18.5")
@pytest.mark.task("1.7")
@pytest.mark.method("put_chunk", "commit_asset")
def test_begin_again_resumes_the_active_session(alice: SuiteClient, blob: Callable[..., bytes]) -> None:
    """The same memory, hash, count and size while a session is active returns that session as it
    stands; `chunks_received` tells the client what is missing, and finishing it works."""
    mid, data = new_id(), blob(2500)
    staged = begin(alice, mid, data)
    put_all(alice, staged, [0, 2])
    resumed = begin(alice, mid, data)
    assert resumed.session_id == staged.session_id
    assert resumed.session.chunks_received == (True, False, True)
    assert resumed.session.bytes_received == len(staged.chunks[0]) + len(staged.chunks[2])
    assert resumed.session.created_at == staged.session.created_at
    put_all(alice, resumed, [1])
    reply = alice.commit_asset(resumed.session_id, sha(data))
    assert (reply.final_hash, reply.total_bytes) == (sha(data), len(data))


@pytest.mark.req("22.2")
@pytest.mark.method("cancel_upload")
@pytest.mark.parametrize("change", ["chunk count", "hash"])
def test_begin_with_other_parameters_is_a_new_session(
    alice: SuiteClient, blob: Callable[..., bytes], change: str
) -> None:
    """A begin for the same memory with another chunk count or hash is not a resume."""
    mid, data = new_id(), blob(2000)
    first = begin(alice, mid, data)
    if change == "chunk count":
        second = begin(alice, mid, data, chunk_size=500)
    else:
        second = begin(alice, mid, blob(2000, "other"))
    assert second.session_id != first.session_id
    assert second.session.chunks_received == (False,) * len(second.chunks)
    for s in (first, second):
        alice.cancel_upload(s.session_id)


ORDER_CASES = [
    "anonymous with an invalid id",
    "invalid id with an invalid hash",
    "foreign memory with an invalid hash",
    "invalid hash with an oversized asset",
    "oversized asset with an invalid chunk count",
    "invalid chunk count for already committed bytes",
    "already committed bytes at the session limit",
    "resume at the session limit",
]


@pytest.mark.req("22.1", "22.2")
@pytest.mark.method("put_chunk", "commit_asset")
@pytest.mark.parametrize("case", ORDER_CASES)
def test_checks_apply_in_contract_order(
    target: Target,
    alice: SuiteClient,
    bob: SuiteClient,
    anon: SuiteClient,
    blob: Callable[..., bytes],
    case: str,
) -> None:
    """When a begin breaks several rules, the first in the contract's order answers (anonymous, id,
    ownership, hash, size, count, already committed, resume, session limit, quota)."""
    too_big = target.limits["max_asset_size"] + 1
    if case == "anonymous with an invalid id":
        with refused("Unauthorized"):
            anon.begin_asset_upload("bad", "ab" * 32, 1, 1)
    elif case == "invalid id with an invalid hash":
        with refused("Internal", "Invalid UUID"):
            alice.begin_asset_upload("bad", "bad", 1, 1)
    elif case == "foreign memory with an invalid hash":
        mid = new_id()
        begin(alice, mid, b"mine")
        with refused("Unauthorized"):
            bob.begin_asset_upload(mid, "bad", 1, 1)
    elif case == "invalid hash with an oversized asset":
        with refused("InvalidHash"):
            alice.begin_asset_upload(new_id(), "bad", 1, too_big)
    elif case == "oversized asset with an invalid chunk count":
        with refused("Internal", "File size exceeds"):
            alice.begin_asset_upload(new_id(), "ab" * 32, 0, too_big)
    elif case == "invalid chunk count for already committed bytes":
        mid, data = new_id(), blob(10)
        upload(alice, mid, data)
        with refused("Internal", "Invalid chunk count"):
            alice.begin_asset_upload(mid, sha(data), 0, len(data))
    else:
        limit = target.limits["max_active_sessions"]
        committed_mid, committed = new_id(), blob(10, "committed")
        upload(alice, committed_mid, committed)
        staged = [begin(alice, new_id(), blob(10, f"s{i}")) for i in range(limit)]
        if case == "already committed bytes at the session limit":
            with refused("AlreadyExists"):
                alice.begin_asset_upload(committed_mid, sha(committed), 1, len(committed))
        else:
            again = begin(alice, staged[0].session.memory_id, staged[0].data)
            assert again.session_id == staged[0].session_id
