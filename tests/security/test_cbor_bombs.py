"""CBOR bodies built to amplify: each gets the replica's 400 text, and the emulator keeps serving others.

Before: cbor2 expanded shared references (tags 28/29) as a tree on the event loop. An 11-byte cyclic
body answered HTTP 500 (RecursionError), 186 bytes of exponential sharing took 4 s of loop time and
286 bytes never answered. Now `cbor_codec._prescan` walks the item headers first and refuses every tag,
indefinite lengths, nesting deeper than 32, more than 32,768 items and lengths the body cannot hold.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cbor2
import httpx
import pytest

from clients.admin import AdminClient
from clients.ic import Connection, generate_ed25519
from emulator.protocol.cbor_codec import MAX_DATA_ITEMS
from tests.e2e.artifact_calls import CANISTER, Artifact
from tests.emulator_process import EmulatorProcess
from tests.security.conftest import probe_status

HANG_GUARD = 30.0  # seconds: "the emulator stopped answering", never a speed requirement
MIB = 1024 * 1024
PREFIX = b"\xd9\xd9\xf7"
CONTENT = b"\xa1\x67content"  # {"content": <the item that follows>}

ENDPOINTS = [
    (f"/api/v2/canister/{CANISTER}/call", "call message"),
    (f"/api/v3/canister/{CANISTER}/call", "call message"),
    (f"/api/v2/canister/{CANISTER}/query", "query message"),
    (f"/api/v2/canister/{CANISTER}/read_state", "read_state message"),
]


def shared_ref(index: int) -> bytes:
    """Tag 29 (a reference to the index-th value marked shareable) around a small integer."""
    return b"\xd8\x1d" + (bytes([index]) if index < 24 else bytes([0x18, index]))


def exponential_sharing(levels: int) -> bytes:
    """`[s0 = [0], s1 = [s0, s0], s2 = [s1, s1], ...]`: a tree of 2^levels nodes in ~10 bytes per level."""
    items = [b"\xd8\x1c\x81\x00"] + [b"\xd8\x1c\x82" + shared_ref(k - 1) * 2 for k in range(1, levels)]
    return PREFIX + CONTENT + bytes([0x98, levels]) + b"".join(items)


def tagged(number: int) -> bytes:
    return PREFIX + CONTENT + cbor2.dumps(cbor2.CBORTag(number, 0))


def not_allowed(number: int) -> str:
    return "bignum tags are not allowed" if number in (2, 3) else f"CBOR tag {number} is not allowed"


def premature(need: int, have: int) -> str:
    return f"premature end of stream (expected to read at least {need} bytes, got {have} instead)"


DEPTH = "maximum container nesting depth (32) exceeded"
INDEFINITE = "indefinite-length items are not allowed"

# Every tag a request could carry is refused; these are the standard ones plus the encodings' edges.
TAG_NUMBERS = [*range(0, 40), 55799, 256, 258, 259, 1001, 55800, 65535, 2**32 - 1, 2**32, 2**64 - 1]

BOMBS: list[tuple[str, bytes, str]] = [
    ("cyclic map (11 bytes)", PREFIX + b"\xd8\x1c\xa1\x61a" + shared_ref(0), "CBOR tag 28 is not allowed"),
    (
        "cyclic array in content",
        PREFIX + CONTENT + b"\xd8\x1c\x81" + shared_ref(0),
        "CBOR tag 28 is not allowed",
    ),
    ("exponential sharing, 20 levels", exponential_sharing(20), "CBOR tag 28 is not allowed"),
    ("exponential sharing, 30 levels", exponential_sharing(30), "CBOR tag 28 is not allowed"),
    ("a lone shared reference", PREFIX + CONTENT + shared_ref(0), "CBOR tag 29 is not allowed"),
    (
        "stringref namespace",
        PREFIX + CONTENT + b"\xd9\x01\x00\x81\xd8\x19\x00",
        "CBOR tag 256 is not allowed",
    ),
    ("self-describe tag twice", PREFIX + PREFIX + b"\xa0", "CBOR tag 55799 is not allowed"),
    ("self-describe tag, 4-byte form", b"\xda\x00\x00\xd9\xf7\xa0", "CBOR tag 55799 is not allowed"),
    ("tag at top level", b"\xc0\xa0", "CBOR tag 0 is not allowed"),
    ("40 nested arrays", PREFIX + CONTENT + b"\x81" * 40 + b"\x00", DEPTH),
    ("2 MiB of nested arrays", PREFIX + CONTENT + b"\x81" * (2 * MIB - 64) + b"\x00", DEPTH),
    ("2 MiB of nested maps", PREFIX + b"\xa1\x60" * (MIB - 32) + b"\x00", DEPTH),
    ("array of 2^64-1 items, nothing after", PREFIX + CONTENT + b"\x9b" + b"\xff" * 8, premature(1, 0)),
    ("array of 2^64-1 items", PREFIX + CONTENT + b"\x9b" + b"\xff" * 8 + b"\x00", premature(2**64 - 1, 1)),
    (
        "map of 2^64-1 entries",
        PREFIX + CONTENT + b"\xbb" + b"\xff" * 8 + b"\x00\x00",
        premature(2**65 - 2, 2),
    ),
    ("array of 2^32-1 items", PREFIX + CONTENT + b"\x9a" + b"\xff" * 4 + b"\x00", premature(2**32 - 1, 1)),
    ("byte string of 2^63 bytes", PREFIX + CONTENT + b"\x5b\x80" + bytes(7) + b"abc", premature(2**63, 3)),
    (
        "text string of 2^32-1 bytes",
        PREFIX + CONTENT + b"\x7a" + b"\xff" * 4 + b"abc",
        premature(2**32 - 1, 3),
    ),
    ("body that ends in a header", PREFIX + CONTENT + b"\x19\x01", premature(2, 1)),
    ("indefinite array", PREFIX + CONTENT + b"\x9f\x00\xff", INDEFINITE),
    (
        "100,000 nested indefinite arrays",
        PREFIX + CONTENT + b"\x9f" * 100_000 + b"\xff" * 100_000,
        INDEFINITE,
    ),
    ("indefinite map", PREFIX + b"\xbf\x67content\xa0\xff", INDEFINITE),
    (
        "indefinite byte string of 1-byte chunks",
        PREFIX + CONTENT + b"\x5f" + b"\x41a" * (MIB - 64) + b"\xff",
        INDEFINITE,
    ),
    ("indefinite text string", PREFIX + CONTENT + b"\x7f\x61a\xff", INDEFINITE),
    (
        "a lone break code",
        PREFIX + CONTENT + b"\xff",
        "break code encountered where a data item was expected",
    ),
    (
        "reserved additional information",
        PREFIX + CONTENT + b"\x1c",
        "invalid additional information 28 for major type 0",
    ),
    (
        "more items than the budget",
        PREFIX + CONTENT + b"\x9a" + (2 * MIB - 64).to_bytes(4, "big") + bytes(2 * MIB - 64),
        f"more than {MAX_DATA_ITEMS} data items",
    ),
    *((f"tag {n}", tagged(n), not_allowed(n)) for n in TAG_NUMBERS),
]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        tmp_path_factory.mktemp("cbor-bombs") / "state",
        canisters=[f"artifact={CANISTER}"],
        extra_args=["--quiet"],
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def http(emu: EmulatorProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.url, timeout=HANG_GUARD) as client:
        yield client


def stored_state(emu: EmulatorProcess) -> dict[str, Any]:
    """What the canister holds, through the admin API's read-only views."""
    admin = AdminClient(emu.admin_url)
    views = ("galleries", "memories", "sessions", "assets", "audit")
    return {view: admin.inspect(CANISTER, view, limit="100") for view in views}


def post(http: httpx.Client, path: str, body: bytes) -> httpx.Response:
    return http.post(path, content=body, headers={"Content-Type": "application/cbor"})


@pytest.mark.parametrize(("name", "body", "reason"), BOMBS, ids=[b[0] for b in BOMBS])
def test_each_bomb_gets_the_replica_400_on_every_endpoint(
    http: httpx.Client, name: str, body: bytes, reason: str
) -> None:
    assert len(body) <= 2 * MIB, name
    for path, what in ENDPOINTS:
        response = post(http, path, body)
        assert (response.status_code, response.text) == (400, f"Could not parse body as {what}: {reason}"), (
            path
        )


def test_a_valid_call_still_works(emu: EmulatorProcess) -> None:
    art = Artifact(Connection(emu.url, generate_ed25519()))
    assert art.raw("get_api_version")
    assert isinstance(art.raw("register"), bool)


def test_others_are_served_during_a_burst_of_bombs(emu: EmulatorProcess, http: httpx.Client) -> None:
    before = stored_state(emu)
    heavy = [body for name, body, _ in BOMBS if len(body) > 100_000 or "sharing" in name]
    stop = threading.Event()
    statuses: list[int] = []

    def attack(worker: int) -> None:
        with httpx.Client(base_url=emu.url, timeout=HANG_GUARD) as client:
            round_ = 0
            while not stop.is_set() and round_ < 5:
                for body in heavy:
                    path, _ = ENDPOINTS[(worker + round_) % len(ENDPOINTS)]
                    statuses.append(post(client, path, body).status_code)
                round_ += 1

    probe = Artifact(Connection(emu.url, generate_ed25519(), timeout=HANG_GUARD))
    with ThreadPoolExecutor(max_workers=4) as pool:
        attackers = [pool.submit(attack, worker) for worker in range(4)]
        try:
            for _ in range(10):
                # Hang guards only: each probe must be answered at all while the attack runs.
                assert probe_status(emu.url, HANG_GUARD) == 200
                assert probe.raw("get_api_version")
        finally:
            stop.set()
            for attacker in attackers:
                attacker.result(timeout=5 * HANG_GUARD)
    assert statuses and set(statuses) == {400}
    assert stored_state(emu) == before
