"""Limits configuration and identifier rules."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from emulator.canisters.artifact import CONFIG_KEYS, Limits, LimitsError, ids
from emulator.canisters.artifact.limits import size_label

# -- limits --------------------------------------------------------------------------------------------


def test_defaults_are_the_contracts() -> None:
    assert Limits.from_config({}) == Limits(
        max_asset_size=104_857_600,
        max_chunk_size=1_048_576,
        max_chunk_count=1000,
        session_lifetime_ns=30 * 60 * 10**9,
        max_active_sessions=3,
        presence_page_default=20,
        presence_page_max=100,
        max_listed_sessions=10,
        daily_upload_quota=1000,
        byte_quota=10_000_000_000,
        max_metadata_size=65_536,
        cleanup_interval_ns=60 * 10**9,
        finished_retention_ns=24 * 3600 * 10**9,
        cleanup_batch_size=100,
    )


def test_every_limit_has_a_config_key() -> None:
    fields = {f.name for f in dataclasses.fields(Limits)}
    mapped = {k.replace("_seconds", "_ns") for k in CONFIG_KEYS}
    assert mapped == fields


def test_config_values_override_defaults_and_unknown_keys_are_ignored() -> None:
    limits = Limits.from_config(
        {
            "max_chunk_size": 1024,
            "daily_upload_quota": "5",
            "session_lifetime_seconds": 0.5,
            "cleanup_interval_seconds": "2",
            "finished_retention_seconds": 172800,
            "log_level": "debug",
        }
    )
    assert limits.max_chunk_size == 1024
    assert limits.daily_upload_quota == 5
    assert limits.session_lifetime_ns == 500_000_000
    assert limits.cleanup_interval_ns == 2 * 10**9
    assert limits.finished_retention_ns == 2 * 86400 * 10**9


@pytest.mark.parametrize(
    "config",
    [
        {"max_chunk_size": 0},
        {"max_chunk_size": -1},
        {"max_chunk_size": True},
        {"max_chunk_size": 1.5},
        {"max_chunk_size": "big"},
        {"session_lifetime_seconds": 0},
        {"session_lifetime_seconds": "soon"},
        {"session_lifetime_seconds": float("inf")},
        {"finished_retention_seconds": 3600},
        {"presence_page_default": 200},
        {"max_chunk_count": 2**32},
    ],
)
def test_invalid_config_is_refused_with_the_key_named(config: dict[str, object]) -> None:
    with pytest.raises(LimitsError):
        Limits.from_config(config)


@pytest.mark.parametrize(
    ("size", "label"),
    [(104_857_600, "100MB"), (1_048_576, "1MB"), (1024, "1KB"), (8192, "8KB"), (1000, "1000 bytes")],
)
def test_size_labels(size: int, label: str) -> None:
    assert size_label(size) == label


# -- ids -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("550e8400-e29b-41d4-a716-446655440000", True),
        ("550e8400-e29b-41d4-8716-446655440000", True),
        ("550e8400-e29b-41d4-b716-446655440000", True),
        ("550E8400-E29B-41D4-A716-446655440000", False),
        ("550e8400-e29b-41D4-a716-446655440000", False),
        ("550e8400-e29b-11d4-a716-446655440000", False),
        ("550e8400-e29b-51d4-a716-446655440000", False),
        ("550e8400-e29b-41d4-c716-446655440000", False),
        ("550e8400e29b41d4a716446655440000", False),
        ("urn:uuid:550e8400-e29b-41d4-a716-446655440000", False),
        ("550e8400-e29b-41d4-a716-44665544000", False),
        ("550e8400-e29b-41d4-a716-4466554400000", False),
        ("550e8400-e29b-41d4-a716-446655440000\n", False),
        ("٥٥٠e8400-e29b-41d4-a716-446655440000", False),  # non-ASCII digits
        ("", False),
    ],
)
def test_canonical_uuid_v4(value: str, ok: bool) -> None:
    assert ids.is_canonical_uuid_v4(value) is ok


def test_python_uuid4_is_canonical() -> None:
    assert all(ids.is_canonical_uuid_v4(str(uuid.uuid4())) for _ in range(200))


def test_idempotency_key_parsing() -> None:
    memory_id = str(uuid.uuid4())
    assert ids.parse_idempotency_key(f"{memory_id}:metadata:{'ab' * 32}", memory_id, "metadata") == "ab" * 32
    for bad in [f"{memory_id}:asset:x", f"{memory_id}:metadata:", f"{memory_id}:metadata:x:y", "x"]:
        with pytest.raises(ids.IdempotencyKeyError, match=r"^Invalid idempotency key: "):
            ids.parse_idempotency_key(bad, memory_id, "metadata")


def test_long_values_are_shortened_in_messages() -> None:
    message = ids.invalid_uuid_message("x" * 10_000)
    assert message.startswith("Invalid UUID: ") and len(message) < 200


def test_session_ids_carry_at_least_128_random_bits() -> None:
    generated = {ids.new_session_id() for _ in range(1000)}
    assert len(generated) == 1000
    assert all(len(s) * 4 >= 128 and int(s, 16) >= 0 for s in generated)
