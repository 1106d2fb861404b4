"""Strict reading of admin API inputs: malformed input is a 400 with a reason, never a 500.

Python's `json` accepts `NaN`, `Infinity` and numbers like `1e999` (which become `inf`), recurses
once per nesting level, and `bool` is a subclass of `int`: each of these turned a malformed body into
an unhandled exception or a nonsensical value (a clock advanced by `true` nanoseconds, a fault count of
`"5"`). These helpers say exactly which types a field takes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

MAX_JSON_DEPTH = 32
NAT64_MAX = 2**64 - 1
# `ic0.time` is a nat64, but canisters keep times in SQLite's signed 64-bit INTEGER and add durations
# (expiries, TTLs) to them: a clock at 2^63 ns already makes every update trap. The admin API keeps the
# clock below 2^62 ns (year 2116), leaving 2^62 ns (146 years) for whatever a canister adds to it.
MAX_CANISTER_TIME_NS = 2**62
# The canister clock is nat64 nanoseconds: no single advance can usefully exceed that.
MAX_ADVANCE_SECONDS = NAT64_MAX // 1_000_000_000


class InputError(ValueError):
    """An input is malformed; the message says which field and why."""


def _depth_ok(raw: bytes) -> bool:
    """Nesting depth from a byte scan (outside strings), before `json` recurses into it."""
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                return False
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return True


def strict_json(raw: bytes) -> Any:
    """Parses JSON refusing NaN/Infinity, non-finite numbers and nesting deeper than MAX_JSON_DEPTH."""
    if not _depth_ok(raw):
        raise InputError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")

    def refuse_constant(name: str) -> Any:
        raise InputError(f"{name} is not valid JSON")

    def finite_float(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise InputError(f"number {text[:40]} is out of range")
        return value

    try:
        return json.loads(raw, parse_constant=refuse_constant, parse_float=finite_float)
    except InputError:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, bad UTF-8, int digit limit
        raise InputError(f"body is not JSON: {exc}"[:300]) from None


def is_int(value: object) -> bool:
    return type(value) is int


def is_number(value: object) -> bool:
    return (type(value) is int) or (type(value) is float and math.isfinite(value))


def clock_delta_ns(body: Mapping[str, Any]) -> int:
    """The advance a clock request asks for, in nanoseconds; exactly one of seconds/nanoseconds."""
    unknown = set(body) - {"seconds", "nanoseconds"}
    if unknown:
        raise InputError(f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    if ("seconds" in body) == ("nanoseconds" in body):
        raise InputError("give exactly one of 'seconds' or 'nanoseconds'")
    if "nanoseconds" in body:
        value = body["nanoseconds"]
        if not is_int(value):
            raise InputError("'nanoseconds' must be an integer")
        if not 0 <= value <= NAT64_MAX:
            raise InputError(f"'nanoseconds' must be within [0, {NAT64_MAX}]")
        return int(value)
    seconds = body["seconds"]
    if not is_number(seconds):
        raise InputError("'seconds' must be a finite number")
    if not 0 <= seconds <= MAX_ADVANCE_SECONDS:
        raise InputError(f"'seconds' must be within [0, {MAX_ADVANCE_SECONDS}]")
    return int(seconds * 1_000_000_000) if isinstance(seconds, float) else seconds * 1_000_000_000


FAULT_FIELD_TYPES: Mapping[str, str] = {
    "action": "str",
    "method": "str",
    "endpoint": "str",
    "count": "int?",
    "probability": "number?",
    "reject_code": "int",
    "reject_message": "str",
    "error_code": "str?",
    "http_status": "int",
    "latency_ms": "int",
}
MAX_FAULT_TEXT = 1024


def fault_rule_fields(body: Mapping[str, Any]) -> dict[str, Any]:
    """Type-checks a fault rule's fields; value ranges are `FaultRule.from_json`'s business."""
    for name, value in body.items():
        kind = FAULT_FIELD_TYPES.get(name)
        if kind is None:
            continue  # from_json names unknown fields
        optional = kind.endswith("?")
        base = kind.rstrip("?")
        if value is None and optional:
            continue
        ok = {
            "str": isinstance(value, str) and len(value) <= MAX_FAULT_TEXT,
            "int": is_int(value) and abs(value) <= NAT64_MAX,
            "number": is_number(value),
        }[base]
        if not ok:
            described = {"str": f"a string of at most {MAX_FAULT_TEXT} characters", "int": "an integer"}
            raise InputError(
                f"{name} must be {described.get(base, 'a finite number')}{' or null' if optional else ''}"
            )
    return dict(body)


def upgrade_kind(body: Mapping[str, Any]) -> str | None:
    unknown = set(body) - {"kind"}
    if unknown:
        raise InputError(f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    kind = body.get("kind")
    if kind is None or kind == "":
        return None
    if not isinstance(kind, str) or len(kind) > 300:
        raise InputError("'kind' must be a string (a registered kind or module:Class)")
    return kind


def no_fields(body: Mapping[str, Any]) -> None:
    if body:
        raise InputError(f"this route takes no fields, got: {', '.join(sorted(body))[:200]}")
