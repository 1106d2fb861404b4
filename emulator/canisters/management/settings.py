"""A hosted canister's settings as the management canister keeps them (besides controllers and status).

Stored as one JSON value in the canister's runtime metadata so that settings commit with the
`update_settings` message that changed them and survive restarts. The emulator runs no Wasm and burns no
cycles, so allocations and limits are recorded and reported back, never enforced; the visibilities are
enforced (`canister_status`, `fetch_canister_logs`, `list_canister_snapshots`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from emulator.principal import Principal
from emulator.runtime.stable_store import StableStore

SETTINGS_KEY: Final = "management_settings"
VISIBILITIES: Final = ("log_visibility", "snapshot_visibility", "status_visibility")
NUMBERS: Final = (
    "compute_allocation",
    "memory_allocation",
    "freezing_threshold",
    "reserved_cycles_limit",
    "minimum_incoming_canister_call_cycles",
    "wasm_memory_limit",
    "wasm_memory_threshold",
)
# The IC's defaults for a freshly created canister.
DEFAULTS: Final[Mapping[str, Any]] = {
    "compute_allocation": 0,
    "memory_allocation": 0,
    "freezing_threshold": 2_592_000,
    "reserved_cycles_limit": 5_000_000_000_000,
    "minimum_incoming_canister_call_cycles": 0,
    "wasm_memory_limit": 3 * 1024**3,
    "wasm_memory_threshold": 0,
    "log_visibility": {"controllers": None},
    "snapshot_visibility": {"controllers": None},
    "status_visibility": {"controllers": None},
    "environment_variables": [],
}
MAX_CONTROLLERS: Final = 10
MAX_ENVIRONMENT_VARIABLES: Final = 20


class InvalidSettings(ValueError):
    """The replica's `InvalidSettings` (IC0504): the whole update is refused."""


def load(store: StableStore) -> dict[str, Any]:
    """The stored settings over the defaults; inside a read() or atomic()."""
    raw = store.get_meta(SETTINGS_KEY)
    stored = json.loads(raw) if raw is not None else {}
    settings = {**DEFAULTS, **{k: v for k, v in stored.items() if k in DEFAULTS}}
    for name in VISIBILITIES:
        settings[name] = _visibility_from_json(settings[name])
    return settings


def save(store: StableStore, settings: Mapping[str, Any]) -> None:
    stored = dict(settings)
    for name in VISIBILITIES:
        stored[name] = _visibility_to_json(stored[name])
    store.set_meta(SETTINGS_KEY, json.dumps(stored, sort_keys=True).encode())


def apply(current: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """The settings after an `update_settings` argument (absent fields keep their value)."""
    result = dict(current)
    for name in NUMBERS:
        value = update.get(name)
        if value is not None:
            result[name] = int(value)
    if not 0 <= result["compute_allocation"] <= 100:
        raise InvalidSettings("compute_allocation must be a percent between 0 and 100.")
    if result["wasm_memory_limit"] >= 2**64 or result["freezing_threshold"] >= 2**64:
        raise InvalidSettings("value out of range for a 64-bit setting.")
    for name in VISIBILITIES:
        if update.get(name) is not None:
            result[name] = dict(update[name])
    variables = update.get("environment_variables")
    if variables is not None:
        if len(variables) > MAX_ENVIRONMENT_VARIABLES:
            raise InvalidSettings(
                f"too many environment variables: {len(variables)} > {MAX_ENVIRONMENT_VARIABLES}."
            )
        names = [v["name"] for v in variables]
        if len(set(names)) != len(names):
            raise InvalidSettings("duplicate environment variable names.")
        result["environment_variables"] = [{"name": v["name"], "value": v["value"]} for v in variables]
    return result


def allows(visibility: Mapping[str, Any], caller: Principal, controllers: tuple[Principal, ...]) -> bool:
    """Whether a visibility setting lets `caller` read (controllers may always read)."""
    if caller in controllers or "public" in visibility:
        return True
    viewers = visibility.get("allowed_viewers")
    return viewers is not None and caller in viewers


def _visibility_to_json(value: Mapping[str, Any]) -> dict[str, Any]:
    if "allowed_viewers" in value:
        return {"allowed_viewers": [p.to_text() for p in value["allowed_viewers"]]}
    return {next(iter(value)): None}


def _visibility_from_json(value: Mapping[str, Any]) -> dict[str, Any]:
    if "allowed_viewers" in value:
        return {"allowed_viewers": [Principal.from_text(t) for t in value["allowed_viewers"]]}
    return {next(iter(value)): None}
