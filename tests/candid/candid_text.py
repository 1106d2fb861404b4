"""Test-only support: the Candid test-suite file format and textual Candid values.

Textual values matter because most spec assertions compare a binary input with a textual one
(`blob "..." == "(42)"`); reading the text at the same expected types lets those assertions check the
decoded value, not merely that decoding succeeded. Type definitions and type tuples are left as source
slices for `parse_did`, so the production parser is what reads every type in the suite.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from emulator.candid import (
    BOOL,
    EMPTY,
    FLOAT32,
    FLOAT64,
    INT,
    INT8,
    INT16,
    INT32,
    INT64,
    NAT,
    NAT8,
    NAT16,
    NAT32,
    NAT64,
    NULL,
    PRINCIPAL,
    RESERVED,
    TEXT,
    CandidError,
    Func,
    FuncRef,
    Opt,
    Prim,
    Record,
    Service,
    Some,
    Type,
    Variant,
    Vec,
    idl_hash,
    is_nullable,
    resolve,
)
from emulator.candid.did import read_text_literal
from emulator.principal import Principal

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
    | (?P<comment>/\*)
    | (?P<num>[+-]?(?:0x[0-9a-fA-F](?:_?[0-9a-fA-F])*
                   |[0-9](?:_?[0-9])*(?:\.(?:[0-9](?:_?[0-9])*)?)?(?:[eE][+-]?[0-9]+)?))
    | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<text>")
    | (?P<sym>==|!=|!:|->|[{}();,:=.])
    """,
    re.VERBOSE,
)
_NESTING = {"(": 1, "{": 1, ")": -1, "}": -1}
_COMMENT_DELIMITER = re.compile(r"/\*|\*/")
_RANGES = {
    NAT: (0, None),
    INT: (None, None),
    NAT8: (0, 2**8 - 1),
    NAT16: (0, 2**16 - 1),
    NAT32: (0, 2**32 - 1),
    NAT64: (0, 2**64 - 1),
    INT8: (-(2**7), 2**7 - 1),
    INT16: (-(2**15), 2**15 - 1),
    INT32: (-(2**31), 2**31 - 1),
    INT64: (-(2**63), 2**63 - 1),
}


@dataclass(frozen=True)
class Token:
    kind: str  # space-free: num, id, text, sym, eof
    value: Any  # str, or bytes for text
    start: int
    end: int


def tokenize(src: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise CandidError(f"unexpected character {src[pos]!r} at offset {pos}")
        kind = m.lastgroup
        assert kind is not None
        if kind == "comment":
            depth, pos = 1, m.end()
            while depth:
                close = _COMMENT_DELIMITER.search(src, pos)
                if close is None:
                    raise CandidError("unterminated comment")
                depth += 1 if close.group() == "/*" else -1
                pos = close.end()
        elif kind == "text":
            raw, end = read_text_literal(src, m.end())
            tokens.append(Token("text", raw, pos, end))
            pos = end
        else:
            if kind != "space":
                tokens.append(Token(kind, m.group(), pos, m.end()))
            pos = m.end()
    tokens.append(Token("eof", "", pos, pos))
    return tokens


# -- the test-suite file format ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    binary: bool
    data: bytes  # the blob, or the UTF-8 of the textual value


@dataclass(frozen=True)
class Assertion:
    line: int
    relation: str  # ":" decodes, "!:" is rejected, "==" / "!=" both decode and compare
    left: Input
    right: Input | None
    types: str  # source of the type tuple, e.g. "(nat, opt text)"
    desc: str

    @property
    def binary(self) -> bool:
        return self.left.binary or (self.right is not None and self.right.binary)


def parse_test_file(src: str) -> tuple[str, list[Assertion]]:
    """Split a `*.test.did` file into the source of its type definitions and its assertions."""
    toks = tokenize(src)
    i = 0
    defs: list[str] = []
    while toks[i].kind == "id" and toks[i].value == "type":
        j, depth = i, 0
        while depth or toks[j].value != ";":
            depth += _NESTING.get(toks[j].value, 0) if toks[j].kind == "sym" else 0
            j += 1
        defs.append(src[toks[i].start : toks[j].end])
        i = j + 1
    assertions: list[Assertion] = []
    while toks[i].kind != "eof":
        start = toks[i]
        if start.value != "assert":
            raise CandidError(f"expected assert at line {_line(src, start.start)}")
        left, i = _input(toks, i + 1)
        right = None
        relation = toks[i].value
        if relation in ("==", "!="):
            right, i = _input(toks, i + 1)
            if toks[i].value != ":":
                raise CandidError(f"expected ':' at line {_line(src, toks[i].start)}")
        elif relation not in (":", "!:"):
            raise CandidError(f"unexpected {relation!r} at line {_line(src, toks[i].start)}")
        i += 1
        open_paren, depth = toks[i], 0
        while True:
            depth += _NESTING.get(toks[i].value, 0) if toks[i].kind == "sym" else 0
            i += 1
            if depth == 0:
                break
        types = src[open_paren.start : toks[i - 1].end]
        desc = ""
        if toks[i].kind == "text":
            desc = toks[i].value.decode()
            i += 1
        if toks[i].value != ";":
            raise CandidError(f"expected ';' at line {_line(src, toks[i].start)}")
        i += 1
        assertions.append(Assertion(_line(src, start.start), relation, left, right, types, desc))
    return "\n".join(defs), assertions


def _input(toks: list[Token], i: int) -> tuple[Input, int]:
    if toks[i].kind == "id" and toks[i].value == "blob":
        return Input(True, toks[i + 1].value), i + 2
    if toks[i].kind != "text":
        raise CandidError("expected an input")
    return Input(False, toks[i].value), i + 1


def _line(src: str, pos: int) -> int:
    return src.count("\n", 0, pos) + 1


# -- textual values ---------------------------------------------------------------------------------------

Node = tuple[Any, ...]  # ("null",), ("num", "42"), ("record", [(id, node), ...]), ...


def parse_text_args(text: str) -> list[Node]:
    """Parse `( <annval>,* )`; values stay untyped until `typed` reads them at an expected type."""
    p = _ValueParser(tokenize(text))
    p.expect("(")
    args: list[Node] = []
    while not p.accept(")"):
        args.append(p.value())
        if not p.accept(","):
            p.expect(")")
            break
    p.expect_end()
    return args


class _ValueParser:
    def __init__(self, toks: list[Token]) -> None:
        self.toks = toks
        self.i = 0

    def next(self) -> Token:
        self.i += 1
        return self.toks[self.i - 1]

    def accept(self, sym: str) -> bool:
        if self.toks[self.i].kind in ("sym", "id") and self.toks[self.i].value == sym:
            self.i += 1
            return True
        return False

    def expect(self, sym: str) -> None:
        if not self.accept(sym):
            raise CandidError(f"expected {sym!r}, found {self.toks[self.i].value!r}")

    def expect_end(self) -> None:
        if self.toks[self.i].kind != "eof":
            raise CandidError("trailing text after the value")

    def text(self) -> str:
        tok = self.next()
        if tok.kind != "text":
            raise CandidError("expected a text literal")
        try:
            return str(tok.value.decode("utf-8"))
        except UnicodeDecodeError:
            raise CandidError("text literal is not UTF-8") from None

    def label(self) -> int:
        tok = self.next()
        if tok.kind == "num":
            return _int_literal(tok.value)
        if tok.kind == "id":
            return idl_hash(tok.value)
        if tok.kind == "text":
            return idl_hash(tok.value.decode("utf-8"))
        raise CandidError("expected a field label")

    def labelled(self) -> bool:
        return self.toks[self.i].kind in ("num", "id", "text") and self.toks[self.i + 1].value == "="

    def value(self) -> Node:
        tok = self.next()
        if tok.kind == "num":
            return ("num", tok.value.replace("_", ""))
        if tok.kind == "text":
            self.i -= 1
            return ("text", self.text())
        if tok.kind == "sym" and tok.value == "(":
            inner = self.value()
            self.expect(")")
            return inner
        word = tok.value if tok.kind == "id" else None
        if word == "null":
            return ("null",)
        if word in ("true", "false"):
            return ("bool", word == "true")
        if word == "opt":
            return ("opt", self.value())
        if word == "blob":
            tok = self.next()
            if tok.kind != "text":
                raise CandidError("expected a blob literal")
            return ("blob", tok.value)
        if word in ("principal", "service"):
            return (word, self.text())
        if word == "func":
            service = self.text()
            self.expect(".")
            method = self.text() if self.toks[self.i].kind == "text" else self.next().value
            return ("func", service, method)
        if word == "vec":
            self.expect("{")
            items: list[Node] = []
            while not self.accept("}"):
                items.append(self.value())
                if not self.accept(";"):
                    self.expect("}")
                    break
            return ("vec", items)
        if word == "record":
            return ("record", self.fields(record=True))
        if word == "variant":
            fields = self.fields(record=False)
            if len(fields) != 1:
                raise CandidError("a variant value has exactly one field")
            return ("variant", *fields[0])
        raise CandidError(f"unexpected {tok.value!r} in a value")

    def fields(self, record: bool) -> list[tuple[int, Node]]:
        self.expect("{")
        fields: list[tuple[int, Node]] = []
        next_id = 0
        while not self.accept("}"):
            if self.labelled():
                fid = self.label()
                self.expect("=")
                node = self.value()
            elif record:
                fid, node = next_id, self.value()
            else:
                fid, node = self.label(), ("null",)
            fields.append((fid, node))
            next_id = fid + 1
            if not self.accept(";"):
                self.expect("}")
                break
        if len({fid for fid, _ in fields}) != len(fields):
            raise CandidError("duplicate field in a textual value")
        return fields


def typed(node: Node, t: Type) -> Any:
    """Read an untyped textual value at type `t`, in the Python mapping the decoder produces."""
    t = resolve(t)
    tag = node[0]
    if t is RESERVED:
        return None
    if isinstance(t, Opt):
        if tag == "null":
            return None
        value = typed(node[1] if tag == "opt" else node, t.inner)
        return Some(value) if is_nullable(t.inner) else value
    if isinstance(t, Prim):
        return _typed_prim(node, t)
    if isinstance(t, Vec):
        if tag == "blob" and resolve(t.inner) is NAT8:
            return node[1]
        if tag != "vec":
            raise CandidError("expected a vec value")
        items = [typed(item, t.inner) for item in node[1]]
        return bytes(items) if resolve(t.inner) is NAT8 else items
    if isinstance(t, Record):
        if tag != "record":
            raise CandidError("expected a record value")
        given = dict(node[1])
        out: dict[str | int, Any] = {}
        for f in t.fields:
            if f.id in given:
                out[f.key] = typed(given[f.id], f.type)
            elif is_nullable(f.type):
                out[f.key] = None
            else:
                raise CandidError(f"missing record field {f.key!r}")
        return tuple(out.values()) if t.is_tuple else out
    if isinstance(t, Variant):
        if tag != "variant" or node[1] not in t.by_id:
            raise CandidError("expected a variant value with a known tag")
        f = t.by_id[node[1]]
        return {f.key: typed(node[2], f.type)}
    if isinstance(t, Func) and tag == "func":
        return FuncRef(Principal.from_text(node[1]), node[2])
    if isinstance(t, Service) and tag == "service":
        return Principal.from_text(node[1])
    raise CandidError(f"a {tag} value does not have the expected type")


def _int_literal(text: str) -> int:
    digits = text.replace("_", "")
    sign = -1 if digits.startswith("-") else 1
    digits = digits.lstrip("+-")
    return sign * (int(digits, 16) if digits.startswith("0x") else int(digits))


def _typed_prim(node: Node, t: Prim) -> Any:
    tag = node[0]
    if t is NULL and tag == "null":
        return None
    if t is BOOL and tag == "bool":
        return node[1]
    if t in _RANGES and tag == "num" and re.fullmatch(r"[+-]?(0x[0-9a-fA-F]+|[0-9]+)", node[1]):
        n = _int_literal(node[1])
        low, high = _RANGES[t]
        if (low is not None and n < low) or (high is not None and n > high):
            raise CandidError(f"{n} out of range")
        return n
    if t in (FLOAT32, FLOAT64) and tag == "num":
        return float(node[1])
    if t is TEXT and tag == "text":
        return node[1]
    if t is PRINCIPAL and tag == "principal":
        return Principal.from_text(node[1])
    if t is EMPTY:
        raise CandidError("no value has type empty")
    raise CandidError(f"a {tag} value is not a {t.name.lower()}")
