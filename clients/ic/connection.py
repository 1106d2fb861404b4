"""``Connection``: the one adapter tests, the conformance suite and load tests use to reach a target.

A target is anything speaking the IC HTTP interface: this project's emulator or a dfx replica.
What comes from icp-py-core and what does not:

* used as is: ``to_request_id`` (request ids), ``Principal``, ``Identity`` (PEM parsing, secp256k1
  signing), the Candid codec and ``DIDLoader`` (see ``candid.py``);
* replaced: its ``Client`` builds a new ``httpx.Client`` per request (25-30 ms of CPU each, bug C4),
  so one pooled keep-alive client lives here instead; its certificate check ignores the root key it
  is given (C1) and needs an unavailable BLS binding (C2), so ``certificates.py`` does that; its
  query-signature check trusts unverified node keys, so ``signatures.py`` does that; its ``Agent``
  is therefore not used at all, which also keeps its 1-hour node-key cache and mainnet defaults out.

Endpoints: ``GET /api/v2/status``, ``POST /api/v3/canister/<id>/query``,
``/api/v4/canister/<id>/call`` (synchronous; 202 falls back to polling, 404 to the v2 call) and
``/api/v3/canister/<id>/read_state``. Verification of certificates and of query signatures is on by
default; the root key is whatever the caller passes, or the target's ``/api/v2/status`` key.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Mapping, Sequence
from typing import Any

import cbor2
import httpx

from .bls import BlsVerifier, verify_bls
from .candid import CanisterProxy, DidService, decode_reply, encode_args
from .certificates import (
    DEFAULT_MAX_TIME_SKEW,
    Certificate,
    Label,
    bls_key_from_der,
    decode_cbor,
    decode_leb128,
    verify_certificate,
)
from .envelope import call_content, principal_bytes, query_content, read_state_content, sign_envelope
from .errors import (
    HTTPStatusError,
    PollTimeout,
    ProtocolError,
    QuerySignatureError,
    Reject,
    TransportError,
)
from .identity import anonymous_identity
from .signatures import subnet_node_keys, verify_query_response

__all__ = ["NODE_KEY_TTL", "Connection"]

NODE_KEY_TTL = 300.0
"""Seconds a subnet's node keys are reused before being re-read (agent-js: 5 minutes)."""
# Polling backoff (seconds). Starts far below agent-js' 2 s because the targets here are local.
POLL_INITIAL_DELAY = 0.05
POLL_MAX_DELAY = 1.0
POLL_MULTIPLIER = 1.5

_CBOR_HEADERS = {"Content-Type": "application/cbor"}
_MAX_CACHED_URLS = 256
_TERMINAL = ("replied", "rejected", "done")


class Connection:
    """A signed, verifying session with one target, over one pooled HTTP client.

    ``identity=None`` means the anonymous caller. ``root_key=None`` fetches the target's key from
    ``/api/v2/status`` on first use (fine for local targets; pin it for anything else). Pass
    ``http`` to share a client or inject ``httpx.MockTransport``; a client passed in is not closed
    by ``close()``, and ``timeout`` only configures the client created here. ``update_timeout``
    bounds polling for an update's result. The object is safe to share between greenlets: besides
    the lazily fetched root key and the node-key cache, it holds no state between calls.
    """

    def __init__(
        self,
        url: str,
        identity: Any = None,
        *,
        root_key: bytes | None = None,
        verify_certificates: bool = True,
        verify_query_signatures: bool = True,
        timeout: float = 30.0,
        http: httpx.Client | None = None,
        update_timeout: float = 60.0,
        max_time_skew: float = DEFAULT_MAX_TIME_SKEW,
        bls_verifier: BlsVerifier = verify_bls,
    ) -> None:
        self.url = url.rstrip("/")
        self.identity = anonymous_identity() if identity is None else identity
        if root_key is not None:
            bls_key_from_der(root_key)  # fail at construction on a key that can never verify
        self._root_key = None if root_key is None else bytes(root_key)
        self.verify_certificates = verify_certificates
        self.verify_query_signatures = verify_query_signatures
        self.update_timeout = update_timeout
        self.max_time_skew = max_time_skew
        self.bls_verifier = bls_verifier
        self._owns_http = http is None
        self._http = http if http is not None else httpx.Client(timeout=timeout)
        self._node_keys: dict[bytes, tuple[float, dict[bytes, bytes]]] = {}
        self._urls: dict[str, httpx.URL] = {}

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def with_identity(self, identity: Any) -> Connection:
        """The same target, pool, root key and node-key cache, calling as another identity."""
        clone = copy.copy(self)
        clone.identity = anonymous_identity() if identity is None else identity
        clone._owns_http = False
        return clone

    def __repr__(self) -> str:
        return f"Connection({self.url!r}, sender={self.identity.sender().to_str()})"

    # ------------------------------------------------------------------ HTTP

    def post(self, path: str, body: bytes) -> httpx.Response:
        """POST raw CBOR to ``path`` and return the response whatever its status.

        For negative tests that send hand-built envelopes (see ``envelope.build_envelope``) and
        inspect the target's status code and text. Only network failures raise (``TransportError``).
        """
        return self._send(path, body)

    def _url(self, path: str) -> httpx.URL:
        """``self.url + path`` parsed once: httpx re-parses a text URL on every request (~5 % of a
        query's client CPU, under the GIL). Bounded: paths are per canister and endpoint."""
        text = self.url + path
        url = self._urls.get(text)
        if url is None:
            if len(self._urls) >= _MAX_CACHED_URLS:
                self._urls.clear()
            url = self._urls[text] = httpx.URL(text)
        return url

    def _send(self, path: str, body: bytes | None) -> httpx.Response:
        url = self._url(path)
        try:
            if body is None:
                return self._http.get(url)
            return self._http.post(url, content=body, headers=_CBOR_HEADERS)
        except httpx.HTTPError as exc:
            raise TransportError(str(url), exc) from exc

    def _request(self, path: str, body: bytes | None, ok: Sequence[int] = (200,)) -> httpx.Response:
        response = self._send(path, body)
        if response.status_code not in ok:
            raise HTTPStatusError(self.url + path, response.status_code, response.text)
        return response

    @staticmethod
    def _decode_map(response: httpx.Response, what: str) -> dict[str, Any]:
        try:
            value = decode_cbor(response.content)
        except (cbor2.CBORDecodeError, ValueError) as exc:
            raise ProtocolError(f"{what} is not CBOR: {exc}") from exc
        if not isinstance(value, Mapping):
            raise ProtocolError(f"{what} is not a CBOR map: {value!r:.100}")
        return dict(value)

    # ------------------------------------------------------------------ status and keys

    def status(self) -> dict[str, Any]:
        return self._decode_map(self._request("/api/v2/status", None), "status response")

    @property
    def root_key(self) -> bytes:
        """The DER root key certificates are checked against (fetched once if not given)."""
        if self._root_key is None:
            key = self.status().get("root_key")
            if not isinstance(key, bytes):
                raise ProtocolError("status response has no root_key bytes")
            bls_key_from_der(key)
            self._root_key = key
        return self._root_key

    def _sender(self) -> bytes:
        return bytes(self.identity.sender().bytes)

    # ------------------------------------------------------------------ read_state

    def read_state(
        self, canister_id: str, paths: Sequence[Sequence[Label]], *, verify: bool | None = None
    ) -> Certificate:
        """Certified state at ``paths``; principals inside paths must be raw bytes.

        The certificate is verified (BLS, delegation, time) unless ``verify_certificates`` is off.
        """
        ecid = principal_bytes(canister_id)
        content = read_state_content(self._sender(), paths)
        _, body = sign_envelope(content, self.identity)
        response = self._request(f"/api/v3/canister/{canister_id}/read_state", body)
        raw = self._decode_map(response, "read_state response").get("certificate")
        if not isinstance(raw, bytes):
            raise ProtocolError("read_state response has no certificate")
        cert = Certificate.from_cbor(raw)
        if self.verify_certificates if verify is None else verify:
            verify_certificate(
                cert,
                self.root_key,
                effective_canister_id=ecid,
                max_time_skew=self.max_time_skew,
                bls_verifier=self.bls_verifier,
            )
        return cert

    # ------------------------------------------------------------------ query

    def query_raw(self, canister_id: str, method: str, arg: bytes) -> bytes:
        """Run a query; return the reply's Candid bytes or raise ``Reject`` (never certified)."""
        content = query_content(self._sender(), canister_id, method, arg)
        rid, body = sign_envelope(content, self.identity)
        response = self._request(f"/api/v3/canister/{canister_id}/query", body)
        reply = self._decode_map(response, "query response")
        if self.verify_query_signatures:
            self._check_query_signatures(canister_id, reply, rid)
        status = reply.get("status")
        if status == "replied":
            payload = reply.get("reply")
            if not isinstance(payload, Mapping) or not isinstance(payload.get("arg"), bytes):
                raise ProtocolError("replied query response has no reply.arg bytes")
            return bytes(payload["arg"])
        if status == "rejected":
            raise _reject_from_map(reply, certified=False)
        raise ProtocolError(f"query response has unknown status {status!r}")

    def _node_keys_for(self, canister_id: str, *, refresh: bool) -> tuple[dict[bytes, bytes], bool]:
        """``(node keys, came_from_cache)`` for the subnet hosting ``canister_id``."""
        ecid = principal_bytes(canister_id)
        cached = self._node_keys.get(ecid)
        if cached is not None and not refresh and cached[0] > time.monotonic():
            return cached[1], True
        # Always verified, whatever verify_certificates says: node keys from an unverified
        # certificate would make the signature check meaningless.
        cert = self.read_state(canister_id, [[b"subnet"]], verify=True)
        keys = subnet_node_keys(cert, self.root_key, ecid)
        self._node_keys[ecid] = (time.monotonic() + NODE_KEY_TTL, keys)
        return keys, False

    def _check_query_signatures(self, canister_id: str, reply: Mapping[str, Any], rid: bytes) -> None:
        keys, cached = self._node_keys_for(canister_id, refresh=False)
        try:
            verify_query_response(reply, rid, keys)
        except QuerySignatureError:
            if not cached:
                raise
            # Like agent-js: the subnet may have changed nodes since we cached; re-read once.
            keys, _ = self._node_keys_for(canister_id, refresh=True)
            verify_query_response(reply, rid, keys)

    # ------------------------------------------------------------------ update

    def update_raw(self, canister_id: str, method: str, arg: bytes) -> bytes:
        """Run an update call to completion; return the reply bytes or raise ``Reject``.

        ``Reject.certified`` is True when the reject came from the certified request status and
        False for non-replicated rejections (the canister never ran the message).
        """
        content = call_content(self._sender(), canister_id, method, arg)
        rid, body = sign_envelope(content, self.identity)
        response = self._request(f"/api/v4/canister/{canister_id}/call", body, ok=(200, 202, 404))
        if response.status_code == 404:
            # Like agent-js: a target without synchronous calls gets the same signed body on v2,
            # which answers 202 (then we poll) or 200 with a non-replicated rejection.
            response = self._request(f"/api/v2/canister/{canister_id}/call", body, ok=(200, 202))
        if response.status_code == 200 and response.content:
            reply = self._decode_map(response, "call response")
            status = reply.get("status")
            if "reject_code" in reply or status == "non_replicated_rejection":
                raise _reject_from_map(reply, certified=False)
            if status == "replied":
                raw = reply.get("certificate")
                if not isinstance(raw, bytes):
                    raise ProtocolError("call response with status 'replied' has no certificate")
                cert = Certificate.from_cbor(raw)
                if self.verify_certificates:
                    verify_certificate(
                        cert,
                        self.root_key,
                        effective_canister_id=principal_bytes(canister_id),
                        max_time_skew=self.max_time_skew,
                        bls_verifier=self.bls_verifier,
                    )
                outcome = _outcome(cert, rid)
                if outcome is not None:
                    return outcome
            elif status != "accepted":
                raise ProtocolError(f"call response has unknown status {status!r}")
        return self._poll(canister_id, rid)

    def _poll(self, canister_id: str, rid: bytes) -> bytes:
        start = time.monotonic()
        delay = 0.0  # the first read_state goes out at once, as in agent-js
        last: str | None = None
        while True:
            if delay:
                time.sleep(delay)
            cert = self.read_state(canister_id, [[b"request_status", rid]])
            outcome = _outcome(cert, rid)
            if outcome is not None:
                return outcome
            last = cert.request_status(rid)
            delay = min(max(delay * POLL_MULTIPLIER, POLL_INITIAL_DELAY), POLL_MAX_DELAY)
            if time.monotonic() - start + delay > self.update_timeout:
                raise PollTimeout(rid, time.monotonic() - start, last)

    # ------------------------------------------------------------------ typed calls

    def query(
        self,
        canister_id: str,
        method: str,
        args: Sequence[Any] = (),
        arg_types: Sequence[Any] = (),
        ret_types: Sequence[Any] = (),
    ) -> Any:
        """Typed query with ``icp_candid`` types; result shapes are listed in ``candid.py``."""
        return _decode(self.query_raw(canister_id, method, encode_args(arg_types, args)), ret_types)

    def update(
        self,
        canister_id: str,
        method: str,
        args: Sequence[Any] = (),
        arg_types: Sequence[Any] = (),
        ret_types: Sequence[Any] = (),
    ) -> Any:
        """Typed update call with ``icp_candid`` types; result shapes are listed in ``candid.py``."""
        return _decode(self.update_raw(canister_id, method, encode_args(arg_types, args)), ret_types)

    def call(self, canister_id: str, method: str, *args: Any, did: DidService | str) -> Any:
        """Call ``method`` as its ``.did`` declares it: query methods as queries, others as updates."""
        m = _service(did)[method]
        typed = self.query if m.is_query else self.update
        return typed(canister_id, method, args, m.arg_types, m.ret_types)

    def canister(self, canister_id: str, did: DidService | str) -> CanisterProxy:
        """A proxy whose attributes are the service's methods: ``conn.canister(cid, did).greet("x")``."""
        return CanisterProxy(self, canister_id, _service(did))


@functools.lru_cache(maxsize=32)
def _parse_did(did_text: str) -> DidService:
    return DidService.from_text(did_text)


def _service(did: DidService | str) -> DidService:
    """Parsed once per distinct text, so ``call(..., did=TEXT)`` in a loop does not re-parse."""
    return _parse_did(did) if isinstance(did, str) else did


def _decode(data: bytes, ret_types: Sequence[Any]) -> Any:
    try:
        return decode_reply(data, ret_types)
    except ValueError as exc:
        raise ProtocolError(str(exc)) from exc


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _reject_from_map(reply: Mapping[str, Any], *, certified: bool) -> Reject:
    code = reply.get("reject_code")
    if not isinstance(code, int):
        raise ProtocolError(f"reject without an integer reject_code: {code!r}")
    return Reject(
        code, _text(reply.get("reject_message")) or "", _text(reply.get("error_code")), certified=certified
    )


def _outcome(cert: Certificate, rid: bytes) -> bytes | None:
    """Reply bytes for a terminal status, ``Reject`` raised for a rejection, None while pending."""
    status = cert.request_status(rid)
    if status not in _TERMINAL:
        return None
    base = [b"request_status", rid]
    if status == "replied":
        reply = cert.lookup([*base, b"reply"])
        if reply is None:
            raise ProtocolError(f"request 0x{rid.hex()} is 'replied' but its reply is not in the certificate")
        return reply
    if status == "rejected":
        raw_code = cert.lookup([*base, b"reject_code"])
        if raw_code is None:
            raise ProtocolError(f"request 0x{rid.hex()} is 'rejected' without a reject_code")
        try:
            code = decode_leb128(raw_code)
        except ValueError as exc:
            raise ProtocolError(f"reject_code is not LEB128: {exc}") from exc
        raise Reject(
            code,
            _text(cert.lookup([*base, b"reject_message"])) or "",
            _text(cert.lookup([*base, b"error_code"])),
            certified=True,
        )
    raise ProtocolError(f"request 0x{rid.hex()} is 'done': the target no longer holds its reply")
