"""Parsing and shape validation of request envelopes (IC interface spec, "HTTP interface").

Everything an endpoint needs from the body is checked here once, before any signature work:
CBOR types of every spec-defined field, the request type of the endpoint, and the size limits the
spec states (the replica checks the same limits in its validator; where it does so, the texts
below are the replica's). Cryptographic checks and time-dependent checks live in ``auth``.

Failure texts (all HTTP 400; ``<what>`` is ``call message``, ``query message`` or
``read_state message``):

* ``Could not parse body as <what>: <reason>`` — not CBOR, not a map, trailing bytes, floats,
  bignums or other tags, a missing field (``missing field `arg```), a field of the wrong type
  (``invalid type for `arg`: expected a byte string, found a text string``), the wrong request
  type for the endpoint (``unknown variant `query`, expected `call```), an over-long principal,
  ``sender_pubkey`` without ``sender_sig`` or the reverse, a delegation without them, or content
  that has no representation-independent hash. The prefix is the historical replica's; the current
  replica says ``Failed to deserialize cbor request: <serde error>`` — agents parse neither.
* ``Nonce in request is too big: got <n> bytes, but at most 32 are allowed.``
* ``Too many paths in read state request: got <n> paths, but at most 1000 are allowed.``
* ``At least one path in read state request is too deep: got <n> labels, but at most 127 are
  allowed.``
* ``Signature is not allowed for the anonymous user.``
* ``Missing signature from user: <principal>``
* ``Invalid delegation: Chain of delegations is too long: got <n> delegations, but at most 20 are
  allowed.``
* ``Invalid delegation: Delegation target error: expected at most 1000 targets per delegation, but
  got <n>``

All but the first are the replica validator's texts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Literal, overload

from cbor2 import frozendict

from emulator.principal import Principal, PrincipalError
from emulator.protocol.cbor_codec import U64_MAX, decode_body
from emulator.protocol.errors import ProtocolError
from emulator.protocol.request_id import request_id as compute_request_id

RequestType = Literal["call", "query", "read_state"]

REQUEST_TYPES: Final[tuple[RequestType, ...]] = ("call", "query", "read_state")

BODY_DESCRIPTIONS: Final[Mapping[RequestType, str]] = {
    "call": "call message",
    "query": "query message",
    "read_state": "read_state message",
}
"""The ``<what>`` of ``Could not parse body as <what>: …`` per endpoint."""

MAX_INGRESS_BYTES: Final = 2 * 1024 * 1024
"""Spec, "Limits": an ingress message (the whole request body) is at most 2 MiB. The HTTP layer
enforces it while reading the body (`emulator.server.connections.read_body`), the one place bodies enter."""

REQUEST_ID_LENGTH: Final = 32
"""Request ids are SHA-256 digests (spec: "Request ids")."""

MAX_NONCE_BYTES: Final = 32
"""Spec, "Authentication": the nonce is at most 32 bytes."""

MAX_READ_STATE_PATHS: Final = 1000
"""Spec, "Request: Read state": at most 1000 paths per request."""

MAX_PATH_LABELS: Final = 127
"""Spec, "Request: Read state": at most 127 labels per path."""

MAX_DELEGATIONS: Final = 20
"""Spec, "Authentication": a delegation chain has at most 20 delegations."""

MAX_DELEGATION_TARGETS: Final = 1000
"""Spec, "Authentication": a delegation names at most 1000 target canisters."""


def _shape_error(what: str, reason: str) -> ProtocolError:
    return ProtocolError(400, f"Could not parse body as {what}: {reason}")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignedDelegation:
    """One link of ``sender_delegation``; ``delegation_map`` is kept raw because it is what was signed."""

    pubkey: bytes
    expiration: int
    targets: tuple[Principal, ...] | None
    signature: bytes
    delegation_map: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not 0 <= self.expiration <= U64_MAX:
            raise ValueError("delegation expiration must be a u64 nanosecond timestamp")
        if self.targets is not None and len(set(self.targets)) > MAX_DELEGATION_TARGETS:
            raise ProtocolError(
                400,
                "Invalid delegation: Delegation target error: expected at most "
                f"{MAX_DELEGATION_TARGETS} targets per delegation, but got {len(set(self.targets))}",
            )


@dataclass(frozen=True, slots=True, kw_only=True)
class Envelope:
    """What every request kind has; construction enforces the spec's invariants and limits.

    ``content`` is the decoded map exactly as received (it is what the request id covers);
    the typed fields are views of it for the server. The request kinds are the subclasses.
    """

    request_type: ClassVar[RequestType]
    content: Mapping[str, Any]
    sender: Principal
    ingress_expiry: int
    nonce: bytes | None
    sender_pubkey: bytes | None
    sender_sig: bytes | None
    delegations: tuple[SignedDelegation, ...]
    # Derived from `content` here, once, so it can never disagree with what was signed.
    request_id: bytes = field(init=False)

    def __post_init__(self) -> None:
        what = BODY_DESCRIPTIONS[self.request_type]
        try:
            object.__setattr__(self, "request_id", compute_request_id(self.content))
        except ValueError as exc:
            raise _shape_error(what, f"content cannot be hashed: {exc}") from exc
        if not 0 <= self.ingress_expiry <= U64_MAX:
            raise ValueError("ingress_expiry must be a u64 nanosecond timestamp")

        # Limits, with the replica validator's texts.
        if self.nonce is not None and len(self.nonce) > MAX_NONCE_BYTES:
            raise ProtocolError(
                400,
                f"Nonce in request is too big: got {len(self.nonce)} bytes, "
                f"but at most {MAX_NONCE_BYTES} are allowed.",
            )

        # Authentication shape (spec, "Authentication"): pubkey and signature come as a pair, a
        # delegation chain needs them, the anonymous principal must not sign, anyone else must.
        if (self.sender_pubkey is None) != (self.sender_sig is None):
            raise _shape_error(what, "sender_pubkey and sender_sig must be present together")
        signed = self.sender_pubkey is not None
        if self.delegations and not signed:
            raise _shape_error(what, "sender_delegation requires sender_pubkey and sender_sig")
        if self.sender.is_anonymous:
            if signed:
                raise ProtocolError(400, "Signature is not allowed for the anonymous user.")
        elif not signed:
            raise ProtocolError(400, f"Missing signature from user: {self.sender.to_text()}")
        if len(self.delegations) > MAX_DELEGATIONS:
            raise ProtocolError(
                400,
                "Invalid delegation: Chain of delegations is too long: got "
                f"{len(self.delegations)} delegations, but at most {MAX_DELEGATIONS} are allowed.",
            )

    @property
    def is_anonymous(self) -> bool:
        return self.sender.is_anonymous


@dataclass(frozen=True, slots=True, kw_only=True)
class CanisterEnvelope(Envelope):
    """A message to one canister method: a call or a query."""

    canister_id: Principal
    method_name: str
    arg: bytes

    def __post_init__(self) -> None:
        if not (
            isinstance(self.canister_id, Principal)
            and isinstance(self.method_name, str)
            and isinstance(self.arg, bytes)
        ):
            raise ValueError(f"a {self.request_type} envelope needs canister_id, method_name and arg")
        Envelope.__post_init__(self)  # zero-argument super() does not work in slotted dataclasses


@dataclass(frozen=True, slots=True, kw_only=True)
class CallEnvelope(CanisterEnvelope):
    """An update call (`/api/v2|v3|v4/canister/<ecid>/call`)."""

    request_type: ClassVar[RequestType] = "call"


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryEnvelope(CanisterEnvelope):
    """A query (`/api/v2|v3/canister/<ecid>/query`)."""

    request_type: ClassVar[RequestType] = "query"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReadStateEnvelope(Envelope):
    """A read of certified state paths (canister or subnet `read_state`)."""

    request_type: ClassVar[RequestType] = "read_state"
    paths: tuple[tuple[bytes, ...], ...]

    def __post_init__(self) -> None:
        if not isinstance(self.paths, tuple):
            raise ValueError("a read_state envelope needs paths")
        if len(self.paths) > MAX_READ_STATE_PATHS:
            raise ProtocolError(
                400,
                f"Too many paths in read state request: got {len(self.paths)} paths, "
                f"but at most {MAX_READ_STATE_PATHS} are allowed.",
            )
        for path in self.paths:
            if len(path) > MAX_PATH_LABELS:
                raise ProtocolError(
                    400,
                    "At least one path in read state request is too deep: got "
                    f"{len(path)} labels, but at most {MAX_PATH_LABELS} are allowed.",
                )
        Envelope.__post_init__(self)


# --- field extraction --------------------------------------------------------------------------

_KIND_NAMES: Final[Mapping[type, str]] = {
    bytes: "a byte string",
    str: "a text string",
    int: "an unsigned integer",
    tuple: "an array",
    Mapping: "a map",
}


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an unsigned integer" if value >= 0 else "a negative integer"
    if isinstance(value, Mapping):
        return "a map"
    return _KIND_NAMES.get(type(value), type(value).__name__)


def _exact(value: Any, kind: type) -> bool:
    """`value` is of the very type decoded CBOR gives for `kind` and passes `_typed`: the common case,
    answered with one type lookup (the general checks below run for anything else)."""
    decoded_as = type(value)
    if decoded_as is not kind:
        return kind is Mapping and decoded_as is frozendict
    return kind is not int or 0 <= value <= U64_MAX


def _require(what: str, container: Mapping[str, Any], name: str, kind: type, scope: str) -> Any:
    value = container.get(name)
    if _exact(value, kind):
        return value
    if name not in container or container[name] is None:
        if name in container:
            raise _shape_error(
                what, f"invalid type for {scope}`{name}`: expected {_KIND_NAMES[kind]}, found null"
            )
        raise _shape_error(what, f"missing field `{name}`" + (f" in {scope.strip()}" if scope else ""))
    return _typed(what, container[name], name, kind, scope)


def _optional(what: str, container: Mapping[str, Any], name: str, kind: type, scope: str) -> Any:
    value = container.get(name)
    if value is None or _exact(value, kind):
        return value
    return _typed(what, value, name, kind, scope)


def _typed(what: str, value: Any, name: str, kind: type, scope: str) -> Any:
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if kind is int and ok:
        ok = 0 <= value <= U64_MAX
    if not ok:
        raise _shape_error(
            what, f"invalid type for {scope}`{name}`: expected {_KIND_NAMES[kind]}, found {_describe(value)}"
        )
    return value


def _principal(what: str, raw: bytes, name: str) -> Principal:
    try:
        return Principal(raw)
    except PrincipalError as exc:
        raise _shape_error(what, f"invalid principal in field `{name}`: {exc}") from exc


def _parse_paths(what: str, value: Any) -> tuple[tuple[bytes, ...], ...]:
    if not isinstance(value, tuple):
        raise _shape_error(what, f"invalid type for `paths`: expected an array, found {_describe(value)}")
    paths = []
    for index, path in enumerate(value):
        if not isinstance(path, tuple):
            raise _shape_error(
                what, f"invalid type for `paths[{index}]`: expected an array, found {_describe(path)}"
            )
        labels = []
        for label in path:
            # The replica reads labels with serde_bytes, which also accepts text strings; their
            # hash is the same as that of their UTF-8 bytes, so request ids stay consistent.
            if isinstance(label, bytes):
                labels.append(label)
            elif isinstance(label, str):
                labels.append(label.encode("utf-8"))
            else:
                raise _shape_error(
                    what,
                    f"invalid type for a label in `paths[{index}]`: "
                    f"expected a byte string, found {_describe(label)}",
                )
        paths.append(tuple(labels))
    return tuple(paths)


def _parse_delegation(what: str, item: Any, index: int) -> SignedDelegation:
    scope = f"sender_delegation[{index}]."
    if not isinstance(item, Mapping):
        raise _shape_error(
            what, f"invalid type for `sender_delegation[{index}]`: expected a map, found {_describe(item)}"
        )
    delegation = _require(what, item, "delegation", Mapping, scope)
    signature = _require(what, item, "signature", bytes, scope)
    inner = f"{scope}delegation."
    pubkey = _require(what, delegation, "pubkey", bytes, inner)
    expiration = _require(what, delegation, "expiration", int, inner)
    raw_targets = _optional(what, delegation, "targets", tuple, inner)
    targets: tuple[Principal, ...] | None = None
    if raw_targets is not None:
        parsed = []
        for target in raw_targets:
            if not isinstance(target, bytes):
                raise _shape_error(
                    what,
                    f"invalid type for a target in `{inner}targets`: "
                    f"expected a byte string, found {_describe(target)}",
                )
            parsed.append(_principal(what, target, f"{inner}targets"))
        targets = tuple(parsed)
    return SignedDelegation(
        pubkey=pubkey,
        expiration=expiration,
        targets=targets,
        signature=signature,
        delegation_map=delegation,
    )


@overload
def parse_envelope(body: bytes, expected: Literal["call"]) -> CallEnvelope: ...
@overload
def parse_envelope(body: bytes, expected: Literal["query"]) -> QueryEnvelope: ...
@overload
def parse_envelope(body: bytes, expected: Literal["read_state"]) -> ReadStateEnvelope: ...
@overload
def parse_envelope(body: bytes, expected: RequestType) -> Envelope: ...
def parse_envelope(body: bytes, expected: RequestType) -> Envelope:
    """Decode and validate a request body posted to the ``expected`` endpoint.

    ``null`` for ``sender_pubkey``/``sender_sig``/``sender_delegation`` counts as absent because
    icp-py-core sends anonymous envelopes that way.
    """
    what = BODY_DESCRIPTIONS[expected]
    envelope = decode_body(body, what)
    content = _require(what, envelope, "content", Mapping, "")
    sender_pubkey = _optional(what, envelope, "sender_pubkey", bytes, "")
    sender_sig = _optional(what, envelope, "sender_sig", bytes, "")
    raw_delegations = _optional(what, envelope, "sender_delegation", tuple, "")

    request_type = _require(what, content, "request_type", str, "")
    if request_type != expected:
        raise _shape_error(what, f"unknown variant `{request_type}`, expected `{expected}`")
    common: dict[str, Any] = {
        "content": content,
        "sender": _principal(what, _require(what, content, "sender", bytes, ""), "sender"),
        "ingress_expiry": _require(what, content, "ingress_expiry", int, ""),
        "nonce": _optional(what, content, "nonce", bytes, ""),
    }
    if expected == "read_state":
        if "paths" not in content or content["paths"] is None:
            raise _shape_error(what, "missing field `paths`")
        kind_fields: dict[str, Any] = {"paths": _parse_paths(what, content["paths"])}
    else:
        kind_fields = {
            "canister_id": _principal(what, _require(what, content, "canister_id", bytes, ""), "canister_id"),
            "method_name": _require(what, content, "method_name", str, ""),
            "arg": _require(what, content, "arg", bytes, ""),
        }
    common["delegations"] = tuple(
        _parse_delegation(what, item, i) for i, item in enumerate(raw_delegations or ())
    )
    cls = ENVELOPE_TYPES[expected]
    return cls(**common, **kind_fields, sender_pubkey=sender_pubkey, sender_sig=sender_sig)


ENVELOPE_TYPES: Final[Mapping[RequestType, type[Envelope]]] = {
    "call": CallEnvelope,
    "query": QueryEnvelope,
    "read_state": ReadStateEnvelope,
}
