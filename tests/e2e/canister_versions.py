"""Canister versions that tests install through the admin API's upgrade (another `module_hash`)."""

from __future__ import annotations

from emulator.canisters.artifact import ArtifactCanister
from emulator.runtime.canister import CallContext, query


class ArtifactNext(ArtifactCanister):
    """The same contract with a new version string: what `dfx deploy --mode upgrade` of new code does."""

    VERSION = "next"

    @query
    def get_api_version(self, ctx: CallContext) -> str:
        return "next"
