"""Calls to the management canister (`aaaaa-aa`) over real HTTP, with the project's envelope builder.

The Python connection layer addresses a canister by the id it calls; the management canister needs the
effective canister id in the URL instead, so these helpers build the envelope themselves and verify the
certified reply (BLS signature, canister ranges for the effective canister id) with `clients.ic`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import cbor2
import httpx

from clients.ic import Certificate, Connection, sign_envelope, verify_certificate
from clients.ic.envelope import call_content, principal_bytes, query_content
from emulator.candid import decode_args, encode_args
from emulator.canisters.management.canister import INTERFACE

MANAGEMENT = "aaaaa-aa"


@dataclass(frozen=True)
class Rejected(Exception):
    code: int
    message: str
    error_code: str
    certified: bool


def encode(method: str, arg: Any | None) -> bytes:
    types = INTERFACE.service[method].args
    return encode_args(types, [] if arg is None else [arg])


def decode(method: str, reply: bytes) -> Any:
    values = decode_args(reply, INTERFACE.service[method].results)
    return values[0] if values else None


def call_raw(conn: Connection, ecid: str, method: str, arg: bytes, *, version: str = "v3") -> bytes:
    """An update to aaaaa-aa; returns the certified reply or raises `Rejected`."""
    sender = bytes(conn.identity.sender().bytes)
    content = call_content(sender, MANAGEMENT, method, arg)
    rid, body = sign_envelope(content, conn.identity)
    response = conn.post(f"/api/{version}/canister/{ecid}/call", body)  # its keep-alive HTTP client
    if response.status_code != 200 and response.status_code != 202:
        raise httpx.HTTPStatusError(response.text, request=response.request, response=response)
    if response.status_code == 200:
        reply = cbor2.loads(response.content)
        if reply.get("status") == "non_replicated_rejection":
            raise Rejected(reply["reject_code"], reply["reject_message"], reply["error_code"], False)
        cert = Certificate.from_cbor(reply["certificate"])
        verify_certificate(cert, conn.root_key, effective_canister_id=principal_bytes(ecid))
    else:
        deadline = time.monotonic() + 30
        while True:
            cert = conn.read_state(ecid, [[b"request_status", rid]])
            if cert.request_status(rid) in ("replied", "rejected") or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    base = [b"request_status", rid]
    if cert.request_status(rid) == "rejected":
        raise Rejected(
            int.from_bytes(cert.lookup([*base, b"reject_code"]) or b"\0", "little"),
            (cert.lookup([*base, b"reject_message"]) or b"").decode(),
            (cert.lookup([*base, b"error_code"]) or b"").decode(),
            True,
        )
    reply_bytes = cert.lookup([*base, b"reply"])
    assert reply_bytes is not None
    return reply_bytes


def call(conn: Connection, ecid: str, method: str, arg: Any | None = None, **kw: Any) -> Any:
    return decode(method, call_raw(conn, ecid, method, encode(method, arg), **kw))


def query(conn: Connection, ecid: str, method: str, arg: Any | None = None) -> Any:
    """A query to aaaaa-aa (fetch_canister_logs, canister_status); signature checked by the caller's keys."""
    sender = bytes(conn.identity.sender().bytes)
    _, body = sign_envelope(query_content(sender, MANAGEMENT, method, encode(method, arg)), conn.identity)
    response = conn.post(f"/api/v3/canister/{ecid}/query", body)
    response.raise_for_status()
    reply = cbor2.loads(response.content)
    if reply["status"] == "rejected":
        raise Rejected(reply["reject_code"], reply["reject_message"], reply["error_code"], False)
    return decode(method, reply["reply"]["arg"])
