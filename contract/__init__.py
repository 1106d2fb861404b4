"""What both sides of the wire agree on: the artifact canister's Candid interface and the defaults.

The emulator serves this interface and the client speaks it; neither may import the other
(ARCHITECTURE.md), so the one copy of the `.did`, the default canister ids and the default ports live
here, in a package that imports nothing of the project.
"""

from __future__ import annotations

from importlib import resources

__all__ = [
    "ARTIFACT_CANISTER_ID",
    "DEFAULT_ADMIN_PORT",
    "DEFAULT_ADMIN_URL",
    "DEFAULT_PORT",
    "DEFAULT_URL",
    "EXAMPLE_CANISTER_ID",
    "artifact_did",
]

ARTIFACT_CANISTER_ID = "uxrrr-q7777-77774-qaaaq-cai"
"""What a fresh `dfx deploy`/`icp deploy` on a PocketIC-based local network gives the first canister,
so an app's `.env` written against a local network keeps working against the emulator unchanged."""

EXAMPLE_CANISTER_ID = "u6s2n-gx777-77774-qaaba-cai"
"""The second id of such a network: where the emulator's small test canister lives beside it."""

DEFAULT_PORT = 4943
DEFAULT_ADMIN_PORT = 4944
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
DEFAULT_ADMIN_URL = f"http://127.0.0.1:{DEFAULT_ADMIN_PORT}"


def artifact_did() -> str:
    """The artifact canister's Candid interface (`artifact.did`, package data of this package)."""
    return (resources.files(__name__) / "artifact.did").read_text(encoding="utf-8")
