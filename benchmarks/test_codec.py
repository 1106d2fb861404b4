"""Candid codec micro-benchmarks (pytest-benchmark): the emulator's codec and the client's codec.

Two payloads: a 1 MiB blob (what every `put_chunk` carries) and a large record, a vec of 10,000
records shaped like presence/listing answers. Each is encoded and decoded by the emulator's own codec
(`emulator.candid`) and by the client's (`clients.ic.candid`, icp-py-core underneath). Their floors,
measured in the same session: one copy of the blob (`bytearray(blob)`: the least any decoder must
do), and the stdlib's C JSON codec on the same records (a generic serialiser of the same data).

`BENCH_QUICK=1` shrinks the payloads (64 KiB, 100 records) so CI can check the code still works.
These files are not under `tests/`, so the normal test run does not collect them; `benchmarks.run`
runs them with `--benchmark-json`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from clients.ic.candid import DidService, decode_reply
from clients.ic.candid import encode_args as client_encode
from emulator.candid import decode_args, encode_args, parse_did

QUICK = os.environ.get("BENCH_QUICK") == "1"
BLOB_BYTES = 64 * 1024 if QUICK else 1024 * 1024
RECORDS = 100 if QUICK else 10_000

DID = """
type Entry = record { memory_id : text; size : nat64; present : bool; tags : vec text };
service : {
  put_blob : (blob) -> ();
  put_entries : (vec Entry) -> ();
}
"""

EMULATOR_SERVICE = parse_did(DID).service
CLIENT_SERVICE = DidService.from_text(DID)
BLOB = bytes(range(256)) * (BLOB_BYTES // 256)
ENTRIES: list[dict[str, Any]] = [
    {
        "memory_id": f"{i:08d}-7d0e-4f4c-8c1a-4a579d552f0f",
        "size": i * 4096,
        "present": i % 2 == 0,
        "tags": ["a", "b"],
    }
    for i in range(RECORDS)
]

Bench = Callable[..., Any]


def _emulator_types(payload: str) -> Any:
    return EMULATOR_SERVICE[f"put_{payload}"].args


def _client_types(payload: str) -> Any:
    return CLIENT_SERVICE[f"put_{payload}"].arg_types


@pytest.mark.parametrize("payload", ["blob", "entries"])
def test_emulator_encode(benchmark: Bench, payload: str) -> None:
    value = BLOB if payload == "blob" else ENTRIES
    encoded = benchmark(encode_args, _emulator_types(payload), [value])
    assert decode_args(encoded, _emulator_types(payload)) == [value]


@pytest.mark.parametrize("payload", ["blob", "entries"])
def test_emulator_decode(benchmark: Bench, payload: str) -> None:
    value = BLOB if payload == "blob" else ENTRIES
    encoded = encode_args(_emulator_types(payload), [value])
    assert benchmark(decode_args, encoded, _emulator_types(payload)) == [value]


@pytest.mark.parametrize("payload", ["blob", "entries"])
def test_client_encode(benchmark: Bench, payload: str) -> None:
    value = BLOB if payload == "blob" else ENTRIES
    encoded = benchmark(client_encode, _client_types(payload), [value])
    # The bytes may differ from the emulator's (type-table order is free) but must mean the same value.
    assert decode_args(encoded, _emulator_types(payload)) == [value]


@pytest.mark.parametrize("payload", ["blob", "entries"])
def test_client_decode(benchmark: Bench, payload: str) -> None:
    value = BLOB if payload == "blob" else ENTRIES
    encoded = encode_args(_emulator_types(payload), [value])
    assert benchmark(decode_reply, encoded, _client_types(payload)) == value


def test_floor_blob_copy(benchmark: Bench) -> None:
    assert len(benchmark(bytearray, BLOB)) == len(BLOB)


def test_floor_entries_json_encode(benchmark: Bench) -> None:
    assert benchmark(json.dumps, ENTRIES)


def test_floor_entries_json_decode(benchmark: Bench) -> None:
    text = json.dumps(ENTRIES)
    assert benchmark(json.loads, text) == ENTRIES
