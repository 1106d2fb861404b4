"""The IC management canister (`aaaaa-aa`) for the canisters the emulator hosts.

On the IC, calls to `aaaaa-aa` carry the canister they act on in their argument (`canister_id`), and the
HTTP endpoint routes them by that effective canister id; the replica checks the two agree. Here every
method acts on one `CanisterHost` and runs on that canister's worker thread, so a management message is
ordered with the canister's own messages exactly as on a subnet.

Two channels of refusal, as on the replica: what the ingress filter refuses (undecodable argument, a
caller who is not a controller, an unknown or unsupported method) is a non-replicated rejection, which
agents report as an uncertified reject (icp-cli falls back to read_state on IC0512); what execution
refuses (loading a snapshot into a running canister, an unknown snapshot) is a certified rejected status.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from emulator.candid import CandidError, decode_args, encode_args, parse_did
from emulator.canisters.management import settings as settings_store
from emulator.canisters.management.snapshots import (
    MAX_SNAPSHOTS_PER_CANISTER,
    SnapshotDirectory,
    SnapshotInfo,
)
from emulator.principal import Principal
from emulator.protocol.errors import Reject, RejectCode
from emulator.protocol.state_tree import RequestStatus
from emulator.runtime import canister_log
from emulator.runtime.host import CONTROLLERS_KEY, RUN_STATUS_KEY, CanisterHost, Outcome, Replied

MANAGEMENT_CANISTER_ID: Final = Principal.management()
INTERFACE: Final = parse_did(
    (resources.files("emulator.canisters.management") / "management.did").read_text(encoding="utf-8")
)
# A fixed balance: the emulator burns no cycles, and agents only display the figure.
REPORTED_CYCLES: Final = 100_000_000_000_000
QUERY_METHODS: Final = frozenset({"canister_status", "fetch_canister_logs"})
# Methods of the management interface the emulator does not model (it runs Python, not Wasm).
UNSUPPORTED: Final = frozenset(
    {
        "create_canister",
        "install_code",
        "install_chunked_code",
        "uninstall_code",
        "upload_chunk",
        "clear_chunk_store",
        "stored_chunks",
        "delete_canister",
        "deposit_cycles",
        "canister_info",
        "canister_metadata",
        "canister_metrics",
        "provisional_create_canister_with_cycles",
        "provisional_top_up_canister",
        "read_canister_snapshot_metadata",
        "read_canister_snapshot_data",
        "upload_canister_snapshot_metadata",
        "upload_canister_snapshot_data",
        "http_request",
        "flexible_http_request",
        "ecdsa_public_key",
        "sign_with_ecdsa",
        "schnorr_public_key",
        "sign_with_schnorr",
        "vetkd_public_key",
        "vetkd_derive_key",
        "bitcoin_get_balance",
        "bitcoin_get_utxos",
        "bitcoin_send_transaction",
        "bitcoin_get_current_fee_percentiles",
        "bitcoin_get_block_headers",
        "node_metrics_history",
        "subnet_info",
        "list_canisters",
    }
)
CONTROLLERS_ONLY: Final = frozenset(
    {
        "update_settings",
        "start_canister",
        "stop_canister",
        "take_canister_snapshot",
        "load_canister_snapshot",
        "delete_canister_snapshot",
    }
)


@dataclass(frozen=True, slots=True)
class ManagementMessage:
    """A decoded management call: its method, Candid arguments and the canister it acts on."""

    method: str
    args: list[Any]
    target: Principal | None


class EffectiveCanisterMismatch(Exception):
    """The argument's `canister_id` is not the URL's effective canister id (an HTTP 400 on the IC)."""

    def __init__(self, target: Principal, effective: Principal) -> None:
        super().__init__(
            f"Specified CanisterId {target.to_text()} does not match effective canister id in URL "
            f"{effective.to_text()}"
        )


def not_a_controller(target: Principal, controllers: tuple[Principal, ...], sender: Principal) -> Reject:
    """5 / IC0512 — the replica's `CanisterInvalidController` text (icp-cli matches the code)."""
    listed = " ".join(c.to_text() for c in controllers)
    return Reject(
        RejectCode.CANISTER_ERROR,
        f"Only the controllers of the canister {target.to_text()} can control it.\n"
        f"Canister's controllers: {listed}\nSender's ID: {sender.to_text()}",
        "IC0512",
    )


def _rejected_message(text: str) -> Reject:
    return Reject(RejectCode.CANISTER_REJECT, text, "IC0406")


def unsupported_method(method: str) -> Reject:
    """4 / IC0406 — what the emulator cannot do, with the way to do it instead."""
    return _rejected_message(
        f"The storeforever emulator hosts a model of the canister, not a Wasm module: management method "
        f"'{method}' is not available. To install another version of a hosted canister run "
        f"`storeforever emulator upgrade [--kind KIND]`; to host another canister restart the emulator "
        f"with `--canister KIND=ID` (docs/emulator.md)."
    )


def decode_message(method: str, arg: bytes, *, query: bool) -> ManagementMessage | Reject:
    """Decode a call to `aaaaa-aa` as the ingress filter does; a Reject is a non-replicated refusal."""
    if method in UNSUPPORTED:
        return unsupported_method(method)
    func = INTERFACE.service.get(method)
    if func is None:
        return Reject(RejectCode.CANISTER_REJECT, f"Management canister has no method '{method}'", "IC0407")
    if query and method not in QUERY_METHODS:
        return Reject(RejectCode.CANISTER_ERROR, f"Query method {method} not found.", "IC0536")
    if not query and method == "fetch_canister_logs":
        return Reject(
            RejectCode.CANISTER_ERROR,
            "fetch_canister_logs API is only accessible in non-replicated mode",
            "IC0504",
        )
    try:
        args = decode_args(arg, func.args)
    except CandidError as exc:
        return Reject(RejectCode.CANISTER_ERROR, f"Error decoding candid: {exc}", "IC0504")
    target = args[0].get("canister_id") if args and isinstance(args[0], Mapping) else None
    return ManagementMessage(method, args, target if isinstance(target, Principal) else None)


class ManagementCanister:
    """Executes management messages against hosts; holds nothing but where snapshots go."""

    def __init__(
        self, snapshot_root: Path | None, *, random_bytes: Callable[[int], bytes] = os.urandom
    ) -> None:
        self._snapshot_root = snapshot_root
        self._random = random_bytes

    # -- the ingress filter ------------------------------------------------------------------------

    @staticmethod
    def effective_target(message: ManagementMessage, effective: Principal) -> Principal:
        """The canister a message acts on; methods without one (raw_rand) act on the URL's canister."""
        if message.target is None:
            return effective
        if message.target != effective:
            raise EffectiveCanisterMismatch(message.target, effective)
        return message.target

    def admit(self, host: CanisterHost, sender: Principal, message: ManagementMessage) -> Reject | None:
        """Who may send what: controllers, or the viewers a visibility setting names."""
        controllers = host.controllers
        if sender in controllers or message.method == "raw_rand":
            return None
        if message.method in CONTROLLERS_ONLY:
            return not_a_controller(host.canister_id, controllers, sender)
        with host.store.read():
            current = settings_store.load(host.store)
        visibility = {
            "canister_status": "status_visibility",
            "fetch_canister_logs": "log_visibility",
            "list_canister_snapshots": "snapshot_visibility",
        }[message.method]
        if settings_store.allows(current[visibility], sender, controllers):
            return None
        if message.method != "fetch_canister_logs":
            return not_a_controller(host.canister_id, controllers, sender)
        return _rejected_message(
            f"Caller {sender.to_text()} is not allowed to query ic00 method {message.method}"
        )

    # -- execution ---------------------------------------------------------------------------------

    def call(
        self,
        host: CanisterHost,
        *,
        request_id: bytes,
        sender: Principal,
        message: ManagementMessage,
        ingress_expiry: int,
    ) -> RequestStatus | Reject:
        """An update to `aaaaa-aa`: refused by the filter, or executed once with its status recorded."""
        refused = self.admit(host, sender, message)
        if refused is not None:
            return refused
        if message.method in ("take_canister_snapshot", "load_canister_snapshot"):
            return self._outside_transaction(
                host, request_id=request_id, sender=sender, message=message, expiry=ingress_expiry
            )
        return host.record_call(
            request_id=request_id,
            sender=sender,
            method=message.method,
            ingress_expiry=ingress_expiry,
            execute=lambda: self._execute(host, sender, message),
        )

    def query(self, host: CanisterHost, sender: Principal, message: ManagementMessage) -> Outcome:
        refused = self.admit(host, sender, message)
        if refused is not None:
            return refused
        with host.store.read():
            if message.method == "fetch_canister_logs":
                return self._reply(message.method, self._logs(host.store.conn, message.args[0].get("filter")))
            return self._reply(message.method, self._status(host))

    def _execute(self, host: CanisterHost, sender: Principal, message: ManagementMessage) -> Outcome:
        """Inside the host's atomic(): a reject leaves the store as it was (nothing is written before)."""
        method, args = message.method, message.args
        if method == "raw_rand":
            return self._reply(method, self._random(32))
        if method == "canister_status":
            return self._reply(method, self._status(host))
        if method == "start_canister":
            host.set_running(True)
            self._bump_version(host)
            return self._reply(method, None)
        if method == "stop_canister":
            host.set_running(False)
            self._bump_version(host)
            return self._reply(method, None)
        if method == "update_settings":
            return self._update_settings(host, sender, args[0]["settings"])
        snapshots = self._snapshots(host)
        if snapshots is None:
            return _rejected_message("Canister snapshots need an emulator with a state directory.")
        if method == "list_canister_snapshots":
            return self._reply(method, [_snapshot_value(s) for s in snapshots.list()])
        if method == "delete_canister_snapshot":
            snapshot_id = args[0]["snapshot_id"]
            missing = _check_snapshot(snapshots, snapshot_id)
            if missing is not None:
                return missing
            snapshots.delete(snapshot_id)
            return self._reply(method, None)
        raise AssertionError(f"unhandled management method {method}")  # decode_message admits no other

    @staticmethod
    def _reply(method: str, value: Any) -> Replied:
        results = INTERFACE.service[method].results
        return Replied(encode_args(results, [] if len(results) == 0 else [value]))

    @staticmethod
    def _bump_version(host: CanisterHost) -> None:
        raw = host.store.get_meta("canister_version")
        host.store.set_meta("canister_version", str(int(raw or b"0") + 1).encode())

    def _update_settings(self, host: CanisterHost, sender: Principal, update: Mapping[str, Any]) -> Outcome:
        controllers = update.get("controllers")
        if controllers is not None and len(controllers) > settings_store.MAX_CONTROLLERS:
            return Reject(
                RejectCode.CANISTER_ERROR,
                "Could not validate the settings: Invalid settings: 'controllers' length exceeds maximum "
                f"size allowed of {settings_store.MAX_CONTROLLERS}. ",
                "IC0504",
            )
        try:
            updated = settings_store.apply(settings_store.load(host.store), update)
        except settings_store.InvalidSettings as exc:
            return Reject(RejectCode.CANISTER_ERROR, f"Could not validate the settings: {exc} ", "IC0504")
        log_limit = update.get("log_memory_limit")
        if log_limit is not None and not 0 < log_limit <= canister_log.MAX_LOG_MEMORY_LIMIT_BYTES:
            return Reject(
                RejectCode.CANISTER_ERROR,
                f"Could not validate the settings: log_memory_limit must be between 1 and "
                f"{canister_log.MAX_LOG_MEMORY_LIMIT_BYTES} bytes. ",
                "IC0504",
            )
        settings_store.save(host.store, updated)
        if log_limit is not None:
            canister_log.set_memory_limit(host.store.conn, int(log_limit))
        if controllers is not None:
            host.set_controllers(list(dict.fromkeys(controllers)))
        self._bump_version(host)
        del sender
        return self._reply("update_settings", None)

    def _status(self, host: CanisterHost) -> dict[str, Any]:
        current = settings_store.load(host.store)
        stored_bytes = _database_bytes(host.store.conn)
        snapshots = self._snapshots(host)
        snapshots_size = snapshots.total_size() if snapshots is not None else 0
        return {
            "status": {"running" if host.running else "stopped": None},
            "ready_for_migration": False,
            "version": int(host.store.get_meta("canister_version") or b"0"),
            "settings": {
                **current,
                "controllers": list(host.controllers),
                "log_memory_limit": canister_log.memory_limit(host.store.conn),
            },
            "module_hash": host.state().module_hash,
            "memory_size": stored_bytes + snapshots_size,
            "memory_metrics": {
                "wasm_memory_size": 0,
                "stable_memory_size": stored_bytes,
                "global_memory_size": 0,
                "wasm_binary_size": 0,
                "custom_sections_size": len(host.canister_cls.CANDID.encode()),
                "canister_history_size": 0,
                "wasm_chunk_store_size": 0,
                "snapshots_size": snapshots_size,
                "log_memory_store_size": canister_log.stored_bytes(host.store.conn),
            },
            "cycles": REPORTED_CYCLES,
            "reserved_cycles": 0,
            "idle_cycles_burned_per_day": 0,
            "query_stats": {
                "num_calls_total": 0,
                "num_instructions_total": 0,
                "request_payload_bytes_total": 0,
                "response_payload_bytes_total": 0,
            },
        }

    @staticmethod
    def _logs(db: sqlite3.Connection, log_filter: Mapping[str, Any] | None) -> dict[str, Any]:
        def wanted(record: canister_log.LogRecord) -> bool:
            if not log_filter:
                return True
            ((kind, bounds),) = log_filter.items()
            key = record.idx if kind == "by_idx" else record.timestamp_nanos
            return bool(bounds["start"] <= key < bounds["end"])

        return {
            "canister_log_records": [
                {"idx": r.idx, "timestamp_nanos": r.timestamp_nanos, "content": r.content}
                for r in canister_log.records(db)
                if wanted(r)
            ]
        }

    # -- snapshots ---------------------------------------------------------------------------------

    def _snapshots(self, host: CanisterHost) -> SnapshotDirectory | None:
        root = self._snapshot_root
        if root is None and host.store.path is not None:
            root = host.store.path.parent.parent / "snapshots"
        return None if root is None else SnapshotDirectory(root, host.canister_id)

    def _load_check(self, host: CanisterHost, snapshot_id: bytes) -> tuple[Reject | None, Path | None]:
        snapshots = self._snapshots(host)
        if snapshots is None:
            return _rejected_message("Canister snapshots need an emulator with a state directory."), None
        missing = _check_snapshot(snapshots, snapshot_id)
        if missing is not None:
            return missing, None
        if host.running:
            return (
                Reject(
                    RejectCode.CANISTER_ERROR,
                    f"Canister {host.canister_id.to_text()} must be stopped before loading a snapshot.",
                    "IC0510",
                ),
                None,
            )
        return None, snapshots.data_file(snapshot_id)

    def _outside_transaction(
        self,
        host: CanisterHost,
        *,
        request_id: bytes,
        sender: Principal,
        message: ManagementMessage,
        expiry: int,
    ) -> RequestStatus:
        """Snapshots copy or replace the whole store, which cannot happen inside one of its own
        transactions: the work is done first, on the canister's worker thread (so no other message of
        the canister runs in between), and the request status is recorded after it."""
        known = host.request_status(request_id)
        if known is not None:
            return known
        if message.method == "take_canister_snapshot":
            outcome = self._take_snapshot(host, message.args[0].get("replace_snapshot"))
        else:
            outcome = self._load_snapshot(host, message.args[0]["snapshot_id"])
        return host.record_call(
            request_id=request_id,
            sender=sender,
            method=message.method,
            ingress_expiry=expiry,
            execute=lambda: outcome,
        )

    def _take_snapshot(self, host: CanisterHost, replace: bytes | None) -> Outcome:
        snapshots = self._snapshots(host)
        if snapshots is None:
            return _rejected_message("Canister snapshots need an emulator with a state directory.")
        if replace is not None:
            missing = _check_snapshot(snapshots, replace)
            if missing is not None:
                return missing
        elif len(snapshots.list()) >= MAX_SNAPSHOTS_PER_CANISTER:
            return _rejected_message(
                f"Canister {host.canister_id.to_text()} has reached the maximum number of snapshots "
                f"allowed: {MAX_SNAPSHOTS_PER_CANISTER}."
            )
        info = snapshots.create(host.store.backup_to, host.wall_clock())
        if replace is not None:
            snapshots.delete(replace)
        return self._reply("take_canister_snapshot", _snapshot_value(info))

    def _load_snapshot(self, host: CanisterHost, snapshot_id: bytes) -> Outcome:
        """Replace the canister's state with a snapshot's; what is not state on the IC stays.

        Controllers, settings, the running status, the log and the request statuses are not part of a
        snapshot and are put back after the store is replaced (`CanisterHost.restore`).
        """
        with host.store.read():
            refused, data_file = self._load_check(host, snapshot_id)
        if refused is not None or data_file is None:
            return refused or _rejected_message("snapshot unavailable")
        with host.store.read():
            kept = _KeptAcrossLoad.capture(host.store.conn)
        host.restore(data_file)
        with host.store.atomic() as db:
            kept.put_back(db)
            self._bump_version(host)
        host.load_management_meta()
        return self._reply("load_canister_snapshot", None)


_KEPT_META: Final = (
    CONTROLLERS_KEY,
    RUN_STATUS_KEY,
    settings_store.SETTINGS_KEY,
    canister_log.LIMIT_KEY,
    "canister_version",
)


@dataclass(frozen=True, slots=True)
class _KeptAcrossLoad:
    meta: dict[str, bytes | None]
    log: list[canister_log.LogRecord]
    statuses: list[tuple[Any, ...]]

    @classmethod
    def capture(cls, db: sqlite3.Connection) -> _KeptAcrossLoad:
        meta: dict[str, bytes | None] = {}
        for key in _KEPT_META:
            row = db.execute("SELECT value FROM _ic_meta WHERE key = ?", (key,)).fetchone()
            meta[key] = None if row is None else bytes(row[0])
        statuses = db.execute(f"SELECT {_STATUS_COLUMNS} FROM _ic_request_status").fetchall()
        return cls(meta, canister_log.records(db), statuses)

    def put_back(self, db: sqlite3.Connection) -> None:
        for key, value in self.meta.items():
            db.execute("DELETE FROM _ic_meta WHERE key = ?", (key,))
            if value is not None:
                db.execute("INSERT INTO _ic_meta (key, value) VALUES (?, ?)", (key, value))
        canister_log.replace_all(db, self.log)
        db.execute("DELETE FROM _ic_request_status")
        db.executemany(
            f"INSERT INTO _ic_request_status ({_STATUS_COLUMNS}) VALUES ({', '.join('?' * 9)})", self.statuses
        )


_STATUS_COLUMNS: Final = (
    "request_id, sender, method, status, reply, reject_code, reject_message, error_code, expires_at_ns"
)


def _check_snapshot(snapshots: SnapshotDirectory, snapshot_id: bytes) -> Reject | None:
    if not snapshots.owns(snapshot_id):
        return _rejected_message(
            f"The snapshot {snapshot_id.hex()} does not belong to canister {snapshots.canister_id.to_text()}."
        )
    if snapshots.get(snapshot_id) is None:
        return Reject(
            RejectCode.DESTINATION_INVALID,
            f"Could not find the snapshot ID {snapshot_id.hex()} for canister "
            f"{snapshots.canister_id.to_text()}.",
            "IC0305",
        )
    return None


def _snapshot_value(info: SnapshotInfo) -> dict[str, Any]:
    return {
        "id": info.snapshot_id,
        "taken_at_timestamp": info.taken_at_timestamp,
        "total_size": info.total_size,
    }


def _database_bytes(db: sqlite3.Connection) -> int:
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    size = db.execute("PRAGMA page_size").fetchone()[0]
    return int(pages) * int(size)
