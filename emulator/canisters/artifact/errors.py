"""The `ICPResult` envelope and `ICPErrorCode` values (seed task 1.1, requirement 22.1).

Business functions raise `Refused(code)` at the first rule a call breaks and the envelope is built
in one place, so the "failure = success false, data null, error = opt code" shape cannot drift
between methods. A refusal is a normal reply, not a trap: whatever the function wrote before raising
(for example finishing an expired session) is committed with the reply, which is why functions check
before they write unless the contract says the refusal itself changes state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from emulator.candid import Some
from emulator.canisters.artifact.records import ErrorCode, ICPResult

T = TypeVar("T")


def unauthorized() -> ErrorCode:
    return {"Unauthorized": None}


def already_exists() -> ErrorCode:
    return {"AlreadyExists": None}


def not_found() -> ErrorCode:
    return {"NotFound": None}


def invalid_hash() -> ErrorCode:
    return {"InvalidHash": None}


def internal(message: str) -> ErrorCode:
    return {"Internal": message}


class Refused(Exception):
    """A call broke a rule of the contract; `code` is what the caller is told."""

    def __init__(self, code: ErrorCode) -> None:
        super().__init__(code)
        self.code = code


def ok(data: T) -> ICPResult[T]:
    return {"success": True, "data": data, "error": None}


def fail(code: ErrorCode) -> ICPResult[Any]:
    return {"success": False, "data": None, "error": code}


def run(operation: Callable[[], ICPResult[T]]) -> ICPResult[T]:
    """Call `operation`, turning a refusal into the failure envelope."""
    try:
        return operation()
    except Refused as refusal:
        return fail(refusal.code)


def outcome_label(code: ErrorCode | None) -> str:
    """The audit log's spelling of an outcome: `ok`, `Unauthorized`, `Internal: <text>`, …"""
    if code is None:
        return "ok"
    ((tag, payload),) = code.items()
    return tag if payload is None else f"{tag}: {payload}"


def some(value: Any) -> Some:
    """`opt` of a value that is itself null/opt/reserved (`cancel_upload`'s `data = opt null`)."""
    return Some(value)
