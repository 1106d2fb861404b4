"""The Store Forever artifact canister, emulated (contract: `shared/spec/artifact-api.md`).

Registered with the emulator as kind `artifact` (`emulator.canisters.artifact:ArtifactCanister`);
`inspection` holds the read-only views the admin API serves.
"""

from __future__ import annotations

from emulator.canisters.artifact.canister import ArtifactCanister
from emulator.canisters.artifact.limits import CONFIG_KEYS, Limits, LimitsError

__all__ = ["CONFIG_KEYS", "ArtifactCanister", "Limits", "LimitsError"]
