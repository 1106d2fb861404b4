"""One source of truth for the artifact wire types: `contract/artifact.did`.

The emulator's `records.py` (TypedDicts the canister returns) and the client's `types.py` (dataclasses
the client decodes into) are hand-written for readability and typing; this test holds both to the
`.did`: every Python record named like a `.did` type has exactly its fields, every enum exactly its
variant's tags, and every `.did` record is spelled on both sides (or listed below with the reason).
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import typing
from typing import Any

import pytest

from clients.artifact import types as client_types
from contract import artifact_did
from emulator.candid import parse_did
from emulator.candid.types import Knot, Record, Variant, resolve
from emulator.canisters.artifact import records as emulator_records

DID = parse_did(artifact_did())


def _did_shape(name: str) -> tuple[str, frozenset[str]]:
    t: Any = DID.types[name]
    t = resolve(t) if isinstance(t, Knot) else t
    if isinstance(t, Record):
        return "record", frozenset(str(f.name) for f in t.fields)
    if isinstance(t, Variant):
        return "variant", frozenset(str(f.name) for f in t.fields)
    return type(t).__name__.lower(), frozenset()


DID_RECORDS = {n for n in DID.types if _did_shape(n)[0] == "record"}
DID_ENUMS = {n for n in DID.types if _did_shape(n)[0] == "variant"}

GENERIC_RESULTS = {
    n: "the generic ICPResult[T] spells every ICPResult_N" for n in DID_RECORDS if n.startswith("ICPResult_")
}

# `.did` records the client reads into a class of another name: (class, envelope fields it drops
# because failures are raised instead of returned).
CLIENT_RENAMED: dict[str, tuple[str, frozenset[str]]] = {
    "MemoryPresenceResult": ("MemoryPresence", frozenset()),
    "UploadProgressResponse": ("UploadProgress", frozenset()),
    "MemoryListPresenceResponse": ("MemoryListPresencePage", frozenset({"success", "error"})),
}
# `.did` records a side has no class for, and why.
CLIENT_ELSEWHERE = {
    **GENERIC_RESULTS,
    "ICPResult": "unwrapped by the client's pipeline into the payload, or an error raised",
    "MemoryPresenceResponse": "unwrapped into MemoryPresence (failures raised, the id filled in)",
    "UserUploadSessionsResponse": "unwrapped into list[UploadProgress]",
}
EMULATOR_ELSEWHERE = {
    **GENERIC_RESULTS,
    **{
        f"{kind}Metadata": "held as the decoded MemoryMetadata variant value; the codec checks it"
        for kind in ("Audio", "Document", "Image", "Note", "Video")
    },
}


def _typed_dicts(module: Any) -> dict[str, frozenset[str]]:
    return {
        name: frozenset(typing.get_type_hints(cls))
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and typing.is_typeddict(cls)
    }


def _dataclasses(module: Any) -> dict[str, frozenset[str]]:
    return {
        name: frozenset(f.name for f in dataclasses.fields(cls))
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
    }


def _enums(module: Any) -> dict[str, frozenset[str]]:
    return {
        name: frozenset(str(m.value) for m in cls)
        for name, cls in vars(module).items()
        if inspect.isclass(cls) and issubclass(cls, enum.Enum) and cls.__module__ == module.__name__
    }


SIDES = {
    "emulator records.py": (_typed_dicts(emulator_records), EMULATOR_ELSEWHERE),
    "client types.py": (_dataclasses(client_types), CLIENT_ELSEWHERE),
}


@pytest.mark.parametrize("side", sorted(SIDES))
def test_records_named_like_did_types_have_exactly_their_fields(side: str) -> None:
    classes, _ = SIDES[side]
    checked = 0
    for name, fields in classes.items():
        base = name.split("[")[0]
        if base not in DID.types or _did_shape(base)[0] == "variant":  # payload variants: own codecs
            continue
        kind, did_fields = _did_shape(base)
        assert kind == "record", f"{side}: {name} is a {kind} in the .did"
        assert fields == did_fields, (
            f"{side}: {name} has {sorted(fields - did_fields)} extra, {sorted(did_fields - fields)} missing"
        )
        checked += 1
    assert checked >= 10, f"{side}: only {checked} records matched .did names"


@pytest.mark.parametrize("side", sorted(SIDES))
def test_every_did_record_is_spelled_on_each_side(side: str) -> None:
    classes, elsewhere = SIDES[side]
    renamed = set(CLIENT_RENAMED) if side.startswith("client") else set()
    missing = sorted(DID_RECORDS - set(classes) - set(elsewhere) - renamed)
    assert not missing, f"{side} has no class for .did records {missing}"
    stale = sorted(set(elsewhere) - DID_RECORDS)
    assert not stale, f"exceptions name records the .did no longer has: {stale}"


@pytest.mark.parametrize("did_name", sorted(CLIENT_RENAMED))
def test_renamed_client_records_have_the_did_fields(did_name: str) -> None:
    class_name, dropped = CLIENT_RENAMED[did_name]
    fields = _dataclasses(client_types)[class_name]
    assert fields == _did_shape(did_name)[1] - dropped


def test_client_enums_have_exactly_the_did_variant_tags() -> None:
    enums = _enums(client_types)
    checked = 0
    for name, tags in enums.items():
        if name in DID.types:
            kind, did_tags = _did_shape(name)
            assert kind == "variant" and tags == did_tags, f"{name}: {sorted(tags ^ did_tags)} differ"
            checked += 1
    assert checked >= 3
