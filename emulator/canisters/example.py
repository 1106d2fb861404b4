"""A minimal canister that exercises every runtime path: queries, updates, traps and rollback.

It backs the replica-layer tests (agents, certificates, rejects) independently of the artifact
canister's business rules.
"""

from __future__ import annotations

from emulator.principal import Principal
from emulator.runtime.canister import CallContext, Canister, CanisterTrap, query, update

CANDID = """\
service : {
  greet : (text) -> (text) query;
  whoami : () -> (principal) query;
  whoami_update : () -> (principal);
  inc : () -> (nat64);
  get : () -> (nat64) query;
  fail : (text) -> (nat64);
  echo_blob : (blob) -> (blob);
}
"""


class ExampleCanister(Canister):
    CANDID = CANDID
    VERSION = "1"

    def init(self, ctx: CallContext) -> None:
        ctx.db.execute(
            "CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER)"
        )
        ctx.db.execute("INSERT OR IGNORE INTO counter (id, n) VALUES (0, 0)")

    def post_upgrade(self, ctx: CallContext) -> None:
        self.init(ctx)

    @staticmethod
    def _count(ctx: CallContext) -> int:
        return int(ctx.db.execute("SELECT n FROM counter WHERE id = 0").fetchone()[0])

    @query
    def greet(self, ctx: CallContext, name: str) -> str:
        return f"Hello, {name}!"

    @query
    def whoami(self, ctx: CallContext) -> Principal:
        return ctx.caller

    @update
    def whoami_update(self, ctx: CallContext) -> Principal:
        return ctx.caller

    @update
    def inc(self, ctx: CallContext) -> int:
        ctx.db.execute("UPDATE counter SET n = n + 1 WHERE id = 0")
        return self._count(ctx)

    @query
    def get(self, ctx: CallContext) -> int:
        return self._count(ctx)

    @update
    def fail(self, ctx: CallContext, message: str) -> int:
        """Writes, then traps: the write must not survive."""
        ctx.db.execute("UPDATE counter SET n = n + 1 WHERE id = 0")
        raise CanisterTrap(message)

    @update
    def echo_blob(self, ctx: CallContext, data: bytes) -> bytes:
        return data


class ExampleCanisterV2(ExampleCanister):
    """Same interface, different module hash: lets tests install "another version"."""

    VERSION = "2"
