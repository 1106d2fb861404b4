"""Arguments decoded ahead of execution (`CanisterHost.decode_arguments`), as the replica's decode pool does.

The canister's thread must use what was decoded ahead instead of decoding again, answer a refusal
exactly as if it had decoded itself, and never run new code with values decoded against an older
interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from emulator.candid import decode_args, encode_args
from emulator.candid.types import NAT64, TEXT
from emulator.canisters.example import CANDID, ExampleCanister
from emulator.principal import Principal
from emulator.runtime.canister_log import records
from emulator.runtime.host import CanisterHost, Replied
from tests.runtime.test_host import ALICE, CID, make_host


class GreetByNumber(ExampleCanister):
    """The next version changes `greet`'s parameter from text to nat64."""

    CANDID: ClassVar[str] = CANDID.replace("greet : (text)", "greet : (nat64)")
    VERSION: ClassVar[str] = "by-number"


def greet(host: CanisterHost, arg: bytes, **kwargs: object) -> Replied:
    outcome = host.query(sender=ALICE, method="greet", arg=arg, **kwargs)  # type: ignore[arg-type]
    assert isinstance(outcome, Replied), outcome
    return outcome


def test_the_canister_thread_uses_the_arguments_decoded_ahead(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    ahead = host.decode_arguments("greet", encode_args([TEXT], ["alice"]))
    assert ahead is not None and ahead.values == ["alice"] and ahead.error is None
    # The bytes say "bob", the decoded values "alice": the reply shows which one was executed.
    reply = greet(host, encode_args([TEXT], ["bob"]), decoded=ahead)
    assert decode_args(reply.arg, [TEXT]) == ["Hello, alice!"]
    assert decode_args(greet(host, encode_args([TEXT], ["bob"])).arg, [TEXT]) == ["Hello, bob!"]
    assert host.decode_arguments("no_such_method", b"DIDL\x00\x00") is None


def test_a_refusal_decoded_ahead_is_the_same_trap_and_is_recorded(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    wrong = encode_args([NAT64], [5])  # `fail` takes a text
    ahead = host.decode_arguments("fail", wrong)
    assert ahead is not None and ahead.values is None and ahead.error
    statuses = [
        host.call(
            request_id=bytes([n]) * 32,
            sender=ALICE,
            method="fail",
            arg=wrong,
            ingress_expiry=host.wall_clock() + 60_000_000_000,
            decoded=decoded,
        )
        for n, decoded in ((1, ahead), (2, None))
    ]
    ahead_status, decoded_here = statuses
    assert ahead_status.reject is not None and decoded_here.reject is not None
    assert ahead_status.reject == decoded_here.reject
    assert (int(ahead_status.reject.code), ahead_status.reject.error_code) == (5, "IC0503")
    assert "failed to decode call arguments: " in ahead_status.reject.message
    assert host.request_status(b"\x01" * 32) == ahead_status  # certified like any other outcome
    traps = [r.content for r in records(host.store.conn) if r.content.startswith(b"[TRAP]")]
    assert len(traps) == 2 and traps[0] == traps[1]


def test_an_upgrade_between_decode_and_execution_decodes_again(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    text_arg = encode_args([TEXT], ["bob"])
    ahead = host.decode_arguments("greet", text_arg)
    assert ahead is not None and ahead.values == ["bob"]
    host.upgrade(GreetByNumber)
    # Decoded against the old `(text)` interface: the new code gets a fresh decode, which refuses text.
    outcome = host.query(sender=ALICE, method="greet", arg=text_arg, decoded=ahead)
    assert not isinstance(outcome, Replied)
    assert "failed to decode call arguments" in outcome.message
    number = encode_args([NAT64], [7])
    assert decode_args(greet(host, number).arg, [TEXT]) == ["Hello, 7!"]


def test_recorded_request_ids_are_known_until_the_store_is_replaced(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    rid = b"r" * 32
    assert not host.has_recorded(rid)
    host.call(
        request_id=rid,
        sender=Principal.anonymous(),
        method="inc",
        arg=encode_args([], []),
        ingress_expiry=host.wall_clock() + 60_000_000_000,
    )
    assert host.has_recorded(rid)
    host.reinstall()
    assert not host.has_recorded(rid)
    assert host.canister_id == CID
