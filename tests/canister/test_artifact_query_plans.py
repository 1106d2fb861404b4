"""No statement the canister issues may scan a whole table (performance is part of the contract).

Every SQL statement run during a representative session of every method, the clean-up timer and
the admin views is captured through the connection's trace callback, then `EXPLAIN QUERY PLAN`ed:
each table access must be a SEARCH through a key or index. This checks the shape of the queries, so
it holds whatever the data volume, unlike a timing test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from emulator.canisters.artifact import inspection
from tests.canister.artifact_harness import (
    ALICE,
    ANON,
    BOB,
    DAY,
    MINUTE,
    SMALL_LIMITS,
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

_DML = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\b", re.IGNORECASE)
# The schema check reads sqlite_master once per install/upgrade; it is not stored data.
_ALLOWED_SCANS = re.compile(r"^SCAN (CONSTANT ROW|sqlite_master|sqlite_schema)\b")


@contextmanager
def capture(h: Harness) -> Iterator[list[str]]:
    statements: list[str] = []

    def trace(sql: str) -> None:
        if _DML.match(sql):
            statements.append(sql)

    h.store.conn.set_trace_callback(trace)
    try:
        yield statements
    finally:
        h.store.conn.set_trace_callback(None)


def exercise(h: Harness) -> None:
    """Every method, success and refusal paths, the timer and the admin views."""
    memory_id, gallery_id, other = new_uuid(), new_uuid(), new_uuid()
    data = payload(2500)
    h.query(ALICE, "whoami")
    h.query(ALICE, "get_api_version")
    h.query(ALICE, "__get_candid_interface_tmp_hack")
    h.call(ALICE, "register")
    h.call(ALICE, "register_capsule")
    h.call(ANON, "register_capsule")
    h.query(ALICE, "get_user")
    h.call(ALICE, "store_gallery_forever", gallery_data(ALICE, gallery_id))
    h.call(ALICE, "store_gallery_forever", gallery_data(ALICE, gallery_id))
    h.call(BOB, "store_gallery_forever", gallery_data(BOB, gallery_id))
    h.query(BOB, "get_gallery_by_id", gallery_id)
    h.query(ALICE, "get_my_galleries")
    h.query(BOB, "get_user_galleries", ALICE)
    h.query(ALICE, "get_user_galleries", ALICE)
    h.call(
        ALICE,
        "update_gallery",
        gallery_id,
        {"title": "t", "description": "d", "is_public": True, "memory_entries": []},
    )
    h.call(
        BOB,
        "update_gallery",
        gallery_id,
        {"title": "t", "description": None, "is_public": None, "memory_entries": None},
    )
    h.call(ALICE, "add_memory_to_capsule", other, memory_data())
    h.call(ALICE, "add_memory_to_capsule", other, memory_data())
    h.call(BOB, "add_memory_to_capsule", other, memory_data())
    h.query(ALICE, "get_memory_from_capsule", other)
    h.call(ALICE, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id))
    h.call(ALICE, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id))
    h.call(ALICE, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id, "x"))
    h.call(BOB, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id, "y"))
    h.query(ALICE, "get_memory_presence_icp", memory_id)
    ids = [memory_id, other, *(new_uuid() for _ in range(30))]
    cursor = data_of(h.query(ALICE, "get_memory_list_presence_icp", ids, None, 10))["cursor"]
    h.query(ALICE, "get_memory_list_presence_icp", ids, cursor, 10)
    # A full upload with every refusal on the way.
    sid = data_of(h.begin(ALICE, memory_id, data))["session"]["session_id"]
    h.begin(ALICE, memory_id, data)  # resume
    h.call(BOB, "put_chunk", sid, 0, b"x")
    h.call(ALICE, "put_chunk", "unknown", 0, b"x")
    for index, chunk in enumerate(chunks_of(data, 1024)):
        h.call(ALICE, "put_chunk", sid, index, chunk)
    h.call(ALICE, "put_chunk", sid, 0, chunks_of(data, 1024)[0])
    h.call(ALICE, "put_chunk", sid, 0, b"different")
    h.query(ALICE, "get_upload_progress", sid)
    h.query(ALICE, "get_user_upload_sessions")
    h.call(ALICE, "commit_asset", sid, sha(data))
    h.call(ALICE, "commit_asset", sid, sha(data))
    h.begin(ALICE, memory_id, data)  # already exists
    h.upload(ALICE, memory_id, payload(100))  # replaces the asset
    failed = data_of(h.begin(ALICE, new_uuid(), b"abc"))["session"]["session_id"]
    h.call(ALICE, "put_chunk", failed, 0, b"abc")
    h.call(ALICE, "commit_asset", failed, "0" * 64)
    cancelled = data_of(h.begin(ALICE, new_uuid(), b"abc"))["session"]["session_id"]
    h.call(ALICE, "cancel_upload", cancelled)
    h.call(ALICE, "cancel_upload", "unknown")
    for _ in range(3):
        h.begin(ALICE, new_uuid(), payload(10))
    h.begin(ALICE, new_uuid(), payload(10))  # rate limited
    h.call(ALICE, "delete_gallery", gallery_id)
    h.call(ALICE, "delete_gallery", gallery_id)
    h.advance(31 * MINUTE)
    h.call(ALICE, "put_chunk", cancelled, 0, b"a")
    h.begin(ALICE, new_uuid(), payload(10))  # finishes the expired ones first
    h.run_cleanup_timer()
    h.advance(DAY + MINUTE)
    h.run_cleanup_timer()
    with h.store.read() as db:
        inspection.list_galleries(db)
        inspection.list_galleries(db, owner=ALICE)
        inspection.list_memories(db)
        inspection.list_memories(db, owner=ALICE)
        inspection.list_sessions(db)
        inspection.list_sessions(db, owner=ALICE, status="Active")
        inspection.list_assets(db)
        inspection.list_assets(db, owner=ALICE)
        inspection.asset_info(db, memory_id)
        list(inspection.iter_asset_chunks(db, memory_id))
        inspection.query_audit(db)
        inspection.query_audit(db, principal=ALICE)
        inspection.query_audit(db, memory_id=memory_id)
        inspection.query_audit(db, gallery_id=gallery_id)
        # gallery_memories needs a stored gallery: test_artifact_inspector_views.py plans it.
        for name in (v for v in inspection.VIEWS if v != "gallery_memories"):
            inspection.view(db, name, {"owner": ALICE.to_text()} if name not in ("audit", "figures") else {})
        inspection.view(db, "sessions", {"status": "Active"})
        inspection.view(db, "audit", {"memory_id": memory_id, "before": "100"})
        inspection.asset_chunk_count(db, memory_id)
        inspection.asset_chunk(db, memory_id, 0)
        inspection.figures(db)


def test_daily_quota_lookup_is_a_key_lookup() -> None:
    h = Harness(config={**SMALL_LIMITS, "daily_upload_quota": 2})
    with capture(h) as statements:
        for _ in range(3):
            h.begin(ALICE, new_uuid(), payload(10))
    assert any("owner_seq" in s for s in statements)
    assert_no_scans(h, statements)


def test_no_statement_scans_a_table() -> None:
    h = Harness()
    with capture(h) as statements:
        exercise(h)
        h.upgrade()
    assert len(statements) > 100
    assert_no_scans(h, statements)


def assert_no_scans(h: Harness, statements: list[str]) -> None:
    offenders: dict[str, list[str]] = {}
    with h.store.read() as db:
        for sql in dict.fromkeys(statements):
            plan = [str(row[3]) for row in db.execute(f"EXPLAIN QUERY PLAN {sql}")]
            scans = [step for step in plan if step.startswith("SCAN ") and not _ALLOWED_SCANS.match(step)]
            if scans:
                offenders[sql[:300]] = scans
    assert not offenders, "full scans:\n" + "\n".join(f"{k}\n  -> {v}" for k, v in offenders.items())


# -- cost against stored volume -------------------------------------------------------------------------


def _load_background(h: Harness, principals: int) -> None:
    """Other callers' galleries, memories, metadata, assets, active and finished sessions."""
    for i in range(principals):
        caller = ALICE.self_authenticating(f"background-{i}".encode())
        h.call(caller, "store_gallery_forever", gallery_data(caller, new_uuid(), is_public=True))
        for _ in range(2):
            memory_id = new_uuid()
            h.call(
                caller, "upsert_metadata", memory_id, {"Note": None}, metadata_value(), idem_key(memory_id)
            )
        h.upload(caller, new_uuid(), payload(300))
        cancelled = data_of(h.begin(caller, new_uuid(), payload(10)))["session"]["session_id"]
        h.call(caller, "cancel_upload", cancelled)
        for _ in range(2):
            h.begin(caller, new_uuid(), payload(10))


def _workload_ops(h: Harness) -> int:
    """SQLite VM instructions spent by one caller's typical calls."""
    executed = 0

    def tick() -> int:
        nonlocal executed
        executed += 1
        return 0

    memory_id, data = new_uuid(), payload(2500)
    ids = [new_uuid() for _ in range(100)]
    h.store.conn.set_progress_handler(tick, 1)
    try:
        h.call(ALICE, "store_gallery_forever", gallery_data(ALICE, new_uuid()))
        h.query(ALICE, "get_my_galleries")
        h.query(ALICE, "get_user_galleries", BOB)
        h.call(ALICE, "upsert_metadata", memory_id, {"Image": None}, metadata_value(), idem_key(memory_id))
        h.upload(ALICE, memory_id, data)
        sid = data_of(h.begin(ALICE, new_uuid(), payload(10)))["session"]["session_id"]
        h.query(ALICE, "get_upload_progress", sid)
        h.query(ALICE, "get_user_upload_sessions")
        h.call(ALICE, "cancel_upload", sid)
        h.query(ALICE, "get_memory_list_presence_icp", ids, None, 100)
        h.run_cleanup_timer()
    finally:
        h.store.conn.set_progress_handler(None, 1)
    return executed


def test_a_callers_cost_does_not_grow_with_other_callers_data() -> None:
    small, large = Harness(), Harness()
    _load_background(small, 5)
    _load_background(large, 250)
    assert large.count("af_sessions", "status = 'Active'") == 500
    base, loaded = _workload_ops(small), _workload_ops(large)
    # B-trees get a level deeper; anything that walked other callers' rows would multiply the cost.
    assert loaded < base * 1.25, (base, loaded)
