"""The certified state tree served by read_state and by synchronous calls.

Rather than keeping one global tree and pruning it, each answer gets a fresh tree holding exactly
the requested subtrees plus ``/time`` (IC interface spec, "Request: Read state"): agents never
compare root hashes across responses, and a fresh tree means no ``Pruned`` nodes on looked-up
paths (agent-rs turns "unknown" into an error). Absent data is simply left out — agents read that
as "absent" and, for request statuses, keep polling.

Path authorization follows the replica's read_state handlers, including their texts:

* 404 ``Invalid path requested.`` — a path the endpoint does not serve (e.g.
  ``/canister/<cid>/certified_data``, unknown top-level labels, ``/subnet/<sid>/metrics`` on the
  canister endpoint).
* 400 ``Could not parse principal ID: <reason>.`` — a canister/subnet label that is no principal.
* 400 ``Effective principal id in URL <eff> does not match requested principal id: <cid>.`` —
  ``/canister/<cid>/…`` for another canister than the URL's (and ``/subnet/<sid>/metrics`` for
  another subnet on the subnet endpoint).
* 400 ``Could not parse the custom section name: <reason>.`` — metadata name not UTF-8.
* 400 ``Invalid request id in paths. Maybe the request ID is not of 32 bytes in length?!``
* 400 ``More than one non-unique request ID exists in request_status paths: <hex> and <hex>.``
* 403 ``The user tries to access Request ID not signed by the caller.`` — the request is known
  and was sent by someone else.
* 403 ``The user tries to access request IDs for canisters not belonging to sender delegation
  targets.`` — the request went to a canister the caller's delegations do not cover.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Protocol, TypeAlias

from emulator.principal import Principal, PrincipalError
from emulator.protocol.auth import authorized_canisters
from emulator.protocol.cbor_codec import encode_tagged
from emulator.protocol.certificate import RootKey, make_certificate
from emulator.protocol.envelope import REQUEST_ID_LENGTH, ReadStateEnvelope
from emulator.protocol.errors import ProtocolError, Reject
from emulator.protocol.hashtree import HashTree, labeled_tree
from emulator.protocol.node_key import NodeKey
from emulator.protocol.request_id import uleb128

REQUEST_STATUSES: Final = frozenset({"received", "processing", "replied", "rejected", "done"})
TERMINAL_STATUSES: Final = frozenset({"replied", "rejected", "done"})

INVALID_PATH: Final = "Invalid path requested."
NOT_SIGNED_BY_CALLER: Final = "The user tries to access Request ID not signed by the caller."
NOT_IN_DELEGATION_TARGETS: Final = (
    "The user tries to access request IDs for canisters not belonging to sender delegation targets."
)

_REQUEST_STATUS_FIELDS: Final = frozenset(
    {b"status", b"reply", b"reject_code", b"reject_message", b"error_code"}
)
_BOUNDARY_NODE_FIELDS: Final = frozenset({b"domain", b"ipv4_address", b"ipv6_address"})
_SUBNET_FIELDS: Final = frozenset({b"public_key", b"canister_ranges", b"node"})


@dataclass(frozen=True, slots=True)
class CanisterState:
    """What read_state may reveal about a canister; ``module_hash`` is None without a module."""

    module_hash: bytes | None
    controllers: tuple[Principal, ...]
    metadata: Mapping[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.module_hash is not None and len(self.module_hash) != 32:
            raise ValueError("module_hash is a SHA-256 digest")


@dataclass(frozen=True, slots=True)
class RequestStatus:
    """An update call's status as certified under ``/request_status/<id>``."""

    status: str
    sender: Principal
    canister_id: Principal
    reply: bytes | None = None
    reject: Reject | None = None

    def __post_init__(self) -> None:
        if self.status not in REQUEST_STATUSES:
            raise ValueError(f"unknown request status {self.status!r}")
        if (self.reply is not None) != (self.status == "replied"):
            raise ValueError("a reply belongs to exactly the 'replied' status")
        if (self.reject is not None) != (self.status == "rejected"):
            raise ValueError("a reject belongs to exactly the 'rejected' status")


class StateView(Protocol):
    """What the server exposes to build certified answers; read at one instant per request."""

    @property
    def time_ns(self) -> int: ...

    @property
    def root_key(self) -> RootKey: ...

    @property
    def node(self) -> NodeKey: ...

    @property
    def canister_ranges(self) -> Sequence[tuple[Principal, Principal]]: ...

    def canister(self, cid: Principal) -> CanisterState | None: ...

    def request_status(self, request_id: bytes) -> RequestStatus | None: ...


# --- authorization -----------------------------------------------------------------------------


def _principal_label(label: bytes) -> Principal:
    try:
        return Principal(label)
    except PrincipalError as exc:
        raise ProtocolError(400, f"Could not parse principal ID: {exc}.") from exc


def _require_effective(label: bytes, effective: Principal) -> None:
    requested = _principal_label(label)
    if requested != effective:
        raise ProtocolError(
            400,
            f"Effective principal id in URL {effective.to_text()} does not match "
            f"requested principal id: {requested.to_text()}.",
        )


def _is_public_path(path: Sequence[bytes]) -> bool:
    """Paths both endpoints serve to anyone: time, boundary nodes and the subnet description."""
    n = len(path)
    if n == 0:
        return False
    head = path[0]
    if head == b"time":
        return n == 1
    if head == b"api_boundary_nodes":
        return n <= 2 or (n == 3 and path[2] in _BOUNDARY_NODE_FIELDS)
    if head == b"subnet":
        if n <= 2:
            return True
        if n == 3:
            return path[2] in _SUBNET_FIELDS
        return path[2] == b"node" and (n == 4 or (n == 5 and path[4] == b"public_key"))
    return False


def authorize_read_state(
    env: ReadStateEnvelope, effective: Principal, view: StateView, subnet_endpoint: bool
) -> None:
    """Check every requested path against what the caller may read, in request order.

    ``effective`` is the principal of the URL: the effective canister id on
    ``/api/v*/canister/<ecid>/read_state``, the subnet id on ``/api/v*/subnet/<sid>/read_state``.
    Call after ``authenticate`` (the replica authorizes paths only for valid requests).
    """
    targets = authorized_canisters(env)
    seen_id: bytes | None = None
    for path in env.paths:
        if _is_public_path(path):
            continue
        n = len(path)
        if n == 0:
            raise ProtocolError(404, INVALID_PATH)
        if subnet_endpoint:
            if n == 3 and path[0] == b"subnet" and path[2] == b"metrics":
                _require_effective(path[1], effective)
                continue
            raise ProtocolError(404, INVALID_PATH)
        if (
            n >= 3
            and path[0] == b"canister"
            and (
                (n == 3 and path[2] in (b"controllers", b"module_hash"))
                or (n == 4 and path[2] == b"metadata")
            )
        ):
            if n == 4:
                try:
                    path[3].decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ProtocolError(400, f"Could not parse the custom section name: {exc}.") from exc
            _require_effective(path[1], effective)
            continue
        if path[0] == b"request_status" and (n == 2 or (n == 3 and path[2] in _REQUEST_STATUS_FIELDS)):
            rid = path[1]
            if len(rid) != REQUEST_ID_LENGTH:
                raise ProtocolError(
                    400,
                    "Invalid request id in paths. Maybe the request ID is not of "
                    f"{REQUEST_ID_LENGTH} bytes in length?!",
                )
            if seen_id is not None and seen_id != rid:
                raise ProtocolError(
                    400,
                    "More than one non-unique request ID exists in request_status paths: "
                    f"{seen_id.hex()} and {rid.hex()}.",
                )
            seen_id = rid
            status = view.request_status(rid)
            if status is not None:
                if status.sender != env.sender:
                    raise ProtocolError(403, NOT_SIGNED_BY_CALLER)
                if targets is not None and status.canister_id not in targets:
                    raise ProtocolError(403, NOT_IN_DELEGATION_TARGETS)
            continue
        raise ProtocolError(404, INVALID_PATH)


# --- tree construction -------------------------------------------------------------------------

_Node: TypeAlias = "dict[bytes, _Node] | bytes"


def _subnet_subtree(view: StateView) -> dict[bytes, _Node]:
    ranges = [[low.raw, high.raw] for low, high in view.canister_ranges]
    return {
        b"public_key": view.root_key.der,
        b"canister_ranges": encode_tagged(ranges),
        b"node": {view.node.node_id.raw: {b"public_key": view.node.der}},
    }


def _canister_subtree(state: CanisterState) -> dict[bytes, _Node]:
    subtree: dict[bytes, _Node] = {b"controllers": encode_tagged([c.raw for c in state.controllers])}
    if state.module_hash is not None:
        subtree[b"module_hash"] = state.module_hash
    if state.metadata:
        subtree[b"metadata"] = {name.encode("utf-8"): value for name, value in state.metadata.items()}
    return subtree


def _status_subtree(status: RequestStatus) -> dict[bytes, _Node]:
    subtree: dict[bytes, _Node] = {b"status": status.status.encode("ascii")}
    if status.reply is not None:
        subtree[b"reply"] = status.reply
    if status.reject is not None:
        subtree[b"reject_code"] = uleb128(int(status.reject.code))
        subtree[b"reject_message"] = status.reject.message.encode("utf-8")
        if status.reject.error_code:  # optional leaf; an empty code is better left out
            subtree[b"error_code"] = status.reject.error_code.encode("utf-8")
    return subtree


def _resolve(path: Sequence[bytes], view: StateView) -> _Node | None:
    """The whole subtree of the state at ``path``, or None where the state has nothing."""
    if not path:
        return None
    head, rest = path[0], path[1:]
    node: _Node
    if head == b"time":
        node = uleb128(view.time_ns)
    elif head == b"subnet":
        node = {view.root_key.subnet_id.raw: _subnet_subtree(view)}
    elif head == b"request_status" and rest:
        status = view.request_status(rest[0])
        if status is None:
            return None
        node = {rest[0]: _status_subtree(status)}
    elif head == b"canister" and rest:
        try:
            canister = view.canister(Principal(rest[0]))
        except PrincipalError:
            return None
        if canister is None:
            return None
        node = {rest[0]: _canister_subtree(canister)}
    else:
        return None  # e.g. api_boundary_nodes, metrics, or a bare /canister: nothing to show
    for label in rest:
        if not isinstance(node, dict) or label not in node:
            return None
        node = node[label]
    return node


def _merge(into: dict[bytes, _Node], path: Sequence[bytes], node: _Node) -> None:
    for label in path[:-1]:
        child = into.get(label)
        if not isinstance(child, dict):
            child = {}
            into[label] = child
        into = child
    last = path[-1]
    existing = into.get(last)
    if isinstance(existing, dict) and isinstance(node, dict):
        for label, sub in node.items():
            _merge(existing, [label], sub)
    else:
        into[last] = node


def _to_hash_tree(node: dict[bytes, _Node]) -> HashTree:
    return labeled_tree(
        {label: sub if isinstance(sub, bytes) else _to_hash_tree(sub) for label, sub in node.items()}
    )


def build_state_tree(paths: Sequence[Sequence[bytes]], view: StateView) -> HashTree:
    """A tree with the whole subtree under each requested path that exists, plus ``/time``.

    There is deliberately no top-level ``/canister_ranges``: agent-js' lookup stops at the
    ``canister`` label when that sibling exists (a prefix-ordering quirk), and a root subnet
    does not need the sharded ranges.
    """
    root: dict[bytes, _Node] = {}
    for path in [*paths, [b"time"]]:
        node = _resolve(path, view)
        if node is not None:
            _merge(root, path, node)
    return _to_hash_tree(root)


def certificate_for_paths(paths: Sequence[Sequence[bytes]], view: StateView) -> bytes:
    return make_certificate(build_state_tree(paths, view), view.root_key)


def call_reply_certificate(request_id: bytes, status: RequestStatus, view: StateView) -> bytes:
    """The certificate of a v3/v4 synchronous call reply: the terminal status plus ``/time``."""
    if status.status not in TERMINAL_STATUSES:
        raise ValueError(f"a call reply certifies a terminal status, not {status.status!r}")
    tree = _to_hash_tree(
        {
            b"request_status": {request_id: _status_subtree(status)},
            b"time": uleb128(view.time_ns),
        }
    )
    return make_certificate(tree, view.root_key)
