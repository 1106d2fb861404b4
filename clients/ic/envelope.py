"""Request contents and signed CBOR envelopes, including deliberately broken ones for negative tests.

Request ids come from icp-py-core's ``to_request_id`` (the representation-independent hash; it
reproduces agent-js' vectors). The envelope is assembled here rather than by icp-py-core's
``sign_request`` for two reasons: ``sign_request`` writes ``sender_pubkey: null, sender_sig: null``
for the anonymous caller where agent-js and agent-rs omit the keys, and it drops the self-describe
tag (55799) that agent-js puts in front. With both fixed here our bytes equal agent-js' bytes
(vector V3), and the tamper switches have one obvious place to live.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import cbor2
from icp_agent.agent import to_request_id
from icp_principal import Principal

from .certificates import Label

__all__ = [
    "DEFAULT_INGRESS_EXPIRY",
    "REQUEST_DOMAIN_SEPARATOR",
    "build_envelope",
    "call_content",
    "principal_bytes",
    "query_content",
    "read_state_content",
    "request_id",
    "sign_envelope",
]

REQUEST_DOMAIN_SEPARATOR = b"\x0aic-request"
DEFAULT_INGRESS_EXPIRY = 180.0
"""Seconds ahead, as agent-rs and icp-py-core send; replicas accept up to 5 min (+30 s drift)."""


@functools.lru_cache(maxsize=1024)
def _text_principal_bytes(text: str) -> bytes:
    return bytes(Principal.from_str(text).bytes)


def principal_bytes(principal: str | bytes | Any) -> bytes:
    """Raw bytes of a principal given as text, bytes, or an ``icp_principal.Principal``.

    Text is parsed once per distinct principal: every call names its canister as text, and the
    parse (base32, CRC32) was ~5 % of a query's client CPU, all of it holding the GIL.
    """
    if isinstance(principal, str):
        return _text_principal_bytes(principal)
    if isinstance(principal, (bytes, bytearray, memoryview)):
        return bytes(principal)
    return bytes(principal.bytes)


def _expiry(ingress_expiry: int | None) -> int:
    if ingress_expiry is not None:
        return ingress_expiry
    return time.time_ns() + int(DEFAULT_INGRESS_EXPIRY * 1e9)


def query_content(
    sender: str | bytes | Any,
    canister_id: str | bytes | Any,
    method_name: str,
    arg: bytes,
    *,
    ingress_expiry: int | None = None,
    nonce: bytes | None = None,
) -> dict[str, Any]:
    """The ``content`` map of a query; field order follows agent-js so bytes match its vectors."""
    content: dict[str, Any] = {
        "request_type": "query",
        "canister_id": principal_bytes(canister_id),
        "method_name": method_name,
        "arg": bytes(arg),
        "sender": principal_bytes(sender),
        "ingress_expiry": _expiry(ingress_expiry),
    }
    if nonce is not None:
        content["nonce"] = nonce
    return content


def call_content(
    sender: str | bytes | Any,
    canister_id: str | bytes | Any,
    method_name: str,
    arg: bytes,
    *,
    ingress_expiry: int | None = None,
    nonce: bytes | None = None,
) -> dict[str, Any]:
    """The ``content`` map of an update call.

    A fresh 16-byte nonce is added unless one is given (agent-js does the same): without it two
    identical calls that happen to get the same expiry would share a request id, and the replica
    would answer the second from the first instead of executing it.
    """
    content = query_content(
        sender, canister_id, method_name, arg, ingress_expiry=ingress_expiry, nonce=nonce or os.urandom(16)
    )
    content["request_type"] = "call"
    return content


def read_state_content(
    sender: str | bytes | Any,
    paths: Sequence[Sequence[Label]],
    *,
    ingress_expiry: int | None = None,
) -> dict[str, Any]:
    return {
        "request_type": "read_state",
        "paths": [[p.encode() if isinstance(p, str) else bytes(p) for p in path] for path in paths],
        "sender": principal_bytes(sender),
        "ingress_expiry": _expiry(ingress_expiry),
    }


def request_id(content: Mapping[str, Any]) -> bytes:
    """Representation-independent hash of a request ``content`` map (32 bytes)."""
    return bytes(to_request_id(dict(content)))


def build_envelope(
    content: Mapping[str, Any],
    identity: Any,
    *,
    rid: bytes | None = None,
    tamper_signature: bool = False,
    sender_pubkey: bytes | None = None,
    omit: Iterable[str] = (),
    extra: Mapping[str, Any] | None = None,
    self_describe: bool = True,
) -> bytes:
    """Sign ``content`` with ``identity`` and CBOR-encode the envelope.

    ``rid`` is the content's request id when the caller already has it (``sign_envelope``): it hashes
    the whole argument, so computing it twice cost a second SHA-256 of every 1 MiB chunk.
    The keyword switches exist for negative tests: ``tamper_signature`` flips one bit of
    ``sender_sig``; ``sender_pubkey`` replaces the DER key actually used for signing; ``omit``
    drops envelope keys (``"sender_pubkey"``, ``"sender_sig"``, even ``"content"``); ``extra`` adds
    or overrides envelope keys; ``self_describe=False`` leaves out the 55799 tag.
    Identities carrying ``delegations`` (icp-py-core's ``DelegateIdentity``) get
    ``sender_delegation`` and their delegated public key.
    """
    if rid is None:
        rid = request_id(content)
    der, sig = identity.sign(REQUEST_DOMAIN_SEPARATOR + rid)
    envelope: dict[str, Any] = {"content": dict(content)}
    if der is not None and sig is not None:
        delegations = getattr(identity, "delegations", None)
        if delegations is not None:
            der = identity.der_pubkey
            envelope["sender_delegation"] = delegations
        if tamper_signature:
            sig = bytes([sig[0] ^ 0x01]) + bytes(sig[1:])
        envelope["sender_pubkey"] = bytes(der) if sender_pubkey is None else sender_pubkey
        envelope["sender_sig"] = bytes(sig)
    elif tamper_signature or sender_pubkey is not None:
        raise ValueError("the anonymous identity does not sign; there is nothing to tamper with")
    for key in omit:
        envelope.pop(key, None)
    if extra:
        envelope.update(extra)
    return cbor2.dumps(cbor2.CBORTag(55799, envelope) if self_describe else envelope)


def sign_envelope(content: Mapping[str, Any], identity: Any) -> tuple[bytes, bytes]:
    """``(request_id, envelope_bytes)`` for a well-formed request.

    The request id is computed once and used for both: it hashes the whole argument, so computing
    it again for the signature cost a second SHA-256 of every 1 MiB chunk (~0.6 ms of client CPU).
    """
    rid = request_id(content)
    return rid, build_envelope(content, identity, rid=rid)
