"""The audit trail (requirements 17.2/17.4) and the admin inspection views."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.canisters.artifact import inspection
from tests.canister.artifact_harness import (
    ALICE,
    ANON,
    BOB,
    Harness,
    chunks_of,
    data_of,
    gallery_data,
    idem_key,
    memory_data,
    metadata_value,
    new_uuid,
    payload,
    sha,
)


def audit(h: Harness, **filters: Any) -> list[dict[str, Any]]:
    with h.store.read() as db:
        return inspection.query_audit(db, **filters)


def test_every_update_leaves_one_row_and_queries_leave_none(h: Harness) -> None:
    memory_id, gallery_id, data = new_uuid(), new_uuid(), payload(1500)
    h.call(ALICE, "register")
    h.call(ALICE, "store_gallery_forever", gallery_data(ALICE, gallery_id))
    h.call(ALICE, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id))
    sid = h.upload(ALICE, memory_id, data)  # begin + 2 puts + commit
    h.call(ALICE, "cancel_upload", sid)
    h.query(ALICE, "get_memory_presence_icp", memory_id)
    h.query(ALICE, "get_my_galleries")
    rows = list(reversed(audit(h, principal=ALICE)))
    assert [r["method"] for r in rows] == [
        "register",
        "store_gallery_forever",
        "upsert_metadata",
        "begin_asset_upload",
        "put_chunk",
        "put_chunk",
        "commit_asset",
        "cancel_upload",
    ]
    assert all(r["outcome"] == "ok" and r["principal"] == ALICE.to_text() for r in rows)
    assert rows[1]["gallery_id"] == gallery_id and rows[1]["artifact"] == "gallery"
    assert rows[2]["memory_id"] == memory_id and rows[2]["artifact"] == "metadata"
    assert int(rows[2]["bytes"]) > 0
    assert [r["bytes"] for r in rows[4:7]] == [1024, 476, 1500]
    assert all(r["memory_id"] == memory_id and r["session_id"] == sid for r in rows[3:8])
    assert all(float(r["duration_ms"]) >= 0 for r in rows)
    assert all(r["at"] == h.now for r in rows)


def test_refusals_are_audited_with_their_outcome(h: Harness) -> None:
    memory_id = new_uuid()
    h.call(ANON, "begin_asset_upload", memory_id, "a" * 64, 1, 1)
    h.call(ALICE, "begin_asset_upload", memory_id, "bad", 1, 1)
    h.call(BOB, "add_memory_to_capsule", "junk", memory_data())
    h.call(ANON, "register")
    outcomes = [(r["method"], r["outcome"]) for r in reversed(audit(h))]
    assert outcomes[0] == ("begin_asset_upload", "Unauthorized")
    assert outcomes[1] == ("begin_asset_upload", "InvalidHash")
    assert outcomes[2][0] == "add_memory_to_capsule" and str(outcomes[2][1]).startswith("Invalid UUID")
    assert outcomes[3] == ("register", "Unauthorized")
    internal = h.call(ALICE, "begin_asset_upload", memory_id, "a" * 64, 0, 1)
    assert audit(h)[0]["outcome"] == f"Internal: {internal['error']['Internal']}"


def test_audit_is_queryable_by_principal_and_memory_with_keyset_pages(h: Harness) -> None:
    memory_a, memory_b = new_uuid(), new_uuid()
    for i in range(5):
        h.call(
            ALICE, "upsert_metadata", memory_a, {"Note": None}, metadata_value(), idem_key(memory_a, f"h{i}")
        )
    h.call(BOB, "upsert_metadata", memory_b, {"Note": None}, metadata_value(), idem_key(memory_b))
    assert len(audit(h, principal=BOB)) == 1
    assert len(audit(h, memory_id=memory_a)) == 5
    first = audit(h, memory_id=memory_a, limit=2)
    second = audit(h, memory_id=memory_a, limit=2, before_id=first[-1]["id"])
    third = audit(h, memory_id=memory_a, limit=2, before_id=second[-1]["id"])
    ids = [r["id"] for r in first + second + third]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 5


def test_inspection_views(h: Harness) -> None:
    memory_id, gallery_id, data = new_uuid(), new_uuid(), payload(2100)
    h.call(ALICE, "store_gallery_forever", gallery_data(ALICE, gallery_id))
    h.call(ALICE, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id))
    sid = h.upload(ALICE, memory_id, data)
    other = data_of(h.begin(BOB, new_uuid(), payload(10)))["session"]["session_id"]
    with h.store.read() as db:
        galleries = inspection.list_galleries(db)
        memories = inspection.list_memories(db, owner=ALICE)
        sessions = inspection.list_sessions(db)
        completed = inspection.list_sessions(db, status="Completed")
        assets = inspection.list_assets(db, owner=ALICE)
        info = inspection.asset_info(db, memory_id)
        streamed = b"".join(inspection.iter_asset_chunks(db, memory_id))
        nothing = list(inspection.iter_asset_chunks(db, new_uuid()))
        page1 = inspection.list_sessions(db, limit=1)
        page2 = inspection.list_sessions(db, limit=1, after=page1[0]["sid"])
    assert [g["id"] for g in galleries] == [gallery_id] and galleries[0]["owner"] == ALICE.to_text()
    assert memories == [
        {
            "memory_id": memory_id,
            "owner": ALICE.to_text(),
            "created_at": h.now,
            "metadata_present": True,
            "asset_present": True,
            "in_capsule": False,
        }
    ]
    assert {s["session_id"] for s in sessions} == {sid, other}
    assert [s["session_id"] for s in completed] == [sid]
    assert assets[0]["sha256"] == sha(data) and assets[0]["total_bytes"] == 2100
    assert info == assets[0]
    assert streamed == data and nothing == []
    assert [page1[0]["session_id"], page2[0]["session_id"]] == [sid, other]
    assert len(chunks_of(data, 1024)) == assets[0]["chunk_count"]


def test_admin_views_page_with_next_keys_and_validate_params(h: Harness) -> None:
    for _ in range(3):
        h.call(ALICE, "store_gallery_forever", gallery_data(ALICE, new_uuid()))
    sid = h.upload(ALICE, new_uuid(), payload(1500))
    with h.store.read() as db:
        assert set(h.canister.inspect_views()) == {
            "galleries",
            "memories",
            "sessions",
            "assets",
            "audit",
            "figures",
            "gallery_summaries",
            "gallery_memories",
            "upload_board",
            "audit_search",
        }
        first = h.canister.inspect(db, "galleries", {"limit": "2"})
        rest = h.canister.inspect(db, "galleries", {"limit": "2", "after": first["next"]})
        owned = h.canister.inspect(db, "galleries", {"owner": ALICE.to_text()})
        sessions = h.canister.inspect(db, "sessions", {"owner": ALICE.to_text(), "status": "Completed"})
        audit_page = h.canister.inspect(db, "audit", {"principal": ALICE.to_text(), "limit": "1"})
        older = h.canister.inspect(
            db, "audit", {"principal": ALICE.to_text(), "before": str(audit_page["next"])}
        )
        for bad in [{"owner": "not-a-principal"}, {"limit": "-1"}, {"status": "Done"}, {"after": "x"}]:
            with pytest.raises(ValueError):
                h.canister.inspect(db, "sessions", bad)
        with pytest.raises(KeyError):
            h.canister.inspect(db, "secrets", {})
    assert len(first["galleries"]) == 2 and len(rest["galleries"]) == 1 and rest["next"] is None
    assert len(owned["galleries"]) == 3
    assert [s["session_id"] for s in sessions["sessions"]] == [sid]
    assert sessions["sessions"][0]["stored_bytes"] == 1500
    assert audit_page["audit"][0]["method"] == "commit_asset" and len(older["audit"]) == 6


def test_asset_download_reads_one_chunk_at_a_time(h: Harness) -> None:
    memory_id, data = new_uuid(), payload(2500)
    h.upload(ALICE, memory_id, data)
    with h.store.read() as db:
        count = h.canister.asset_chunk_count(db, memory_id)
        assert count == 3
        assert b"".join(h.canister.asset_chunk(db, memory_id, i) for i in range(count)) == data
        assert h.canister.asset_chunk_count(db, new_uuid()) is None
        with pytest.raises(KeyError):
            h.canister.asset_chunk(db, memory_id, 3)


def test_figures_match_the_stored_rows() -> None:
    from tests.canister.test_artifact_query_plans import exercise

    h = Harness()
    exercise(h)
    with h.store.read() as db:
        figures = dict(h.canister.figures(db))
        actual = {
            "stored_bytes": db.execute("SELECT COALESCE(SUM(size), 0) FROM af_chunks").fetchone()[0],
            "asset_bytes": db.execute("SELECT COALESCE(SUM(total_bytes), 0) FROM af_assets").fetchone()[0],
            "assets": db.execute("SELECT COUNT(*) FROM af_assets").fetchone()[0],
            "active_sessions": db.execute(
                "SELECT COUNT(*) FROM af_sessions WHERE status = 'Active'"
            ).fetchone()[0],
            "galleries": db.execute("SELECT COUNT(*) FROM af_galleries").fetchone()[0],
            "memories": db.execute("SELECT COUNT(*) FROM af_memories").fetchone()[0],
        }
    assert figures == actual
    assert figures["stored_bytes"] > 0 and figures["assets"] > 0 and figures["memories"] > 0
