"""Worst-case inputs against the emulator's two decoders: how long each takes to decode or refuse.

Every case is an argument of at most `MAX_ARG_BYTES` (so it still fits a signed envelope under the 2 MiB
ingress limit), aimed at the artifact canister's real method types: "typed" cases go to a method whose
parameters they attack, "untyped" ones are extra arguments to `whoami`, which the decoder must read and
check without a type to decode them at. The cases are the shapes that are cheap on the wire and dear in
Python: zero-sized vector elements, one-byte elements, big type tables, wide records and variants, deep
nesting, long numbers and texts.

A second, shorter table does the same for request bodies (`parse_envelope`: the CBOR pre-scan, cbor2
and the envelope checks) with an ordinary 2 MiB `put_chunk` envelope as the floor.

    .venv/bin/python -m benchmarks.hostile_decode            # the table (median and max of 5 runs)
    .venv/bin/python -m benchmarks.hostile_decode --runs 9
    .venv/bin/python -m benchmarks.hostile_decode --queue    # a probe query while 4 clients send bombs

`tests/security/test_candid_cost.py` sends the same Candid cases as real calls; the CBOR bombs are
`tests/security/test_cbor_bombs.py`'s.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2

from benchmarks.common import ARTIFACT, emulator
from clients.ic import Connection, Reject, generate_ed25519
from emulator.candid import CandidError, Type, decode_args, encode_args, parse_did
from emulator.candid.decoder import MAX_FUEL, NUMBER_UNITS, PRINCIPAL_UNITS, TEXT_UNITS
from emulator.candid.leb128 import encode_sleb, encode_uleb
from emulator.canisters.artifact.canister import ArtifactCanister
from emulator.principal import Principal
from emulator.process import DEFAULT_ID
from emulator.protocol.envelope import RequestType, parse_envelope
from emulator.protocol.errors import ProtocolError

MIB = 1024 * 1024
MAX_ARG_BYTES = 2 * MIB - 4096
"""Room for the envelope around the argument: the whole body must stay under 2 MiB."""

SERVICE = parse_did(ArtifactCanister.CANDID).service

# Type opcodes of the binary format.
NULL, BOOL, NAT, NAT8, TEXT, RESERVED, PRINCIPAL = -1, -2, -3, -5, -15, -16, -24
FLOAT64 = -14
OPT, VEC, RECORD, VARIANT, FUNC, SERVICE_OP = -18, -19, -20, -21, -22, -23


@dataclass(frozen=True)
class Case:
    """One hostile (or, for the floors, ordinary) argument and the method it is sent to."""

    name: str
    method: str
    arg: bytes
    expect_refusal: bool = True
    did_types: str | None = None
    """Expected types in .did syntax instead of the method's (cases the artifact's types cannot express)."""

    @property
    def types(self) -> Sequence[Type]:
        if self.did_types is not None:
            return parse_did(f"service : {{ m : {self.did_types} -> () }}").service["m"].args
        return SERVICE[self.method].args


def ref(code: int) -> bytes:
    """A type reference: a primitive opcode (negative) or a table index."""
    return encode_sleb(code)


def message(table: Sequence[bytes], arg_types: Sequence[int], values: bytes) -> bytes:
    """`DIDL`, the type table, the argument types and the value bytes."""
    out = bytearray(b"DIDL")
    out += encode_uleb(len(table)) + b"".join(table)
    out += encode_uleb(len(arg_types)) + b"".join(ref(t) for t in arg_types)
    return bytes(out + values)


def vec_of(inner: int) -> bytes:
    return ref(VEC) + ref(inner)


def opt_of(inner: int) -> bytes:
    return ref(OPT) + ref(inner)


def record_of(fields: Sequence[tuple[int, int]], opcode: int = RECORD) -> bytes:
    body = b"".join(encode_uleb(fid) + ref(t) for fid, t in fields)
    return ref(opcode) + encode_uleb(len(fields)) + body


def fill(budget: int, unit: int) -> int:
    """How many `unit`-byte items fit in what is left of the argument."""
    return max(0, budget // unit)


def _untyped(
    name: str, table: Sequence[bytes], arg_types: Sequence[int], values: bytes, *, refused: bool = True
) -> Case:
    return Case(name, "whoami", message(table, arg_types, values), expect_refusal=refused)


def _zero_sized_bombs() -> list[Case]:
    n = 2**40
    padding = MAX_ARG_BYTES - 64
    inner = encode_uleb(100_000)
    count = fill(MAX_ARG_BYTES - 16, len(inner))
    return [
        # The reproduction: a 2 MiB argument, a blob in front and `vec record {}` of 2^40 behind.
        _untyped(
            "vec record {} × 2^40 behind a 2 MiB blob (untyped)",
            [vec_of(NAT8), vec_of(2), record_of([])],
            [0, 1],
            encode_uleb(padding) + bytes(padding) + encode_uleb(n),
        ),
        _untyped("vec null × 2^40 (untyped)", [vec_of(NULL)], [0], encode_uleb(n)),
        _untyped("vec reserved × 2^40 (untyped)", [vec_of(RESERVED)], [0], encode_uleb(n)),
        _untyped(
            "vec record { null; record { reserved }; record {} } × 2^40 (untyped)",
            [vec_of(1), record_of([(0, NULL), (1, 2), (2, 3)]), record_of([(0, RESERVED)]), record_of([])],
            [0],
            encode_uleb(n),
        ),
        # Under the budget: about the longest zero-sized vector that is still read, as an extra argument.
        Case(
            "vec record {} × 45,000 as put_chunk's 4th argument",
            "put_chunk",
            message(
                [vec_of(NAT8), vec_of(2), record_of([])],
                [TEXT, -7, 0, 1],
                b"\x00" + bytes(4) + b"\x00" + encode_uleb(45_000),
            ),
            expect_refusal=False,
        ),
        # vec vec null: many inner vectors, each charged its length.
        _untyped(
            f"vec vec null: {count:,} × 100,000 nulls (untyped)",
            [vec_of(1), vec_of(NULL)],
            [0],
            encode_uleb(count) + inner * count,
        ),
    ]


def at_budget(units_per_element: int) -> int:
    """The longest vector whose elements the decoder still reads in full (its costliest size)."""
    return (MAX_FUEL - 2_000) // units_per_element


def _small_elements() -> list[Case]:
    """Vectors of one- or two-byte elements: the most values per byte.

    Vectors of a primitive are charged their length up front, so a 2 MiB one is refused before its first
    element and the costliest is the longest one the budget still covers; vectors of anything else are
    read until the budget runs out, so for them the 2 MiB one is the costliest.
    """
    cases = []
    count = fill(MAX_ARG_BYTES - 16, 1)
    for label, table, element in [
        ("opt null", [vec_of(1), opt_of(NULL)], b"\x00"),
        ("vec null (empty inner vectors)", [vec_of(1), vec_of(NULL)], b"\x00"),
        ("variant { a }", [vec_of(1), record_of([(0, NULL)], VARIANT)], b"\x00"),
    ]:
        cases.append(
            _untyped(
                f"vec {label}: {count:,} one-byte elements (untyped)",
                table,
                [0],
                encode_uleb(count) + element * count,
            )
        )
    cases.append(
        _untyped(
            f"vec nat: {count:,} one-byte elements (untyped)",
            [vec_of(NAT)],
            [0],
            encode_uleb(count) + b"\x01" * count,
        )
    )
    for label, opcode, element, units in [
        ("nat", NAT, b"\x01", 1),
        ("bool", BOOL, b"\x01", 1),
        ("text (empty strings)", TEXT, b"\x00", 1 + TEXT_UNITS),
        ("principal (empty principals)", PRINCIPAL, b"\x01\x00", 1 + PRINCIPAL_UNITS),
        ("float64", FLOAT64, bytes(8), 1 + NUMBER_UNITS),
    ]:
        n = at_budget(units)
        cases.append(
            _untyped(
                f"vec {label}: {n:,} elements, at the budget (untyped)",
                [vec_of(opcode)],
                [0],
                encode_uleb(n) + element * n,
                refused=False,
            )
        )
    return cases


def _type_tables() -> list[Case]:
    cases = []
    entries = fill(MAX_ARG_BYTES - 16, 2)
    cases.append(_untyped(f"type table of {entries:,} `opt null` entries", [opt_of(NULL)] * entries, [], b""))
    cases.append(
        _untyped(
            "type table of 11,000 `opt null` entries (under budget)",
            [opt_of(NULL)] * 11_000,
            [],
            b"",
            refused=False,
        )
    )
    cases.append(_untyped(f"{entries:,} arguments of type null", [], [NULL] * entries, b""))
    for label, opcode in [("record", RECORD), ("variant", VARIANT)]:
        fields = [(i, NULL) for i in range(fill(MAX_ARG_BYTES - 64, 4))]
        cases.append(
            _untyped(f"one {label} type with {len(fields):,} fields", [record_of(fields, opcode)], [], b"")
        )
        fields = [(i, NULL) for i in range(9_000)]
        cases.append(
            _untyped(
                f"one {label} type with 9,000 fields (under budget)",
                [record_of(fields, opcode)],
                [],
                b"",
                refused=False,
            )
        )
    names = [f"{i:06d}".encode() for i in range(8_000)]
    service = (
        ref(SERVICE_OP) + encode_uleb(len(names)) + b"".join(encode_uleb(len(n)) + n + ref(1) for n in names)
    )
    func = ref(FUNC) + b"\x00\x00\x00"
    cases.append(
        _untyped(
            "one service type with 8,000 methods (under budget)", [service, func], [], b"", refused=False
        )
    )
    args = fill(MAX_ARG_BYTES - 64, 1)
    cases.append(
        _untyped(
            f"one func type with {args:,} parameters",
            [ref(FUNC) + encode_uleb(args) + ref(NULL) * args + b"\x00\x00"],
            [],
            b"",
        )
    )
    return cases


def _nesting_and_numbers() -> list[Case]:
    cases = []
    depth = 280  # under the decoder's depth limit, so every element is read to the bottom
    table = [vec_of(1)] + [opt_of(i + 2) for i in range(depth - 1)] + [opt_of(NULL)]
    element = b"\x01" * depth
    count = fill(MAX_ARG_BYTES - 4 * depth, len(element))
    cases.append(
        _untyped(
            f"vec of {count:,} options nested {depth} deep", table, [0], encode_uleb(count) + element * count
        )
    )
    big = b"\xff" * (MAX_ARG_BYTES - 32) + b"\x01"
    cases.append(_untyped(f"one nat of {len(big):,} LEB128 bytes", [], [NAT], big))
    cases.append(_untyped("one nat of 64 KiB", [], [NAT], b"\xff" * 65535 + b"\x01", refused=False))
    text = ("€" * ((MAX_ARG_BYTES - 32) // 3)).encode()
    cases.append(
        _untyped(
            f"one text of {len(text):,} bytes of 3-byte characters",
            [],
            [TEXT],
            encode_uleb(len(text)) + text,
            refused=False,
        )
    )
    return cases


def _generic_typed() -> list[Case]:
    """Typed decodes the artifact's types cannot ask for: zero-sized and fixed-width elements kept."""
    padding = MAX_ARG_BYTES - 64
    blob = encode_uleb(padding) + bytes(padding)
    cases = []
    for label, did, table, n in [
        ("vec record {}", "vec record {}", [vec_of(2), record_of([])], 59_000),
        (
            "vec record { null; null; null }",
            "vec record { null; null; null }",
            [vec_of(2), record_of([(0, NULL), (1, NULL), (2, NULL)])],
            19_000,
        ),
        ("vec null", "vec null", [vec_of(NULL)], 170_000),
    ]:
        cases.append(
            Case(
                f"{label} × {n:,} behind a 2 MiB blob, typed as ({did})",
                "",
                message([vec_of(NAT8), *table], [0, 1], blob + encode_uleb(n)),
                expect_refusal=False,
                did_types=f"(blob, {did})",
            )
        )
    # Under `opt`, a value that does not coerce reads as null: every element is read, refused, rewound
    # and skipped.
    pairs = fill(MAX_ARG_BYTES - 32, 2)
    cases.append(
        Case(
            f"vec opt text: {pairs:,} elements, typed as (vec opt nat): each one refused and rewound",
            "",
            message([vec_of(1), opt_of(TEXT)], [0], encode_uleb(pairs) + b"\x01\x00" * pairs),
            did_types="(vec opt nat)",
        )
    )
    cases.append(
        Case(
            f"vec opt variant {{ a; b; c }}: {pairs:,} × c, typed as (vec opt variant {{ a; b }})",
            "",
            message(
                [vec_of(1), opt_of(2), record_of([(0, NULL), (1, NULL), (2, NULL)], VARIANT)],
                [0],
                encode_uleb(pairs) + b"\x01\x02" * pairs,
            ),
            did_types="(vec opt variant { a; b })",
        )
    )
    count = fill(MAX_ARG_BYTES - 16, 8)
    cases.append(
        Case(
            f"vec nat64: {count:,} elements, typed as (vec nat64)",
            "",
            message([vec_of(-8)], [0], encode_uleb(count) + bytes(8 * count)),
            did_types="(vec nat64)",
        )
    )
    n = at_budget(1 + NUMBER_UNITS)
    cases.append(
        Case(
            f"vec nat64: {n:,} elements, at the budget, typed as (vec nat64)",
            "",
            message([vec_of(-8)], [0], encode_uleb(n) + bytes(8 * n)),
            expect_refusal=False,
            did_types="(vec nat64)",
        )
    )
    return cases


def _artifact_typed() -> list[Case]:
    """Attacks at the artifact methods' own parameter types, encoded with the project's encoder."""
    entry = {
        "memory_id": "",
        "position": 0,
        "gallery_caption": None,
        "is_featured": False,
        "gallery_metadata": "",
    }
    gallery = {
        "id": "g",
        "owner_principal": _anonymous(),
        "title": "",
        "description": None,
        "is_public": False,
        "created_at": 0,
        "updated_at": 0,
        "storage_status": {"Web2Only": None},
        "memory_entries": [entry] * 200_000,
    }
    store = encode_args(
        SERVICE["store_gallery_forever"].args, [{"gallery": gallery, "owner_principal": _anonymous()}]
    )
    presence = encode_args(
        SERVICE["get_memory_list_presence_icp"].args, [[""] * (MAX_ARG_BYTES - 64), None, 0]
    )
    metadata = {
        "title": None,
        "description": None,
        "tags": [],
        "created_at": 0,
        "updated_at": 0,
        "size": None,
        "content_type": None,
        "custom_fields": [("", "")] * ((MAX_ARG_BYTES - 256) // 2),
    }
    upsert = encode_args(SERVICE["upsert_metadata"].args, ["m", {"Image": None}, metadata, ""])
    ids = at_budget(1 + TEXT_UNITS) - 100
    presence_at_budget = encode_args(SERVICE["get_memory_list_presence_icp"].args, [[""] * ids, None, 0])
    return [
        Case("store_gallery_forever: 200,000 gallery entries", "store_gallery_forever", store),
        Case(
            f"get_memory_list_presence_icp: {MAX_ARG_BYTES - 64:,} empty ids",
            "get_memory_list_presence_icp",
            presence,
        ),
        Case(
            f"get_memory_list_presence_icp: {ids:,} empty ids, at the budget",
            "get_memory_list_presence_icp",
            presence_at_budget,
            expect_refusal=False,
        ),
        Case(
            f"upsert_metadata: {(MAX_ARG_BYTES - 256) // 2:,} empty custom fields", "upsert_metadata", upsert
        ),
    ]


def _anonymous() -> Principal:
    return Principal(b"\x04")


def _floors() -> list[Case]:
    chunk = bytes(range(256)) * (MIB // 256)
    return [
        Case(
            "floor: put_chunk with a 1 MiB chunk",
            "put_chunk",
            encode_args(SERVICE["put_chunk"].args, ["s", 0, chunk]),
            False,
        ),
        Case(
            "floor: put_chunk with a 2 MiB − 4 KiB chunk",
            "put_chunk",
            encode_args(SERVICE["put_chunk"].args, ["s", 0, bytes(MAX_ARG_BYTES - 64)]),
            False,
        ),
    ]


def all_cases() -> list[Case]:
    cases = _floors() + _zero_sized_bombs() + _small_elements() + _type_tables() + _nesting_and_numbers()
    cases += _generic_typed() + _artifact_typed()
    for case in cases:
        if len(case.arg) > MAX_ARG_BYTES:
            raise AssertionError(f"{case.name}: {len(case.arg)} bytes exceed {MAX_ARG_BYTES}")
    return cases


def run_case(case: Case) -> str:
    """Decode once; the outcome as a short text ("decoded" or the refusal)."""
    try:
        decode_args(case.arg, case.types)
    except CandidError as exc:
        return f"refused: {exc}"
    return "decoded"


@dataclass
class Timing:
    """CPU and wall seconds of each run, and the floor measured just before each run."""

    outcome: str = ""
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)

    def row(self) -> str:
        """The figures as the last four table cells; the ratio compares medians taken side by side."""
        ratio = statistics.median(self.cpu) / statistics.median(self.floor)
        return (
            f"{1000 * statistics.median(self.cpu):.1f} | {1000 * max(self.cpu):.1f} | "
            f"{1000 * max(self.wall):.1f} | {ratio:.2f} |"
        )


def timed(run: Callable[[], str], runs: int) -> Timing:
    """CPU time is the decoder's own cost; wall time also counts whatever else the machine was doing.

    The floor is measured before every run, so a run slowed by a busy neighbour has a slow floor too.
    """
    timing = Timing()
    for _ in range(runs):
        timing.floor.append(python_floor())
        cpu_start, wall_start = time.thread_time(), time.perf_counter()
        timing.outcome = run()
        timing.cpu.append(time.thread_time() - cpu_start)
        timing.wall.append(time.perf_counter() - wall_start)
    return timing


@dataclass(frozen=True)
class BodyCase:
    """One request body and the endpoint kind it is posted to."""

    name: str
    kind: RequestType
    body: bytes


def _cbor(value: Any) -> bytes:
    encoded: bytes = cbor2.dumps(cbor2.CBORTag(55799, value))
    return encoded


def body_cases() -> list[BodyCase]:
    prefix, content = b"\xd9\xd9\xf7", b"\xa1\x67content"
    levels = 30
    sharing = [b"\xd8\x1c\x81\x00"] + [
        b"\xd8\x1c\x82" + (b"\xd8\x1d" + bytes([0x18, k - 1])) * 2 for k in range(1, levels)
    ]
    envelope = {
        "content": {
            "request_type": "call",
            "sender": b"\x04",
            "ingress_expiry": 2**62,
            "canister_id": bytes(10),
            "method_name": "put_chunk",
            "arg": bytes(MAX_ARG_BYTES),
            "nonce": bytes(16),
        }
    }
    n = 2 * MIB - 64
    read_state = {
        "content": {
            "request_type": "read_state",
            "sender": b"\x04",
            "ingress_expiry": 2**62,
            "paths": [[b"x"] * 127] * 1000,
        }
    }
    under_budget = {"content": {**read_state["content"], "paths": [[b"x"] * 127] * 250}}
    return [
        BodyCase("floor: a put_chunk envelope with a 2 MiB − 4 KiB argument", "call", _cbor(envelope)),
        BodyCase(
            "read_state of 250 paths × 127 labels (under the item budget)", "read_state", _cbor(under_budget)
        ),
        BodyCase(
            "read_state of 1000 paths × 127 labels (the spec's limits multiplied)",
            "read_state",
            _cbor(read_state),
        ),
        BodyCase(
            f"exponential shared references, {levels} levels",
            "call",
            prefix + content + bytes([0x98, levels]) + b"".join(sharing),
        ),
        BodyCase("2 MiB of nested arrays", "call", prefix + content + b"\x81" * n + b"\x00"),
        BodyCase(
            "2 MiB of one-byte items in one array",
            "call",
            prefix + content + b"\x9a" + n.to_bytes(4, "big") + bytes(n),
        ),
        BodyCase(
            "32,000 one-byte items (under the item budget)",
            "call",
            prefix + content + b"\x9a" + (32_000).to_bytes(4, "big") + bytes(32_000),
        ),
        BodyCase(
            "100,000 nested indefinite arrays",
            "call",
            prefix + content + b"\x9f" * 100_000 + b"\xff" * 100_000,
        ),
        BodyCase("array claiming 2^64-1 items", "call", prefix + content + b"\x9b" + b"\xff" * 8 + b"\x00"),
    ]


def run_body(case: BodyCase) -> str:
    try:
        parse_envelope(case.body, case.kind)
    except ProtocolError as exc:
        return f"{exc.http_status}: {exc.message.split(': ', 1)[-1]}"
    return "parsed"


def python_floor() -> float:
    """CPU seconds of a plain loop of a million additions: this machine's Python speed right now.

    The decoder's figures divided by it stay comparable between a quiet and a busy run (the machine is
    2 shared cores); the 100 ms bound is about the quiet figures.
    """
    start = time.thread_time()
    total = 0
    for i in range(1_000_000):
        total += i
    return time.thread_time() - start


def queueing(attackers: int = 4, probes: int = 15) -> None:
    """Probe-query latency while `attackers` clients loop on the costliest refused argument.

    Each decode is bounded; they run on the replica's decode pool, one at a time per caller, not on
    the canister's worker thread. This measures what an ordinary query still waits for (its share of
    the GIL), against a real emulator over HTTP (about a minute).
    """
    costliest = next(c for c in all_cases() if c.name.startswith("vec vec null (empty"))

    def latency(conn: Connection) -> float:
        start = time.perf_counter()
        conn.query_raw(DEFAULT_ID, "get_api_version", b"DIDL\x00\x00")
        return time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp, emulator(Path(tmp) / "state", [ARTIFACT], ["--quiet"]) as emu:
        probe = Connection(emu.url, generate_ed25519(), timeout=120)
        idle = [latency(probe) for _ in range(probes)]
        stop = threading.Event()

        def attack() -> None:
            conn = Connection(emu.url, generate_ed25519(), timeout=120)
            while not stop.is_set():
                with contextlib.suppress(Reject):  # the refusal is the point
                    conn.query_raw(DEFAULT_ID, costliest.method, costliest.arg)

        with ThreadPoolExecutor(attackers) as pool:
            running = [pool.submit(attack) for _ in range(attackers)]
            time.sleep(1)
            busy = [latency(probe) for _ in range(probes)]
            stop.set()
            for attacker in running:
                attacker.result()
    print(f"probe query, idle: median {1000 * statistics.median(idle):.0f} ms")
    print(
        f"with {attackers} clients sending '{costliest.name}': "
        f"median {1000 * statistics.median(busy):.0f} ms, max {1000 * max(busy):.0f} ms"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--queue", action="store_true", help="only the queueing measurement (an emulator)")
    options = parser.parse_args(argv)
    if options.queue:
        queueing()
        return
    machine = f"Python {platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
    print(f"{machine}, {options.runs} runs per case; floor: 10^6 additions in a Python loop, before each run")
    print()
    print("| input | method | bytes | outcome | CPU ms median | CPU ms max | wall ms max | median / floor |")
    print("|---|---|---:|---|---:|---:|---:|---:|")
    worst_ratio, floors = 0.0, []
    for case in all_cases():
        timing = timed(functools.partial(run_case, case), options.runs)
        floors += timing.floor
        worst_ratio = max(worst_ratio, statistics.median(timing.cpu) / statistics.median(timing.floor))
        method = "—" if case.did_types else f"`{case.method}`"
        outcome = timing.outcome
        if outcome.startswith("refused") != case.expect_refusal:
            outcome += " (UNEXPECTED)"
        print(f"| {case.name} | {method} | {len(case.arg):,} | {outcome} | {timing.row()}")
    print()
    print("| request body | bytes | answer | CPU ms median | CPU ms max | wall ms max | median / floor |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for body_case in body_cases():
        timing = timed(functools.partial(run_body, body_case), options.runs)
        floors += timing.floor
        print(f"| {body_case.name} | {len(body_case.body):,} | {timing.outcome[:80]} | {timing.row()}")
    quickest = min(floors)
    median_floor = statistics.median(floors)
    print()
    print(f"floor {1000 * quickest:.1f} ms quickest, {1000 * median_floor:.1f} ms median")
    print(
        f"worst Candid case {worst_ratio:.2f} x floor: {1000 * worst_ratio * quickest:.0f} ms at the quickest"
    )


if __name__ == "__main__":
    main()
