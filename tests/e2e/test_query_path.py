"""The query path after issue 13's round: same answers, same records, over real HTTP.

Three things changed where a message's answer or its record could change silently, and each is
checked here against a real emulator process:

* a cheap argument is decoded on the event loop with a small budget (`INLINE_DECODE_FUEL`) instead of
  on the decode pool: malformed cheap arguments must get the decoder's own refusal, and arguments
  beyond the small budget (decodable or not) the whole budget's answer, for queries and updates;
* the call record (metrics, JSON log line) is written as the event loop's next callback instead of
  before the reply: every reply must still be counted before the emulator answers anything later;
* the JSON log line is filled into a template instead of `json.dumps`: it must be the same text.

The expected refusals are computed in this process by decoding with the whole budget, so they are
what the decode pool answered before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence

import httpx
import pytest

from clients.admin import AdminClient
from clients.ic import Connection, Reject, generate_ed25519
from emulator.candid import PRINCIPAL, CandidError, Type, decode_args, parse_did
from emulator.canisters.example import CANDID
from tests.emulator_process import EXAMPLE_ID, EmulatorProcess

HANG_GUARD = 60.0  # seconds: "the emulator stopped answering", never a speed requirement
SERVICE = parse_did(CANDID).service
NATS = (
    b"\xb8\x17" + b"\x01" * 3000
)  # 3000 one-byte nats: more than the inline budget, far less than the pool's

# (name, method, argument): cheap and malformed, then beyond the inline budget.
MALFORMED = [
    ("no magic", "greet", b"XDIL\x00\x00"),
    ("truncated text", "greet", b"DIDL\x00\x01\x71\x05ab"),
    ("invalid UTF-8", "greet", b"DIDL\x00\x01\x71\x02\xff\xfe"),
    ("trailing bytes", "greet", b"DIDL\x00\x01\x71\x02ab\x00"),
    ("missing argument", "greet", b"DIDL\x00\x00"),
    ("wrong type", "greet", b"DIDL\x00\x01\x7d\x05"),
    ("long extra argument, then truncated", "whoami", b"DIDL\x01\x6d\x7d\x02\x00\x71" + NATS + b"\x05ab"),
]
UPDATE_FOR = {"greet": "echo_blob", "whoami": "whoami_update"}


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    # Logging on (no --quiet): the log line is one of the things checked.
    with EmulatorProcess(tmp_path_factory.mktemp("query-path") / "state") as proc:
        yield proc


@pytest.fixture(scope="module")
def conn(emu: EmulatorProcess) -> Iterator[Connection]:
    connection = Connection(emu.url, generate_ed25519(), timeout=HANG_GUARD, update_timeout=HANG_GUARD)
    yield connection
    connection.close()


def decoder_refusal(arg: bytes, types: Sequence[Type]) -> str:
    try:
        decode_args(arg, types)
    except CandidError as exc:
        return (
            f"Error from Canister {EXAMPLE_ID}: Canister called `ic0.trap` with message: "
            f"'failed to decode call arguments: {exc}'."
        )
    raise AssertionError("the argument decodes")


@pytest.mark.parametrize("name,method,arg", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_argument_gets_the_decoders_refusal(
    conn: Connection, name: str, method: str, arg: bytes
) -> None:
    update = UPDATE_FOR[method]
    for kind, target in (("query", method), ("update", update)):
        expected = decoder_refusal(arg, SERVICE[target].args)
        with pytest.raises(Reject) as refused:
            if kind == "query":
                conn.query_raw(EXAMPLE_ID, target, arg)
            else:
                conn.update_raw(EXAMPLE_ID, target, arg)
        assert (refused.value.reject_code, refused.value.error_code) == (5, "IC0503"), kind
        assert refused.value.reject_message == expected, kind
        assert "decoding cost" not in refused.value.reject_message


def test_an_argument_beyond_the_inline_budget_is_decoded_with_the_whole_budget(conn: Connection) -> None:
    arg = b"DIDL\x01\x6d\x7d\x01\x00" + NATS  # whoami with one extra argument, read and skipped
    caller = conn.identity.sender().to_str()
    for reply in (
        conn.query_raw(EXAMPLE_ID, "whoami", arg),
        conn.update_raw(EXAMPLE_ID, "whoami_update", arg),
    ):
        (principal,) = decode_args(reply, [PRINCIPAL])
        assert principal.to_text() == caller


def counted(admin: AdminClient, method: str) -> int:
    line = rf'^storeforever_calls_total\{{endpoint="query",method="{method}",outcome="replied"\}} (\S+)$'
    found = re.search(line, admin.metrics(), re.MULTILINE)
    return 0 if found is None else int(float(found.group(1)))


def test_every_reply_is_counted_before_the_next_request_is_answered(
    emu: EmulatorProcess, conn: Connection
) -> None:
    admin = AdminClient(emu.admin_url)
    before = counted(admin, "get")
    for n in range(1, 21):
        conn.query_raw(EXAMPLE_ID, "get", b"DIDL\x00\x00")
        assert counted(admin, "get") == before + n


def test_the_log_line_is_what_json_dumps_writes(emu: EmulatorProcess, conn: Connection) -> None:
    method = 'no "such" \\ method \u00e9 \U0001f4be \x01 %s'
    with pytest.raises(Reject) as refused:
        conn.query_raw(EXAMPLE_ID, method, b"DIDL\x00\x00")
    assert refused.value.error_code == "IC0536"
    # Any later request is answered after the record is written (see the test above).
    assert httpx.get(f"{emu.url}/api/v2/status", timeout=HANG_GUARD).status_code == 200
    assert emu.log_path is not None
    lines = [line for line in emu.log_path.read_text().splitlines() if line.startswith('{"event": "call"')]
    (line,) = [line for line in lines if json.loads(line)["method"] == method]
    record = json.loads(line)
    expected = {
        "event": "call",
        "endpoint": "query",
        "canister": EXAMPLE_ID,
        "method": method,
        "caller": conn.identity.sender().to_str(),
        "outcome": "rejected",
        "duration_ms": record["duration_ms"],
    }
    assert line == json.dumps(expected)
