"""The IC management canister (`aaaaa-aa`) for the hosted canisters; its interface is `management.did`."""

from emulator.canisters.management.canister import (
    MANAGEMENT_CANISTER_ID,
    EffectiveCanisterMismatch,
    ManagementCanister,
    ManagementMessage,
    decode_message,
)

__all__ = [
    "MANAGEMENT_CANISTER_ID",
    "EffectiveCanisterMismatch",
    "ManagementCanister",
    "ManagementMessage",
    "decode_message",
]
