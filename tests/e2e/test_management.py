"""The management canister over real HTTP against real emulator processes.

Every method: who may call it (controllers; the replica's reject for anyone else, with nothing
changed), its effect as agents see it (certified replies, read_state), the stopped state, snapshots
across a process restart, and the log's size bound. Hostile inputs get bounded answers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cbor2
import httpx
import pytest

from clients.admin import AdminClient
from clients.ic import Connection, Reject, generate_ed25519, sign_envelope
from clients.ic.envelope import call_content, query_content
from emulator.candid import encode_args, parse_did
from emulator.canisters.artifact import ArtifactCanister
from emulator.principal import Principal
from tests.e2e import management_client as mgmt
from tests.emulator_process import DEFAULT_ID, EXAMPLE_ID, EmulatorProcess

OUTSIDE_RANGE = "rrkah-fqaaa-aaaaa-aaaaq-cai"  # a mainnet-style id no local subnet serves
GATEWAY_NOT_FOUND = "error: canister_not_found\ndetails: The specified canister does not exist."


def principal_of(conn: Connection) -> Principal:
    return Principal(bytes(conn.identity.sender().bytes))


@pytest.fixture
def node(tmp_path: Path, owner_pem: tuple[Path, Any]) -> Iterator[EmulatorProcess]:
    proc = EmulatorProcess(
        tmp_path / "state",
        canisters=[f"artifact={DEFAULT_ID}", f"example={EXAMPLE_ID}"],
        extra_args=["--controller", str(owner_pem[0])],
    )
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture
def owner(node: EmulatorProcess, owner_pem: tuple[Path, Any]) -> Connection:
    return Connection(node.url, owner_pem[1])


@pytest.fixture
def stranger(node: EmulatorProcess) -> Connection:
    return Connection(node.url, generate_ed25519())


def counter(conn: Connection) -> int:
    from icp_candid import Types

    return int(conn.query(EXAMPLE_ID, "get", ret_types=[Types.Nat64]))


def inc(conn: Connection) -> None:
    from icp_candid import Types

    conn.update(EXAMPLE_ID, "inc", ret_types=[Types.Nat64])


def certified_controllers(conn: Connection, cid: str) -> list[Principal]:
    raw = Principal.from_text(cid).raw
    cert = conn.read_state(cid, [[b"canister", raw, b"controllers"]])
    value = cert.lookup([b"canister", raw, b"controllers"])
    assert value is not None
    return [Principal(bytes(p)) for p in cbor2.loads(value)]


def test_start_up_line_names_the_controllers(node: EmulatorProcess, owner: Connection) -> None:
    assert node.info["controllers"] == {
        DEFAULT_ID: [principal_of(owner).to_text()],
        EXAMPLE_ID: [principal_of(owner).to_text()],
    }
    assert node.log_path is not None
    assert (
        f"canister {EXAMPLE_ID} is controlled by {principal_of(owner).to_text()}" in node.log_path.read_text()
    )


def test_status_and_settings_agree_with_read_state(owner: Connection, stranger: Connection) -> None:
    arg = {"canister_id": Principal.from_text(EXAMPLE_ID)}
    status = mgmt.call(owner, EXAMPLE_ID, "canister_status", arg)
    assert status["status"] == {"running": None}
    assert status["settings"]["controllers"] == certified_controllers(owner, EXAMPLE_ID)
    raw = Principal.from_text(EXAMPLE_ID).raw
    module_hash = owner.read_state(EXAMPLE_ID, [[b"canister", raw, b"module_hash"]]).lookup(
        [b"canister", raw, b"module_hash"]
    )
    assert status["module_hash"] == module_hash
    assert mgmt.query(owner, EXAMPLE_ID, "canister_status", arg)["settings"] == status["settings"]

    new = [principal_of(owner), principal_of(stranger)]
    mgmt.call(
        owner,
        EXAMPLE_ID,
        "update_settings",
        {"canister_id": arg["canister_id"], "settings": {"controllers": new}},
    )
    assert mgmt.call(owner, EXAMPLE_ID, "canister_status", arg)["settings"]["controllers"] == new
    assert certified_controllers(owner, EXAMPLE_ID) == new
    # the new controller may now read the status too
    assert mgmt.call(stranger, EXAMPLE_ID, "canister_status", arg)["status"] == {"running": None}


@pytest.mark.parametrize(
    ("method", "arg"),
    [
        ("canister_status", {}),
        ("stop_canister", {}),
        ("update_settings", {"settings": {"controllers": []}}),
        ("take_canister_snapshot", {}),
        ("list_canister_snapshots", {}),
    ],
)
def test_a_non_controller_gets_the_replicas_reject_and_nothing_changes(
    owner: Connection, stranger: Connection, method: str, arg: dict[str, Any]
) -> None:
    cid = Principal.from_text(EXAMPLE_ID)
    with pytest.raises(mgmt.Rejected) as info:
        mgmt.call(stranger, EXAMPLE_ID, method, {"canister_id": cid, **arg})
    assert (info.value.code, info.value.error_code, info.value.certified) == (5, "IC0512", False)
    assert info.value.message.startswith(
        f"Only the controllers of the canister {EXAMPLE_ID} can control it.\n"
    )
    status = mgmt.call(owner, EXAMPLE_ID, "canister_status", {"canister_id": cid})
    assert status["status"] == {"running": None} and status["settings"]["controllers"] == [
        principal_of(owner)
    ]
    assert mgmt.call(owner, EXAMPLE_ID, "list_canister_snapshots", {"canister_id": cid}) == []


def test_stop_refuses_calls_with_the_replicas_text_keeps_state_and_start_resumes(owner: Connection) -> None:
    cid = {"canister_id": Principal.from_text(EXAMPLE_ID)}
    inc(owner)
    mgmt.call(owner, EXAMPLE_ID, "stop_canister", cid)
    with pytest.raises(Reject) as update:
        inc(owner)
    assert (update.value.reject_code, update.value.error_code) == (5, "IC0508")
    assert update.value.reject_message == f"Canister {EXAMPLE_ID} is stopped"
    with pytest.raises(Reject) as read:
        counter(owner)
    assert read.value.reject_message == f"Canister {EXAMPLE_ID} is not running"
    assert mgmt.call(owner, EXAMPLE_ID, "canister_status", cid)["status"] == {"stopped": None}
    mgmt.call(owner, EXAMPLE_ID, "start_canister", cid)
    assert counter(owner) == 1


def test_snapshots_survive_a_restart_and_load_restores_the_snapshot(
    node: EmulatorProcess, owner: Connection
) -> None:
    cid = {"canister_id": Principal.from_text(EXAMPLE_ID)}
    inc(owner)
    snapshot = mgmt.call(owner, EXAMPLE_ID, "take_canister_snapshot", cid)
    inc(owner)
    inc(owner)
    node.restart()
    owner = Connection(node.url, owner.identity)
    listed = mgmt.call(owner, EXAMPLE_ID, "list_canister_snapshots", cid)
    assert [s["id"] for s in listed] == [snapshot["id"]]
    load = {**cid, "snapshot_id": snapshot["id"]}
    with pytest.raises(mgmt.Rejected) as running:
        mgmt.call(owner, EXAMPLE_ID, "load_canister_snapshot", load)
    assert (running.value.error_code, running.value.certified) == ("IC0510", True)
    assert counter(owner) == 3
    mgmt.call(owner, EXAMPLE_ID, "stop_canister", cid)
    mgmt.call(owner, EXAMPLE_ID, "load_canister_snapshot", load)
    mgmt.call(owner, EXAMPLE_ID, "start_canister", cid)
    assert counter(owner) == 1
    mgmt.call(owner, EXAMPLE_ID, "delete_canister_snapshot", load)
    assert mgmt.call(owner, EXAMPLE_ID, "list_canister_snapshots", cid) == []


def test_logs_record_refusals_of_the_artifact_canister_and_stay_bounded(
    owner: Connection, stranger: Connection
) -> None:
    cid = {"canister_id": Principal.from_text(DEFAULT_ID)}
    for _ in range(60):  # each is refused: an unknown session
        owner.update_raw(DEFAULT_ID, "put_chunk", put_chunk_arg(str(uuid.uuid4())))
    records = mgmt.query(owner, DEFAULT_ID, "fetch_canister_logs", cid)["canister_log_records"]
    assert records and all(r["content"].startswith(b"refused put_chunk on ") for r in records)
    assert sum(len(r["content"]) for r in records) <= 4096
    assert records[-1]["idx"] >= 59 and records[0]["idx"] > 0  # the oldest were dropped
    assert [r["idx"] for r in records] == list(range(records[0]["idx"], records[-1]["idx"] + 1))
    with pytest.raises(mgmt.Rejected) as info:
        mgmt.query(stranger, DEFAULT_ID, "fetch_canister_logs", cid)
    assert info.value.message == (
        f"Caller {principal_of(stranger).to_text()} is not allowed to query ic00 method fetch_canister_logs"
    )
    status = mgmt.call(owner, DEFAULT_ID, "canister_status", cid)
    assert status["memory_metrics"]["log_memory_store_size"] == sum(len(r["content"]) for r in records)


def put_chunk_arg(session_id: str) -> bytes:
    func = parse_did(ArtifactCanister.CANDID).service["put_chunk"]
    return encode_args(func.args, [session_id, 0, b"chunk"])


def test_raw_rand_and_unsupported_methods(owner: Connection) -> None:
    first, second = mgmt.call(owner, EXAMPLE_ID, "raw_rand"), mgmt.call(owner, EXAMPLE_ID, "raw_rand")
    assert len(first) == 32 and first != second
    with pytest.raises(mgmt.Rejected) as info:
        mgmt.call_raw(owner, EXAMPLE_ID, "install_code", b"DIDL\x00\x00")
    assert info.value.code == 4 and "storeforever emulator upgrade" in info.value.message


def test_hostile_management_calls_get_bounded_answers_and_change_nothing(owner: Connection) -> None:
    with pytest.raises(mgmt.Rejected) as garbage:
        mgmt.call_raw(owner, EXAMPLE_ID, "stop_canister", b"DIDL\x00\x01\x71\x02hi")
    assert (garbage.value.code, garbage.value.error_code) == (5, "IC0504")
    assert garbage.value.message.startswith("Error decoding candid: ")
    with pytest.raises(httpx.HTTPStatusError) as other:
        mgmt.call(owner, EXAMPLE_ID, "stop_canister", {"canister_id": Principal.from_text(DEFAULT_ID)})
    assert other.value.response.status_code == 400
    assert other.value.response.text == (
        f"Specified CanisterId {DEFAULT_ID} does not match effective canister id in URL {EXAMPLE_ID}"
    )
    for cid in (EXAMPLE_ID, DEFAULT_ID):
        status = mgmt.call(owner, cid, "canister_status", {"canister_id": Principal.from_text(cid)})
        assert status["status"] == {"running": None}


def test_v2_call_and_polling_work_for_management_calls(owner: Connection) -> None:
    cid = {"canister_id": Principal.from_text(EXAMPLE_ID)}
    status = mgmt.call(owner, EXAMPLE_ID, "canister_status", cid, version="v2")
    assert status["status"] == {"running": None}


def test_canister_ids_outside_the_subnet_get_the_gateways_not_found(owner: Connection) -> None:
    sender = bytes(owner.identity.sender().bytes)
    for path, content in (
        ("query", query_content(sender, OUTSIDE_RANGE, "get", b"DIDL\x00\x00")),
        ("call", call_content(sender, OUTSIDE_RANGE, "inc", b"DIDL\x00\x00")),
    ):
        _, body = sign_envelope(content, owner.identity)
        response = httpx.post(
            f"{owner.url}/api/v3/canister/{OUTSIDE_RANGE}/{path}",
            content=body,
            headers={"Content-Type": "application/cbor"},
        )
        assert (response.status_code, response.text) == (400, GATEWAY_NOT_FOUND)


def test_a_whole_emulator_restore_brings_back_controllers_and_running_status(
    node: EmulatorProcess, owner: Connection, stranger: Connection, tmp_path: Path
) -> None:
    cid = {"canister_id": Principal.from_text(EXAMPLE_ID)}
    mgmt.call(owner, EXAMPLE_ID, "stop_canister", cid)
    with AdminClient(node.admin_url) as admin:
        saved = admin.snapshot(tmp_path / "whole.zip")
        mgmt.call(owner, EXAMPLE_ID, "start_canister", cid)
        new = {"controllers": [principal_of(owner), principal_of(stranger)]}
        mgmt.call(owner, EXAMPLE_ID, "update_settings", {**cid, "settings": new})
        admin.restore(saved)
    status = mgmt.call(owner, EXAMPLE_ID, "canister_status", cid)
    assert status["status"] == {"stopped": None}
    assert (
        status["settings"]["controllers"] == [principal_of(owner)] == certified_controllers(owner, EXAMPLE_ID)
    )
    with pytest.raises(Reject) as refused:
        inc(owner)
    assert refused.value.error_code == "IC0508"
