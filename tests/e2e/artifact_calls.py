"""Small helpers for end-to-end tests of the artifact canister through the Python adapter.

They call the canister exactly as any client of its `.did` would (icp-py-core's codec, certificate
and query-signature checks on) and unwrap the contract's `ICPResult` records, so a test reads as the
flow it checks.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from clients.ic import Connection
from contract import artifact_did

DID = artifact_did()
CANISTER = "uxrrr-q7777-77774-qaaaq-cai"


def new_id() -> str:
    return str(uuid.uuid4())


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class CallFailed(AssertionError):
    def __init__(self, method: str, error: Any) -> None:
        super().__init__(f"{method} failed: {error}")
        self.error = error


@dataclass
class Artifact:
    conn: Connection
    canister_id: str = CANISTER

    def __post_init__(self) -> None:
        self.proxy = self.conn.canister(self.canister_id, DID)

    def raw(self, method: str, *args: Any) -> Any:
        return getattr(self.proxy, method)(*args)

    def ok(self, method: str, *args: Any) -> Any:
        """The payload of a successful `ICPResult`, or CallFailed carrying its error variant."""
        result = self.raw(method, *args)
        if not result["success"]:
            raise CallFailed(method, result["error"][0] if result["error"] else None)
        return result["data"][0] if result["data"] else None

    def error(self, method: str, *args: Any) -> Any:
        result = self.raw(method, *args)
        assert not result["success"], f"{method} unexpectedly succeeded: {result}"
        return result["error"][0]

    # -- flows -------------------------------------------------------------------------------------

    def begin(self, memory_id: str, data: bytes, chunks: int) -> dict[str, Any]:
        response = self.ok("begin_asset_upload", memory_id, sha(data), chunks, len(data))
        return dict(response["session"][0])

    def put(self, session_id: str, index: int, chunk: bytes) -> dict[str, Any]:
        return dict(self.ok("put_chunk", session_id, index, chunk))

    def commit(self, session_id: str, data: bytes) -> dict[str, Any]:
        return dict(self.ok("commit_asset", session_id, sha(data)))

    def upload(self, memory_id: str, data: bytes, chunk_size: int) -> dict[str, Any]:
        parts = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]
        session = self.begin(memory_id, data, len(parts))
        for index, part in enumerate(parts):
            self.put(session["session_id"], index, part)
        return self.commit(session["session_id"], data)

    def presence(self, memory_id: str) -> tuple[bool, bool]:
        payload = self.ok("get_memory_presence_icp", memory_id)
        return bool(payload["metadata_present"]), bool(payload["asset_present"])

    def progress(self, session_id: str) -> dict[str, Any]:
        return dict(self.ok("get_upload_progress", session_id))

    def store_gallery(self, gallery_id: str, memory_ids: list[str], title: str = "Holiday") -> dict[str, Any]:
        owner = self.conn.identity.sender().to_str()
        gallery = {
            "id": gallery_id,
            "owner_principal": owner,
            "title": title,
            "description": [f"{len(memory_ids)} memories"],
            "is_public": False,
            "created_at": 0,
            "updated_at": 0,
            "storage_status": {"Web2Only": None},
            "memory_entries": [
                {
                    "memory_id": m,
                    "position": i,
                    "gallery_caption": [],
                    "is_featured": i == 0,
                    "gallery_metadata": "{}",
                }
                for i, m in enumerate(memory_ids)
            ],
        }
        return dict(self.raw("store_gallery_forever", {"gallery": gallery, "owner_principal": owner}))

    def upsert_metadata(self, memory_id: str, title: str) -> dict[str, Any]:
        metadata = {
            "title": [title],
            "description": [],
            "tags": ["e2e"],
            "created_at": 1,
            "updated_at": 1,
            "size": [],
            "content_type": ["image/jpeg"],
            "custom_fields": [],
        }
        key = f"{memory_id}:metadata:{sha(title.encode())}"
        return dict(self.ok("upsert_metadata", memory_id, {"Image": None}, metadata, key))
