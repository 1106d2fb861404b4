"""read_state authorization and the certified trees built for read_state and sync calls."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cbor2
import py_arkworks_bls12381 as ark
import pytest

from emulator.principal import Principal
from emulator.protocol.certificate import BLS_DST, STATE_ROOT_DOMAIN, RootKey
from emulator.protocol.envelope import ReadStateEnvelope, parse_envelope
from emulator.protocol.errors import ProtocolError, Reject, RejectCode, canister_trapped
from emulator.protocol.hashtree import Fork, HashTree, Labeled, digest, from_cbor_value, lookup
from emulator.protocol.node_key import NodeKey
from emulator.protocol.request_id import uleb128
from emulator.protocol.state_tree import (
    CanisterState,
    RequestStatus,
    StateView,
    authorize_read_state,
    build_state_tree,
    call_reply_certificate,
    certificate_for_paths,
)
from tests.protocol.helpers import (
    NOW,
    RRKAH,
    V2_IDENTITY,
    Ed25519Identity,
    Link,
    read_state_content,
    signed_envelope,
)

ANON = Principal.anonymous()
OTHER = Principal.from_text("ryjl3-tyaaa-aaaaa-aaaba-cai")
STRANGER = Ed25519Identity(b"\x51" * 32)
ROOT_KEY = RootKey(b"\x00" * 31 + b"\x2a")
NODE = NodeKey(b"\x42" * 32)
SID = ROOT_KEY.subnet_id
NID = NODE.node_id
RID_REPLIED = b"\x01" * 32
RID_REJECTED = b"\x02" * 32
RID_PROCESSING = b"\x03" * 32
RID_OTHER_CANISTER = b"\x04" * 32
RID_UNKNOWN = b"\x05" * 32
MODULE_HASH = b"\x6d" * 32


@dataclass
class FakeView:
    time_ns: int = NOW
    root_key: RootKey = ROOT_KEY
    node: NodeKey = NODE
    canister_ranges: Sequence[tuple[Principal, Principal]] = ((RRKAH, RRKAH),)
    canisters: dict[Principal, CanisterState] = field(default_factory=dict)
    statuses: dict[bytes, RequestStatus] = field(default_factory=dict)

    def canister(self, cid: Principal) -> CanisterState | None:
        return self.canisters.get(cid)

    def request_status(self, request_id: bytes) -> RequestStatus | None:
        return self.statuses.get(request_id)


def make_view() -> FakeView:
    user = V2_IDENTITY.principal
    return FakeView(
        canisters={
            RRKAH: CanisterState(
                module_hash=MODULE_HASH,
                controllers=(user, ANON),
                metadata={"candid:service": b"service : {}", "git": b"abc"},
            )
        },
        statuses={
            RID_REPLIED: RequestStatus("replied", user, RRKAH, reply=b"DIDL\x00\x00"),
            RID_REJECTED: RequestStatus("rejected", user, RRKAH, reject=canister_trapped(RRKAH, "boom")),
            RID_PROCESSING: RequestStatus("processing", user, RRKAH),
            RID_OTHER_CANISTER: RequestStatus("replied", user, OTHER, reply=b"DIDL\x00\x00"),
        },
    )


def test_fake_view_satisfies_protocol() -> None:
    view: StateView = make_view()
    assert view.time_ns == NOW


def read_state(
    paths: Sequence[Sequence[bytes]],
    identity: Ed25519Identity | None = V2_IDENTITY,
    chain: Sequence[Link] = (),
) -> ReadStateEnvelope:
    sender = identity.principal if identity is not None else ANON
    return parse_envelope(signed_envelope(read_state_content(sender, paths), identity, chain), "read_state")


def expect(
    env: ReadStateEnvelope, status: int, message: str, *, effective: Principal = RRKAH, subnet: bool = False
) -> None:
    with pytest.raises(ProtocolError) as info:
        authorize_read_state(env, effective, make_view(), subnet)
    assert (info.value.http_status, info.value.message) == (status, message)


# --- authorization ---------------------------------------------------------------------------------

ALLOWED_ON_CANISTER_ENDPOINT: list[list[bytes]] = [
    [b"time"],
    [b"subnet"],
    [b"subnet", SID.raw],
    [b"subnet", SID.raw, b"public_key"],
    [b"subnet", SID.raw, b"canister_ranges"],
    [b"subnet", SID.raw, b"node"],
    [b"subnet", SID.raw, b"node", NID.raw],
    [b"subnet", SID.raw, b"node", NID.raw, b"public_key"],
    [b"api_boundary_nodes"],
    [b"canister", RRKAH.raw, b"module_hash"],
    [b"canister", RRKAH.raw, b"controllers"],
    [b"canister", RRKAH.raw, b"metadata", b"candid:service"],
    [b"request_status", RID_REPLIED],
    [b"request_status", RID_REPLIED, b"status"],
    [b"request_status", RID_REPLIED, b"reply"],
]


@pytest.mark.parametrize("path", ALLOWED_ON_CANISTER_ENDPOINT, ids=lambda p: "/".join(x.hex()[:8] for x in p))
def test_allowed_paths(path: list[bytes]) -> None:
    authorize_read_state(read_state([path]), RRKAH, make_view(), False)


def test_unknown_request_id_is_allowed() -> None:
    authorize_read_state(read_state([[b"request_status", RID_UNKNOWN, b"reply"]]), RRKAH, make_view(), False)


def test_all_allowed_paths_together_and_time_for_any_effective_id() -> None:
    authorize_read_state(read_state(ALLOWED_ON_CANISTER_ENDPOINT), RRKAH, make_view(), False)
    authorize_read_state(read_state([[b"time"]], None), OTHER, make_view(), False)


@pytest.mark.parametrize(
    "path",
    [
        [b"canister", RRKAH.raw, b"certified_data"],
        [b"canister", RRKAH.raw],
        [b"canister"],
        [b"canister_ranges", SID.raw],
        [b"unknown"],
        [b"time", b"extra"],
        [b"subnet", SID.raw, b"metrics"],
        [b"subnet", SID.raw, b"type"],
        [b"request_status"],
        [b"request_status", RID_REPLIED, b"nope"],
        [],
    ],
)
def test_unsupported_paths_are_404(path: list[bytes]) -> None:
    expect(read_state([[b"time"], path]), 404, "Invalid path requested.")


def test_canister_path_for_another_canister() -> None:
    expect(
        read_state([[b"canister", OTHER.raw, b"controllers"]]),
        400,
        f"Effective principal id in URL {RRKAH.to_text()} "
        f"does not match requested principal id: {OTHER.to_text()}.",
    )


def test_canister_label_that_is_no_principal() -> None:
    expect(
        read_state([[b"canister", b"\x01" * 30, b"module_hash"]]),
        400,
        "Could not parse principal ID: principal longer than 29 bytes.",
    )


def test_metadata_name_not_utf8() -> None:
    env = read_state([[b"canister", RRKAH.raw, b"metadata", b"\xff"]])
    with pytest.raises(ProtocolError) as info:
        authorize_read_state(env, RRKAH, make_view(), False)
    assert info.value.http_status == 400
    assert info.value.message.startswith("Could not parse the custom section name: ")


def test_request_status_of_another_sender_is_403() -> None:
    expect(
        read_state([[b"request_status", RID_REPLIED]], STRANGER),
        403,
        "The user tries to access Request ID not signed by the caller.",
    )


def test_request_status_of_unknown_request_is_allowed_for_anyone() -> None:
    authorize_read_state(read_state([[b"request_status", RID_UNKNOWN]], STRANGER), RRKAH, make_view(), False)


def test_mixed_request_ids_are_400() -> None:
    expect(
        read_state([[b"request_status", RID_REPLIED, b"status"], [b"request_status", RID_REJECTED]]),
        400,
        "More than one non-unique request ID exists in request_status paths: "
        f"{RID_REPLIED.hex()} and {RID_REJECTED.hex()}.",
    )


def test_request_id_of_wrong_length_is_400() -> None:
    expect(
        read_state([[b"request_status", b"\x01" * 31]]),
        400,
        "Invalid request id in paths. Maybe the request ID is not of 32 bytes in length?!",
    )


def test_request_status_outside_delegation_targets_is_403() -> None:
    session = Ed25519Identity(b"\x61" * 32)
    chain = [Link(session, NOW * 2, [RRKAH])]
    authorize_read_state(
        read_state([[b"request_status", RID_REPLIED]], V2_IDENTITY, chain), RRKAH, make_view(), False
    )
    expect(
        read_state([[b"request_status", RID_OTHER_CANISTER]], V2_IDENTITY, chain),
        403,
        "The user tries to access request IDs for canisters not belonging to sender delegation targets.",
    )


@pytest.mark.parametrize(
    "path",
    [
        [b"time"],
        [b"subnet"],
        [b"subnet", SID.raw, b"public_key"],
        [b"subnet", SID.raw, b"node", NID.raw, b"public_key"],
        [b"subnet", SID.raw, b"metrics"],
    ],
)
def test_subnet_endpoint_allows_time_and_subnet(path: list[bytes]) -> None:
    authorize_read_state(read_state([path]), SID, make_view(), True)


@pytest.mark.parametrize(
    "path",
    [
        [b"canister", RRKAH.raw, b"controllers"],
        [b"request_status", RID_REPLIED],
        [b"canister", SID.raw, b"module_hash"],
    ],
)
def test_subnet_endpoint_refuses_canister_paths(path: list[bytes]) -> None:
    expect(read_state([path]), 404, "Invalid path requested.", effective=SID, subnet=True)


def test_subnet_metrics_for_another_subnet() -> None:
    expect(
        read_state([[b"subnet", OTHER.raw, b"metrics"]]),
        400,
        f"Effective principal id in URL {SID.to_text()} "
        f"does not match requested principal id: {OTHER.to_text()}.",
        effective=SID,
        subnet=True,
    )


# --- tree contents ---------------------------------------------------------------------------------


def labels_at(tree: HashTree, path: Sequence[bytes]) -> list[bytes]:
    node = tree
    for label in path:
        node = next(child for child in children(node) if child.label == label).subtree
    return [child.label for child in children(node)]


def children(tree: HashTree) -> list[Labeled]:
    if isinstance(tree, Fork):
        return children(tree.left) + children(tree.right)
    if isinstance(tree, Labeled):
        return [tree]
    return []


def test_time_is_always_present() -> None:
    tree = build_state_tree([], make_view())
    assert lookup(tree, [b"time"]) == uleb128(NOW)
    assert labels_at(tree, []) == [b"time"]


def test_subnet_subtree() -> None:
    tree = build_state_tree([[b"subnet"]], make_view())
    assert labels_at(tree, []) == [b"subnet", b"time"]
    assert labels_at(tree, [b"subnet"]) == [SID.raw]
    assert labels_at(tree, [b"subnet", SID.raw]) == [b"canister_ranges", b"node", b"public_key"]
    assert lookup(tree, [b"subnet", SID.raw, b"public_key"]) == ROOT_KEY.der
    assert lookup(tree, [b"subnet", SID.raw, b"node", NID.raw, b"public_key"]) == NODE.der
    ranges = lookup(tree, [b"subnet", SID.raw, b"canister_ranges"])
    assert ranges is not None and ranges.startswith(b"\xd9\xd9\xf7")
    assert cbor2.loads(ranges) == ((RRKAH.raw, RRKAH.raw),)
    assert b"canister_ranges" not in labels_at(tree, [])  # never a top-level sharded subtree


def test_partial_subnet_paths() -> None:
    tree = build_state_tree([[b"subnet", SID.raw, b"public_key"]], make_view())
    assert labels_at(tree, [b"subnet", SID.raw]) == [b"public_key"]
    tree = build_state_tree([[b"subnet", SID.raw, b"node", NID.raw]], make_view())
    assert labels_at(tree, [b"subnet", SID.raw]) == [b"node"]
    assert build_state_tree([[b"subnet", OTHER.raw]], make_view()) == build_state_tree([], make_view())


def test_overlapping_paths_merge() -> None:
    view = make_view()
    tree = build_state_tree([[b"subnet", SID.raw, b"public_key"], [b"subnet"], [b"time"]], view)
    assert tree == build_state_tree([[b"subnet"]], view)


def test_canister_leaves() -> None:
    paths = [
        [b"canister", RRKAH.raw, b"module_hash"],
        [b"canister", RRKAH.raw, b"controllers"],
        [b"canister", RRKAH.raw, b"metadata", b"candid:service"],
    ]
    tree = build_state_tree(paths, make_view())
    assert lookup(tree, paths[0]) == MODULE_HASH
    controllers = lookup(tree, paths[1])
    assert controllers is not None and controllers.startswith(b"\xd9\xd9\xf7")
    assert cbor2.loads(controllers) == (V2_IDENTITY.principal.raw, ANON.raw)
    assert lookup(tree, paths[2]) == b"service : {}"
    assert labels_at(tree, [b"canister", RRKAH.raw, b"metadata"]) == [
        b"candid:service"
    ]  # only what was asked


def test_absent_things_are_left_out() -> None:
    view = make_view()
    view.canisters[OTHER] = CanisterState(module_hash=None, controllers=())
    paths = [
        [b"canister", OTHER.raw, b"module_hash"],
        [b"canister", RRKAH.raw, b"metadata", b"missing"],
        [b"request_status", RID_UNKNOWN],
        [b"api_boundary_nodes"],
    ]
    tree = build_state_tree(paths, view)
    assert labels_at(tree, []) == [b"time"]
    empty_controllers = lookup(
        build_state_tree([[b"canister", OTHER.raw, b"controllers"]], view),
        [b"canister", OTHER.raw, b"controllers"],
    )
    assert empty_controllers is not None and cbor2.loads(empty_controllers) == ()


@pytest.mark.parametrize(
    ("rid", "expected"),
    [
        (RID_REPLIED, {b"status": b"replied", b"reply": b"DIDL\x00\x00"}),
        (
            RID_REJECTED,
            {
                b"status": b"rejected",
                b"reject_code": b"\x05",
                b"reject_message": canister_trapped(RRKAH, "boom").message.encode(),
                b"error_code": b"IC0503",
            },
        ),
        (RID_PROCESSING, {b"status": b"processing"}),
    ],
)
def test_request_status_subtree(rid: bytes, expected: dict[bytes, bytes]) -> None:
    tree = build_state_tree([[b"request_status", rid]], make_view())
    assert sorted(labels_at(tree, [b"request_status", rid])) == sorted(expected)
    for label, value in expected.items():
        assert lookup(tree, [b"request_status", rid, label]) == value
    single = build_state_tree([[b"request_status", rid, b"status"]], make_view())
    assert labels_at(single, [b"request_status", rid]) == [b"status"]


def ark_verify_certificate(certificate: bytes, key: RootKey) -> HashTree:
    cert = cbor2.loads(certificate)
    assert certificate.startswith(b"\xd9\xd9\xf7") and set(cert) == {"tree", "signature"}
    tree = from_cbor_value(cert["tree"])
    pk = ark.G2Point.from_compressed_bytes(key.public_key)
    sig = ark.G1Point.from_compressed_bytes(cert["signature"])
    hashed = ark.G1Point.hash_to_curve(STATE_ROOT_DOMAIN + digest(tree), BLS_DST)
    assert ark.GT.pairing_check([sig, hashed], [-ark.G2Point(), pk])
    return tree


def test_certificate_for_paths_verifies() -> None:
    view = make_view()
    paths = [[b"subnet"], [b"canister", RRKAH.raw, b"controllers"]]
    tree = ark_verify_certificate(certificate_for_paths(paths, view), ROOT_KEY)
    assert tree == build_state_tree(paths, view)


@pytest.mark.parametrize("rid", [RID_REPLIED, RID_REJECTED])
def test_call_reply_certificate(rid: bytes) -> None:
    view = make_view()
    status = view.statuses[rid]
    tree = ark_verify_certificate(call_reply_certificate(rid, status, view), ROOT_KEY)
    assert labels_at(tree, []) == [b"request_status", b"time"]
    assert lookup(tree, [b"request_status", rid, b"status"]) == status.status.encode()
    assert lookup(tree, [b"time"]) == uleb128(NOW)


def test_call_reply_certificate_needs_a_terminal_status() -> None:
    view = make_view()
    with pytest.raises(ValueError):
        call_reply_certificate(RID_PROCESSING, view.statuses[RID_PROCESSING], view)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status": "weird"},
        {"status": "replied"},
        {"status": "rejected"},
        {"status": "processing", "reply": b"x"},
        {"status": "replied", "reply": b"x", "reject": canister_trapped(RRKAH, "x")},
    ],
)
def test_request_status_invariants(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RequestStatus(sender=ANON, canister_id=RRKAH, **kwargs)


def test_empty_error_code_leaf_is_omitted() -> None:
    view = make_view()
    view.statuses[RID_UNKNOWN] = RequestStatus(
        "rejected", ANON, RRKAH, reject=Reject(RejectCode.SYS_TRANSIENT, "x", "")
    )
    tree = build_state_tree([[b"request_status", RID_UNKNOWN]], view)
    assert sorted(labels_at(tree, [b"request_status", RID_UNKNOWN])) == [
        b"reject_code",
        b"reject_message",
        b"status",
    ]
