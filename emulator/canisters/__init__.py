"""The canister kinds the emulator can host, by name (what `--canister KIND=ID` and upgrades accept)."""

from __future__ import annotations

import importlib

from emulator.runtime.canister import Canister

KINDS: dict[str, str] = {
    "artifact": "emulator.canisters.artifact:ArtifactCanister",
    "example": "emulator.canisters.example:ExampleCanister",
    "example-v2": "emulator.canisters.example:ExampleCanisterV2",
}


def load_kind(kind: str) -> type[Canister]:
    """Resolve a registered kind or a `package.module:Class` path (for canister versions under test)."""
    target = KINDS.get(kind, kind)
    module_name, sep, attr = target.partition(":")
    if not sep:
        raise ValueError(f"unknown canister kind {kind!r}; known: {', '.join(sorted(KINDS))}")
    cls = getattr(importlib.import_module(module_name), attr)
    if not (isinstance(cls, type) and issubclass(cls, Canister)):
        raise ValueError(f"{target} is not a Canister class")
    return cls
