"""End to end through the real `CanisterHost`: Candid bytes in, Candid bytes out.

Proves that every value the canister returns encodes at the declared result types (a wrong shape
would come back as a trap), that the arguments clients send decode into what the methods expect,
and that upgrades and timers work when the runtime drives them.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.candid import Some, decode_args, encode_args
from emulator.canisters.artifact import ArtifactCanister
from emulator.principal import Principal
from emulator.runtime.clock import CanisterClock
from emulator.runtime.host import CanisterHost, Replied
from emulator.runtime.stable_store import StableStore
from tests.canister.artifact_harness import (
    ALICE,
    ANON,
    BOB,
    CANISTER_ID,
    MINUTE,
    SMALL_LIMITS,
    START_NS,
    chunks_of,
    gallery_data,
    idem_key,
    memory_data,
    metadata_value,
    new_uuid,
    payload,
    sha,
)

_request_ids = itertools.count()


class Client:
    """Encodes calls with the canister's own interface, like a generated client would."""

    def __init__(self, host: CanisterHost) -> None:
        self.host = host

    def _func(self, method: str) -> Any:
        return self.host.interface.service[method]

    def update(self, sender: Principal, method: str, *args: Any) -> Any:
        func = self._func(method)
        status = self.host.call(
            request_id=hashlib.sha256(str(next(_request_ids)).encode()).digest(),
            sender=sender,
            method=method,
            arg=encode_args(func.args, list(args)),
            ingress_expiry=self.host.wall_clock() + 4 * MINUTE,
        )
        assert status.status == "replied", status.reject
        assert status.reply is not None
        (value,) = decode_args(status.reply, func.results)
        return value

    def query(self, sender: Principal, method: str, *args: Any) -> Any:
        func = self._func(method)
        outcome = self.host.query(sender=sender, method=method, arg=encode_args(func.args, list(args)))
        assert isinstance(outcome, Replied), outcome
        (value,) = decode_args(outcome.arg, func.results)
        return value


@pytest.fixture
def host() -> Iterator[CanisterHost]:
    store = StableStore(":memory:")
    wall = [START_NS]
    clock = CanisterClock(store, wall_clock=lambda: wall[0])
    h = CanisterHost(
        canister_id=CANISTER_ID,
        canister_cls=ArtifactCanister,
        store=store,
        clock=clock,
        config=SMALL_LIMITS,
        wall_clock=lambda: wall[0],
    )
    yield h
    store.close()


def test_every_method_round_trips_through_candid(host: CanisterHost) -> None:
    c = Client(host)
    assert c.query(ALICE, "whoami") == ALICE
    assert c.query(ALICE, "get_api_version") == "1.0.0"
    assert c.query(ANON, "__get_candid_interface_tmp_hack") == ArtifactCanister.CANDID
    assert c.query(ALICE, "get_user") is None
    assert c.update(ALICE, "register") is True
    registered = c.update(ALICE, "register_capsule")
    assert registered["success"] is True and registered["is_new"] is False
    info = c.query(ALICE, "get_user")
    assert info["subject"] == {"Principal": ALICE} and info["capsule_id"] == registered["capsule_id"]

    gallery_id = new_uuid()
    stored = c.update(ALICE, "store_gallery_forever", gallery_data(ALICE, gallery_id))
    assert stored["storage_status"] == {"ICPOnly": None} and stored["gallery_id"] == gallery_id
    refused = c.update(ANON, "store_gallery_forever", gallery_data(ANON, gallery_id))
    assert refused["success"] is False and refused["message"].startswith("Unauthorized")
    assert c.query(ALICE, "get_gallery_by_id", gallery_id)["id"] == gallery_id
    assert c.query(BOB, "get_gallery_by_id", gallery_id) is None
    assert len(c.query(ALICE, "get_my_galleries")) == 1
    assert c.query(BOB, "get_user_galleries", ALICE) == []
    update = {"title": "New", "description": None, "is_public": True, "memory_entries": None}
    assert c.update(ALICE, "update_gallery", gallery_id, update)["gallery"]["is_public"] is True
    assert len(c.query(BOB, "get_user_galleries", ALICE)) == 1

    capsule_memory = new_uuid()
    assert c.update(ALICE, "add_memory_to_capsule", capsule_memory, memory_data(b"inline"))["success"] is True
    memory = c.query(ALICE, "get_memory_from_capsule", capsule_memory)
    assert memory["access"] == {"Private": None} and memory["data"]["data"] == b"inline"
    assert c.query(BOB, "get_memory_from_capsule", capsule_memory) is None

    memory_id = new_uuid()
    meta = c.update(
        ALICE, "upsert_metadata", memory_id, {"Note": None}, metadata_value(), idem_key(memory_id)
    )
    assert meta["success"] is True and meta["data"]["memory_id"] == memory_id
    bad = c.update(ALICE, "upsert_metadata", memory_id, {"Note": None}, metadata_value(), "nope")
    assert bad["data"] is None and bad["error"]["Internal"].startswith("Invalid idempotency key")

    data = payload(2500)
    begun = c.update(ALICE, "begin_asset_upload", memory_id, sha(data), 3, len(data))
    session = begun["data"]["session"]
    assert session["chunks_received"] == [False, False, False]
    sid = session["session_id"]
    for index, chunk in enumerate(chunks_of(data, 1024)):
        put = c.update(ALICE, "put_chunk", sid, index, chunk)
        assert put["data"]["chunk_index"] == index
    assert put["data"]["bytes_received"] == 2500
    progress = c.query(ALICE, "get_upload_progress", sid)["data"]
    assert progress["progress_percentage"] == 100.0 and progress["status"] == {"Active": None}
    assert len(c.query(ALICE, "get_user_upload_sessions")["data"]["sessions"]) == 1
    committed = c.update(ALICE, "commit_asset", sid, sha(data))
    assert committed["data"]["final_hash"] == sha(data) and committed["data"]["total_bytes"] == 2500
    presence = c.query(ALICE, "get_memory_presence_icp", memory_id)["data"]
    assert presence["metadata_present"] is True and presence["asset_present"] is True
    ids = [memory_id, *(new_uuid() for _ in range(25))]
    page = c.query(ALICE, "get_memory_list_presence_icp", ids, None, 0)["data"]
    assert len(page["results"]) == 20 and page["has_more"] is True
    rest = c.query(ALICE, "get_memory_list_presence_icp", ids, page["cursor"], 0)["data"]
    assert len(rest["results"]) == 6 and rest["cursor"] is None
    invalid = c.query(ALICE, "get_memory_list_presence_icp", ids, "garbage", 0)
    assert invalid == {"success": False, "data": None, "error": {"Internal": "Invalid cursor"}}

    other = c.update(ALICE, "begin_asset_upload", new_uuid(), sha(b"x"), 1, 1)["data"]["session"][
        "session_id"
    ]
    cancelled = c.update(ALICE, "cancel_upload", other)
    assert cancelled == {"success": True, "data": Some(None), "error": None}
    assert c.update(BOB, "cancel_upload", other) == {
        "success": False,
        "data": None,
        "error": {"Unauthorized": None},
    }
    assert c.query(ALICE, "get_upload_progress", other)["data"]["status"] == {"Cancelled": None}
    assert c.query(ALICE, "get_upload_progress", other)["data"]["estimated_time_remaining"] is None

    assert c.update(ALICE, "delete_gallery", gallery_id) == {"success": True, "message": "Gallery deleted"}


def test_upgrade_through_the_host_keeps_state_and_timers(host: CanisterHost) -> None:
    c = Client(host)
    memory_id, data = new_uuid(), payload(2000)
    sid = c.update(ALICE, "begin_asset_upload", memory_id, sha(data), 2, len(data))["data"]["session"][
        "session_id"
    ]
    c.update(ALICE, "put_chunk", sid, 0, data[:1024])
    host.upgrade()
    resumed = c.update(ALICE, "begin_asset_upload", memory_id, sha(data), 2, len(data))["data"]["session"]
    assert resumed["session_id"] == sid and resumed["chunks_received"] == [True, False]
    # The clean-up timer runs when the runtime moves the clock past the session's lifetime.
    host.advance_clock(31 * MINUTE)
    assert host.store.conn.execute("SELECT COUNT(*) FROM af_chunks").fetchone()[0] == 0
    assert c.query(ALICE, "get_upload_progress", sid)["data"]["status"] == {"Expired": None}


def test_recursive_memory_access_type_encodes(host: CanisterHost) -> None:
    """`Memory` carries the recursive `MemoryAccess`; the reply must still encode."""
    c = Client(host)
    memory_id = new_uuid()
    c.update(ALICE, "add_memory_to_capsule", memory_id, memory_data(None, with_hash=False))
    assert c.query(ALICE, "get_memory_from_capsule", memory_id)["data"]["data"] is None
