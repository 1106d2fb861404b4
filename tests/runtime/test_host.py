"""The canister runtime driven directly: atomic messages, read-only queries, upgrades, timers, clock."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from emulator.candid import decode_args, encode_args
from emulator.candid.types import NAT64, TEXT
from emulator.canisters.example import ExampleCanister, ExampleCanisterV2
from emulator.principal import Principal
from emulator.protocol.errors import Reject
from emulator.protocol.state_tree import RequestStatus
from emulator.runtime.canister import CallContext, CanisterTrap, Timer, query, update
from emulator.runtime.clock import CanisterClock, ClockError
from emulator.runtime.host import CanisterHost, Replied
from emulator.runtime.stable_store import StableStore

CID = Principal.from_text("u6s2n-gx777-77774-qaaba-cai")
ALICE = Principal.self_authenticating(b"alice-key")
EMPTY = encode_args([], [])


class FakeWall:
    def __init__(self) -> None:
        self.now = 1_700_000_000_000_000_000

    def __call__(self) -> int:
        return self.now


def make_host(path: Path | str, cls: type = ExampleCanister, wall: FakeWall | None = None) -> CanisterHost:
    wall = wall or FakeWall()
    store = StableStore(path)
    return CanisterHost(CID, cls, store, CanisterClock(store, wall), wall_clock=wall)


def call(host: CanisterHost, method: str, arg: bytes = EMPTY, rid: bytes | None = None) -> RequestStatus:
    status = host.call(
        request_id=rid or method.encode().ljust(32, b"\0"),
        sender=ALICE,
        method=method,
        arg=arg,
        ingress_expiry=host.wall_clock() + 60_000_000_000,
    )
    return status


def counter(host: CanisterHost) -> int:
    outcome = host.query(sender=ALICE, method="get", arg=EMPTY)
    assert isinstance(outcome, Replied)
    return int(decode_args(outcome.arg, [NAT64])[0])


def test_update_commits_and_a_trap_rolls_back_only_its_own_message(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    status = call(host, "inc", rid=b"1" * 32)
    assert status.status == "replied" and status.reply is not None
    assert decode_args(status.reply, [NAT64]) == [1]
    trapped = call(host, "fail", encode_args([TEXT], ["boom"]), rid=b"2" * 32)
    assert trapped.status == "rejected" and trapped.reject is not None
    assert (int(trapped.reject.code), trapped.reject.error_code) == (5, "IC0503")
    assert trapped.reject.message.endswith("Canister called `ic0.trap` with message: 'boom'.")
    assert counter(host) == 1


def test_resubmitted_request_id_is_answered_without_running_again(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    first = call(host, "inc", rid=b"x" * 32)
    second = call(host, "inc", rid=b"x" * 32)
    assert first == second
    assert counter(host) == 1
    assert host.request_status(b"x" * 32) == first


def test_wrong_candid_and_unknown_methods_are_rejects_not_crashes(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    bad = call(host, "fail", encode_args([NAT64], [5])).reject
    assert bad is not None and bad.message.startswith(
        f"Error from Canister {CID}: Canister called `ic0.trap` with message: "
        "'failed to decode call arguments:"
    )
    missing = call(host, "nope").reject
    assert missing is not None and missing.error_code == "IC0536"
    outcome = host.query(sender=ALICE, method="inc", arg=EMPTY)
    assert isinstance(outcome, Reject) and "has no query method 'inc'" in outcome.message


class SneakyCanister(ExampleCanister):
    CANDID = ExampleCanister.CANDID.replace("service : {", "service : {\n  sneaky : () -> (nat64) query;")

    @query
    def sneaky(self, ctx: CallContext) -> int:
        ctx.db.execute("UPDATE counter SET n = 99 WHERE id = 0")
        return 0


def test_a_query_can_never_change_state(tmp_path: Path) -> None:
    # The IC's rule: a query may write while it runs; every change is discarded when it ends.
    host = make_host(tmp_path / "c.sqlite3", SneakyCanister)
    outcome = host.query(sender=ALICE, method="sneaky", arg=EMPTY)
    assert not isinstance(outcome, Reject)
    assert counter(host) == 0
    assert call(host, "inc").status == "replied"
    assert counter(host) == 1


class TrappingUpgrade(ExampleCanister):
    VERSION = "bad"

    def post_upgrade(self, ctx: CallContext) -> None:
        ctx.db.execute("UPDATE counter SET n = 1000 WHERE id = 0")
        raise CanisterTrap("migration failed")


def test_upgrade_keeps_state_changes_module_hash_and_a_failed_upgrade_rolls_back(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    call(host, "inc")
    old_instance, old_hash = host.instance, host.state().module_hash
    host.upgrade(ExampleCanisterV2)
    assert host.instance is not old_instance
    assert host.state().module_hash != old_hash
    assert counter(host) == 1
    with pytest.raises(CanisterTrap):
        host.upgrade(TrappingUpgrade)
    assert host.canister_cls is ExampleCanisterV2
    assert counter(host) == 1


def test_restart_with_the_same_store_keeps_state_and_root_tables(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite3"
    host = make_host(path)
    call(host, "inc", rid=b"r" * 32)
    host.store.close()
    again = make_host(path)
    assert counter(again) == 1
    assert again.request_status(b"r" * 32) is not None


class TimedCanister(ExampleCanister):
    CANDID = ExampleCanister.CANDID.replace("service : {", "service : {\n  noop : () -> ();")

    def timers(self) -> list[Timer]:
        return [Timer("tick", 60 * 10**9, self._tick)]

    def _tick(self, ctx: CallContext) -> None:
        ctx.db.execute("UPDATE counter SET n = n + 1 WHERE id = 0")

    @update
    def noop(self, ctx: CallContext) -> None:
        return None


def test_timers_fire_as_virtual_time_passes_and_are_rearmed_after_upgrade(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3", TimedCanister)
    assert host.run_due_timers() == []
    host.advance_clock(61 * 10**9)
    assert counter(host) == 1
    host.advance_clock(3600 * 10**9)  # a long jump fires a periodic timer once, not 60 times
    assert counter(host) == 2
    host.upgrade()
    assert host.run_due_timers() == []
    host.advance_clock(61 * 10**9)
    assert counter(host) == 3


def test_clock_only_moves_forward_and_survives_restart(tmp_path: Path) -> None:
    wall = FakeWall()
    host = make_host(tmp_path / "c.sqlite3", wall=wall)
    t0 = host.clock.now()
    host.advance_clock(10**12)
    assert host.clock.now() >= t0 + 10**12
    with pytest.raises(ClockError), host.store.atomic():
        host.clock.advance(-1)
    host.store.close()
    again = make_host(tmp_path / "c.sqlite3", wall=wall)
    assert again.clock.offset_ns == 10**12


def test_reinstall_wipes_tables_with_foreign_keys(tmp_path: Path) -> None:
    host = make_host(tmp_path / "c.sqlite3")
    with host.store.atomic() as db:
        db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
        db.execute("CREATE TABLE child (id INTEGER PRIMARY KEY, p INTEGER REFERENCES parent(id))")
        db.execute("INSERT INTO parent VALUES (1)")
        db.execute("INSERT INTO child VALUES (1, 1)")
    call(host, "inc")
    host.reinstall()
    assert counter(host) == 0
    tables = {r[0] for r in host.store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "child" not in tables and "parent" not in tables
    assert call(host, "inc", rid=b"after" + b"\0" * 27).status == "replied"


def test_read_transaction_rolls_back_even_when_the_body_raises(tmp_path: Path) -> None:
    store = StableStore(tmp_path / "s.sqlite3")
    with pytest.raises(sqlite3.OperationalError), store.read() as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("SELECT * FROM no_such_table")
    with store.atomic() as db:
        db.execute("CREATE TABLE t (x)")  # the read's table was never stored


def test_a_reads_writes_are_seen_inside_it_and_discarded_after(tmp_path: Path) -> None:
    # The IC's rule for queries: changes made while a query runs are thrown away when it ends.
    store = StableStore(tmp_path / "s.sqlite3")
    with store.atomic() as db:
        db.execute("CREATE TABLE t (x)")
        db.execute("INSERT INTO t VALUES (1)")
    undone: list[str] = []
    with store.read() as db:
        db.execute("INSERT INTO t VALUES (2)")
        db.execute("CREATE TABLE u (y)")
        with store.atomic() as inner:
            inner.execute("UPDATE t SET x = x + 10")
            store.on_rollback(lambda: undone.append("undo"))
        assert sorted(r[0] for r in db.execute("SELECT x FROM t")) == [11, 12]
    assert undone == ["undo"]
    with store.read() as db:
        assert [r[0] for r in db.execute("SELECT x FROM t")] == [1]
        assert db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'u'").fetchone()[0] == 0
    store.close()
    reopened = StableStore(tmp_path / "s.sqlite3")
    with reopened.read() as db:
        assert [r[0] for r in db.execute("SELECT x FROM t")] == [1]
