"""Runs one canister: decodes arguments, executes messages atomically, records request statuses.

The host is the "execution environment" half of a replica and knows nothing of HTTP. Every method is
synchronous and must be called from one thread at a time (the server uses a single-thread executor),
which gives the IC's rule that a canister executes one message at a time. Two methods are the
exception, because they touch nothing but immutable values: `decode_arguments` (so that the server
can decode a caller's argument on another thread, and a costly one never queues the canister's other
messages behind it) and `has_recorded`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.candid import ArgsEncoder, CandidError, decode_args, parse_did
from emulator.candid.did import DidFile
from emulator.principal import Principal
from emulator.protocol.errors import (
    Reject,
    RejectCode,
    canister_not_running,
    canister_stopped,
    canister_trapped,
    method_not_found,
)
from emulator.protocol.state_tree import CanisterState, RequestStatus
from emulator.runtime import canister_log
from emulator.runtime.canister import CallContext, Canister, CanisterTrap, Mode, Timer
from emulator.runtime.clock import CanisterClock
from emulator.runtime.stable_store import StableStore, StorageFull, is_storage_failure

log = logging.getLogger("emulator.host")

# Replicated replies are limited to 2 MiB and query replies to 3 MiB (IC interface spec, "Limits").
MAX_UPDATE_REPLY_BYTES = 2 * 1024 * 1024
MAX_QUERY_REPLY_BYTES = 3 * 1024 * 1024
# Request statuses stay readable until their ingress expiry plus this margin (spec: "at least until
# the expiry"); a resubmission within that time is answered from the record.
STATUS_RETENTION_MARGIN_NS = 5 * 60 * 1_000_000_000
MODULE_HASH_KEY = "module_hash"
# Set by the management canister (`update_settings`, `stop_canister`); kept in the store so they survive
# restarts. Stored controllers win over `--controller`, as the IC's state wins over how it was created.
CONTROLLERS_KEY = "controllers"
RUN_STATUS_KEY = "run_status"
# Request ids whose status this host recorded lately, so that a resubmitted update skips decoding. A
# miss (an older id, or after a restart) only means decoding once more before the stored answer.
RECENT_STATUS_IDS = 4096


@dataclass(frozen=True, slots=True)
class Replied:
    arg: bytes


Outcome = Replied | Reject


@dataclass(frozen=True, slots=True)
class DecodedArguments:
    """A method's Candid arguments decoded ahead of execution, against one interface.

    `interface` is the one they were decoded at: a canister upgraded in between has another, and the
    host then decodes again rather than run new code with values shaped by the old types.
    """

    method: str
    interface: DidFile
    values: list[Any] | None
    error: str | None  # the Candid decoder's refusal, answered as the usual decoding trap


@dataclass(slots=True)
class _ArmedTimer:
    timer: Timer
    due_ns: int


@dataclass
class CanisterHost:
    """One canister id with its code, stable store, clock and timers."""

    canister_id: Principal
    canister_cls: type[Canister]
    store: StableStore
    clock: CanisterClock
    config: Mapping[str, Any] = field(default_factory=dict)
    controllers: tuple[Principal, ...] = ()
    wall_clock: Callable[[], int] = time.time_ns
    instance: Canister = field(init=False)
    interface: DidFile = field(init=False)
    # Derived from the class once per load: `exported_methods()` walks the class with `inspect` and
    # `module_hash()` reads source files, far too slow to repeat for every message.
    _exported: dict[str, tuple[Mode, str]] = field(init=False, default_factory=dict)
    _module_hash: bytes = field(init=False, default=b"")
    # Each method's reply encoder (its Candid type table built once), valid for `_encoders_of` only:
    # an upgrade, or an upgrade rolled back, replaces the interface object, and with it the encoders.
    _reply_encoders: dict[str, ArgsEncoder] = field(init=False, default_factory=dict)
    _encoders_of: DidFile | None = field(init=False, default=None)
    _timers: list[_ArmedTimer] = field(init=False, default_factory=list)
    configured_controllers: tuple[Principal, ...] = field(init=False, default=())
    running: bool = field(init=False, default=True)
    _recent_ids: OrderedDict[bytes, None] = field(init=False, default_factory=OrderedDict)
    _recent_lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.configured_controllers = self.controllers
        self._load(self.canister_cls)
        with self.store.atomic():
            installed = self.store.get_meta(MODULE_HASH_KEY)
            if installed is None:
                self._run_lifecycle(self.instance.init, "canister_init")
            elif installed != self._module_hash:
                # The process restarted with different code: that is an upgrade of the stored state.
                self._run_lifecycle(self.instance.post_upgrade, "canister_post_upgrade")
            self.store.set_meta(MODULE_HASH_KEY, self._module_hash)
        self._arm_timers()
        self.load_management_meta()

    # -- lifecycle ---------------------------------------------------------------------------------

    def _load(self, cls: type[Canister]) -> None:
        self.canister_cls = cls
        self.instance = cls(self.config)
        self.interface = parse_did(cls.CANDID)
        self._exported = dict(cls.exported_methods())
        self._module_hash = cls.module_hash()

    def _context(self, caller: Principal, method: str) -> CallContext:
        return CallContext(
            caller=caller,
            time_ns=self.clock.now(),
            canister_id=self.canister_id,
            method=method,
            db=self.store.conn,
            on_rollback=self.store.on_rollback,
        )

    def _run_lifecycle(self, hook: Callable[[CallContext], None], name: str) -> None:
        hook(self._context(self.canister_id, name))

    def _arm_timers(self) -> None:
        now = self.clock.now()
        self._timers = [_ArmedTimer(t, now + t.interval_ns) for t in self.instance.timers()]

    def upgrade(self, new_cls: type[Canister] | None = None) -> None:
        """Simulated `install_code` in upgrade mode: pre_upgrade, discard the instance, post_upgrade.

        A trap in either hook rolls the whole upgrade back and keeps the old instance, as on the IC.
        """
        target = new_cls or self.canister_cls
        old = (self.canister_cls, self.instance, self.interface, self._exported, self._module_hash)
        try:
            with self.store.atomic():
                self._run_lifecycle(self.instance.pre_upgrade, "canister_pre_upgrade")
                self._load(target)
                self._run_lifecycle(self.instance.post_upgrade, "canister_post_upgrade")
                self.store.set_meta(MODULE_HASH_KEY, self._module_hash)
        except Exception:
            self.canister_cls, self.instance, self.interface, self._exported, self._module_hash = old
            raise
        self._arm_timers()

    def reinstall(self) -> None:
        """Empty stable memory and install afresh (used by the admin reset)."""
        self.store.wipe()
        self._forget_recorded()
        self._load(self.canister_cls)
        with self.store.atomic():
            self._run_lifecycle(self.instance.init, "canister_init")
            self.store.set_meta(MODULE_HASH_KEY, self._module_hash)
        self.clock.reload()
        self._arm_timers()
        self.load_management_meta()

    def load_management_meta(self) -> None:
        """Controllers and running status as stored (or as configured when nothing is stored)."""
        with self.store.read():
            stored = self.store.get_meta(CONTROLLERS_KEY)
            status = self.store.get_meta(RUN_STATUS_KEY)
        self.controllers = self.configured_controllers if stored is None else _decode_principals(stored)
        self.running = status != b"stopped"

    def set_controllers(self, controllers: Sequence[Principal]) -> None:
        """Inside an `atomic()`: the new list commits with the message that set it."""
        self.store.set_meta(CONTROLLERS_KEY, _encode_principals(controllers))
        self.controllers = tuple(controllers)

    def set_running(self, running: bool) -> None:
        """Inside an `atomic()`; stopped canisters refuse calls and fire no timers."""
        self.store.set_meta(RUN_STATUS_KEY, b"running" if running else b"stopped")
        self.running = running

    def state(self) -> CanisterState:
        return CanisterState(
            module_hash=self._module_hash,
            controllers=self.controllers,
            metadata={"candid:service": self.canister_cls.CANDID.encode()},
        )

    # -- messages ----------------------------------------------------------------------------------

    def decode_arguments(
        self, method: str, arg: bytes, *, fuel: int | None = None
    ) -> DecodedArguments | None:
        """Decode `arg` at the method's parameter types; safe on any thread (None: no such method).

        A pure function of the bytes and the current interface object, which an upgrade replaces but
        never mutates; the Candid cost model bounds it to about 100 ms whatever the bytes. With `fuel`
        (a lower budget) it raises `OverBudget` where that budget runs out, and otherwise gives what
        the whole budget gives (`emulator.candid.decode_args`).
        """
        interface = self.interface
        func = interface.service.get(method)
        if func is None:
            return None
        try:
            return DecodedArguments(method, interface, decode_args(arg, func.args, fuel=fuel), None)
        except CandidError as exc:
            return DecodedArguments(method, interface, None, str(exc))

    def _arguments(self, method: str, arg: bytes, decoded: DecodedArguments | None) -> list[Any]:
        """The decoded arguments, decoding here only if they were not decoded against this interface."""
        if decoded is None or decoded.interface is not self.interface or decoded.method != method:
            decoded = self.decode_arguments(method, arg)
            assert decoded is not None  # `_lookup` found the method in this interface
        if decoded.values is None:
            raise CanisterTrap(f"failed to decode call arguments: {decoded.error}")
        return decoded.values

    def _encode(self, method: str, result: Any) -> bytes:
        if self._encoders_of is not self.interface:
            self._reply_encoders, self._encoders_of = {}, self.interface
        results = self.interface.service[method].results
        encoder = self._reply_encoders.get(method)
        if encoder is None:
            encoder = self._reply_encoders[method] = ArgsEncoder(results)
        values: Sequence[Any]
        if len(results) == 0:
            values = []
        elif len(results) == 1:
            values = [result]
        else:
            values = result
        try:
            return encoder.encode(values)
        except CandidError as exc:
            raise CanisterTrap(f"failed to encode reply: {exc}") from exc

    def _lookup(self, method: str, kind: str) -> Reject | None:
        entry = self._exported.get(method)
        if entry is None or method not in self.interface.service:
            return method_not_found(self.canister_id, method, kind)  # type: ignore[arg-type]
        if kind == "query" and entry[0] != "query":
            return method_not_found(self.canister_id, method, "query")
        return None

    def _execute(
        self,
        caller: Principal,
        method: str,
        arg: bytes,
        limit: int,
        decoded: DecodedArguments | None,
        *,
        own_level: bool = True,
    ) -> Outcome:
        """Run one message inside the caller's transaction; a trap undoes only this message.

        `own_level=False` is for a query: the read it runs in is rolled back whatever happens (with
        the undos registered in it, newest first), so a savepoint of its own would undo nothing more
        and costs two statements per query.
        """
        try:
            with self.store.atomic() if own_level else contextlib.nullcontext():
                args = self._arguments(method, arg, decoded)
                fn = getattr(self.instance, self._exported[method][1])
                reply = self._encode(method, fn(self._context(caller, method), *args))
                if len(reply) > limit:
                    raise _ReplyTooLarge(len(reply), limit)
        except _ReplyTooLarge as exc:
            return Reject(
                RejectCode.CANISTER_ERROR,
                f"Error from Canister {self.canister_id}: Canister violated contract: "
                f"ic0.msg_reply_data_append: application payload size ({exc.size}) "
                f"cannot be larger than {exc.limit}.",
                "IC0504",
            )
        except CanisterTrap as exc:
            return self._trapped(str(exc), limit)
        except Exception as exc:  # a bug in canister code is a trap, never a crashed server
            if is_storage_failure(exc):  # not the canister's fault: the whole message is refused
                raise StorageFull(str(exc)) from exc
            log.exception("canister %s trapped in %s", self.canister_id, method)
            return self._trapped(f"Panicked at '{type(exc).__name__}: {exc}'", limit)
        return Replied(reply)

    def _trapped(self, message: str, limit: int) -> Reject:
        """A trap in an update is logged as on the IC (`[TRAP]: …`); a query's log is not kept."""
        if limit == MAX_UPDATE_REPLY_BYTES:  # replicated execution, inside the message's atomic()
            canister_log.append(self.store.conn, self.clock.now(), f"[TRAP]: {message}")
        return canister_trapped(self.canister_id, message)

    def call(
        self,
        *,
        request_id: bytes,
        sender: Principal,
        method: str,
        arg: bytes,
        ingress_expiry: int,
        decoded: DecodedArguments | None = None,
    ) -> RequestStatus:
        """Execute an update once; a resubmitted request id gets the stored status, not a second run.

        `decoded` is `arg` decoded by `decode_arguments` on another thread; without it (or if it was
        decoded against an interface an upgrade has since replaced) the arguments are decoded here.
        """

        def execute() -> Outcome:
            if not self.running:
                return canister_stopped(self.canister_id)
            rejected = self._lookup(method, "update")
            if rejected is not None:
                return rejected
            return self._execute(sender, method, arg, MAX_UPDATE_REPLY_BYTES, decoded)

        return self.record_call(
            request_id=request_id,
            sender=sender,
            method=method,
            ingress_expiry=ingress_expiry,
            execute=execute,
        )

    def record_call(
        self,
        *,
        request_id: bytes,
        sender: Principal,
        method: str,
        ingress_expiry: int,
        execute: Callable[[], Outcome],
    ) -> RequestStatus:
        """Run `execute` in one transaction with the request status it produces (also for `aaaaa-aa`)."""
        with self.store.atomic() as db:
            existing = self._stored_status(request_id)
            if existing is not None:
                self._remember(request_id)
                return existing
            outcome = execute()
            status = self._status(sender, outcome)
            db.execute(
                "INSERT INTO _ic_request_status (request_id, sender, method, status, reply, reject_code,"
                " reject_message, error_code, expires_at_ns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    request_id,
                    sender.raw,
                    method,
                    status.status,
                    status.reply,
                    int(status.reject.code) if status.reject else None,
                    status.reject.message if status.reject else None,
                    status.reject.error_code if status.reject else None,
                    max(ingress_expiry, self.wall_clock()) + STATUS_RETENTION_MARGIN_NS,
                ),
            )
            # Bounded clean-up through the expiry index: never a scan of all statuses.
            db.execute(
                "DELETE FROM _ic_request_status WHERE request_id IN (SELECT request_id FROM "
                "_ic_request_status WHERE expires_at_ns < ? ORDER BY expires_at_ns LIMIT 16)",
                (self.wall_clock(),),
            )
        self._remember(request_id)
        return status

    def has_recorded(self, request_id: bytes) -> bool:
        """Whether this host stored a status for `request_id` lately; safe on any thread.

        A miss costs one needless decode. A stale hit (the store was replaced by a snapshot) costs
        nothing wrong either: the stored status is looked up anyway, and a message that must run
        after all is decoded on the canister's thread.
        """
        with self._recent_lock:
            return request_id in self._recent_ids

    def _remember(self, request_id: bytes) -> None:
        with self._recent_lock:
            self._recent_ids[request_id] = None
            self._recent_ids.move_to_end(request_id)
            if len(self._recent_ids) > RECENT_STATUS_IDS:
                self._recent_ids.popitem(last=False)

    def _forget_recorded(self) -> None:
        with self._recent_lock:
            self._recent_ids.clear()

    def query(
        self, *, sender: Principal, method: str, arg: bytes, decoded: DecodedArguments | None = None
    ) -> Outcome:
        """Execute a query; whatever it does to the store is rolled back (`decoded`: as for `call`)."""
        if not self.running:
            return canister_not_running(self.canister_id)
        rejected = self._lookup(method, "query")
        if rejected is not None:
            return rejected
        with self.store.read():
            return self._execute(sender, method, arg, MAX_QUERY_REPLY_BYTES, decoded, own_level=False)

    def _status(self, sender: Principal, outcome: Outcome) -> RequestStatus:
        if isinstance(outcome, Replied):
            return RequestStatus(
                status="replied", sender=sender, canister_id=self.canister_id, reply=outcome.arg, reject=None
            )
        return RequestStatus(
            status="rejected", sender=sender, canister_id=self.canister_id, reply=None, reject=outcome
        )

    def _stored_status(self, request_id: bytes) -> RequestStatus | None:
        row = self.store.conn.execute(
            "SELECT sender, status, reply, reject_code, reject_message, error_code "
            "FROM _ic_request_status WHERE request_id = ?",
            (request_id,),
        ).fetchone()
        if row is None:
            return None
        sender, status, reply, code, message, error_code = row
        reject = Reject(RejectCode(code), message, error_code) if code is not None else None
        return RequestStatus(
            status=status,
            sender=Principal(bytes(sender)),
            canister_id=self.canister_id,
            reply=None if reply is None else bytes(reply),
            reject=reject,
        )

    def request_status(self, request_id: bytes) -> RequestStatus | None:
        with self.store.read():
            return self._stored_status(request_id)

    # -- emulator-only inspection (admin API) --------------------------------------------------------

    def inspect(self, view: str, params: Mapping[str, str]) -> Any:
        with self.store.read() as db:
            return self.instance.inspect(db, view, params)

    def figures(self) -> Mapping[str, float]:
        with self.store.read() as db:
            return self.instance.figures(db)

    def asset_chunk_count(self, key: str) -> int | None:
        with self.store.read() as db:
            return self.instance.asset_chunk_count(db, key)

    def asset_chunk(self, key: str, index: int) -> bytes:
        with self.store.read() as db:
            return self.instance.asset_chunk(db, key, index)

    def restore(self, snapshot_db: Path) -> None:
        """Replace the stable store with a snapshot and start a fresh instance on it (like a restart)."""
        self.store.restore_from(snapshot_db)
        self._forget_recorded()
        self.clock.reload()
        self._load(self.canister_cls)
        with self.store.atomic():
            if self.store.get_meta(MODULE_HASH_KEY) != self._module_hash:
                self._run_lifecycle(self.instance.post_upgrade, "canister_post_upgrade")
                self.store.set_meta(MODULE_HASH_KEY, self._module_hash)
        self._arm_timers()
        self.load_management_meta()  # controllers and running status are part of the restored state

    # -- time and timers ---------------------------------------------------------------------------

    def advance_clock(self, delta_ns: int) -> int:
        """Move the canister clock forward and fire every timer that became due."""
        with self.store.atomic():
            now = self.clock.advance(delta_ns)
        self.run_due_timers()
        return now

    def run_due_timers(self) -> list[str]:
        """Fire due timers once each (a periodic timer that missed several intervals fires once)."""
        fired: list[str] = []
        if not self.running:
            return fired
        now = self.clock.now()
        for armed in self._timers:
            if armed.due_ns > now:
                continue
            self._fire(armed.timer)
            armed.due_ns = now + armed.timer.interval_ns
            fired.append(armed.timer.name)
        return fired

    def fire_timer(self, name: str) -> None:
        """Fire one timer now, due or not: lets a test run a clean-up without moving the clock."""
        (timer,) = [armed.timer for armed in self._timers if armed.timer.name == name]
        self._fire(timer)

    def _fire(self, timer: Timer) -> None:
        """One timer callback in its own transaction; a trap undoes the callback and is logged."""
        with self.store.atomic():
            try:
                with self.store.atomic():
                    timer.callback(self._context(self.canister_id, f"timer:{timer.name}"))
            except Exception:
                log.exception("timer %s trapped", timer.name)


def _encode_principals(principals: Sequence[Principal]) -> bytes:
    return b"".join(bytes([len(p.raw)]) + p.raw for p in principals)


def _decode_principals(data: bytes) -> tuple[Principal, ...]:
    out, pos = [], 0
    while pos < len(data):
        size = data[pos]
        out.append(Principal(data[pos + 1 : pos + 1 + size]))
        pos += 1 + size
    return tuple(out)


class _ReplyTooLarge(Exception):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(size, limit)
        self.size, self.limit = size, limit
