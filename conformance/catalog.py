"""What the contract (`../shared/spec/artifact-api.md`) fixes, as data the suite and its report share.

Kept apart from the tests so the report can name a requirement or task without importing test code,
and so a target profile is checked against the same limit names the emulator's `--config` uses: a
profile written for a canister build is then also a valid emulator config, and one file describes both
sides of a parity run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ANONYMOUS",
    "CANDID_HACK_METHOD",
    "CAPABILITIES",
    "CONTRACT_LIMITS",
    "DEPLOYED_METHODS",
    "LIMIT_KEYS",
    "MISSING_CAPABILITY",
    "NOT_IMPLEMENTED",
    "PROGRESS_METHODS",
    "REQUIREMENTS",
    "TASKS",
    "Limits",
    "contract_methods",
]

ANONYMOUS = "2vxsx-fae"
CANDID_HACK_METHOD = "__get_candid_interface_tmp_hack"

# §2.2: what the deployed `backend` canister already serves.
DEPLOYED_METHODS: tuple[str, ...] = (
    "whoami",
    "get_api_version",
    "register",
    "register_capsule",
    "get_user",
    "store_gallery_forever",
    "get_gallery_by_id",
    "get_my_galleries",
    "get_user_galleries",
    "update_gallery",
    "delete_gallery",
    "add_memory_to_capsule",
    "get_memory_from_capsule",
    "upsert_metadata",
    "get_memory_presence_icp",
    "get_memory_list_presence_icp",
    "begin_asset_upload",
    "put_chunk",
    "commit_asset",
    "cancel_upload",
)
# §2.3: seed task 1.6, not in the deployed canister yet; a target without them is "not implemented".
PROGRESS_METHODS: tuple[str, ...] = ("get_upload_progress", "get_user_upload_sessions")


def contract_methods() -> tuple[str, ...]:
    return (*DEPLOYED_METHODS, *PROGRESS_METHODS, CANDID_HACK_METHOD)


# The contract's limits table, under the emulator's config key names (emulator/canisters/artifact/
# limits.py), durations in seconds.
CONTRACT_LIMITS: Mapping[str, int] = {
    "max_asset_size": 104_857_600,
    "max_chunk_size": 1_048_576,
    "max_chunk_count": 1000,
    "session_lifetime_seconds": 1800,
    "max_active_sessions": 3,
    "presence_page_default": 20,
    "presence_page_max": 100,
    "max_listed_sessions": 10,
    "daily_upload_quota": 1000,
    "byte_quota": 10_000_000_000,
    "max_metadata_size": 65_536,
    "cleanup_interval_seconds": 60,
    "finished_retention_seconds": 86_400,
}
LIMIT_KEYS = frozenset(CONTRACT_LIMITS)


@dataclass(frozen=True, slots=True)
class Limits:
    """The target's limits, and for each whether someone stated it or the contract default is assumed.

    Tests that only need a number (message texts, boundaries) use it either way; tests that must
    exhaust a limit (quotas) run only when the value was stated, because exhausting an assumed
    10 GB quota against a real canister would be both slow and wrong if the build differs.
    """

    values: Mapping[str, int]
    stated: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_mapping(cls, given: Mapping[str, Any] | None) -> Limits:
        given = dict(given or {})
        unknown = sorted(set(given) - LIMIT_KEYS)
        if unknown:
            raise ValueError(f"unknown limit(s) {', '.join(unknown)}; known: {', '.join(sorted(LIMIT_KEYS))}")
        values = dict(CONTRACT_LIMITS)
        for key, raw in given.items():
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw <= 0:
                raise ValueError(f"limit {key} must be a positive number, got {raw!r}")
            values[key] = int(raw)
        return cls(values, frozenset(given))

    def __getitem__(self, key: str) -> int:
        return self.values[key]

    def is_stated(self, key: str) -> bool:
        return key in self.stated

    def to_json(self) -> dict[str, Any]:
        return {
            key: {"value": value, "source": "stated" if key in self.stated else "contract default"}
            for key, value in sorted(self.values.items())
        }


# §9 of the contract, short enough for a matrix row label. Where the contract summarises a range as
# one rule ("23.1–23.5 ...") the range is one key here: splitting it would invent sub-rules.
REQUIREMENTS: Mapping[str, str] = {
    "2.2": "progress shown with real data",
    "6": "failures leave no inconsistent state and can be retried (6.x)",
    "10.2": "progress: artifacts done / total, bytes uploaded",
    "17.1": "every ICP write verifies the caller",
    "17.2": "each write is logged (principal, ids, artifact, bytes, outcome, duration)",
    "17.3": "clear authorization errors",
    "17.4": "the audit trail can be queried",
    "18.1": "SHA-256 computed and verified before anything is marked present",
    "18.2": "canonical lowercase UUID v4, non-canonical refused",
    "18.3": "SHA-256 verified before anything is marked present",
    "18.4": "detected corruption fails the upload and requires re-upload",
    "18.5": "the same (memory, type, artifact, hash) write is idempotent",
    "20.1": "bounded chunk size and per-user concurrency",
    "20.2": "presence listing paginated with (cursor, limit)",
    "22.1": "structured errors",
    "22.2": "limits on chunk size, upload size, concurrency and session lifetime",
    "22.3": "quotas (uploads a day, bytes per user) with a clear quota error",
    "22.4": "pagination max 100, default 20",
    "22.5": "idempotency keys <memoryId>:<artifact>:<contentHash>",
    "23": "state in stable structures survives upgrades, across upgrade cycles (23.1-23.5)",
    "24.1": "nanosecond timestamps",
    "24.2": "canonical UUIDs",
    "24.3": "the endpoint names of the contract",
    "24.4": "SHA-256 verified before presence",
    "24.5": "the five memory types",
    "25": "Web2 owns gallery membership; ICP reports per-memory presence only (25.1-25.5)",
    "26": "Web2 UUIDs used on ICP unchanged; repeated operations idempotent (26.1-26.5)",
}

# Seed plan tasks (../shared/seed/000_4ab167a23e1a6e69.txt, tasks 1.0-1.7).
TASKS: Mapping[str, str] = {
    "1": "artifact-level API (interface, protocol)",
    "1.0": "UUID mapping",
    "1.1": "error model",
    "1.2": "stable memory and upgrades",
    "1.3": "metadata and presence",
    "1.4": "chunked asset upload",
    "1.5": "authorization and concurrency limit",
    "1.6": "progress API",
    "1.7": "retry-safe (idempotent) operations",
}

# Skip reasons the report classifies; a skip with any other reason is counted as a plain skip.
NOT_IMPLEMENTED = "not implemented by target: "
MISSING_CAPABILITY = "target lacks capability: "
# What a target can offer beyond its canister interface (docs/conformance.md, "capability model").
CAPABILITIES: Mapping[str, str] = {
    "clock": "move the canister clock forward (emulator admin API)",
    "upgrade": "upgrade the canister between phases (admin API or --upgrade-command)",
    "inspect": "read stored state directly (emulator admin API)",
    "scale": "store enough memories to measure cost growth (--scale-memories N)",
}
