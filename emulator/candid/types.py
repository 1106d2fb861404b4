"""The Candid type model shared by the `.did` parser, the decoder and the encoder.

Types are immutable values so that one parsed interface can be shared by every call. Recursion is the one
exception: a named type may refer to itself, so references go through a `Knot` that is tied once, after the
whole definition set (or binary type table) has been read.
"""

from __future__ import annotations

import enum
import itertools
from dataclasses import dataclass, field

from emulator.principal import Principal

MODES = frozenset({"query", "composite_query", "oneway"})


class CandidError(ValueError):
    """Any failure to parse, decode or encode Candid; the message is short enough for a reject message."""


class Prim(enum.Enum):
    """Primitive types; the value is the type's opcode in the binary format."""

    NULL = -1
    BOOL = -2
    NAT = -3
    INT = -4
    NAT8 = -5
    NAT16 = -6
    NAT32 = -7
    NAT64 = -8
    INT8 = -9
    INT16 = -10
    INT32 = -11
    INT64 = -12
    FLOAT32 = -13
    FLOAT64 = -14
    TEXT = -15
    RESERVED = -16
    EMPTY = -17
    PRINCIPAL = -24

    def __repr__(self) -> str:
        return self.name


NULL, BOOL, NAT, INT = Prim.NULL, Prim.BOOL, Prim.NAT, Prim.INT
NAT8, NAT16, NAT32, NAT64 = Prim.NAT8, Prim.NAT16, Prim.NAT32, Prim.NAT64
INT8, INT16, INT32, INT64 = Prim.INT8, Prim.INT16, Prim.INT32, Prim.INT64
FLOAT32, FLOAT64, TEXT = Prim.FLOAT32, Prim.FLOAT64, Prim.TEXT
RESERVED, EMPTY, PRINCIPAL = Prim.RESERVED, Prim.EMPTY, Prim.PRINCIPAL


def idl_hash(name: str) -> int:
    """Field id of a textual label, as fixed by the spec (so both sides agree without sending names)."""
    h = 0
    for byte in name.encode("utf-8"):
        h = (h * 223 + byte) & 0xFFFFFFFF
    return h


@dataclass(frozen=True, slots=True)
class Opt:
    inner: Type


@dataclass(frozen=True, slots=True)
class Vec:
    inner: Type


@dataclass(frozen=True, slots=True)
class Field:
    """A record field or variant tag; `name` is kept only to shape Python values (the wire knows ids)."""

    name: str | None
    id: int
    type: Type

    @classmethod
    def of(cls, label: str | int, type: Type) -> Field:
        if isinstance(label, int):
            return cls(None, label, type)
        return cls(label, idl_hash(label), type)

    @property
    def key(self) -> str | int:
        """The Python dict key for this field: its name, or its numeric id when it has none."""
        return self.name if self.name is not None else self.id


def _index_fields(kind: str, fields: tuple[Field, ...]) -> tuple[Field, ...]:
    ordered = tuple(sorted(fields, key=lambda f: f.id))
    for f in ordered:
        if not 0 <= f.id < 2**32:
            raise CandidError(f"{kind} field id {f.id} out of range")
    for a, b in itertools.pairwise(ordered):
        if a.id == b.id:
            raise CandidError(f"{kind} has two fields with id {a.id} ({a.key!r}, {b.key!r})")
    return ordered


@dataclass(frozen=True, slots=True)
class Record:
    """Fields are kept sorted by id, the order the binary format requires."""

    fields: tuple[Field, ...]
    by_id: dict[int, Field] = field(init=False, repr=False, compare=False, hash=False)
    is_tuple: bool = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        ordered = _index_fields("record", self.fields)
        object.__setattr__(self, "fields", ordered)
        object.__setattr__(self, "by_id", {f.id: f for f in ordered})
        tuple_like = bool(ordered) and all(f.name is None and f.id == i for i, f in enumerate(ordered))
        object.__setattr__(self, "is_tuple", tuple_like)


@dataclass(frozen=True, slots=True)
class Variant:
    """Tags are kept sorted by id; a value's tag is encoded as its position in that order."""

    fields: tuple[Field, ...]
    by_id: dict[int, Field] = field(init=False, repr=False, compare=False, hash=False)
    by_key: dict[str | int, tuple[int, Field]] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        ordered = _index_fields("variant", self.fields)
        object.__setattr__(self, "fields", ordered)
        object.__setattr__(self, "by_id", {f.id: f for f in ordered})
        object.__setattr__(self, "by_key", {f.key: (i, f) for i, f in enumerate(ordered)})


@dataclass(frozen=True, slots=True)
class Func:
    args: tuple[Type, ...]
    results: tuple[Type, ...]
    modes: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.modes <= MODES:
            raise CandidError(f"unknown function annotation {sorted(self.modes - MODES)}")


@dataclass(frozen=True, slots=True)
class Service:
    """Methods sorted by name (the binary order); a method's type is a `Func` or a `Knot` naming one."""

    methods: tuple[tuple[str, Type], ...]
    by_name: dict[str, Type] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.methods, key=lambda m: m[0]))
        for (a, _), (b, _) in itertools.pairwise(ordered):
            if a == b:
                raise CandidError(f"service has two methods named {a!r}")
        object.__setattr__(self, "methods", ordered)
        object.__setattr__(self, "by_name", dict(ordered))


@dataclass(frozen=True, slots=True)
class Future:
    """A type-table entry with an opcode from a later spec version; only its values' framing is known."""

    opcode: int


class Knot:
    """A named reference to a type, tied after all definitions are known so that types can be recursive.

    Compared by identity: structural equality of a cyclic graph would never terminate.
    """

    __slots__ = ("_target", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._target: Type | None = None

    def tie(self, target: Type) -> None:
        if self._target is not None:
            raise CandidError(f"type {self.name} defined twice")
        self._target = resolve(target)

    @property
    def target(self) -> Type:
        if self._target is None:
            raise CandidError(f"type {self.name} is not defined")
        return self._target

    def __repr__(self) -> str:
        return f"Knot({self.name})"


Type = Prim | Opt | Vec | Record | Variant | Func | Service | Future | Knot


def resolve(t: Type) -> Type:
    """The type a (possibly named) type stands for; never returns a `Knot`."""
    while type(t) is Knot:
        t = t.target
    return t


def is_nullable(t: Type) -> bool:
    """`null <: t`: such a value may be absent (missing argument or field) and then reads as None."""
    t = resolve(t)
    return t is NULL or t is RESERVED or isinstance(t, Opt)


def kind(t: Type) -> str:
    """A one-word description of a type's head, for error messages."""
    t = resolve(t)
    if isinstance(t, Prim):
        return t.name.lower()
    return "future type" if isinstance(t, Future) else type(t).__name__.lower()


@dataclass(frozen=True, slots=True)
class Some:
    """`opt v` where a bare None would be ambiguous: the option's content is itself null, reserved or opt."""

    value: object


@dataclass(frozen=True, slots=True)
class FuncRef:
    """A function reference value: a method of a service."""

    principal: Principal
    method: str
