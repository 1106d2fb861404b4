"""The artifact canister's limits: every number the contract lets an engineer change.

A conformance run must be able to match a canister built with other values, and load tests must be
able to raise quotas, so nothing below is hard-coded in the business logic. The values come from the
emulator's canister config mapping (filled from `--config FILE.json`); keys that are absent take the
contract's defaults, keys this module does not know are ignored (the mapping is shared by every
canister kind the emulator hosts).

Config keys (all integers unless noted; durations in seconds, fractions allowed):

| key                          | default        | meaning                                               |
|------------------------------|----------------|-------------------------------------------------------|
| `max_asset_size`             | 104857600      | largest `total_size` accepted by `begin_asset_upload` |
| `max_chunk_size`             | 1048576        | largest `chunk_data` accepted by `put_chunk`          |
| `max_chunk_count`            | 1000           | largest `chunk_count`                                 |
| `session_lifetime_seconds`   | 1800           | an upload session expires this long after its begin   |
| `max_active_sessions`        | 3              | concurrent active upload sessions per caller          |
| `presence_page_default`      | 20             | page size when `limit = 0`                            |
| `presence_page_max`          | 100            | larger limits are served as this                      |
| `max_listed_sessions`        | 10             | sessions listed by `get_user_upload_sessions`         |
| `daily_upload_quota`         | 1000           | uploads a caller may begin in any 24 hours            |
| `byte_quota`                 | 10000000000    | committed asset bytes per caller                      |
| `max_metadata_size`          | 65536          | largest encoded metadata of `upsert_metadata`         |
| `cleanup_interval_seconds`   | 60             | period of the clean-up timer                          |
| `finished_retention_seconds` | 86400          | finished-session records kept at least this long      |
| `cleanup_batch_size`         | 100            | sessions expired / purged per clean-up tick, each     |
| `audit_retention_rows`       | 1000000        | newest audit rows kept (older pruned on insert)       |

`finished_retention_seconds` may not be below 24 hours: the contract promises finished sessions are
answerable for a day, and the daily quota counts begins through those same records.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NS_PER_SECOND = 1_000_000_000
DAY_NS = 24 * 60 * 60 * NS_PER_SECOND
KIB = 1024
MIB = 1024 * 1024


class LimitsError(ValueError):
    """A config value is missing its unit, has the wrong type, or contradicts another limit."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_asset_size: int = 100 * MIB
    max_chunk_size: int = MIB
    max_chunk_count: int = 1000
    session_lifetime_ns: int = 30 * 60 * NS_PER_SECOND
    max_active_sessions: int = 3
    presence_page_default: int = 20
    presence_page_max: int = 100
    max_listed_sessions: int = 10
    daily_upload_quota: int = 1000
    byte_quota: int = 10_000_000_000
    max_metadata_size: int = 64 * KIB
    cleanup_interval_ns: int = 60 * NS_PER_SECOND
    finished_retention_ns: int = DAY_NS
    cleanup_batch_size: int = 100
    audit_retention_rows: int = 1_000_000

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise LimitsError(f"{f.name} must be a positive integer, got {value!r}")
        if self.presence_page_default > self.presence_page_max:
            raise LimitsError("presence_page_default may not exceed presence_page_max")
        if self.finished_retention_ns < DAY_NS:
            raise LimitsError("finished_retention_seconds must be at least 86400 (24 hours)")
        # Wire widths: chunk_count is nat32; ChunkResponse.bytes_received is nat32.
        if self.max_chunk_count > 0xFFFF_FFFF:
            raise LimitsError("max_chunk_count must fit in a nat32")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Limits:
        values: dict[str, int] = {}
        for key in _INT_KEYS:
            if key in config:
                values[key] = _as_int(key, config[key])
        for key, field_name in _SECONDS_KEYS.items():
            if key in config:
                values[field_name] = _seconds_to_ns(key, config[key])
        return cls(**values)


_INT_KEYS = (
    "max_asset_size",
    "max_chunk_size",
    "max_chunk_count",
    "max_active_sessions",
    "presence_page_default",
    "presence_page_max",
    "max_listed_sessions",
    "daily_upload_quota",
    "byte_quota",
    "max_metadata_size",
    "cleanup_batch_size",
    "audit_retention_rows",
)
_SECONDS_KEYS = {
    "session_lifetime_seconds": "session_lifetime_ns",
    "cleanup_interval_seconds": "cleanup_interval_ns",
    "finished_retention_seconds": "finished_retention_ns",
}
CONFIG_KEYS = (*_INT_KEYS, *_SECONDS_KEYS)


def _as_int(key: str, value: object) -> int:
    if isinstance(value, bool):
        raise LimitsError(f"{key} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise LimitsError(f"{key} must be an integer, got {value!r}")


def _seconds_to_ns(key: str, value: object) -> int:
    if isinstance(value, bool):
        raise LimitsError(f"{key} must be a number of seconds, got {value!r}")
    try:
        seconds = float(value) if isinstance(value, (int, float, str)) else float("nan")
    except ValueError as exc:
        raise LimitsError(f"{key} must be a number of seconds, got {value!r}") from exc
    if not seconds > 0 or seconds == float("inf"):
        raise LimitsError(f"{key} must be a positive number of seconds, got {value!r}")
    return round(seconds * NS_PER_SECOND)


def size_label(size: int) -> str:
    """How the deployed canister spells a limit in its messages ("100MB", "1MB")."""
    if size % MIB == 0:
        return f"{size // MIB}MB"
    if size % KIB == 0:
        return f"{size // KIB}KB"
    return f"{size} bytes"
