"""Galleries, capsule memories and capsules (contract section 4 and the section 8 defaults)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.canister.artifact_harness import (
    ALICE,
    ANON,
    BOB,
    Harness,
    Unchanged,
    data_of,
    gallery_data,
    idem_key,
    memory_data,
    metadata_value,
    new_uuid,
)

BAD_IDS = [
    "550E8400-E29B-41D4-A716-446655440000",
    "550e8400-e29b-11d4-a716-446655440000",
    "gallery_1703123456789",
]


def store(h: Harness, caller: Any, gallery_id: str, **kwargs: Any) -> Any:
    return h.call(caller, "store_gallery_forever", gallery_data(caller, gallery_id, **kwargs))


def no_update() -> dict[str, Any]:
    return {"title": None, "description": None, "is_public": None, "memory_entries": None}


# -- store_gallery_forever ---------------------------------------------------------------------------


def test_store_keeps_the_web2_id_and_the_canister_clock(h: Harness) -> None:
    gallery_id = new_uuid()
    data = gallery_data(ALICE, gallery_id)
    result = h.call(ALICE, "store_gallery_forever", data)
    assert result == {
        "success": True,
        "gallery_id": gallery_id,
        "icp_gallery_id": gallery_id,
        "message": result["message"],
        "storage_status": {"ICPOnly": None},
    }
    stored = h.query(ALICE, "get_gallery_by_id", gallery_id)
    assert stored == {
        **data["gallery"],
        "created_at": h.now,
        "updated_at": h.now,
        "storage_status": {"ICPOnly": None},
    }


def test_storing_again_is_idempotent_and_rewrites_nothing(h: Harness) -> None:
    gallery_id = new_uuid()
    first = store(h, ALICE, gallery_id, title="original")
    h.advance(1_000)
    with Unchanged(h):
        again = store(h, ALICE, gallery_id, title="changed")
    assert again["success"] is True and "already exists" in again["message"]
    assert (again["gallery_id"], again["icp_gallery_id"]) == (first["gallery_id"], first["icp_gallery_id"])
    assert again["storage_status"] == {"ICPOnly": None}
    assert h.query(ALICE, "get_gallery_by_id", gallery_id)["title"] == "original"


@pytest.mark.parametrize("bad", BAD_IDS)
def test_store_refuses_non_canonical_ids(h: Harness, bad: str) -> None:
    with Unchanged(h):
        result = store(h, ALICE, bad)
    assert result["success"] is False and result["message"].startswith("Invalid UUID")
    assert result["gallery_id"] is None and result["icp_gallery_id"] is None


def test_store_refusals(h: Harness) -> None:
    gallery_id = new_uuid()
    with Unchanged(h):
        assert store(h, ANON, gallery_id)["message"].startswith("Unauthorized")
        # owner_principal fields must both name the caller
        wrong_outer = gallery_data(ALICE, gallery_id)
        wrong_outer["owner_principal"] = BOB
        assert h.call(ALICE, "store_gallery_forever", wrong_outer)["message"].startswith("Unauthorized")
        wrong_inner = gallery_data(ALICE, gallery_id)
        wrong_inner["gallery"]["owner_principal"] = BOB
        assert h.call(ALICE, "store_gallery_forever", wrong_inner)["message"].startswith("Unauthorized")
    assert store(h, BOB, gallery_id)["success"] is True
    with Unchanged(h):
        refused = store(h, ALICE, gallery_id)
    assert refused["success"] is False and refused["message"].startswith("Unauthorized")


def test_store_refusal_order(h: Harness) -> None:
    assert store(h, ANON, "bad")["message"].startswith("Unauthorized")
    data = gallery_data(BOB, "bad")
    assert h.call(ALICE, "store_gallery_forever", data)["message"].startswith("Invalid UUID")


# -- reading galleries ---------------------------------------------------------------------------------


def test_gallery_visibility(h: Harness) -> None:
    private, public = new_uuid(), new_uuid()
    store(h, ALICE, private)
    store(h, ALICE, public, is_public=True)
    assert h.query(ALICE, "get_gallery_by_id", private) is not None
    assert h.query(BOB, "get_gallery_by_id", private) is None
    assert h.query(ANON, "get_gallery_by_id", private) is None
    assert h.query(BOB, "get_gallery_by_id", public)["id"] == public
    assert h.query(ANON, "get_gallery_by_id", public)["id"] == public
    assert h.query(ALICE, "get_gallery_by_id", new_uuid()) is None
    assert h.query(ALICE, "get_gallery_by_id", "junk") is None


def test_gallery_listings(h: Harness) -> None:
    ids = []
    for i in range(3):
        ids.append(new_uuid())
        store(h, ALICE, ids[-1], is_public=(i == 1))
        h.advance(10)
    store(h, BOB, new_uuid())
    assert [g["id"] for g in h.query(ALICE, "get_my_galleries")] == ids
    assert [g["id"] for g in h.query(ALICE, "get_user_galleries", ALICE)] == ids
    assert [g["id"] for g in h.query(BOB, "get_user_galleries", ALICE)] == [ids[1]]
    assert [g["id"] for g in h.query(ANON, "get_user_galleries", ALICE)] == [ids[1]]
    assert h.query(ANON, "get_my_galleries") == []
    assert len(h.query(BOB, "get_my_galleries")) == 1


# -- update_gallery ------------------------------------------------------------------------------------


def test_update_replaces_present_fields_and_bumps_updated_at(h: Harness) -> None:
    gallery_id = new_uuid()
    store(h, ALICE, gallery_id)
    before = h.query(ALICE, "get_gallery_by_id", gallery_id)
    h.advance(5_000)
    entries = [
        {
            "memory_id": new_uuid(),
            "position": 3,
            "gallery_caption": None,
            "is_featured": False,
            "gallery_metadata": "m",
        }
    ]
    result = h.call(
        ALICE,
        "update_gallery",
        gallery_id,
        {"title": "New", "description": "desc", "is_public": True, "memory_entries": entries},
    )
    assert result["success"] is True and result["message"]
    expected = {
        **before,
        "title": "New",
        "description": "desc",
        "is_public": True,
        "memory_entries": entries,
        "updated_at": h.now,
    }
    assert result["gallery"] == expected
    assert h.query(ALICE, "get_gallery_by_id", gallery_id) == expected
    h.advance(5_000)
    untouched = h.call(ALICE, "update_gallery", gallery_id, no_update())["gallery"]
    assert untouched == {**expected, "updated_at": h.now}


def test_update_refusals(h: Harness) -> None:
    gallery_id = new_uuid()
    with Unchanged(h):
        assert h.call(ALICE, "update_gallery", gallery_id, no_update())["message"].startswith(
            "Gallery not found"
        )
    store(h, BOB, gallery_id)
    with Unchanged(h):
        for caller, gid, prefix in [
            (ANON, gallery_id, "Unauthorized"),
            (ALICE, gallery_id, "Unauthorized"),
            (ALICE, gallery_id.upper(), "Invalid UUID"),
        ]:
            result = h.call(caller, "update_gallery", gid, {**no_update(), "title": "x"})
            assert result["success"] is False and result["gallery"] is None
            assert result["message"].startswith(prefix), result


# -- delete_gallery ------------------------------------------------------------------------------------


def test_delete_gallery(h: Harness) -> None:
    gallery_id = new_uuid()
    store(h, ALICE, gallery_id)
    with Unchanged(h):
        assert h.call(BOB, "delete_gallery", gallery_id)["message"].startswith("Unauthorized")
        assert h.call(ANON, "delete_gallery", gallery_id)["message"].startswith("Unauthorized")
        assert h.call(ALICE, "delete_gallery", "x")["message"].startswith("Invalid UUID")
    assert h.call(ALICE, "delete_gallery", gallery_id) == {"success": True, "message": "Gallery deleted"}
    assert h.query(ALICE, "get_gallery_by_id", gallery_id) is None
    with Unchanged(h):
        again = h.call(ALICE, "delete_gallery", gallery_id)
    assert again["success"] is False and again["message"].startswith("Gallery not found")


# -- capsule memories ------------------------------------------------------------------------------------


def test_add_memory_stores_it_with_the_documented_defaults(h: Harness) -> None:
    memory_id = new_uuid()
    data = memory_data(b"hello")
    result = h.call(ALICE, "add_memory_to_capsule", memory_id, data)
    assert result == {"success": True, "memory_id": memory_id, "message": result["message"]}
    memory = h.query(ALICE, "get_memory_from_capsule", memory_id)
    assert memory == {
        "id": memory_id,
        "info": {
            "memory_type": {"Image": None},
            "name": f"Memory {memory_id}",
            "content_type": "application/octet-stream",
            "created_at": h.now,
            "updated_at": h.now,
            "uploaded_at": h.now,
            "date_of_memory": None,
        },
        "metadata": {
            "Image": {
                "base": {
                    "size": 5,
                    "mime_type": "application/octet-stream",
                    "original_name": f"Memory {memory_id}",
                    "uploaded_at": str(h.now),
                    "date_of_memory": None,
                    "people_in_memory": None,
                    "format": None,
                },
                "dimensions": None,
            }
        },
        "access": {"Private": None},
        "data": data,
    }


def test_add_memory_without_inline_data(h: Harness) -> None:
    memory_id = new_uuid()
    data = {
        "blob_ref": {"kind": {"MemoryBlobKindExternal": None}, "locator": "s3://x", "hash": None},
        "data": None,
    }
    assert h.call(ALICE, "add_memory_to_capsule", memory_id, data)["success"] is True
    memory = h.query(ALICE, "get_memory_from_capsule", memory_id)
    assert memory["data"] == data
    assert memory["metadata"]["Image"]["base"]["size"] == 0


def test_adding_a_memory_again_rewrites_nothing(h: Harness) -> None:
    memory_id = new_uuid()
    h.call(ALICE, "add_memory_to_capsule", memory_id, memory_data(b"one"))
    with Unchanged(h):
        again = h.call(ALICE, "add_memory_to_capsule", memory_id, memory_data(b"two"))
    assert again["success"] is True and "already exists" in again["message"]
    assert h.query(ALICE, "get_memory_from_capsule", memory_id)["data"]["data"] == b"one"


def test_add_memory_refusals(h: Harness) -> None:
    memory_id = new_uuid()
    with Unchanged(h):
        for caller, mid, data, prefix in [
            (ANON, memory_id, memory_data(), "Unauthorized"),
            (ALICE, memory_id.upper(), memory_data(), "Invalid UUID"),
            (ALICE, "memory_1", memory_data(), "Invalid UUID"),
        ]:
            result = h.call(caller, "add_memory_to_capsule", mid, data)
            assert result == {"success": False, "memory_id": None, "message": result["message"]}
            assert result["message"].startswith(prefix)
    # A memory id claimed through metadata by another principal is foreign.
    h.call(BOB, "upsert_metadata", memory_id, {"Note": None}, metadata_value(), idem_key(memory_id))
    with Unchanged(h):
        assert h.call(ALICE, "add_memory_to_capsule", memory_id, memory_data())["message"].startswith(
            "Unauthorized"
        )


def test_add_memory_checks_the_blob_hash(h: Harness) -> None:
    with Unchanged(h):
        short = memory_data(b"x")
        short["blob_ref"]["hash"] = b"\x00" * 31
        assert h.call(ALICE, "add_memory_to_capsule", new_uuid(), short)["message"].startswith("Invalid hash")
        wrong = memory_data(b"x")
        wrong["blob_ref"]["hash"] = hashlib.sha256(b"y").digest()
        assert h.call(ALICE, "add_memory_to_capsule", new_uuid(), wrong)["message"].startswith("Invalid hash")


def test_memories_are_private_to_their_owner(h: Harness) -> None:
    memory_id = new_uuid()
    h.call(ALICE, "add_memory_to_capsule", memory_id, memory_data())
    assert h.query(BOB, "get_memory_from_capsule", memory_id) is None
    assert h.query(ANON, "get_memory_from_capsule", memory_id) is None
    assert h.query(ALICE, "get_memory_from_capsule", new_uuid()) is None


def test_add_memory_for_a_memory_the_caller_owns_through_metadata(h: Harness) -> None:
    memory_id = new_uuid()
    data_of(
        h.call(ALICE, "upsert_metadata", memory_id, {"Note": None}, metadata_value(), idem_key(memory_id))
    )
    assert h.query(ALICE, "get_memory_from_capsule", memory_id) is None
    assert h.call(ALICE, "add_memory_to_capsule", memory_id, memory_data())["success"] is True
    assert h.query(ALICE, "get_memory_from_capsule", memory_id) is not None


# -- capsules --------------------------------------------------------------------------------------------


def test_register_capsule_reports_is_new(h: Harness) -> None:
    assert h.query(ALICE, "get_user") is None
    first = h.call(ALICE, "register_capsule")
    assert first["success"] is True and first["is_new"] is True and first["capsule_id"]
    again = h.call(ALICE, "register_capsule")
    assert again == {**again, "success": True, "is_new": False, "capsule_id": first["capsule_id"]}
    assert h.call(ALICE, "register") is True
    info = h.query(ALICE, "get_user")
    assert info == {
        "capsule_id": first["capsule_id"],
        "subject": {"Principal": ALICE},
        "is_owner": True,
        "is_controller": True,
        "is_self_capsule": True,
        "bound_to_web2": False,
        "created_at": h.now,
        "updated_at": h.now,
    }


def test_capsule_ids_are_unique_at_the_same_instant(h: Harness) -> None:
    principals = [ALICE, BOB, *(ALICE.self_authenticating(bytes([i])) for i in range(5))]
    ids = {h.call(p, "register_capsule")["capsule_id"] for p in principals}
    assert len(ids) == len(principals)


def test_any_write_creates_the_capsule(h: Harness) -> None:
    assert h.call(ALICE, "register") is True
    store(h, BOB, new_uuid())
    assert h.query(BOB, "get_user") is not None
    carol = ALICE.self_authenticating(b"carol")
    h.call(carol, "add_memory_to_capsule", new_uuid(), memory_data())
    assert h.query(carol, "get_user") is not None
    h.advance(100)
    store(h, carol, new_uuid())
    info = h.query(carol, "get_user")
    assert info["updated_at"] == h.now and info["created_at"] == h.now - 100


def test_anonymous_capsule_calls(h: Harness) -> None:
    with Unchanged(h):
        assert h.call(ANON, "register") is False
        result = h.call(ANON, "register_capsule")
        assert result["success"] is False and result["message"].startswith("Unauthorized")
        assert result["capsule_id"] is None
    assert h.query(ANON, "get_user") is None


def test_identity_queries(h: Harness) -> None:
    assert h.query(ALICE, "whoami") == ALICE
    assert h.query(ANON, "whoami") == ANON
    assert h.query(ALICE, "get_api_version") == "1.0.0"
    assert h.query(ANON, "__get_candid_interface_tmp_hack") == h.canister.CANDID
