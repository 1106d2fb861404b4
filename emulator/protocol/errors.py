"""Failures of the HTTP protocol layer and the replica's standard canister rejects.

Two different failure channels exist on the IC and agents treat them very differently:

* ``ProtocolError`` is an envelope problem. The replica answers it with a non-2xx status and a
  plain-text body; agent-js retries most of those three times and matches some texts by prefix
  (``Invalid request expiry: ``), so the exact status and text are part of the contract.
* ``Reject`` is a canister-level outcome. It travels inside a 200 CBOR body (query replies,
  non-replicated rejections) or inside a certified request status, never as an HTTP error.

The reject texts below follow the current replica (``Error from Canister <cid>: …``) without the
trailing ``\\nConsider … See documentation: <link>`` suggestion the replica appends; agents show the
text verbatim and none of them parses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Literal

from emulator.principal import Principal


class ProtocolError(Exception):
    """An envelope-level failure that the server must turn into ``http_status`` + ``message``.

    ``message`` is the complete plain-text body (``text/plain; charset=utf-8``), kept separate from
    ``str(exc)`` formatting concerns so the server never has to reconstruct it.
    """

    def __init__(self, http_status: int, message: str) -> None:
        super().__init__(http_status, message)
        self.http_status = http_status
        self.message = message

    def __str__(self) -> str:
        return f"{self.http_status}: {self.message}"

    def __repr__(self) -> str:
        return f"ProtocolError({self.http_status!r}, {self.message!r})"


class RejectCode(IntEnum):
    """Reject codes of the IC interface spec (agent-rs refuses values outside this set)."""

    SYS_FATAL = 1
    SYS_TRANSIENT = 2
    DESTINATION_INVALID = 3
    CANISTER_REJECT = 4
    CANISTER_ERROR = 5
    SYS_UNKNOWN = 6


@dataclass(frozen=True, slots=True)
class Reject:
    """A canister-level rejection as the replica reports it (code, text, ``ICxxxx`` error code)."""

    code: RejectCode
    message: str
    error_code: str

    def __post_init__(self) -> None:
        # Replica error codes look like "IC0503" (first digit = reject code), but the server's fault
        # injection may configure any text, so only the reject code itself is enforced here.
        if not isinstance(self.code, RejectCode):
            object.__setattr__(self, "code", RejectCode(self.code))


def canister_not_found(cid: Principal) -> Reject:
    """3 / IC0301 — the replica's ``CanisterNotFound`` text."""
    return Reject(RejectCode.DESTINATION_INVALID, f"Canister {cid.to_text()} not found.", "IC0301")


def method_not_found(cid: Principal, method: str, kind: Literal["query", "update"]) -> Reject:
    """5 / IC0536 — also what the replica answers for an update method called via query."""
    return Reject(
        RejectCode.CANISTER_ERROR,
        f"Error from Canister {cid.to_text()}: Canister has no {kind} method '{method}'.",
        "IC0536",
    )


def canister_trapped(cid: Principal, trap_message: str) -> Reject:
    """5 / IC0503 — explicit trap, panic, or a CDK's Candid decoding failure."""
    return Reject(
        RejectCode.CANISTER_ERROR,
        f"Error from Canister {cid.to_text()}: Canister called `ic0.trap` with message: '{trap_message}'.",
        "IC0503",
    )


def canister_rejected(cid: Principal, message: str) -> Reject:
    """4 / IC0406 — ``msg_reject``: the replica passes the canister's own text through unchanged.

    ``cid`` is accepted for symmetry with the other helpers and to keep call sites uniform.
    """
    del cid
    return Reject(RejectCode.CANISTER_REJECT, message, "IC0406")


def canister_stopped(cid: Principal) -> Reject:
    """5 / IC0508 — an update (ingress) to a stopped canister; the replica's induction text."""
    return Reject(RejectCode.CANISTER_ERROR, f"Canister {cid.to_text()} is stopped", "IC0508")


def canister_not_running(cid: Principal) -> Reject:
    """5 / IC0508 — a query to a stopped canister (the query handler's running check)."""
    return Reject(RejectCode.CANISTER_ERROR, f"Canister {cid.to_text()} is not running", "IC0508")


def storage_full(cid: Principal, detail: str) -> Reject:
    """2 / IC0204 — the emulator's disk refused the message's writes; nothing was stored.

    The replica's nearest case is refusing ingress it cannot record (`IngressHistoryFull`, a transient
    reject): the message never executed, and the same call succeeds once space is freed, so clients
    treat it as retryable.
    """
    return Reject(
        RejectCode.SYS_TRANSIENT,
        f"Canister {cid.to_text()} could not store this update: the emulator's state directory is out "
        f"of space ({detail}). Nothing was stored; free disk space and retry.",
        "IC0204",
    )
