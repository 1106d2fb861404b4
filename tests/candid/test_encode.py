"""Encoding: exact bytes for the canonical cases, round trips, and the type check on every value."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.candid import (
    NAT,
    CandidError,
    Field,
    FuncRef,
    Knot,
    Opt,
    Record,
    Some,
    Type,
    decode_args,
    encode_args,
    parse_did,
)
from emulator.principal import Principal

CAFFEE = Principal(b"\xca\xff\xee")


def types(spec: str) -> tuple[Type, ...]:
    defs = "type List = opt record { head : int; tail : List };"
    return parse_did(f"{defs} service : {{ m : {spec} -> () }}").service["m"].args


EXACT = [
    ("()", [], "4449444c0000"),
    ("(bool)", [True], "4449444c00017e01"),
    ("(nat)", [128], "4449444c00017d8001"),
    ("(int)", [-129], "4449444c00017cff7e"),
    ("(int16)", [-2], "4449444c000176feff"),
    ("(text)", ["☃"], "4449444c00017103e29883"),
    ("(null, reserved)", [None, None], "4449444c00027f70"),
    ("(principal)", [CAFFEE], "4449444c0001680103caffee"),
    ("(blob)", [b"ab"], "4449444c016d7b0100026162"),
    ("(blob)", [[97, 98]], "4449444c016d7b0100026162"),
    ("(opt nat)", [None], "4449444c016e7d010000"),
    ("(opt nat)", [5], "4449444c016e7d01000105"),
    # fields are written in id order whatever order the .did and the dict use
    (
        "(record { foo : int; bar : bool })",
        [{"foo": 42, "bar": True}],
        "4449444c016c02d3e3aa027e868eb7027c0100012a",
    ),
    # a variant value is its tag's position among the tags sorted by id
    ("(variant { b; a : nat })", [{"b": None}], "4449444c016b02617d627f010001"),
    ("(func () -> () query)", [FuncRef(CAFFEE, "f")], "4449444c016a0000010101000101" + "03caffee0166"),
]

ROUND_TRIP = [  # (types, values, decoded values when they differ from the input)
    ("(nat64, int8, float32, float64)", [2**64 - 1, -128, 0.5, -1e300], None),
    ("(vec record { text; nat })", [[("a", 1), ["b", 2]]], [[("a", 1), ("b", 2)]]),
    ("(record { nat; text })", [{0: 1, 1: "x"}], [(1, "x")]),
    ("(record { 0 : nat; 5 : text })", [{0: 1, 5: "x"}], None),
    ("(opt opt nat, opt null, opt reserved)", [Some(None), Some(None), Some(None)], None),
    ("(opt opt nat)", [5], [Some(5)]),
    ("(List)", [{"head": 1, "tail": {"head": -2, "tail": None}}], None),
    ("(variant { ok : vec nat8; err : text })", [{"ok": bytearray(b"\x00\xff")}], [{"ok": b"\x00\xff"}]),
    ("(service {})", [CAFFEE], None),
    ("(record { a : opt nat; b : nat })", [{"b": 1}], [{"a": None, "b": 1}]),  # missing opt: none
]

BAD_VALUES = [
    ("(nat)", [True], "expected an int for nat, got bool"),
    ("(nat)", [-1], "negative value -1 for nat"),
    ("(nat)", ["1"], "expected an int for nat, got str"),
    ("(int)", [1.0], "expected an int for int, got float"),
    ("(nat8)", [256], "out of range for nat8"),
    ("(int8)", [-129], "out of range for int8"),
    ("(nat64)", [2**64], "out of range for nat64"),
    ("(float32)", [1e39], "out of range for float32"),
    ("(float64)", ["1"], "expected a float"),
    ("(bool)", [1], "expected a bool"),
    ("(text)", [b"x"], "expected a str"),
    ("(text)", ["\ud800"], "lone surrogate"),
    ("(null)", [0], "expected None for null"),
    ("(reserved)", [0], "expected None for reserved"),
    ("(empty)", [None], "no value has type empty"),
    ("(principal)", ["aaaaa-aa"], "expected a Principal"),
    ("(blob)", ["ab"], "expected a list for a vec"),
    ("(blob)", [[256]], "out of range for nat8"),
    ("(vec nat)", [{1, 2}], "expected a list for a vec"),
    ("(record { a : nat })", [{}], "record field 'a' is missing"),
    ("(record { a : nat })", [{"a": 1, "b": 2}], "unknown record field 'b'"),
    ("(record { a : nat })", [[1]], "expected a dict for a record"),
    ("(record { nat; nat })", [(1,)], "expected a 2-tuple, got 1 items"),
    ("(variant { a; b })", [{"c": None}], "unknown variant tag 'c'"),
    ("(variant { a; b })", [{"a": None, "b": None}], "one-entry dict"),
    ("(variant { a; b })", ["a"], "one-entry dict"),
    ("(opt nat)", [Some("x")], "expected an int for nat, got str"),
    ("(func () -> ())", [CAFFEE], "expected a FuncRef"),
    ("(nat, nat)", [1], "1 values for 2 types"),
]


@pytest.mark.parametrize(("spec", "values", "hex_"), EXACT)
def test_exact_bytes(spec: str, values: list[Any], hex_: str) -> None:
    ts = types(spec)
    assert encode_args(ts, values).hex() == hex_
    decoded = decode_args(bytes.fromhex(hex_), ts)
    assert decoded == [bytes(v) if isinstance(v, list) else v for v in values]


@pytest.mark.parametrize(("spec", "values", "decoded"), ROUND_TRIP)
def test_round_trip(spec: str, values: list[Any], decoded: list[Any] | None) -> None:
    ts = types(spec)
    assert decode_args(encode_args(ts, values), ts) == (values if decoded is None else decoded)


@pytest.mark.parametrize(("spec", "values", "reason"), BAD_VALUES)
def test_type_check(spec: str, values: list[Any], reason: str) -> None:
    with pytest.raises(CandidError, match=reason):
        encode_args(types(spec), values)


def test_recursive_type_built_by_hand() -> None:
    tree = Knot("Tree")
    tree.tie(Record((Field.of("value", NAT), Field.of("children", Opt(tree)))))
    value = {"value": 1, "children": {"value": 2, "children": None}}
    encoded = encode_args([tree], [value])
    assert encoded[4] == 2  # two table entries: the record and the opt that points back to it
    assert decode_args(encoded, [tree]) == [value]
