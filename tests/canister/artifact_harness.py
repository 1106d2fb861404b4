"""Drives `ArtifactCanister` through the real `CanisterHost`: a stable store, a clock the test moves.

Arguments are Candid-encoded with the canister's own interface, run by the host exactly as the
replica runs them (decode, execute in `atomic()`, encode, request status recorded for updates) and
the reply decoded back, so a test sees the Python values a client would and can inspect the tables
underneath. A reject (a trap) comes out as `Rejected`.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.candid import decode_args, encode_args
from emulator.canisters.artifact import ArtifactCanister
from emulator.principal import Principal
from emulator.protocol.errors import Reject
from emulator.runtime.canister import CallContext
from emulator.runtime.clock import CanisterClock
from emulator.runtime.host import CanisterHost, Replied
from emulator.runtime.stable_store import StableStore

CANISTER_ID = Principal.from_text("uxrrr-q7777-77774-qaaaq-cai")
ALICE = Principal.self_authenticating(b"alice")
BOB = Principal.self_authenticating(b"bob")
ANON = Principal.anonymous()
START_NS = 1_700_000_000_000_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR

# Small limits keep uploads fast; tests that need the defaults build their own harness.
SMALL_LIMITS: dict[str, Any] = {
    "max_asset_size": 8 * 1024,
    "max_chunk_size": 1024,
    "max_chunk_count": 16,
    "max_active_sessions": 3,
    "daily_upload_quota": 1000,
    "byte_quota": 10_000_000,
    "max_metadata_size": 64 * 1024,
}

_counter = itertools.count(1)


def new_uuid() -> str:
    return str(uuid.uuid4())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def payload(size: int) -> bytes:
    """Distinct deterministic bytes for each call, so two assets never collide by accident."""
    seed = next(_counter).to_bytes(4, "big")
    out = bytearray()
    block = seed
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def chunks_of(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


class Rejected(Exception):
    """The host answered a call with a reject (a trap, a decoding error) instead of a reply."""

    def __init__(self, reject: Reject) -> None:
        super().__init__(f"{reject.code.name} {reject.error_code}: {reject.message}")
        self.reject = reject


class TestClock(CanisterClock):
    """The canister clock read straight from the test's `now`: every message in one step sees it exactly.

    The production clock adds 1 ns per reading to stay strictly increasing; tests that compare
    stored timestamps with `h.now` need the value they set.
    """

    def now(self) -> int:
        return self._wall() + self.offset_ns


@dataclass
class Harness:
    config: Mapping[str, Any] = field(default_factory=lambda: dict(SMALL_LIMITS))
    store: StableStore = field(default_factory=lambda: StableStore(":memory:"))
    now: int = START_NS
    host: CanisterHost = field(init=False)

    def __post_init__(self) -> None:
        """Install on an empty store; on one with state, start as the host does after a restart."""
        self.host = CanisterHost(
            canister_id=CANISTER_ID,
            canister_cls=ArtifactCanister,
            store=self.store,
            clock=TestClock(self.store, wall_clock=lambda: self.now),
            config=self.config,
            wall_clock=lambda: self.now,
        )

    @property
    def canister(self) -> ArtifactCanister:
        instance = self.host.instance
        assert isinstance(instance, ArtifactCanister)
        return instance

    def _ctx(self, caller: Principal, method: str) -> CallContext:
        return CallContext(
            caller=caller, time_ns=self.now, canister_id=CANISTER_ID, method=method, db=self.store.conn
        )

    def advance(self, delta_ns: int) -> int:
        self.now += delta_ns
        return self.now

    def _encode(self, method: str, mode: str, args: tuple[Any, ...]) -> bytes:
        exported = ArtifactCanister.exported_methods()
        assert method in exported, f"{method} is not exported"
        actual_mode, _ = exported[method]
        assert actual_mode == mode, f"{method} is a {actual_mode}, not a {mode}"
        return encode_args(self.host.interface.service[method].args, list(args))

    def _decode(self, method: str, reply: bytes) -> Any:
        values = decode_args(reply, self.host.interface.service[method].results)
        if len(values) == 1:
            return values[0]
        return None if not values else tuple(values)

    def call(self, caller: Principal, method: str, *args: Any) -> Any:
        status = self.host.call(
            request_id=hashlib.sha256(f"{uuid.uuid4()}:{method}".encode()).digest(),
            sender=caller,
            method=method,
            arg=self._encode(method, "update", args),
            ingress_expiry=self.now + 4 * MINUTE,
        )
        if status.reject is not None:
            raise Rejected(status.reject)
        assert status.reply is not None, status
        return self._decode(method, status.reply)

    def query(self, caller: Principal, method: str, *args: Any) -> Any:
        outcome = self.host.query(sender=caller, method=method, arg=self._encode(method, "query", args))
        if not isinstance(outcome, Replied):
            raise Rejected(outcome)
        return self._decode(method, outcome.arg)

    def run_cleanup_timer(self) -> None:
        (timer,) = self.canister.timers()
        self.host.fire_timer(timer.name)

    def upgrade(self, config: Mapping[str, Any] | None = None) -> None:
        """`install_code` in upgrade mode through the host; new limits come in as the new config."""
        if config is not None:
            self.config = config
            self.host.config = config
        self.host.upgrade()

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        with self.store.read() as db:
            return list(db.execute(statement, args))

    def count(self, table: str, where: str = "1", *args: Any) -> int:
        return int(self.sql(f"SELECT COUNT(*) FROM {table} WHERE {where}", *args)[0][0])

    def state(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every artifact table except the audit trail (refusals are audited, by design)."""
        with self.store.read() as db:
            tables = [
                r[0]
                for r in db.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'af\\_%' ESCAPE '\\' "
                    "AND name != 'af_audit' ORDER BY name"
                )
            ]
            return {t: sorted(db.execute(f"SELECT * FROM {t}"), key=repr) for t in tables}

    # -- convenience flows ---------------------------------------------------------------------------

    def begin(
        self,
        caller: Principal,
        memory_id: str,
        data: bytes,
        *,
        chunk_size: int | None = None,
        expected_hash: str | None = None,
    ) -> Any:
        size = chunk_size or int(self.config.get("max_chunk_size", 1024))
        count = len(chunks_of(data, size))
        return self.call(
            caller, "begin_asset_upload", memory_id, expected_hash or sha(data), count, len(data)
        )

    def upload(self, caller: Principal, memory_id: str, data: bytes, *, chunk_size: int | None = None) -> str:
        """Begin, put every chunk, commit; returns the session id."""
        size = chunk_size or int(self.config.get("max_chunk_size", 1024))
        begun = self.begin(caller, memory_id, data, chunk_size=size)
        assert begun["success"], begun
        session_id: str = begun["data"]["session"]["session_id"]
        for index, chunk in enumerate(chunks_of(data, size)):
            put = self.call(caller, "put_chunk", session_id, index, chunk)
            assert put["success"], put
        committed = self.call(caller, "commit_asset", session_id, sha(data))
        assert committed["success"], committed
        return session_id


def metadata_value(title: str = "A title", **overrides: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "title": title,
        "description": None,
        "tags": ["a", "b"],
        "created_at": START_NS,
        "updated_at": START_NS,
        "size": None,
        "content_type": "image/jpeg",
        "custom_fields": [("k", "v")],
    }
    value.update(overrides)
    return value


def idem_key(memory_id: str, content: str = "c0ffee") -> str:
    return f"{memory_id}:metadata:{content}"


def gallery_data(owner: Principal, gallery_id: str, *, is_public: bool = False, title: str = "Summer") -> Any:
    gallery = {
        "id": gallery_id,
        "owner_principal": owner,
        "title": title,
        "description": None,
        "is_public": is_public,
        "created_at": 1,
        "updated_at": 2,
        "storage_status": {"Web2Only": None},
        "memory_entries": [
            {
                "memory_id": new_uuid(),
                "position": 0,
                "gallery_caption": "c",
                "is_featured": True,
                "gallery_metadata": "{}",
            }
        ],
    }
    return {"gallery": gallery, "owner_principal": owner}


def memory_data(data: bytes | None = b"hello", *, with_hash: bool = True) -> Any:
    return {
        "blob_ref": {
            "kind": {"ICPCapsule": None},
            "locator": "icp://memory",
            "hash": hashlib.sha256(data).digest() if (data is not None and with_hash) else None,
        },
        "data": data,
    }


def err(result: Any) -> Any:
    """The error code of a failed ICPResult, after checking the failure envelope's shape."""
    assert result["success"] is False, result
    assert result["data"] is None, result
    assert result["error"] is not None, result
    return result["error"]


def internal_text(result: Any) -> str:
    code = err(result)
    assert "Internal" in code, code
    text: str = code["Internal"]
    return text


def data_of(result: Any) -> Any:
    assert result["success"] is True, result
    assert result["error"] is None, result
    return result["data"]


class Unchanged:
    """`with Unchanged(h): ...` asserts the block left every artifact table (but the audit) as it was."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.before: dict[str, list[tuple[Any, ...]]] = {}

    def __enter__(self) -> Unchanged:
        self.before = self.harness.state()
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            assert self.harness.state() == self.before, "a refused call changed stored state"
