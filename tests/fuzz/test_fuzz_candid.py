"""Property: whatever bytes arrive as a Candid argument, the decoder answers with `CandidError` or a value.

Any other exception would escape the canister host's decode step as an internal error instead of the
replica's reject 5. Inputs: arbitrary bytes (with and without the `DIDL` magic), valid encodings of
values drawn for the artifact canister's own method types and for types with zero-sized, recursive,
numeric and reference parts (which must decode back to the same values), and those encodings mutated:
bytes flipped, inserted, deleted, truncated, and fragments spliced in that claim huge lengths, counts,
type indices or type-table entries. Each is decoded at its own types, at another method's types and
with no expected types at all (every argument skipped).

The budget comes from the Hypothesis profile (tests/fuzz/conftest.py): fixed in CI, long in
`scripts/fuzz.sh`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from emulator.candid import (
    CandidError,
    Opt,
    Prim,
    Record,
    Some,
    Type,
    Variant,
    Vec,
    decode_args,
    encode_args,
    is_nullable,
    parse_did,
    resolve,
)
from emulator.canisters.artifact.canister import ArtifactCanister
from emulator.principal import MAX_PRINCIPAL_BYTES, Principal

ARTIFACT = parse_did(ArtifactCanister.CANDID).service
EXTRA = parse_did(
    """
    type Tree = opt record { Tree; nat8 };
    service : {
      zero : (vec record {}, vec null, vec reserved, vec record { null; record { reserved } }) -> ();
      numbers : (int, nat, int64, nat16, float32, float64, vec nat32, vec int8) -> ();
      nested : (opt opt vec opt text, variant { a : int; b : text; c }, record { nat64; bool }) -> ();
      refs : (principal, vec principal, Tree) -> ();
    }
    """
).service
SIGNATURES: list[Sequence[Type]] = [ARTIFACT[m].args for m in sorted(ARTIFACT.keys())]
SIGNATURES += [EXTRA[m].args for m in sorted(EXTRA.keys())]
UNTYPED: Sequence[Type] = ()

_INTS = {
    Prim.NAT8: (0, 2**8 - 1),
    Prim.NAT16: (0, 2**16 - 1),
    Prim.NAT32: (0, 2**32 - 1),
    Prim.NAT64: (0, 2**64 - 1),
    Prim.INT8: (-(2**7), 2**7 - 1),
    Prim.INT16: (-(2**15), 2**15 - 1),
    Prim.INT32: (-(2**31), 2**31 - 1),
    Prim.INT64: (-(2**63), 2**63 - 1),
    Prim.NAT: (0, 2**80),
    Prim.INT: (-(2**80), 2**80),
}

# Fragments an attacker would splice in: long LEB128 numbers, big counts, type opcodes, bad tags.
HOSTILE_FRAGMENTS = [
    b"\xff" * 9 + b"\x01",  # a 64-bit length or count
    b"\x80\x80\x80\x80\x10",  # 2^32
    b"\x80\x94\xeb\xdc\x03",  # 10^9
    b"\xff" * 300 + b"\x01",  # a long nat
    b"\x6d\x7f",  # vec null (a type-table entry)
    b"\x6d\x00",  # vec <entry 0>: maybe itself
    b"\x6c\x00",  # record {}
    b"\x6e\x00",  # opt <entry 0>
    b"\x6b\x01\x00\x00",  # variant { 0 : entry 0 }
    b"\x6a\x00\x00\x00",  # func () -> ()
    b"\x69\x00",  # service {}
    b"\x68",  # principal opcode where a table entry is expected
    b"\x02",  # an option tag or bool that is out of range
    b"DIDL",
]


def values_for(t: Type, depth: int = 0) -> st.SearchStrategy[Any]:
    """Python values the encoder accepts at type `t` (and the decoder gives back)."""
    t = resolve(t)
    if isinstance(t, Prim):
        return _prim_values(t)
    if isinstance(t, Opt):
        if depth > 3:
            return st.none()
        inner = values_for(t.inner, depth + 1)
        if is_nullable(t.inner):
            inner = inner.map(Some)
        return st.none() | inner
    if isinstance(t, Vec):
        if resolve(t.inner) is Prim.NAT8:
            return st.binary(max_size=64)
        return st.lists(values_for(t.inner, depth + 1), max_size=4)
    if isinstance(t, Record):
        if t.is_tuple:
            return st.tuples(*(values_for(f.type, depth + 1) for f in t.fields))
        return st.fixed_dictionaries({f.key: values_for(f.type, depth + 1) for f in t.fields})
    if isinstance(t, Variant):
        return st.one_of(*(values_for(f.type, depth + 1).map(_tagged_with(f.key)) for f in t.fields))
    raise AssertionError(f"no values for {t!r}")


def _tagged_with(key: str | int) -> Callable[[Any], dict[str | int, Any]]:
    """A variant value for the tag `key` (a function per tag: a lambda in a loop would share `key`)."""

    def tag(payload: Any) -> dict[str | int, Any]:
        return {key: payload}

    return tag


def _prim_values(p: Prim) -> st.SearchStrategy[Any]:
    if p in _INTS:
        low, high = _INTS[p]
        return st.integers(min_value=low, max_value=high)
    if p is Prim.NULL or p is Prim.RESERVED:
        return st.none()
    if p is Prim.BOOL:
        return st.booleans()
    if p is Prim.TEXT:
        return st.text(max_size=16)
    if p is Prim.FLOAT32:
        return st.floats(width=32, allow_nan=False)
    if p is Prim.FLOAT64:
        return st.floats(allow_nan=False)
    if p is Prim.PRINCIPAL:
        return st.binary(max_size=MAX_PRINCIPAL_BYTES).map(Principal)
    raise AssertionError(f"no values for {p!r}")


@st.composite
def encodings(draw: st.DrawFn) -> tuple[Sequence[Type], list[Any], bytes]:
    types = draw(st.sampled_from(SIGNATURES))
    values = [draw(values_for(t)) for t in types]
    return types, values, encode_args(types, values)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Sequence[Type], bytes]:
    """A valid encoding with one to four edits, and the types it was encoded at."""
    types, _, data = draw(encodings())
    body = bytearray(data)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(body)))
        edit = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "splice"]))
        if edit == "flip" and at < len(body):
            body[at] = draw(st.integers(min_value=0, max_value=255))
        elif edit == "insert":
            body[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif edit == "delete":
            del body[at : at + draw(st.integers(min_value=1, max_value=8))]
        elif edit == "truncate":
            del body[at:]
        else:
            body[at:at] = draw(st.sampled_from(HOSTILE_FRAGMENTS))
    return types, bytes(body)


def _only_candid_errors(data: bytes, types: Sequence[Type]) -> None:
    with contextlib.suppress(CandidError):  # a value or a CandidError; anything else fails the test
        decode_args(data, types)


@given(st.binary(max_size=256), st.sampled_from(SIGNATURES))
def test_arbitrary_bytes(data: bytes, types: Sequence[Type]) -> None:
    for message in (data, b"DIDL" + data):
        _only_candid_errors(message, types)
        _only_candid_errors(message, UNTYPED)


@given(encodings())
def test_valid_encodings_decode_to_their_values(case: tuple[Sequence[Type], list[Any], bytes]) -> None:
    types, values, data = case
    assert decode_args(data, types) == values
    assert decode_args(data, UNTYPED) == []  # every argument read, checked and skipped


@given(mutated(), st.sampled_from(SIGNATURES))
def test_mutated_encodings(case: tuple[Sequence[Type], bytes], other: Sequence[Type]) -> None:
    types, data = case
    _only_candid_errors(data, types)
    _only_candid_errors(data, other)
    _only_candid_errors(data, UNTYPED)
