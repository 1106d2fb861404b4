"""A canister version whose upgrade loses the stable state (what a botched migration or a reinstall does).

Installed through the admin API's upgrade (``--kind tests.web2.canister_versions:ArtifactAmnesia``):
the contract is unchanged, but every memory, asset and gallery is gone afterwards, so a Web2 table
that still says "present" is exactly the drift the audit must report.
"""

from __future__ import annotations

from emulator.canisters.artifact import ArtifactCanister
from emulator.canisters.artifact.schema import ensure_schema
from emulator.runtime.canister import CallContext


class ArtifactAmnesia(ArtifactCanister):
    VERSION = "amnesia"

    def post_upgrade(self, ctx: CallContext) -> None:
        tables = [
            str(r[0])
            for r in ctx.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'af\\_%' ESCAPE '\\' "
                "AND name NOT IN ('af_meta', 'af_audit')"
            )
        ]
        ctx.db.execute("PRAGMA defer_foreign_keys = ON")
        for name in tables:
            ctx.db.execute(f'DELETE FROM "{name}"')
        ensure_schema(ctx.db)
