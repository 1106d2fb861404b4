"""The inspector's views of the artifact canister: badge counts, gallery pages, upload board, audit search.

Each view is checked against state built by real canister calls, and every statement it issues is
`EXPLAIN QUERY PLAN`ed like the canister's own (test_artifact_query_plans.py): the inspector reads
a 10,000-memory gallery or a 100,000-row audit trail, so none of its reads may scan a table.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from emulator.canisters.artifact import inspection
from tests.canister.artifact_harness import (
    ALICE,
    BOB,
    MINUTE,
    Harness,
    data_of,
    idem_key,
    metadata_value,
    new_uuid,
    payload,
)
from tests.canister.test_artifact_query_plans import _ALLOWED_SCANS, capture

# A gallery's own entry list is walked in SQL (`json_each` over the statement's parameter, and the
# `ids` of that list): that is one gallery's size, never a table.
_GALLERY_LIST_WALK = re.compile(r"^SCAN (json_each VIRTUAL TABLE|ids)\b")


def _gallery(h: Harness, owner: Any, memory_ids: list[str], title: str = "Summer") -> str:
    gallery_id = new_uuid()
    entries = [
        {"memory_id": m, "position": i, "gallery_caption": None, "is_featured": False, "gallery_metadata": ""}
        for i, m in enumerate(memory_ids)
    ]
    gallery = {
        "id": gallery_id,
        "owner_principal": owner,
        "title": title,
        "description": None,
        "is_public": False,
        "created_at": 1,
        "updated_at": 2,
        "storage_status": {"Web2Only": None},
        "memory_entries": entries,
    }
    result = h.call(owner, "store_gallery_forever", {"gallery": gallery, "owner_principal": owner})
    assert result["success"], result
    return gallery_id


def _metadata(h: Harness, owner: Any, memory_id: str) -> None:
    h.call(owner, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id))


def _summary(h: Harness, gallery_id: str) -> dict[str, Any]:
    with h.store.read() as db:
        page = inspection.view(db, "gallery_memories", {"gallery_id": gallery_id, "now": str(h.now)})
    return dict(page["gallery"])


def test_badges_follow_presence_and_live_sessions() -> None:
    h = Harness()
    full = [new_uuid() for _ in range(3)]
    for m in full:
        _metadata(h, ALICE, m)
        h.upload(ALICE, m, payload(300))
    stored = _gallery(h, ALICE, full)
    partial_ids = [new_uuid() for _ in range(4)]
    _metadata(h, ALICE, partial_ids[0])
    partial = _gallery(h, ALICE, partial_ids)
    empty = _gallery(h, ALICE, [new_uuid(), new_uuid()])
    live_id = new_uuid()
    _metadata(h, ALICE, live_id)
    live = _gallery(h, ALICE, [live_id])
    session = data_of(h.begin(ALICE, live_id, payload(5000)))["session"]["session_id"]

    s = _summary(h, stored)
    assert (s["badge"], s["stored"], s["memories"], s["storing"]) == ("Stored forever", 3, 3, 0)
    s = _summary(h, partial)
    assert (s["badge"], s["stored"], s["memories"], s["metadata_present"]) == ("Partially on ICP", 0, 4, 1)
    assert _summary(h, empty)["badge"] == "Not stored"
    assert _summary(h, live)["badge"] == "Storing…"
    # Past its lifetime the session no longer counts as storing, before any clean-up ran.
    h.advance(31 * MINUTE)
    assert _summary(h, live)["badge"] == "Partially on ICP"
    with h.store.read() as db:
        board = inspection.view(db, "upload_board", {"now": str(h.now)})
    row = next(r for r in board["active"] if r["session_id"] == session)
    assert row["status"] == "Expired" and row["stored_status"] == "Active"
    assert "lifetime ended" in row["reason"]


def test_gallery_summaries_page_by_owner_with_keyset() -> None:
    h = Harness()
    mine = sorted(_gallery(h, ALICE, [new_uuid()]) for _ in range(5))
    _gallery(h, BOB, [new_uuid()])
    with h.store.read() as db:
        first = inspection.view(db, "gallery_summaries", {"owner": ALICE.to_text(), "limit": "3"})
        second = inspection.view(
            db, "gallery_summaries", {"owner": ALICE.to_text(), "limit": "3", "after": first["next"]}
        )
    assert [g["id"] for g in first["galleries"] + second["galleries"]] == mine
    assert second["next"] is None


def test_gallery_memories_show_assets_and_sessions() -> None:
    h = Harness()
    ids = [new_uuid() for _ in range(5)]
    data = payload(2500)
    h.upload(ALICE, ids[1], data)
    failed = data_of(h.begin(ALICE, ids[2], b"abc"))["session"]["session_id"]
    h.call(ALICE, "put_chunk", failed, 0, b"abc")
    h.call(ALICE, "commit_asset", failed, "0" * 64)
    cancelled = data_of(h.begin(ALICE, ids[3], b"abc"))["session"]["session_id"]
    h.call(ALICE, "cancel_upload", cancelled)
    gallery_id = _gallery(h, ALICE, ids)
    with h.store.read() as db:
        page = inspection.view(db, "gallery_memories", {"gallery_id": gallery_id, "limit": "4"})
        rest = inspection.view(
            db, "gallery_memories", {"gallery_id": gallery_id, "limit": "4", "after": str(page["next"])}
        )
    memories = page["memories"] + rest["memories"]
    assert [m["memory_id"] for m in memories] == ids and rest["next"] is None
    assert memories[1]["asset"]["total_bytes"] == len(data)
    assert [s["status"] for s in memories[1]["sessions"]] == ["Completed"]
    assert memories[2]["sessions"][0]["status"] == "Failed"
    assert memories[2]["sessions"][0]["reason"].startswith("commit_asset: ")
    assert memories[3]["sessions"][0]["reason"].startswith("cancelled by ")
    assert memories[0]["asset"] is None and memories[0]["sessions"] == []


def test_audit_search_filters_and_bounds_its_scan() -> None:
    h = Harness()
    alices = [new_uuid() for _ in range(6)]
    for memory_id in alices:
        _metadata(h, ALICE, memory_id)
    _metadata(h, BOB, alices[0])  # refused: another principal's memory
    with h.store.read() as db:
        refused = inspection.view(db, "audit_search", {"outcome": "refused"})
        by_method = inspection.view(
            db, "audit_search", {"principal": ALICE.to_text(), "method": "upsert_metadata", "limit": "4"}
        )
        older = inspection.view(
            db,
            "audit_search",
            {"principal": ALICE.to_text(), "method": "upsert_metadata", "before": str(by_method["next"])},
        )
        bounded = inspection.view(db, "audit_search", {"method": "no_such_method", "scan": "3"})
    assert [(r["method"], r["principal"]) for r in refused["audit"]] == [("upsert_metadata", BOB.to_text())]
    assert len(by_method["audit"]) == 4 and len(older["audit"]) == 2 and older["next"] is None
    ids = [r["id"] for r in by_method["audit"] + older["audit"]]
    assert ids == sorted(ids, reverse=True)
    assert bounded == {"audit": [], "scanned": 3, "next": bounded["next"]} and bounded["next"] is not None


@pytest.mark.parametrize(
    ("view", "params"),
    [
        ("gallery_memories", {}),
        ("gallery_memories", {"gallery_id": "missing"}),
        ("upload_board", {"before_finished": "x"}),
        ("audit_search", {"before": "-1"}),
        ("gallery_summaries", {"owner": "not a principal"}),
    ],
)
def test_bad_parameters_are_refused(view: str, params: dict[str, str]) -> None:
    h = Harness()
    with h.store.read() as db, pytest.raises(ValueError):
        inspection.view(db, view, params)


def test_inspector_views_do_not_scan() -> None:
    h = Harness()
    ids = [new_uuid() for _ in range(3)]
    h.upload(ALICE, ids[0], payload(300))
    _metadata(h, ALICE, ids[1])
    h.begin(ALICE, ids[2], payload(300))
    gallery_id = _gallery(h, ALICE, ids)
    cancelled = data_of(h.begin(ALICE, new_uuid(), b"abc"))["session"]["session_id"]
    h.call(ALICE, "cancel_upload", cancelled)
    now = str(h.now)
    with capture(h) as statements, h.store.read() as db:
        inspection.view(db, "gallery_summaries", {"now": now})
        inspection.view(db, "gallery_summaries", {"owner": ALICE.to_text(), "after": "0", "now": now})
        inspection.view(db, "gallery_memories", {"gallery_id": gallery_id, "now": now})
        board = inspection.view(db, "upload_board", {"now": now, "limit": "1"})
        inspection.view(db, "upload_board", {"now": now, "before_finished": board["next"]})
        inspection.view(db, "audit_search", {"method": "put_chunk", "outcome": "ok"})
        inspection.view(db, "audit_search", {"principal": ALICE.to_text(), "before": "5"})
    assert len(statements) > 10
    offenders: dict[str, list[str]] = {}
    with h.store.read() as db:
        for sql in dict.fromkeys(statements):
            plan = [str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
            scans = [
                step
                for step in plan
                if step.startswith("SCAN ")
                and not _ALLOWED_SCANS.match(step)
                and not _GALLERY_LIST_WALK.match(step)
            ]
            if scans:
                offenders[sql[:300]] = scans
    assert not offenders, "full scans:\n" + "\n".join(f"{k}\n  -> {v}" for k, v in offenders.items())
    # Every table the views read is reached through a key or an index.
    assert any("json_each" in s for s in statements)
