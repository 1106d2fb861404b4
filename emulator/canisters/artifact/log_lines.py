"""The lines the artifact canister prints to its canister log (`ic0.debug_print`).

A deployed canister prints what an operator needs when `icp canister logs` is all they have: uploads
begun, committed or failed, every refusal with its reason, and clean-up runs. Successful reads and
individual chunks are left out: the IC's log buffer holds a few KiB, and chunk lines would push out the
lines that matter.
"""

from __future__ import annotations

from emulator.canisters.artifact.audit import AuditEntry

UPLOAD_METHODS = frozenset({"begin_asset_upload", "commit_asset"})


def describe(entry: AuditEntry) -> str | None:
    """The log line for a finished update, or None when it is not worth a line."""
    who = entry.principal.to_text()
    if entry.outcome != "ok":
        if entry.method == "commit_asset":
            return f"upload failed: session {entry.session_id}: {entry.outcome} (caller {who})"
        target = entry.session_id or entry.memory_id or entry.gallery_id or entry.artifact
        return f"refused {entry.method} on {target}: {entry.outcome} (caller {who})"
    if entry.method == "begin_asset_upload":
        return f"upload begun: memory {entry.memory_id}, session {entry.session_id} (caller {who})"
    if entry.method == "commit_asset":
        return f"upload committed: session {entry.session_id}, {entry.bytes} bytes (caller {who})"
    return None


def cleanup(expired: int, chunks_freed: int, purged: int) -> str:
    return (
        f"clean-up: {expired} expired sessions ({chunks_freed} chunks freed), "
        f"{purged} finished sessions purged"
    )
