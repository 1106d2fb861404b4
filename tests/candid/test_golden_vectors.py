"""The contract's golden vectors, produced by agent-js (`@dfinity/candid`) with the deployed canister's types.

Method types come from the vectors' own `signature` strings (agent-js renderings such as
`(text) → (nat) query`), read by `parse_did` once the arrow is spelled `->`.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from emulator.candid import (
    FLOAT32,
    FLOAT64,
    NAT8,
    PRINCIPAL,
    Func,
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
from emulator.principal import Principal
from tests.vectors import CONTRACT_CANDID_PATH

VECTORS = CONTRACT_CANDID_PATH

if not VECTORS.is_file():
    pytest.skip(f"golden vectors not found at {VECTORS}", allow_module_level=True)

METHODS: dict[str, dict[str, Any]] = json.loads(VECTORS.read_text(encoding="utf-8"))["methods"]


def method_type(name: str) -> Func:
    signature = METHODS[name]["signature"].replace("→", "->")
    return parse_did(f"service : {{ {name} : {signature} }}").service[name]


def from_json(v: Any, t: Type) -> Any:
    """agent-js' JSON rendering of a value (opt as [] / [x], bigints "<n>n") to our Python mapping."""
    t = resolve(t)
    if isinstance(t, Opt):
        assert isinstance(v, list) and len(v) <= 1
        if not v:
            return None
        inner = from_json(v[0], t.inner)
        return Some(inner) if is_nullable(t.inner) else inner
    if isinstance(t, Vec):
        if resolve(t.inner) is NAT8:
            return bytes.fromhex(v["blob_hex"]) if isinstance(v, dict) else bytes(v)
        return [from_json(item, t.inner) for item in v]
    if isinstance(t, Record):
        if t.is_tuple:
            return tuple(from_json(item, f.type) for item, f in zip(v, t.fields, strict=True))
        assert set(v) == {f.name for f in t.fields}
        return {f.key: from_json(v[f.name], f.type) for f in t.fields}
    if isinstance(t, Variant):
        [(tag, payload)] = v.items()
        _, f = t.by_key[tag]
        return {tag: from_json(payload, f.type)}
    if t is PRINCIPAL:
        return Principal.from_text(v["__principal__"])
    if t in (FLOAT32, FLOAT64):
        return float(v)
    if isinstance(t, Prim) and isinstance(v, str) and v.endswith("n") and v[:-1].lstrip("-").isdigit():
        return int(v[:-1])
    return v


@pytest.mark.parametrize("name", list(METHODS))
def test_decode_arguments(name: str) -> None:
    func, vector = method_type(name), METHODS[name]
    expected = [from_json(v, t) for v, t in zip(vector["args_value"], func.args, strict=True)]
    assert decode_args(bytes.fromhex(vector["args_hex"]), func.args) == expected


@pytest.mark.parametrize("name", list(METHODS))
def test_decode_reply(name: str) -> None:
    func, vector = method_type(name), METHODS[name]
    expected = [from_json(v, t) for v, t in zip(vector["reply_value"], func.results, strict=True)]
    assert decode_args(bytes.fromhex(vector["reply_hex"]), func.results) == expected


@pytest.mark.parametrize("name", list(METHODS))
@pytest.mark.parametrize("side", ["args", "reply"])
def test_encode_round_trip(name: str, side: str) -> None:
    func, vector = method_type(name), METHODS[name]
    types = func.args if side == "args" else func.results
    values = [from_json(v, t) for v, t in zip(vector[f"{side}_value"], types, strict=True)]
    encoded = encode_args(types, values)
    assert decode_args(encoded, types) == values
    # Not required by Candid (type tables may be ordered any way), but our children-first, deduplicated
    # table happens to match agent-js exactly, which keeps captured traffic easy to diff.
    assert encoded.hex() == vector[f"{side}_hex"]
