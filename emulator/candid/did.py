"""Parser for Candid interface descriptions (`.did` files).

Named types may be used before they are defined and may be recursive, so every name becomes a `Knot` that
is tied once the whole file has been read; a name that is never defined, or that is only an alias of itself,
is an error rather than something to discover at call time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emulator.candid.types import (
    MODES,
    NAT8,
    NULL,
    CandidError,
    Field,
    Func,
    Knot,
    Opt,
    Prim,
    Record,
    Service,
    Type,
    Variant,
    Vec,
    idl_hash,
    resolve,
)

_PRIMS = {p.name.lower(): p for p in Prim}
_KEYWORDS = {
    "type", "import", "service", "func", "opt", "vec", "record", "variant", "blob", *MODES, *_PRIMS,
}  # fmt: skip
_MAX_NESTING = 100  # keeps a hostile file's nesting well inside Python's recursion limit

_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
    | (?P<comment>/\*)
    | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
    | (?P<nat>0x[0-9a-fA-F](?:_?[0-9a-fA-F])*|[0-9](?:_?[0-9])*)
    | (?P<text>")
    | (?P<sym>->|[{}();,:=])
    """,
    re.VERBOSE,
)
_COMMENT_DELIMITER = re.compile(r"/\*|\*/")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\", '"': '"', "'": "'"}
_UNICODE_ESCAPE = re.compile(r"u\{([0-9a-fA-F](?:_?[0-9a-fA-F])*)\}")


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # id, nat, text, sym or eof
    value: str | int
    pos: int


@dataclass(frozen=True)
class DidFile:
    """A parsed interface: its named types, the service's methods, and the service's init arguments."""

    types: dict[str, Type]
    service: dict[str, Func]
    service_args: tuple[Type, ...] = ()


def parse_did(text: str) -> DidFile:
    return _Parser(text).prog()


def read_text_literal(src: str, pos: int) -> tuple[bytes, int]:
    """Decode a string literal whose opening quote is at `pos - 1`; returns its bytes and the end position.

    Bytes rather than str because `\\xx` escapes may spell arbitrary bytes (blob literals rely on that).
    """
    out = bytearray()
    while True:
        if pos >= len(src):
            raise CandidError("unterminated text literal")
        c = src[pos]
        if c == '"':
            return bytes(out), pos + 1
        if c != "\\":
            out += c.encode("utf-8", "surrogatepass")
            pos += 1
            continue
        esc = src[pos + 1 : pos + 3]
        if esc[:1] in _ESCAPES:
            out += _ESCAPES[esc[:1]].encode()
            pos += 2
        elif m := _UNICODE_ESCAPE.match(src, pos + 1):
            code = int(m.group(1).replace("_", ""), 16)
            if code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise CandidError(f"invalid Unicode escape \\u{{{m.group(1)}}}")
            out += chr(code).encode("utf-8")
            pos = m.end()
        elif re.fullmatch(r"[0-9a-fA-F]{2}", esc):
            out.append(int(esc, 16))
            pos += 3
        else:
            raise CandidError(f"invalid escape sequence \\{esc[:1]} in text literal")


def _tokens(src: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if m is None:
            raise CandidError(f"unexpected character {src[pos]!r} at offset {pos}")
        kind = m.lastgroup
        if kind == "comment":
            pos = _skip_block_comment(src, m.end())
            continue
        if kind == "text":
            raw, end = read_text_literal(src, m.end())
            try:
                tokens.append(_Token("text", raw.decode("utf-8"), pos))
            except UnicodeDecodeError:
                raise CandidError(f"text literal at offset {pos} is not valid UTF-8") from None
            pos = end
            continue
        if kind == "nat":
            digits = m.group().replace("_", "")
            tokens.append(_Token("nat", int(digits, 16) if digits.startswith("0x") else int(digits), pos))
        elif kind in ("id", "sym"):
            tokens.append(_Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(_Token("eof", "", pos))
    return tokens


def _skip_block_comment(src: str, pos: int) -> int:
    """Block comments nest, unlike C's."""
    depth = 1
    while depth:
        m = _COMMENT_DELIMITER.search(src, pos)
        if m is None:
            raise CandidError("unterminated block comment")
        depth += 1 if m.group() == "/*" else -1
        pos = m.end()
    return pos


class _Parser:
    def __init__(self, src: str) -> None:
        self.tokens = _tokens(src)
        self.i = 0
        self.nesting = 0
        self.knots: dict[str, Knot] = {}
        self.defs: dict[str, Type] = {}

    # -- tokens ------------------------------------------------------------------------------------------

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> _Token:
        tok = self.peek()
        self.i += 1
        return tok

    def error(self, expected: str) -> CandidError:
        tok = self.peek()
        found = "end of input" if tok.kind == "eof" else repr(tok.value)
        return CandidError(f"expected {expected} at offset {tok.pos}, found {found}")

    def accept(self, sym: str) -> bool:
        tok = self.peek()
        if tok.kind in ("sym", "id") and tok.value == sym:
            self.i += 1
            return True
        return False

    def expect(self, sym: str) -> None:
        if not self.accept(sym):
            raise self.error(repr(sym))

    def ident(self) -> str:
        tok = self.peek()
        if tok.kind != "id" or tok.value in _KEYWORDS:
            raise self.error("a type name")
        self.i += 1
        return str(tok.value)

    def name(self) -> str:
        tok = self.next()
        if tok.kind not in ("id", "text"):
            self.i -= 1
            raise self.error("a name")
        return str(tok.value)

    def labelled(self, kinds: tuple[str, ...]) -> bool:
        """Whether a `label :` prefix of one of `kinds` comes next (only a colon tells it from a type)."""
        second = self.peek(1)
        return self.peek().kind in kinds and second.kind == "sym" and second.value == ":"

    # -- grammar -----------------------------------------------------------------------------------------

    def prog(self) -> DidFile:
        while self.peek().value in ("type", "import") and self.peek().kind == "id":
            if self.next().value == "import":
                raise CandidError("import is not supported")
            name = self.ident()
            self.expect("=")
            if name in self.defs:
                raise CandidError(f"type {name} defined twice")
            self.defs[name] = self.datatype()
            if not self.accept(";") and self.peek().kind != "eof":
                raise self.error("';'")
        args: tuple[Type, ...] = ()
        actor: Type | None = None
        if self.accept("service"):
            if self.peek().kind == "id":
                self.ident()
            self.expect(":")
            if self.peek().value == "(":
                args = self.tuple_type()
                self.expect("->")
            actor = Service(self.methods()) if self.peek().value == "{" else self.knot(self.ident())
            self.accept(";")
        if self.peek().kind != "eof":
            raise self.error("a type definition or the service")
        types = self.tie()
        return DidFile(types, self.service_methods(actor), args)

    def knot(self, name: str) -> Knot:
        return self.knots.setdefault(name, Knot(name))

    def datatype(self) -> Type:
        if self.nesting > _MAX_NESTING:
            raise CandidError("types nested too deeply")
        self.nesting += 1
        tok = self.peek()
        if tok.kind != "id":
            raise self.error("a type")
        word = str(tok.value)
        self.i += 1
        t: Type
        if word in _PRIMS:
            t = _PRIMS[word]
        elif word in ("opt", "vec"):
            inner = self.datatype()
            t = Opt(inner) if word == "opt" else Vec(inner)
        elif word == "blob":
            t = Vec(NAT8)
        elif word == "record":
            t = Record(self.fields(record=True))
        elif word == "variant":
            t = Variant(self.fields(record=False))
        elif word == "func":
            t = self.func_type()
        elif word == "service":
            t = Service(self.methods())
        else:
            self.i -= 1
            t = self.knot(self.ident())
        self.nesting -= 1
        return t

    def label(self) -> tuple[str | None, int]:
        tok = self.next()
        if tok.kind == "nat":
            assert isinstance(tok.value, int)
            if tok.value >= 2**32:
                raise CandidError(f"field id {tok.value} does not fit in 32 bits")
            return None, tok.value
        if tok.kind in ("id", "text"):
            return str(tok.value), idl_hash(str(tok.value))
        self.i -= 1
        raise self.error("a field label")

    def fields(self, record: bool) -> tuple[Field, ...]:
        self.expect("{")
        fields: list[Field] = []
        next_id = 0
        while not self.accept("}"):
            if self.labelled(("id", "text", "nat")):
                name, fid = self.label()
                self.expect(":")
                t = self.datatype()
            elif record:
                name, fid, t = None, next_id, self.datatype()  # tuple shorthand: previous id + 1
            else:
                name, fid = self.label()  # variant shorthand: a bare tag carries null
                t = NULL
            fields.append(Field(name, fid, t))
            next_id = fid + 1
            if not self.accept(";"):
                self.expect("}")
                break
        return tuple(fields)

    def tuple_type(self) -> tuple[Type, ...]:
        self.expect("(")
        items: list[Type] = []
        while not self.accept(")"):
            if self.labelled(("id", "text")):
                self.i += 2  # argument names are documentation only
            items.append(self.datatype())
            if not self.accept(","):
                self.expect(")")
                break
        return tuple(items)

    def func_type(self) -> Func:
        args = self.tuple_type()
        self.expect("->")
        results = self.tuple_type()
        modes = set()
        while self.peek().kind == "id" and self.peek().value in MODES:
            modes.add(str(self.next().value))
        if "oneway" in modes and results:
            raise CandidError("a oneway function cannot have results")
        return Func(args, results, frozenset(modes))

    def methods(self) -> tuple[tuple[str, Type], ...]:
        self.expect("{")
        methods: list[tuple[str, Type]] = []
        while not self.accept("}"):
            name = self.name()
            self.expect(":")
            methods.append((name, self.func_type() if self.peek().value == "(" else self.knot(self.ident())))
            if not self.accept(";"):
                self.expect("}")
                break
        return tuple(methods)

    # -- names -------------------------------------------------------------------------------------------

    def tie(self) -> dict[str, Type]:
        for name in self.knots:
            if name not in self.defs:
                raise CandidError(f"undefined type {name}")
        resolved = {name: self.unalias(name) for name in self.defs}
        for name, knot in self.knots.items():
            knot.tie(resolved[name])
        return resolved

    def unalias(self, name: str) -> Type:
        """Follow `type A = B` chains to a real type; a chain that loops never reaches one."""
        seen = [name]
        t = self.defs[name]
        while isinstance(t, Knot):
            if t.name in seen:
                raise CandidError(f"type {name} is an alias cycle ({' = '.join([*seen, t.name])})")
            seen.append(t.name)
            t = self.defs[t.name]
        return t

    @staticmethod
    def service_methods(actor: Type | None) -> dict[str, Func]:
        if actor is None:
            return {}
        service = resolve(actor)
        if not isinstance(service, Service):
            raise CandidError("the service is not a service type")
        methods: dict[str, Func] = {}
        for name, t in service.methods:
            func = resolve(t)
            if not isinstance(func, Func):
                raise CandidError(f"method {name!r} does not have a function type")
            methods[name] = func
        return methods
