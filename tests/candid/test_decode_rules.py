"""Decoding rules, one table per concern.

Every accepted message is also fed with a trailing byte, which must be rejected; every rejected message
must stay rejected with a trailing byte (unless it was merely truncated). Types are written in `.did`
syntax (with the definitions below) unless a case needs a type too deep to write down.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import pytest

from emulator.candid import NAT, CandidError, Func, FuncRef, Opt, Some, Type, Vec, decode_args, parse_did
from emulator.candid.leb128 import encode_sleb
from emulator.principal import Principal

DEFS = """
type Opt = opt Opt;
type Loop = record { Loop };
type List = opt record { head : int; tail : List };
"""
CAFFEE = Principal(b"\xca\xff\xee")


def types(spec: str | Sequence[Type]) -> Sequence[Type]:
    if not isinstance(spec, str):
        return spec
    return parse_did(f"{DEFS} service : {{ m : {spec} -> () }}").service["m"].args


def check_accept(data: bytes, spec: str | Sequence[Type], expected: list[Any]) -> None:
    ts = types(spec)
    assert decode_args(data, ts) == expected
    with pytest.raises(CandidError, match="unexpected bytes after the last value"):
        decode_args(data + b"\x00", ts)


def check_reject(data: bytes, spec: str | Sequence[Type], reason: str) -> None:
    ts = types(spec)
    with pytest.raises(CandidError, match=reason):
        decode_args(data, ts)
    if reason != "end of input":  # more bytes may legitimately complete a truncated message
        with pytest.raises(CandidError):
            decode_args(data + b"\x00", ts)


def deep_opt_table(levels: int) -> bytes:
    """A type table whose entry i is `opt <entry i+1>`, ending in `opt null`."""
    entries = b"".join(b"\x6e" + encode_sleb(i + 1) for i in range(levels - 1)) + b"\x6e\x7f"
    return b"DIDL" + bytes([0x90, 0x4E]) + entries  # 0x90 0x4e: LEB128 of 10_000


DEEP_OPT_TYPE: Type = NAT
for _ in range(10_000):
    DEEP_OPT_TYPE = Opt(DEEP_OPT_TYPE)
DEEP_VEC_TYPE: Type = NAT
for _ in range(10_000):
    DEEP_VEC_TYPE = Vec(DEEP_VEC_TYPE)
DEEP_VEC_FUNC_TABLE = (
    b"DIDL\x91\x4e\x6a\x00\x01\x01\x00"  # 10_001 entries; entry 0: func () -> (entry 1)
    + b"".join(b"\x6d" + encode_sleb(i + 2) for i in range(9_999))
    + b"\x6d\x7d"
)

ACCEPT: dict[str, list[Any]] = {
    "primitives": [
        (b"DIDL\x00\x01\x7e\x01", "(bool)", [True]),
        (b"DIDL\x00\x01\x7d\xac\x02", "(nat)", [300]),
        (b"DIDL\x00\x01\x7c\xff\x7e", "(int)", [-129]),
        (b"DIDL\x00\x01\x78" + b"\xff" * 8, "(nat64)", [2**64 - 1]),
        (b"DIDL\x00\x01\x77\x80", "(int8)", [-128]),
        (b"DIDL\x00\x01\x72" + struct.pack("<d", 1.5), "(float64)", [1.5]),
        (b"DIDL\x00\x01\x73" + struct.pack("<f", -0.25), "(float32)", [-0.25]),
        (b"DIDL\x00\x01\x71\x03\xe2\x98\x83", "(text)", ["☃"]),
        (b"DIDL\x00\x01\x68\x01\x03\xca\xff\xee", "(principal)", [CAFFEE]),
        (b"DIDL\x00\x01\x7f", "(null)", [None]),
        (b"DIDL\x00\x01\x71\x02hi", "(reserved)", [None]),
        (b"DIDL\x01\x6d\x7b\x01\x00\x03abc", "(blob)", [b"abc"]),
        (b"DIDL\x01\x6d\x7b\x01\x00\x00", "(vec nat8)", [b""]),
        (b"DIDL\x01\x6d\x7d\x01\x00\x02\x01\x02", "(vec nat)", [[1, 2]]),
    ],
    "subtyping": [
        # extra wire fields are skipped; numeric-only labels key the dict by id
        (b"DIDL\x01\x6c\x02\x00\x7d\x01\x71\x01\x00\x05\x02hi", "(record { 1 : text })", [{1: "hi"}]),
        # missing opt / null / reserved fields read as None (ids 0..2: a tuple)
        (b"DIDL\x01\x6c\x00\x01\x00", "(record { opt nat; null; reserved })", [(None, None, None)]),
        (
            b"DIDL\x01\x6c\x02\xd3\xe3\xaa\x02\x7e\x86\x8e\xb7\x02\x7c\x01\x00\x01\x2a",
            "(record { foo : int; bar : bool })",
            [{"foo": 42, "bar": True}],
        ),
        (b"DIDL\x01\x6c\x02\x00\x7d\x01\x71\x01\x00\x05\x02hi", "(record { nat; text })", [(5, "hi")]),
        (b"DIDL\x00\x01\x7d\x05", "(int)", [5]),
        # the expected variant may have more tags than the wire one
        (b"DIDL\x01\x6b\x01\x01\x71\x01\x00\x00\x01x", "(variant { 0 : nat; 1 : text; 2 })", [{1: "x"}]),
        (b"DIDL\x01\x6b\x01\x9c\xc2\x01\x7f\x01\x00\x00", "(variant { ok; err : text })", [{"ok": None}]),
        (b"DIDL\x01\x69\x00\x01\x00\x01\x03\xca\xff\xee", "(principal)", [CAFFEE]),
        (b"DIDL\x01\x69\x00\x01\x00\x01\x03\xca\xff\xee", "(service {})", [CAFFEE]),
        (
            b"DIDL\x01\x6a\x00\x00\x00\x01\x00\x01\x01\x03\xca\xff\xee\x01a",
            "(func () -> ())",
            [FuncRef(CAFFEE, "a")],
        ),
        # a func type with fewer results decodes where an extra opt result is expected
        (
            b"DIDL\x01\x6a\x00\x00\x00\x01\x00\x01\x01\x03\xca\xff\xee\x01a",
            "(func (text) -> (opt nat))",
            [FuncRef(CAFFEE, "a")],
        ),
    ],
    "opt": [
        (b"DIDL\x01\x6e\x7d\x01\x00\x00", "(opt nat)", [None]),
        (b"DIDL\x01\x6e\x7d\x01\x00\x01\x05", "(opt nat)", [5]),
        (b"DIDL\x00\x01\x7f", "(opt nat)", [None]),
        (b"DIDL\x00\x01\x70", "(opt nat)", [None]),
        (b"DIDL\x00\x01\x7d\x05", "(opt int)", [5]),
        (b"DIDL\x02\x6e\x01\x6e\x7d\x01\x00\x01\x00", "(opt opt nat)", [Some(None)]),
        (b"DIDL\x02\x6e\x01\x6e\x7d\x01\x00\x01\x01\x05", "(opt opt nat)", [Some(5)]),
        (b"DIDL\x01\x6e\x7f\x01\x00\x01", "(opt null)", [Some(None)]),
        (b"DIDL\x01\x6e\x70\x01\x00\x01", "(opt reserved)", [Some(None)]),
        (b"DIDL\x00\x01\x7e\x01", "(opt opt bool)", [Some(True)]),
        # content that does not coerce reads as None ...
        (b"DIDL\x01\x6e\x7e\x01\x00\x01\x01", "(opt nat)", [None]),
        (b"DIDL\x00\x01\x71\x02hi", "(opt nat)", [None]),
        (b"DIDL\x02\x6e\x01\x6b\x01\x00\x7e\x01\x00\x01\x00\x01", "(opt variant { 0 : int })", [None]),
        (b"DIDL\x01\x6b\x02\x00\x7f\x01\x7f\x01\x00\x01", "(opt variant { 0 })", [None]),
        (b"DIDL\x01\x6b\x02\x00\x7f\x01\x7f\x01\x00\x00", "(opt variant { 0 })", [{0: None}]),
        # ... and decoding resumes after the skipped value
        (b"DIDL\x01\x6c\x02\x00\x71\x01\x7d\x01\x00\x02hi\x07", "(record { opt nat; nat })", [(None, 7)]),
        (
            b"DIDL\x02\x6e\x01\x6c\x02\xa0\xd2\xac\xa8\x04\x7c\x90\xed\xda\xe7\x04\x00\x01\x00\x01\x01\x00",
            "(List)",
            [{"head": 1, "tail": None}],
        ),
    ],
    "arguments": [
        (b"DIDL\x00\x00", "(opt nat, null, reserved)", [None, None, None]),
        (b"DIDL\x00\x02\x7d\x71\x05\x02hi", "(nat)", [5]),
        (b"DIDL\x00\x01\x7d\x05", "()", []),
        (b"DIDL\x80\x00\x00", "()", []),  # overlong but short LEB128 lengths are fine
    ],
    "type table": [
        (b"DIDL\x01\x6e\x7f\x00", "()", []),
        (b"DIDL\x01\x6e\x00\x00", "()", []),
        (b"DIDL\x01\x67\x03ABC\x02\x00\x7e\x05\x00hello\x01", "(opt empty, bool)", [None, True]),
    ],
    "bounds": [
        (b"DIDL\x00\x01\x7d" + b"\xff" * 19_999 + b"\x7f", "(nat)", [2**140_000 - 1]),
        (b"DIDL\x00\x01\x7c" + b"\x80" * 19_999 + b"\x40", "(int)", [-(2**139_999)]),
        (b"DIDL\x01\x6d\x7f\x01\x00\xe8\x07", "(vec null)", [[None] * 1000]),
    ],
}

REJECT: dict[str, list[Any]] = {
    "primitives": [
        (b"DIDL\x00\x01\x7e\x02", "(bool)", "invalid bool byte 2"),
        (b"DIDL\x00\x01\x71\x02\xc3\x28", "(text)", "not valid UTF-8"),
        (b"DIDL\x00\x01\x68\x00", "(principal)", "opaque reference"),
        (b"DIDL\x00\x01\x68\x01\x1e" + b"\x00" * 30, "(principal)", "longer than 29 bytes"),
        (b"DIDL\x00\x01\x70", "(null)", "expected null, found reserved"),
        (b"DIDL\x00\x01\x6f", "(empty)", "empty cannot be decoded"),
        (b"DIDL\x00\x01\x7d\x80", "(nat)", "end of input"),
        (b"DIDL\x00\x01\x72\x00\x00\x00\x00", "(float64)", "end of input"),
    ],
    "subtyping": [
        (b"DIDL\x01\x6c\x00\x01\x00", "(record { 0 : nat })", "record field 0 is missing"),
        (b"DIDL\x01\x6b\x02\x00\x7f\x01\x7f\x01\x00\x01", "(variant { 0 })", "unexpected variant tag 1"),
        (b"DIDL\x00\x01\x7c\x05", "(nat)", "expected nat, found int"),
        (b"DIDL\x00\x01\x7b\x05", "(nat)", "expected nat, found nat8"),
        (b"DIDL\x01\x6d\x7b\x01\x00\x01\x05", "(vec nat)", "expected nat, found nat8"),
        (b"DIDL\x00\x01\x68\x01\x00", "(service {})", "expected service, found principal"),
        (b"DIDL\x01\x6a\x00\x00\x00\x01\x00\x01\x01\x00\x01a", "(func () -> (nat))", "not a subtype"),
        (b"DIDL\x01\x6a\x00\x00\x01\x01\x01\x00\x01\x01\x00\x01a", "(func () -> ())", "not a subtype"),
    ],
    "opt": [
        (b"DIDL\x01\x6e\x7d\x01\x00\x02", "(opt nat)", "invalid option tag 2"),
        (b"DIDL\x01\x6e\x7e\x01\x00\x01\x02", "(opt nat)", "invalid bool byte 2"),  # skipped, still checked
        (b"DIDL\x00\x01\x7e\x01", "(Opt)", "nested too deeply"),  # bool <: opt opt opt ... never ends
    ],
    "arguments": [
        (b"DIDL\x00\x00", "(nat)", "missing argument"),
        (b"DIDL\x00\x02\x7d\x71\x05\x02\xff\xff", "(nat)", "not valid UTF-8"),
        (b"", "()", "magic"),
        (b"DID", "()", "magic"),
        (b"DIDX\x00\x00", "()", "magic"),
        (b"DIDL\x00\x05\x7d", "()", "argument count 5 exceeds"),
        (b"DIDL\x00\x01\x00", "()", "type index 0 out of range"),
        (b"DIDL\x00\x01\x6e\x7f", "()", "not a primitive type"),
    ],
    "type table": [
        (b"DIDL\x01\x6e\x01\x00", "()", "type index 1 out of range"),
        (b"DIDL\x01\x7f\x00", "()", "not allowed in the type table"),
        (b"DIDL\x01\x68\x00", "()", "not allowed in the type table"),
        (b"DIDL\x01\x00\x00", "()", "not allowed in the type table"),
        (b"DIDL\x01\x6c\x02\x01\x7f\x00\x7f\x00", "()", "record field ids not strictly increasing"),
        (b"DIDL\x01\x6c\x02\x00\x7f\x00\x7f\x00", "()", "record field ids not strictly increasing"),
        (b"DIDL\x01\x6b\x02\x01\x7f\x00\x7f\x00", "()", "variant field ids not strictly increasing"),
        (b"DIDL\x01\x6c\x01\x80\x80\x80\x80\x10\x7f\x00", "()", "does not fit in 32 bits"),
        (b"DIDL\x01\x6a\x00\x00\x01\x04\x00", "()", "unknown function annotation 4"),
        (b"DIDL\x02\x69\x01\x01m\x01\x6e\x7f\x00", "()", "does not have a function type"),
        (b"DIDL\x01\x69\x01\x01m\x68\x00", "()", "does not refer to a function type"),
        (b"DIDL\x02\x69\x02\x01b\x01\x01a\x01\x6a\x00\x00\x00\x00", "()", "not strictly increasing"),
        (b"DIDL\x02\x69\x01\x01\xff\x01\x6a\x00\x00\x00\x00", "()", "not valid UTF-8"),
        (b"DIDL\x05\x6e\x7f", "()", "type table length 5 exceeds"),
        (b"DIDL\x02\x6e\x7f\x6c\x02\x01\x7f\x00\x7f\x00", "()", "not strictly increasing"),  # unused entry
    ],
    "bounds": [
        # 14 bytes claiming 2^32 nulls: only the fuel budget can tell
        (b"DIDL\x01\x6d\x7f\x01\x00\x80\x80\x80\x80\x10", "()", "cost exceeds"),
        (b"DIDL\x01\x6d\x7f\x01\x00\x80\x80\x80\x80\x10", "(vec null)", "cost exceeds"),
        (b"DIDL\x01\x6d\x7f\x01\x00\x80\x80\x80\x80\x10", "(reserved)", "cost exceeds"),
        # 10_000 empty wire records, each filled in with eight missing opt fields: that work costs fuel too
        (
            b"DIDL\x02\x6d\x01\x6c\x00\x01\x00\x90\x4e",
            "(vec record { opt nat; opt nat; opt nat; opt nat; opt nat; opt nat; opt nat; opt nat })",
            "cost exceeds",
        ),
        (b"DIDL\x01\x6d\x7e\x01\x00\x80\x94\xeb\xdc\x03\x00", "(vec bool)", "vector length 1000000000"),
        (b"DIDL\x00\x01\x71\x80\x94\xeb\xdc\x03ab", "(text)", "text length 1000000000 exceeds"),
        (b"DIDL" + b"\x80" * 10 + b"\x00\x00", "()", "LEB128 number too long"),
        (b"DIDL\x00\x01\x71" + b"\x80" * 10 + b"\x00", "(text)", "LEB128 number too long"),
        (deep_opt_table(10_000) + b"\x01\x00" + b"\x01" * 10_000, "(reserved)", "nested too deeply"),
        (deep_opt_table(10_000) + b"\x01\x00" + b"\x01" * 10_000, "(opt nat)", "nested too deeply"),
        (b"DIDL\x01\x6e\x00\x01\x00" + b"\x01" * 10_000 + b"\x00", "(Opt)", "nested too deeply"),
        (b"DIDL\x01\x6c\x01\x00\x00\x01\x00", "(Loop)", "nested too deeply"),
        (b"DIDL\x01\x6c\x01\x00\x00\x01\x00", "()", "nested too deeply"),
        (b"DIDL\x00\x01\x7d\x05", [DEEP_OPT_TYPE], "nested too deeply"),
        (DEEP_VEC_FUNC_TABLE + b"\x01\x00\x01\x01\x00\x01m", [Func((), (DEEP_VEC_TYPE,))], "too deeply"),
    ],
}


def _table(table: dict[str, list[Any]]) -> list[Any]:
    return [
        pytest.param(*case, id=f"{concern}-{i}")
        for concern, cases in table.items()
        for i, case in enumerate(cases)
    ]


@pytest.mark.parametrize(("data", "spec", "expected"), _table(ACCEPT))
def test_accept(data: bytes, spec: str | Sequence[Type], expected: list[Any]) -> None:
    check_accept(data, spec, expected)


@pytest.mark.parametrize(("data", "spec", "reason"), _table(REJECT))
def test_reject(data: bytes, spec: str | Sequence[Type], reason: str) -> None:
    check_reject(data, spec, reason)


def test_errors_name_the_argument() -> None:
    with pytest.raises(CandidError, match=r"^argument 1: expected nat, found text$"):
        decode_args(b"DIDL\x00\x02\x7d\x71\x05\x02hi", types("(nat, nat)"))
