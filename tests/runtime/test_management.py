"""The management canister driven directly against a real canister host and stable store.

Every method is checked for who may call it, what it changes, and that a refusal changes nothing;
snapshots and settings are checked across a "restart" (a fresh host and management canister on the
same files), logs for their size bound.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from emulator.candid import decode_args, encode_args
from emulator.candid.types import NAT64, TEXT
from emulator.canisters.example import ExampleCanister
from emulator.canisters.management import ManagementCanister, ManagementMessage, decode_message
from emulator.canisters.management.canister import INTERFACE
from emulator.canisters.management.snapshots import MAX_SNAPSHOTS_PER_CANISTER
from emulator.principal import Principal
from emulator.protocol.errors import Reject
from emulator.protocol.state_tree import RequestStatus
from emulator.runtime import canister_log
from emulator.runtime.clock import CanisterClock
from emulator.runtime.host import CanisterHost, Replied
from emulator.runtime.stable_store import StableStore

CID = Principal.from_text("u6s2n-gx777-77774-qaaba-cai")
OWNER = Principal.self_authenticating(b"owner-key")
STRANGER = Principal.self_authenticating(b"stranger-key")
EMPTY = encode_args([], [])


class Node:
    """One canister with its management canister, as an emulator process holds them."""

    def __init__(self, state_dir: Path) -> None:
        (state_dir / "canisters").mkdir(parents=True, exist_ok=True)
        self.store = StableStore(state_dir / "canisters" / f"{CID}.sqlite3")
        self.host = CanisterHost(
            CID, ExampleCanister, self.store, CanisterClock(self.store), controllers=(OWNER,)
        )
        self.management = ManagementCanister(None)

    def close(self) -> None:
        self.store.close()

    def _request_id(self) -> bytes:
        return os.urandom(32)  # fresh per message: a reused id is answered from its stored status

    def message(self, method: str, arg: Any | None = None, *, query: bool = False) -> ManagementMessage:
        types = INTERFACE.service[method].args
        decoded = decode_message(method, encode_args(types, [] if arg is None else [arg]), query=query)
        assert isinstance(decoded, ManagementMessage), decoded
        return decoded

    def manage(
        self, method: str, arg: Any | None = None, *, sender: Principal = OWNER
    ) -> RequestStatus | Reject:
        return self.management.call(
            self.host,
            request_id=self._request_id(),
            sender=sender,
            message=self.message(method, arg),
            ingress_expiry=self.host.wall_clock() + 60_000_000_000,
        )

    def ok(self, method: str, arg: Any | None = None) -> Any:
        status = self.manage(method, arg)
        assert isinstance(status, RequestStatus) and status.status == "replied", status
        assert status.reply is not None
        values = decode_args(status.reply, INTERFACE.service[method].results)
        return values[0] if values else None

    def status(self) -> dict[str, Any]:
        result = self.ok("canister_status", {"canister_id": CID})
        assert isinstance(result, dict)
        return result

    def inc(self) -> RequestStatus:
        return self.host.call(
            request_id=self._request_id(), sender=OWNER, method="inc", arg=EMPTY, ingress_expiry=2**62
        )

    def counter(self) -> int:
        outcome = self.host.query(sender=OWNER, method="get", arg=EMPTY)
        assert isinstance(outcome, Replied), outcome
        return int(decode_args(outcome.arg, [NAT64])[0])


@pytest.fixture
def node(tmp_path: Path) -> Any:
    n = Node(tmp_path)
    yield n
    n.close()


def cid_arg() -> dict[str, Any]:
    return {"canister_id": CID}


def test_canister_status_reports_the_canister_and_every_field_agents_decode(node: Node) -> None:
    status = node.status()
    assert status["status"] == {"running": None}
    assert status["module_hash"] == node.host.state().module_hash
    assert status["settings"]["controllers"] == [OWNER]
    assert status["settings"]["log_visibility"] == {"controllers": None}
    assert status["memory_size"] > 0 and status["cycles"] > 0
    assert status["memory_metrics"]["stable_memory_size"] == status["memory_size"]
    for name in ("snapshot_visibility", "status_visibility", "minimum_incoming_canister_call_cycles"):
        assert name in status["settings"]


@pytest.mark.parametrize(
    ("method", "arg"),
    [
        ("canister_status", cid_arg()),
        ("stop_canister", cid_arg()),
        ("start_canister", cid_arg()),
        ("update_settings", {"canister_id": CID, "settings": {"controllers": [Principal.anonymous()]}}),
        ("take_canister_snapshot", {"canister_id": CID}),
        ("list_canister_snapshots", cid_arg()),
    ],
)
def test_a_stranger_gets_the_replicas_controller_reject_and_nothing_changes(
    node: Node, method: str, arg: dict[str, Any]
) -> None:
    before = (node.host.controllers, node.host.running, node.store.path and node.store.path.stat().st_size)
    refused = node.manage(method, arg, sender=STRANGER)
    assert isinstance(refused, Reject)
    assert (int(refused.code), refused.error_code) == (5, "IC0512")
    assert refused.message == (
        f"Only the controllers of the canister {CID} can control it.\n"
        f"Canister's controllers: {OWNER}\nSender's ID: {STRANGER}"
    )
    assert (node.host.controllers, node.host.running) == before[:2]
    with node.store.read() as db:  # nothing recorded either
        assert db.execute("SELECT COUNT(*) FROM _ic_request_status").fetchone()[0] == 0


def test_update_settings_changes_controllers_status_and_read_state_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    node = Node(tmp_path)
    node.ok(
        "update_settings",
        {
            "canister_id": CID,
            "settings": {
                "controllers": [OWNER, STRANGER],
                "freezing_threshold": 100,
                "log_visibility": {"public": None},
            },
        },
    )
    assert node.status()["settings"]["controllers"] == [OWNER, STRANGER]
    assert node.host.state().controllers == (OWNER, STRANGER)  # what read_state certifies
    node.close()
    again = Node(tmp_path)  # configured controllers say OWNER only: the stored list wins
    try:
        settings = again.status()["settings"]
        assert settings["controllers"] == [OWNER, STRANGER]
        assert settings["freezing_threshold"] == 100 and settings["log_visibility"] == {"public": None}
    finally:
        again.close()


def test_invalid_settings_are_refused_whole(node: Node) -> None:
    status = node.manage(
        "update_settings",
        {"canister_id": CID, "settings": {"controllers": [STRANGER], "compute_allocation": 101}},
    )
    assert isinstance(status, RequestStatus) and status.status == "rejected"
    assert status.reject is not None and status.reject.error_code == "IC0504"
    assert node.host.controllers == (OWNER,)
    too_many = [Principal.self_authenticating(bytes([i])) for i in range(11)]
    refused = node.manage("update_settings", {"canister_id": CID, "settings": {"controllers": too_many}})
    assert isinstance(refused, RequestStatus) and refused.reject is not None
    assert "exceeds maximum size allowed of 10" in refused.reject.message
    assert node.host.controllers == (OWNER,)


def test_a_stopped_canister_refuses_calls_keeps_its_state_and_runs_again_after_start(tmp_path: Path) -> None:
    node = Node(tmp_path)
    node.inc()
    node.ok("stop_canister", cid_arg())
    assert node.status()["status"] == {"stopped": None}
    refused = node.inc()
    assert refused.reject is not None
    assert (int(refused.reject.code), refused.reject.error_code) == (5, "IC0508")
    assert refused.reject.message == f"Canister {CID} is stopped"
    query = node.host.query(sender=OWNER, method="get", arg=EMPTY)
    assert isinstance(query, Reject) and query.message == f"Canister {CID} is not running"
    node.close()
    node = Node(tmp_path)  # stopped survives a restart
    try:
        assert node.status()["status"] == {"stopped": None}
        node.ok("start_canister", cid_arg())
        assert node.counter() == 1
        node.inc()
        assert node.counter() == 2
    finally:
        node.close()


def test_logs_hold_traps_follow_log_visibility_and_stay_bounded(node: Node) -> None:
    trapped = node.host.call(
        request_id=b"t" * 32,
        sender=OWNER,
        method="fail",
        arg=encode_args([TEXT], ["boom"]),
        ingress_expiry=2**62,
    )
    assert trapped.status == "rejected"
    logs = node.management.query(node.host, OWNER, node.message("fetch_canister_logs", cid_arg(), query=True))
    assert isinstance(logs, Replied)
    (records,) = decode_args(logs.arg, INTERFACE.service["fetch_canister_logs"].results)
    contents = [r["content"] for r in records["canister_log_records"]]
    assert contents == [b"[TRAP]: boom"]
    denied = node.management.query(
        node.host, STRANGER, node.message("fetch_canister_logs", cid_arg(), query=True)
    )
    assert isinstance(denied, Reject) and denied.error_code == "IC0406"
    assert denied.message == f"Caller {STRANGER} is not allowed to query ic00 method fetch_canister_logs"

    with node.store.atomic() as db:
        for i in range(500):
            canister_log.append(db, i, f"line {i:04d} " + "x" * 40)
    with node.store.read() as db:
        kept = canister_log.records(db)
    assert sum(len(r.content) for r in kept) <= canister_log.LOG_MEMORY_LIMIT_BYTES
    assert kept[-1].content.startswith(b"line 0499") and kept[0].idx > 1
    assert [r.idx for r in kept] == list(range(kept[0].idx, kept[0].idx + len(kept)))


def test_snapshots_load_only_when_stopped_restore_state_and_survive_a_restart(tmp_path: Path) -> None:
    node = Node(tmp_path)
    node.inc()
    taken = node.ok("take_canister_snapshot", cid_arg())
    assert taken["id"].startswith(CID.raw) and taken["total_size"] > 0
    node.inc()
    node.inc()
    assert node.counter() == 3
    node.close()

    node = Node(tmp_path)
    try:
        assert [s["id"] for s in node.ok("list_canister_snapshots", cid_arg())] == [taken["id"]]
        running = node.manage("load_canister_snapshot", {"canister_id": CID, "snapshot_id": taken["id"]})
        assert isinstance(running, RequestStatus) and running.reject is not None
        assert running.reject.error_code == "IC0510" and node.counter() == 3
        node.ok("stop_canister", cid_arg())
        node.ok("load_canister_snapshot", {"canister_id": CID, "snapshot_id": taken["id"]})
        assert node.status()["status"] == {"stopped": None}  # the running status is not in a snapshot
        node.ok("start_canister", cid_arg())
        assert node.counter() == 1
        assert node.host.controllers == (OWNER,)
        node.ok("delete_canister_snapshot", {"canister_id": CID, "snapshot_id": taken["id"]})
        assert node.ok("list_canister_snapshots", cid_arg()) == []
        gone = node.manage("delete_canister_snapshot", {"canister_id": CID, "snapshot_id": taken["id"]})
        assert isinstance(gone, RequestStatus) and gone.reject is not None
        assert (int(gone.reject.code), gone.reject.error_code) == (3, "IC0305")
        foreign = node.manage("delete_canister_snapshot", {"canister_id": CID, "snapshot_id": b"\x01" * 18})
        assert isinstance(foreign, RequestStatus) and foreign.reject is not None
        assert foreign.reject.error_code == "IC0406"
    finally:
        node.close()


def test_snapshot_count_is_limited_and_replace_snapshot_swaps_one(node: Node) -> None:
    ids = [node.ok("take_canister_snapshot", cid_arg())["id"] for _ in range(MAX_SNAPSHOTS_PER_CANISTER)]
    refused = node.manage("take_canister_snapshot", cid_arg())
    assert isinstance(refused, RequestStatus) and refused.reject is not None
    assert "maximum number of snapshots allowed: 10" in refused.reject.message
    replaced = node.ok("take_canister_snapshot", {"canister_id": CID, "replace_snapshot": ids[0]})
    listed = [s["id"] for s in node.ok("list_canister_snapshots", cid_arg())]
    assert ids[0] not in listed and replaced["id"] in listed and len(listed) == MAX_SNAPSHOTS_PER_CANISTER


def test_raw_rand_gives_fresh_32_bytes(node: Node) -> None:
    first, second = node.ok("raw_rand"), node.ok("raw_rand")
    assert len(first) == 32 and len(second) == 32 and first != second


def test_the_ingress_filter_refuses_bad_arguments_unknown_and_unsupported_methods() -> None:
    garbage = decode_message("canister_status", b"DIDL\x00\x01\x71\x03abc", query=False)
    assert isinstance(garbage, Reject) and (int(garbage.code), garbage.error_code) == (5, "IC0504")
    assert garbage.message.startswith("Error decoding candid: ")
    install = decode_message("install_code", b"DIDL\x00\x00", query=False)
    assert isinstance(install, Reject) and "storeforever emulator upgrade" in install.message
    unknown = decode_message("no_such_method", EMPTY, query=False)
    assert isinstance(unknown, Reject) and unknown.error_code == "IC0407"
    as_query = decode_message(
        "stop_canister", encode_args(INTERFACE.service["stop_canister"].args, [cid_arg()]), query=True
    )
    assert isinstance(as_query, Reject) and as_query.error_code == "IC0536"


def test_visibility_settings_open_status_logs_and_snapshot_lists_to_the_named_callers(node: Node) -> None:
    def as_stranger(method: str) -> object:
        message = node.message(method, cid_arg(), query=method in ("fetch_canister_logs", "canister_status"))
        if method == "list_canister_snapshots":
            return node.manage(method, cid_arg(), sender=STRANGER)
        return node.management.query(node.host, STRANGER, message)

    for method in ("canister_status", "fetch_canister_logs", "list_canister_snapshots"):
        assert isinstance(as_stranger(method), Reject)
    node.ok(
        "update_settings",
        {
            "canister_id": CID,
            "settings": {
                "status_visibility": {"public": None},
                "log_visibility": {"allowed_viewers": [STRANGER]},
                "snapshot_visibility": {"allowed_viewers": [STRANGER]},
            },
        },
    )
    assert isinstance(as_stranger("canister_status"), Replied)
    assert isinstance(as_stranger("fetch_canister_logs"), Replied)
    listed = as_stranger("list_canister_snapshots")
    assert isinstance(listed, RequestStatus) and listed.status == "replied"
    stopped = node.manage("stop_canister", cid_arg(), sender=STRANGER)  # viewing is not controlling
    assert isinstance(stopped, Reject) and stopped.error_code == "IC0512"
