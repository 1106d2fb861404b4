"""upsert_metadata, get_memory_presence_icp and get_memory_list_presence_icp."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.canister.artifact_harness import (
    ALICE,
    ANON,
    BOB,
    SMALL_LIMITS,
    Harness,
    Unchanged,
    data_of,
    err,
    idem_key,
    internal_text,
    metadata_value,
    new_uuid,
    payload,
)

IMAGE = {"Image": None}


def upsert(h: Harness, caller: Any, memory_id: str, key: str | None = None, **meta: Any) -> Any:
    return h.call(
        caller,
        "upsert_metadata",
        memory_id,
        IMAGE,
        metadata_value(**meta),
        idem_key(memory_id) if key is None else key,
    )


def stored_title(h: Harness, memory_id: str) -> str:
    import json

    body = h.sql("SELECT body FROM af_metadata WHERE memory_id = ?", memory_id)[0][0]
    return str(json.loads(body)["title"])


# -- upsert_metadata ---------------------------------------------------------------------------------


def test_upsert_stores_metadata_and_claims_the_memory(h: Harness) -> None:
    memory_id = new_uuid()
    result = data_of(upsert(h, ALICE, memory_id))
    assert result == {"success": True, "memory_id": memory_id, "message": result["message"], "error": None}
    assert h.sql("SELECT owner FROM af_memories")[0][0] == ALICE.raw
    presence = data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))
    assert presence == {"success": True, "metadata_present": True, "asset_present": False, "error": None}


@pytest.mark.parametrize("memory_type", ["Image", "Video", "Audio", "Document", "Note"])
def test_upsert_accepts_the_five_memory_types(h: Harness, memory_type: str) -> None:
    memory_id = new_uuid()
    data_of(
        h.call(
            ALICE, "upsert_metadata", memory_id, {memory_type: None}, metadata_value(), idem_key(memory_id)
        )
    )
    assert h.sql("SELECT memory_type FROM af_metadata")[0][0] == memory_type


def test_same_key_is_applied_once(h: Harness) -> None:
    memory_id = new_uuid()
    data_of(upsert(h, ALICE, memory_id, title="first"))
    with Unchanged(h):
        again = data_of(upsert(h, ALICE, memory_id, title="changed"))
    assert "already applied" in again["message"]
    assert stored_title(h, memory_id) == "first"


def test_a_new_key_replaces_the_metadata(h: Harness) -> None:
    memory_id = new_uuid()
    data_of(upsert(h, ALICE, memory_id, key=idem_key(memory_id, "h1"), title="first"))
    data_of(upsert(h, ALICE, memory_id, key=idem_key(memory_id, "h2"), title="second"))
    assert stored_title(h, memory_id) == "second"
    # A key applied earlier stays applied: replaying it does not roll the metadata back.
    with Unchanged(h):
        data_of(upsert(h, ALICE, memory_id, key=idem_key(memory_id, "h1"), title="first"))
    assert stored_title(h, memory_id) == "second"


def test_keys_are_compared_exactly_not_by_substring(h: Harness) -> None:
    memory_id = new_uuid()
    data_of(upsert(h, ALICE, memory_id, key=idem_key(memory_id, "abcd"), title="one"))
    for content, title in [("abc", "two"), ("abcde", "three"), ("ABCD", "four")]:
        result = data_of(upsert(h, ALICE, memory_id, key=idem_key(memory_id, content), title=title))
        assert "already applied" not in result["message"]
        assert stored_title(h, memory_id) == title


@pytest.mark.parametrize(
    "make_key",
    [
        lambda m: f"{m}:asset:abc",  # wrong artifact
        lambda m: f"{new_uuid()}:metadata:abc",  # another memory
        lambda m: f"{m.upper()}:metadata:abc",
        lambda m: f"x{m}:metadata:abc",  # contains the id
        lambda m: f"{m}:metadata",  # no hash
        lambda m: f"{m}:metadata:",  # empty hash
        lambda m: f"{m}:metadata:a:b",  # extra part
        lambda m: f"{m}:metadatas:abc",
        lambda m: f"{m}:metadata:a b",
        lambda m: "",
    ],
)
def test_malformed_idempotency_keys_are_refused(h: Harness, make_key: Any) -> None:
    memory_id = new_uuid()
    with Unchanged(h):
        result = upsert(h, ALICE, memory_id, key=make_key(memory_id))
    assert internal_text(result).startswith("Invalid idempotency key: ")


def test_upsert_refusals(h: Harness) -> None:
    memory_id = new_uuid()
    with Unchanged(h):
        assert err(upsert(h, ANON, memory_id)) == {"Unauthorized": None}
        assert internal_text(upsert(h, ALICE, memory_id.upper(), key=idem_key(memory_id.upper()))).startswith(
            "Invalid UUID: "
        )
    data_of(upsert(h, BOB, memory_id))
    with Unchanged(h):
        assert err(upsert(h, ALICE, memory_id, key=idem_key(memory_id, "other"))) == {"Unauthorized": None}
        # Even replaying the owner's key does not let another principal in.
        assert err(upsert(h, ALICE, memory_id)) == {"Unauthorized": None}


def test_upsert_refusal_order(h: Harness) -> None:
    bad = "NOT-A-UUID"
    assert err(h.call(ANON, "upsert_metadata", bad, IMAGE, metadata_value(), "junk")) == {
        "Unauthorized": None
    }
    assert internal_text(h.call(ALICE, "upsert_metadata", bad, IMAGE, metadata_value(), "junk")).startswith(
        "Invalid UUID"
    )
    memory_id = new_uuid()
    data_of(upsert(h, BOB, memory_id))
    # The key is checked before ownership.
    assert internal_text(upsert(h, ALICE, memory_id, key="junk")).startswith("Invalid idempotency key")


def test_oversized_metadata_is_refused_not_trapped(h: Harness) -> None:
    memory_id = new_uuid()
    with Unchanged(h):
        result = upsert(h, ALICE, memory_id, title="x" * (64 * 1024))
    assert internal_text(result).startswith("Metadata too large")
    data_of(upsert(h, ALICE, memory_id, title="x" * (60 * 1024)))


def test_metadata_size_limit_is_configurable() -> None:
    h = Harness(config={**SMALL_LIMITS, "max_metadata_size": 1000})
    memory_id = new_uuid()
    assert internal_text(upsert(h, ALICE, memory_id, tags=["t" * 500, "u" * 500])).startswith(
        "Metadata too large"
    )


# -- presence ----------------------------------------------------------------------------------------


def test_presence_tracks_metadata_and_verified_assets(h: Harness) -> None:
    memory_id = new_uuid()
    assert data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))["metadata_present"] is False
    data_of(upsert(h, ALICE, memory_id))
    h.upload(ALICE, memory_id, payload(100))
    presence = data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))
    assert presence["metadata_present"] is True and presence["asset_present"] is True


def test_presence_of_another_principals_memory_reads_as_absent(h: Harness) -> None:
    memory_id = new_uuid()
    data_of(upsert(h, BOB, memory_id))
    h.upload(BOB, memory_id, payload(100))
    for caller in (ALICE, ANON):
        presence = data_of(h.query(caller, "get_memory_presence_icp", memory_id))
        assert presence["metadata_present"] is False and presence["asset_present"] is False


def test_presence_is_exact_per_id(h: Harness) -> None:
    memory_id = new_uuid()
    data_of(upsert(h, ALICE, memory_id))
    near = memory_id[:-1] + ("0" if memory_id[-1] != "0" else "1")
    assert data_of(h.query(ALICE, "get_memory_presence_icp", near))["metadata_present"] is False
    assert internal_text(h.query(ALICE, "get_memory_presence_icp", memory_id[:-1])).startswith("Invalid UUID")
    assert internal_text(h.query(ALICE, "get_memory_presence_icp", memory_id + "0")).startswith(
        "Invalid UUID"
    )
    assert internal_text(h.query(ALICE, "get_memory_presence_icp", memory_id.upper())).startswith(
        "Invalid UUID"
    )


def test_asset_presence_requires_a_verified_commit(h: Harness) -> None:
    memory_id, data = new_uuid(), payload(100)
    session = data_of(h.begin(ALICE, memory_id, data))["session"]["session_id"]
    data_of(h.call(ALICE, "put_chunk", session, 0, data))
    assert data_of(h.query(ALICE, "get_memory_presence_icp", memory_id))["asset_present"] is False


# -- list presence -------------------------------------------------------------------------------------


def list_presence(
    h: Harness, ids: list[str], cursor: str | None = None, limit: int = 0, caller: Any = ALICE
) -> Any:
    return h.query(caller, "get_memory_list_presence_icp", ids, cursor, limit)


def test_list_presence_answers_in_request_order(h: Harness) -> None:
    ids = [new_uuid() for _ in range(4)]
    data_of(upsert(h, ALICE, ids[1]))
    h.upload(ALICE, ids[2], payload(10))
    data_of(upsert(h, BOB, ids[3]))
    page = data_of(list_presence(h, [*ids, ids[1]]))
    assert page["results"] == [
        {"memory_id": ids[0], "metadata_present": False, "asset_present": False},
        {"memory_id": ids[1], "metadata_present": True, "asset_present": False},
        {"memory_id": ids[2], "metadata_present": False, "asset_present": True},
        {"memory_id": ids[3], "metadata_present": False, "asset_present": False},
        {"memory_id": ids[1], "metadata_present": True, "asset_present": False},
    ]
    assert page["has_more"] is False and page["cursor"] is None and page["success"] is True


def test_list_presence_of_nothing(h: Harness) -> None:
    assert data_of(list_presence(h, [])) == {
        "success": True,
        "results": [],
        "cursor": None,
        "has_more": False,
        "error": None,
    }


@pytest.mark.parametrize(
    ("limit", "page"), [(0, 20), (1, 1), (20, 20), (100, 100), (101, 100), (2**32 - 1, 100)]
)
def test_list_presence_page_sizes(h: Harness, limit: int, page: int) -> None:
    ids = [new_uuid() for _ in range(150)]
    result = data_of(list_presence(h, ids, limit=limit))
    assert len(result["results"]) == page
    assert result["has_more"] is True and result["cursor"] is not None


def test_list_presence_cursor_walks_the_whole_list(h: Harness) -> None:
    ids = [new_uuid() for _ in range(45)]
    for memory_id in ids[::3]:
        data_of(upsert(h, ALICE, memory_id))
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = data_of(list_presence(h, ids, cursor, 20))
        pages += 1
        seen += [r["memory_id"] for r in page["results"]]
        assert all(r["metadata_present"] == (r["memory_id"] in ids[::3]) for r in page["results"])
        if not page["has_more"]:
            assert page["cursor"] is None
            break
        cursor = page["cursor"]
    assert seen == ids and pages == 3


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not a cursor",
        "!!!!",
        "AAAA",
        base64.urlsafe_b64encode(b"\x01" * 13).decode().rstrip("="),
        "x" * 500,
    ],
)
def test_invalid_cursors_are_refused(h: Harness, cursor: str) -> None:
    ids = [new_uuid() for _ in range(30)]
    assert internal_text(list_presence(h, ids, cursor)) == "Invalid cursor"


def test_a_cursor_from_another_list_is_refused(h: Harness) -> None:
    ids = [new_uuid() for _ in range(30)]
    cursor = data_of(list_presence(h, ids))["cursor"]
    assert internal_text(list_presence(h, [new_uuid() for _ in range(30)], cursor)) == "Invalid cursor"
    assert internal_text(list_presence(h, ids[:-1], cursor)) == "Invalid cursor"
    assert internal_text(list_presence(h, list(reversed(ids)), cursor)) == "Invalid cursor"
    assert data_of(list_presence(h, ids, cursor))["results"][0]["memory_id"] == ids[20]


def test_a_tampered_cursor_is_refused(h: Harness) -> None:
    ids = [new_uuid() for _ in range(30)]
    cursor = data_of(list_presence(h, ids))["cursor"]
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[4] = 25  # move the offset without fixing anything else: still our list, so accepted
    moved = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert data_of(list_presence(h, ids, moved))["results"][0]["memory_id"] == ids[25]
    raw[4] = 30  # past the end
    beyond = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    assert internal_text(list_presence(h, ids, beyond)) == "Invalid cursor"
    raw[0] = 9  # unknown version
    assert (
        internal_text(list_presence(h, ids, base64.urlsafe_b64encode(bytes(raw)).decode()))
        == "Invalid cursor"
    )


def test_list_presence_refuses_non_canonical_ids(h: Harness) -> None:
    ids = [new_uuid(), "550E8400-E29B-41D4-A716-446655440000"]
    assert internal_text(list_presence(h, ids)).startswith("Invalid UUID: ")


def test_list_presence_for_the_anonymous_caller_is_all_absent(h: Harness) -> None:
    memory_id = new_uuid()
    data_of(upsert(h, ALICE, memory_id))
    page = data_of(list_presence(h, [memory_id], caller=ANON))
    assert page["results"][0]["metadata_present"] is False
