"""A decode with the event loop's small budget gives the whole budget's answer, or stops and says so.

The replica decodes an argument on the event loop with `INLINE_DECODE_FUEL` and sends anything that
needs more to the decode pool, where the message's own budget decides exactly as before
(`Replica.run_decoded`). That is sound only if a lowered budget changes nothing but where the decoder
stops: every hostile argument of `benchmarks/hostile_decode.py`, every prefix of the small ones, and
malformed ordinary arguments either come out of the cheap decode as `OverBudget` (never as the
"decoding cost exceeds the limit" refusal, which would not be the message's answer) or with the very
values or refusal text of the full decode. The bombs must stop at the small budget, so the event loop
never spends a message's whole budget. Over real HTTP: `tests/e2e/test_query_path.py`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from benchmarks.hostile_decode import Case, all_cases
from emulator.candid import NAT, PRINCIPAL, TEXT, CandidError, OverBudget, Type, Vec, decode_args
from emulator.server.replica import INLINE_DECODE_FUEL

CASES = all_cases()
OVER_BUDGET = "over the inline budget"


def outcome(arg: bytes, types: Sequence[Type], fuel: int | None = None) -> Any:
    try:
        return ("decoded", decode_args(arg, types, fuel=fuel))
    except OverBudget:
        return OVER_BUDGET
    except CandidError as exc:
        return ("refused", str(exc))


def malformed() -> Iterator[tuple[str, bytes, Sequence[Type]]]:
    """Cheap arguments that are wrong in the ways a client gets wrong, at ordinary types."""
    yield "no magic", b"XDIL\x00\x00", []
    yield "empty", b"", []
    yield "truncated text", b"DIDL\x00\x01\x71\x05ab", [TEXT]
    yield "text for a principal", b"DIDL\x00\x01\x71\x02ab", [PRINCIPAL]
    yield "invalid UTF-8", b"DIDL\x00\x01\x71\x02\xff\xfe", [TEXT]
    yield "trailing bytes", b"DIDL\x00\x00\x00", []
    yield "missing argument", b"DIDL\x00\x00", [TEXT]
    yield "type index out of range", b"DIDL\x00\x01\x05", [NAT]
    # A vector long enough to need the pool's budget, then a truncated text: the cheap decode stops in
    # the vector, and the pool's refusal is the truncation, not the cost.
    nats = b"\xb8\x17" + b"\x01" * 3000  # 3000 one-byte nats
    yield "long vec, then truncated", b"DIDL\x01\x6d\x7d\x02\x00\x71" + nats + b"\x05ab", [Vec(NAT), TEXT]


def prefixes(case: Case) -> Iterator[bytes]:
    """Every prefix of a small argument, a few of a large one: truncation errors at every stage."""
    arg = case.arg
    step = 1 if len(arg) <= 256 else max(1, len(arg) // 64)
    yield from (arg[:end] for end in range(0, len(arg), step))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_cheap_decode_of_a_hostile_argument_agrees_with_the_whole_budget(case: Case) -> None:
    full = outcome(case.arg, case.types)
    cheap = outcome(case.arg, case.types, INLINE_DECODE_FUEL)
    assert cheap in (OVER_BUDGET, full)
    if case.expect_refusal:
        # The costly decodes stop at the small budget: the event loop never pays for them.
        assert cheap == OVER_BUDGET
    for prefix in prefixes(case):
        assert outcome(prefix, case.types, INLINE_DECODE_FUEL) in (OVER_BUDGET, outcome(prefix, case.types))


@pytest.mark.parametrize("name,arg,types", list(malformed()), ids=[m[0] for m in malformed()])
def test_a_cheap_decode_of_a_malformed_argument_gives_the_same_refusal(
    name: str, arg: bytes, types: Sequence[Type]
) -> None:
    full = outcome(arg, types)
    assert full[0] == "refused"
    assert "decoding cost" not in full[1]
    cheap = outcome(arg, types, INLINE_DECODE_FUEL)
    if name.startswith("long vec"):
        assert cheap == OVER_BUDGET
    else:
        assert cheap == full


def test_a_lowered_budget_never_raises_one() -> None:
    """`fuel` above the message's own budget is ignored: the cost refusal stays the message's answer."""
    bomb = next(c for c in CASES if c.expect_refusal)
    full = outcome(bomb.arg, bomb.types)
    assert full[0] == "refused"
    assert outcome(bomb.arg, bomb.types, 10**9) == full
