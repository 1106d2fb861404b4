"""§3, seed task 1.3: `upsert_metadata` with idempotency keys `<memoryId>:metadata:<contentHash>`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from clients.artifact.types import MemoryType

from .calls import SuiteClient
from .kit import metadata, metadata_key, new_id, refused, sha
from .target import Target

pytestmark = [pytest.mark.task("1.3"), pytest.mark.portable, pytest.mark.method("upsert_metadata")]


def _presence(caller: SuiteClient, memory_id: str) -> tuple[bool, bool]:
    p = caller.get_memory_presence_icp(memory_id)
    return p.metadata_present, p.asset_present


@pytest.mark.req("22.5", "25")
@pytest.mark.method("get_memory_presence_icp")
def test_upsert_stores_metadata(alice: SuiteClient) -> None:
    """A first upsert succeeds with `memory_id = opt id` and makes `metadata_present` true (and only
    that: no asset appears)."""
    mid = new_id()
    assert _presence(alice, mid) == (False, False)
    reply = alice.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid))
    assert (reply.success, reply.memory_id, reply.error) == (True, mid, None)
    assert _presence(alice, mid) == (True, False)


@pytest.mark.req("24.5")
@pytest.mark.parametrize("memory_type", list(MemoryType))
@pytest.mark.method("get_memory_presence_icp")
def test_each_memory_type_is_accepted(alice: SuiteClient, memory_type: MemoryType) -> None:
    """All five memory types (Image, Video, Audio, Document, Note) are accepted."""
    mid = new_id()
    assert alice.upsert_metadata(mid, memory_type, metadata(), metadata_key(mid)).success
    assert _presence(alice, mid) == (True, False)


@pytest.mark.req("22.5", "18.5")
@pytest.mark.task("1.7")
def test_same_key_is_applied_once(alice: SuiteClient) -> None:
    """The same key again (even with other metadata) succeeds, says it was already applied, and is
    not a new write."""
    mid = new_id()
    key = metadata_key(mid, "v1")
    first = alice.upsert_metadata(mid, MemoryType.IMAGE, metadata("one"), key)
    assert "already" not in first.message.lower(), first.message
    again = alice.upsert_metadata(mid, MemoryType.IMAGE, metadata("two"), key)
    assert (again.success, again.memory_id) == (True, mid)
    assert "already applied" in again.message.lower(), again.message


@pytest.mark.req("22.5")
def test_new_key_replaces_the_metadata(alice: SuiteClient) -> None:
    """A new key is a new write (an upsert): it succeeds and is not reported as already applied."""
    mid = new_id()
    alice.upsert_metadata(mid, MemoryType.IMAGE, metadata("one"), metadata_key(mid, "v1"))
    second = alice.upsert_metadata(mid, MemoryType.VIDEO, metadata("two"), metadata_key(mid, "v2"))
    assert second.success
    assert "already" not in second.message.lower(), second.message


@pytest.mark.req("22.5", "18.5")
@pytest.mark.parametrize("variant", ["longer", "shorter"])
def test_keys_are_compared_exactly(alice: SuiteClient, variant: str) -> None:
    """Keys are compared exactly, never by prefix or substring: a key that contains, or is contained
    in, an applied key is a new write."""
    mid = new_id()
    key = metadata_key(mid, "v1")
    alice.upsert_metadata(mid, MemoryType.IMAGE, metadata("one"), key)
    other = key + "0" if variant == "longer" else key[:-1]
    reply = alice.upsert_metadata(mid, MemoryType.IMAGE, metadata("two"), other)
    assert reply.success
    assert "already" not in reply.message.lower(), f"{other!r} was treated as {key!r}: {reply.message}"


BAD_KEYS: dict[str, Callable[[str, str], str]] = {
    "empty": lambda m, o: "",
    "id only": lambda m, o: m,
    "two parts": lambda m, o: f"{m}:metadata",
    "other artifact": lambda m, o: f"{m}:asset:{sha(b'x')}",
    "other memory": lambda m, o: f"{o}:metadata:{sha(b'x')}",
    "id with suffix": lambda m, o: f"{m}0:metadata:{sha(b'x')}",
    "id with prefix": lambda m, o: f"0{m}:metadata:{sha(b'x')}",
    "uppercase id": lambda m, o: f"{m.upper()}:metadata:{sha(b'x')}",
    "empty hash": lambda m, o: f"{m}:metadata:",
    "artifact prefix": lambda m, o: f"{m}:meta:{sha(b'x')}",
}


@pytest.mark.req("22.5")
@pytest.mark.method("get_memory_presence_icp")
@pytest.mark.parametrize("shape", sorted(BAD_KEYS))
def test_malformed_keys_are_refused(alice: SuiteClient, shape: str) -> None:
    """A key not of the form `<memoryId>:metadata:<contentHash>` for this very memory is
    `Internal("Invalid idempotency key: …")`, and nothing is stored."""
    mid = new_id()
    key = BAD_KEYS[shape](mid, new_id())
    with refused("Internal", "Invalid idempotency key"):
        # Through call_icp: the typed method would replace an empty key by a computed one.
        alice.call_icp("upsert_metadata", mid, MemoryType.IMAGE.to_candid(), metadata().to_candid(), key)
    assert _presence(alice, mid) == (False, False)


@pytest.mark.req("22.2", "22.1")
@pytest.mark.method("get_memory_presence_icp")
def test_oversized_metadata_is_refused_not_trapped(target: Target, alice: SuiteClient) -> None:
    """Metadata encoded larger than the limit (64 KiB) is `Internal("Metadata too large …")`: a
    reply, never a trap; half the limit is fine."""
    limit = target.limits["max_metadata_size"]
    mid = new_id()
    with refused("Internal", "Metadata too large") as refusal:
        alice.upsert_metadata(
            mid, MemoryType.NOTE, metadata(description="x" * (2 * limit)), metadata_key(mid)
        )
    assert refusal.error is not None and refusal.error.reject_code is None
    assert _presence(alice, mid) == (False, False)
    ok = alice.upsert_metadata(
        mid, MemoryType.NOTE, metadata(description="x" * (limit // 2)), metadata_key(mid)
    )
    assert ok.success


@pytest.mark.req("17.1", "26")
@pytest.mark.task("1.5")
@pytest.mark.method("get_memory_presence_icp")
def test_metadata_of_another_principal_is_unauthorized(alice: SuiteClient, bob: SuiteClient) -> None:
    """Upserting metadata of a memory another principal owns is `Unauthorized`; theirs is untouched."""
    mid = new_id()
    alice.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid, "alice"))
    with refused("Unauthorized"):
        bob.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid, "bob"))
    assert _presence(alice, mid) == (True, False)
    assert _presence(bob, mid) == (False, False)
    assert (
        "already"
        in alice.upsert_metadata(mid, MemoryType.IMAGE, metadata(), metadata_key(mid, "alice")).message
    )


@pytest.mark.req("17.1")
@pytest.mark.task("1.5")
@pytest.mark.parametrize(
    "case, expected",
    [
        ("anonymous with a bad id", ("Unauthorized", None)),
        ("bad id with a bad key", ("Internal", "Invalid UUID")),
    ],
)
def test_checks_apply_in_contract_order(
    alice: SuiteClient, anon: SuiteClient, case: str, expected: tuple[str, str | None]
) -> None:
    """Anonymous is refused before the id is looked at, a bad id before the key."""
    caller = anon if case.startswith("anonymous") else alice
    with refused(*expected):
        caller.upsert_metadata("bad-id", MemoryType.IMAGE, metadata(), "bad-key")
