"""`.did` parsing: syntax, names and recursion, service forms, and the errors a broken file must raise."""

from __future__ import annotations

import pytest

from emulator.candid import (
    INT,
    NAT,
    NAT8,
    NULL,
    TEXT,
    CandidError,
    Func,
    Knot,
    Opt,
    Record,
    Service,
    Variant,
    Vec,
    idl_hash,
    parse_did,
    resolve,
)


def test_comments_nest() -> None:
    did = parse_did(
        """
        // a line comment
        /* a block /* with a nested block */ still a comment */
        type A = nat; // trailing
        service : { f : (A) -> (A) /* inline */ }
        """
    )
    assert did.types == {"A": NAT}
    f = did.service["f"]
    assert [resolve(t) for t in (*f.args, *f.results)] == [NAT, NAT]  # named references stay Knots


def test_recursive_types_are_tied() -> None:
    did = parse_did(
        """
        type List = opt record { head : int; tail : List };
        type A = opt B;
        type B = record { a : A };
        """
    )
    record = did.types["List"]
    assert isinstance(record, Opt) and isinstance(record.inner, Record)
    tail = record.inner.by_id[idl_hash("tail")].type
    assert isinstance(tail, Knot) and resolve(tail) is record
    b = did.types["B"]
    assert isinstance(b, Record) and resolve(b.fields[0].type) is did.types["A"]


def test_forward_references_and_alias_chains() -> None:
    did = parse_did("type A = vec B; type B = C; type C = text;")
    a = did.types["A"]
    assert isinstance(a, Vec) and resolve(a.inner) is TEXT
    assert did.types["B"] is TEXT


def test_field_labels() -> None:
    did = parse_did(
        """
        type R = record { foo : nat; "quoted name" : text; 0x1_0 : int; 0_5 : nat; bool };
        type T = record { text; nat };
        type V = variant { 1; ok; err : text; "☃" };
        type B = blob;
        """
    )
    r = did.types["R"]
    assert isinstance(r, Record)
    labels = [
        ("foo", idl_hash("foo")),
        ("quoted name", idl_hash("quoted name")),
        (None, 16),
        (None, 5),
        (None, 6),
    ]
    assert [(f.name, f.id) for f in r.fields] == sorted(labels, key=lambda x: x[1])
    t = did.types["T"]
    assert isinstance(t, Record) and t.is_tuple and [f.id for f in t.fields] == [0, 1]
    v = did.types["V"]
    assert isinstance(v, Variant)
    assert {f.key: f.type for f in v.fields} == {1: NULL, "ok": NULL, "err": TEXT, "☃": NULL}
    assert did.types["B"] == Vec(NAT8)
    assert idl_hash("foo") == 5097222 and idl_hash("bar") == 4895187


def test_modes_quoted_methods_and_argument_names() -> None:
    did = parse_did(
        """
        type F = func (nat) -> (text) query;
        service : {
          "quoted name" : () -> ();
          "☃" : (name : text, age : nat8,) -> (id : nat64) query;
          cq : () -> () composite_query;
          fire : (int) -> () oneway;
          by_name : F;
          takes_refs : (func (nat) -> (), service { m : () -> () }) -> ();
        }
        """
    )
    modes = {name: f.modes for name, f in did.service.items()}
    assert modes == {
        "quoted name": frozenset(),
        "☃": frozenset({"query"}),
        "cq": frozenset({"composite_query"}),
        "fire": frozenset({"oneway"}),
        "by_name": frozenset({"query"}),
        "takes_refs": frozenset(),
    }
    assert len(did.service["☃"].args) == 2 and did.service["fire"].args == (INT,)
    func_arg, service_arg = did.service["takes_refs"].args
    assert func_arg == Func((NAT,), ())
    assert isinstance(service_arg, Service) and [m for m, _ in service_arg.methods] == ["m"]


@pytest.mark.parametrize(
    ("src", "methods", "args"),
    [
        ("service : { f : () -> () }", ["f"], ()),
        ("service server : { f : () -> () };", ["f"], ()),
        ("type S = service { g : () -> () }; service : S", ["g"], ()),
        ("service : (nat, text) -> { f : () -> () }", ["f"], (NAT, TEXT)),
        ("type S = service { g : () -> () }; service : (opt nat) -> S", ["g"], (Opt(NAT),)),
        ("type A = nat;", [], ()),
        ("", [], ()),
    ],
)
def test_service_forms(src: str, methods: list[str], args: tuple[object, ...]) -> None:
    did = parse_did(src)
    assert list(did.service) == methods
    assert did.service_args == args


@pytest.mark.parametrize(
    ("src", "reason"),
    [
        ("service : { f : (Missing) -> () }", "undefined type Missing"),
        ("type A = vec B;", "undefined type B"),
        ("type A = B; type B = A;", "alias cycle"),
        ("type T = T;", "alias cycle"),
        ("type A = nat; type A = text;", "type A defined twice"),
        ('import "other.did";', "import is not supported"),
        ("service : { f : () -> (); f : () -> () }", "two methods named 'f'"),
        ("type R = record { a : nat; a : text };", "two fields with id"),
        ("type R = record { 4294967296 : nat };", "does not fit in 32 bits"),
        ("type T = nat; service : { f : T }", "does not have a function type"),
        ("type S = nat; service : S", "not a service type"),
        ("service : { f : () -> (nat) oneway }", "oneway function cannot have results"),
        ("type A = nat; /* never closed", "unterminated block comment"),
        ('service : { "never closed : () -> () }', "unterminated text literal"),
        ('service : { "\\q" : () -> () }', "invalid escape sequence"),
        ('service : { "\\ff" : () -> () }', "not valid UTF-8"),
        ("type A = nat$;", "unexpected character"),
        ("type opt = nat;", "expected a type name"),
        ("type A = nat type B = nat;", "expected ';'"),
        ("service : {} type A = nat;", "expected a type definition or the service"),
        ("type A = record { a : };", "expected a type"),
        ("type A = " + "opt " * 1000 + "nat;", "nested too deeply"),
    ],
)
def test_rejected(src: str, reason: str) -> None:
    with pytest.raises(CandidError, match=reason):
        parse_did(src)
