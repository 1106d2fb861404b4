"""The Candid specification's own conformance suite (`*.test.did`), one test per assertion.

Binary inputs exercise the decoder; textual inputs are read by the test-only parser in `candid_text`, so
`blob "..." == "(...)"` compares real values. A per-file tally is printed at the end of the run (see
`conftest.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from emulator.candid import CandidError, Type, decode_args, is_nullable, parse_did
from tests.candid.candid_text import Assertion, Input, parse_test_file, parse_text_args, typed

SUITE = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "candid-spec-tests"

if not SUITE.is_dir():
    pytest.skip(f"Candid spec suite not found at {SUITE}", allow_module_level=True)


def _cases() -> Iterator[Any]:
    for path in sorted(SUITE.glob("*.test.did")):
        defs, assertions = parse_test_file(path.read_text(encoding="utf-8"))
        for a in assertions:
            kind = "binary" if a.binary else "textual"
            yield pytest.param(path.name, defs, a, id=f"{path.stem}:{a.line}:{kind}")


def _read(inp: Input, types: Sequence[Type]) -> list[Any]:
    if inp.binary:
        return decode_args(inp.data, types)
    nodes = parse_text_args(inp.data.decode("utf-8"))
    values = []
    for i, t in enumerate(types):
        if i < len(nodes):
            values.append(typed(nodes[i], t))
        elif is_nullable(t):
            values.append(None)
        else:
            raise CandidError(f"missing argument {i}")
    return values


@pytest.mark.parametrize(("file", "defs", "a"), list(_cases()))
def test_spec_assertion(file: str, defs: str, a: Assertion, record_property: Any) -> None:
    record_property("spec_file", file)
    record_property("binary", a.binary)
    types = parse_did(f"{defs}\nservice : {{ check : {a.types} -> () }}").service["check"].args
    if a.relation == "!:":
        # A binary input must fail as a CandidError (not a stray ValueError or RecursionError); the
        # textual parser may also surface Principal's own ValueError.
        with pytest.raises(CandidError if a.left.binary else (CandidError, ValueError)):
            _read(a.left, types)
        return
    left = _read(a.left, types)
    if a.right is not None:
        right = _read(a.right, types)
        assert (left == right) == (a.relation == "=="), f"{left!r} vs {right!r}: {a.desc}"
