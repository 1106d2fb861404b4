"""Records and variants against the real ``.did`` and icp-py-core's codec, and the golden vectors.

No server: the typed client is driven through a recording stand-in for ``Connection`` that answers
with the golden replies agent-js encoded (``shared/vectors/contract-candid-vectors.json``); what the
client sent is decoded again at the method's argument types and compared with the golden arguments.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from clients.artifact.client import ArtifactClient, load_artifact_did, metadata_idempotency_key
from clients.artifact.errors import ValidationError
from clients.artifact.pipeline import Call, CallReport, ClientOptions
from clients.artifact.types import (
    AccessEvent,
    BlobRef,
    CandidRecord,
    Gallery,
    GalleryData,
    GalleryMemoryEntry,
    GalleryStorageStatus,
    GalleryUpdateData,
    ImageMetadata,
    Memory,
    MemoryAccess,
    MemoryBlobKind,
    MemoryData,
    MemoryInfo,
    MemoryMetadata,
    MemoryMetadataBase,
    MemoryType,
    NoteMetadata,
    PersonRef,
    SimpleMemoryMetadata,
    UploadProgress,
    UploadStatus,
    VideoMetadata,
)
from clients.ic.candid import DidService, decode_reply, encode_args
from tests.vectors import CONTRACT_CANDID_PATH

VECTORS = CONTRACT_CANDID_PATH
SERVICE = DidService.from_text(load_artifact_did())
PRINCIPAL = "yavxl-ppty4-enezb-hcalr-cdgzv-zoexx-7od3c-urvk6-rfzs4-552ct-7ae"
MID = "660e8400-e29b-41d4-a716-446655440001"


def roundtrip(method: str, value: CandidRecord, position: int = 0, *, ret: bool = True) -> Any:
    """Encode ``value`` at a method's result (or argument) type and decode it back."""
    m = SERVICE[method]
    types = m.ret_types if ret else m.arg_types
    return decode_reply(encode_args([types[position]], [value.to_candid()]), [types[position]])


BASE = MemoryMetadataBase(10, "image/png", "a.png", "2024", "2023", ("ann", "bob"), "png")
SAMPLE_MEMORY = Memory(
    MID,
    MemoryInfo(MemoryType.VIDEO, "n", "video/mp4", 1, 2, 3, 4),
    MemoryMetadata(MemoryType.VIDEO, VideoMetadata(BASE, 5, 640, 480, "thumb")),
    MemoryAccess(
        "EventTriggered",
        trigger_event=AccessEvent("Birthday", 30),
        access=MemoryAccess(
            "Scheduled",
            accessible_after=99,
            access=MemoryAccess(
                "Custom",
                individuals=(PersonRef("Principal", PRINCIPAL), PersonRef("Opaque", "x")),
                groups=("fam",),
            ),
        ),
    ),
    MemoryData(BlobRef(MemoryBlobKind.EXTERNAL, "s3://x", bytes(range(32))), b"\x00\x01"),
)


def test_nested_variants_roundtrip_through_the_codec() -> None:
    # Memory only appears inside `opt Memory` as a result; encode the opt's inner record type.
    m = SERVICE["get_memory_from_capsule"]
    inner = m.ret_types[0]._type
    decoded = decode_reply(encode_args([inner], [SAMPLE_MEMORY.to_candid()]), [inner])
    assert Memory.from_candid(decoded) == SAMPLE_MEMORY


def test_metadata_variants() -> None:
    inner = SERVICE["get_memory_from_capsule"].ret_types[0]._type
    for meta in (
        MemoryMetadata(MemoryType.IMAGE, ImageMetadata(BASE, (640, 480))),
        MemoryMetadata(MemoryType.NOTE, NoteMetadata(BASE, ("a",))),
    ):
        memory = Memory(MID, SAMPLE_MEMORY.info, meta, MemoryAccess("Public"), SAMPLE_MEMORY.data)
        assert Memory.from_candid(decode_reply(encode_args([inner], [memory.to_candid()]), [inner])) == memory
    with pytest.raises(TypeError):
        MemoryMetadata(MemoryType.AUDIO, ImageMetadata(BASE))


def test_argument_records_roundtrip() -> None:
    gallery = Gallery(
        "550e8400-e29b-41d4-a716-446655440000",
        PRINCIPAL,
        "T",
        None,
        True,
        1,
        2,
        GalleryStorageStatus.BOTH,
        (GalleryMemoryEntry(MID, 3, "cap", True, "{}"),),
    )
    data = GalleryData(gallery, PRINCIPAL)
    assert GalleryData.from_candid(roundtrip("store_gallery_forever", data, ret=False)) == data
    update = GalleryUpdateData(title="x", memory_entries=())
    assert GalleryUpdateData.from_candid(roundtrip("update_gallery", update, 1, ret=False)) == update
    meta = SimpleMemoryMetadata("t", None, ("a",), 1, 2, 3, "image/png", (("k", "v"), ("k2", "v2")))
    assert SimpleMemoryMetadata.from_candid(roundtrip("upsert_metadata", meta, 2, ret=False)) == meta


def test_json_form_is_plain() -> None:
    doc = SAMPLE_MEMORY.to_json()
    json.dumps(doc)
    assert doc["info"]["memory_type"] == "Video"
    assert doc["data"]["blob_ref"]["hash"] == bytes(range(32)).hex()


def test_enums_parse_and_refuse() -> None:
    assert MemoryType.parse(" note ") is MemoryType.NOTE
    assert UploadStatus.from_candid({"Expired": None}) is UploadStatus.EXPIRED
    with pytest.raises(ValueError):
        UploadStatus.from_candid({"Exploded": None})
    with pytest.raises(ValueError):
        UploadStatus.from_candid({"Active": None, "Failed": None})


def test_idempotency_key_is_stable_and_content_addressed() -> None:
    meta = SimpleMemoryMetadata(title="t", custom_fields=(("a", "b"),))
    k1 = metadata_idempotency_key(MID, MemoryType.IMAGE, meta)
    assert k1 == metadata_idempotency_key(
        MID, MemoryType.IMAGE, SimpleMemoryMetadata(title="t", custom_fields=(("a", "b"),))
    )
    assert re.fullmatch(MID + r":metadata:[0-9a-f]{64}", k1)
    assert k1 != metadata_idempotency_key(MID, MemoryType.NOTE, meta)
    assert k1 != metadata_idempotency_key(MID, MemoryType.IMAGE, SimpleMemoryMetadata(title="u"))


# --------------------------------------------------------------------------- golden vectors


def norm(value: Any) -> Any:
    """Vector JSON conventions -> the shapes ``clients.ic`` decodes to."""
    if isinstance(value, str) and re.fullmatch(r"-?\d+n", value):
        return int(value[:-1])
    if isinstance(value, dict):
        if set(value) == {"blob_hex"}:
            return bytes.fromhex(value["blob_hex"])
        if set(value) == {"__principal__"}:
            return value["__principal__"]
        return {k: norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [norm(v) for v in value]
    return value


class RecordingConnection:
    """Answers every call with the golden reply and keeps the argument bytes the client sent."""

    identity = None

    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.sent: list[tuple[str, str, bytes]] = []

    def query_raw(self, canister_id: str, method: str, arg: bytes) -> bytes:
        self.sent.append(("query", method, arg))
        return self.reply

    def update_raw(self, canister_id: str, method: str, arg: bytes) -> bytes:
        self.sent.append(("update", method, arg))
        return self.reply


def _opt(v: list[Any]) -> Any:
    return v[0] if v else None


CALLS: dict[str, Callable[[ArtifactClient, list[Any]], Any]] = {
    "whoami": lambda c, a: c.whoami(),
    "get_api_version": lambda c, a: c.get_api_version(),
    "register_capsule": lambda c, a: c.register_capsule(),
    "store_gallery_forever": lambda c, a: c.store_gallery_forever(GalleryData.from_candid(a[0])),
    "get_gallery_by_id": lambda c, a: c.get_gallery_by_id(a[0]),
    "get_user_galleries": lambda c, a: c.get_user_galleries(a[0]),
    "update_gallery": lambda c, a: c.update_gallery(a[0], GalleryUpdateData.from_candid(a[1])),
    "add_memory_to_capsule": lambda c, a: c.add_memory_to_capsule(a[0], MemoryData.from_candid(a[1])),
    "upsert_metadata": lambda c, a: c.upsert_metadata(
        a[0], MemoryType.from_candid(a[1]), SimpleMemoryMetadata.from_candid(a[2]), a[3]
    ),
    "get_memory_presence_icp": lambda c, a: c.get_memory_presence_icp(a[0]),
    "get_memory_list_presence_icp": lambda c, a: c.get_memory_list_presence_icp(a[0], _opt(a[1]), a[2]),
    "begin_asset_upload": lambda c, a: c.begin_asset_upload(*a),
    "put_chunk": lambda c, a: c.put_chunk(*a),
    "commit_asset": lambda c, a: c.commit_asset(*a),
    "cancel_upload": lambda c, a: c.cancel_upload(*a),
    "get_upload_progress": lambda c, a: c.get_upload_progress(*a),
    "get_user_upload_sessions": lambda c, a: c.get_user_upload_sessions(),
}

VECTOR_METHODS = json.loads(VECTORS.read_text())["methods"] if VECTORS.exists() else {}


def test_every_vector_method_has_a_typed_call() -> None:
    assert set(VECTOR_METHODS) <= set(CALLS)
    typed = {name for name in dir(ArtifactClient) if not name.startswith("_")}
    for method in SERVICE.methods:
        expected = "candid_interface" if method == "__get_candid_interface_tmp_hack" else method
        assert expected in typed, f"no typed method for {method}"


@pytest.mark.parametrize("method", sorted(VECTOR_METHODS))
def test_golden_vectors(method: str) -> None:
    vector = VECTOR_METHODS[method]
    conn = RecordingConnection(bytes.fromhex(vector["reply_hex"]))
    client = ArtifactClient(conn, "uxrrr-q7777-77774-qaaaq-cai")
    args = norm(vector["args_value"])
    if method == "put_chunk":  # the golden reply is a refusal
        with pytest.raises(ValidationError, match="Invalid chunk index"):
            CALLS[method](client, args)
    else:
        result = CALLS[method](client, args)
        assert result is not None or method in ("cancel_upload", "get_gallery_by_id")
    mode, sent_method, arg = conn.sent[0]
    assert sent_method == method
    assert mode == ("query" if SERVICE[method].is_query else "update")
    decoded = decode_reply(arg, SERVICE[method].arg_types)
    sent = [] if decoded is None else (list(decoded) if isinstance(decoded, tuple) else [decoded])
    assert sent == args


def test_golden_replies_decode_into_values() -> None:
    def call(method: str) -> Any:
        vector = VECTOR_METHODS[method]
        client = ArtifactClient(RecordingConnection(bytes.fromhex(vector["reply_hex"])))
        return CALLS[method](client, norm(vector["args_value"]))

    session = call("begin_asset_upload").session
    assert session.chunks_received == (True, False) and session.missing_chunks == (1,)
    progress = call("get_upload_progress")
    assert isinstance(progress, UploadProgress) and progress.status in UploadStatus
    gallery = call("get_gallery_by_id")
    assert isinstance(gallery, Gallery) and gallery.memory_entries[0].memory_id == MID
    assert call("commit_asset").total_bytes == 1_500_000
    assert isinstance(call("whoami"), str)


def test_with_options_keeps_observers_and_shared_state() -> None:
    class Seen:
        def __init__(self) -> None:
            self.methods: list[str] = []

        def before_call(self, call: Call) -> None:
            self.methods.append(call.method)

        def after_call(self, report: CallReport) -> None:
            pass

    seen = Seen()
    conn = RecordingConnection(bytes.fromhex(VECTOR_METHODS["whoami"]["reply_hex"]))
    base = ArtifactClient(conn, options=ClientOptions(observers=(seen,)))
    clone = base.with_options(sleep=lambda s: None, breaker=None)
    assert clone.connection is base.connection
    assert clone.options.budget is base.options.budget and clone.options.rng is base.options.rng
    assert base.options.breaker is not None and clone.options.breaker is None
    clone.whoami()
    assert seen.methods == ["whoami"], "a clone keeps the observers of the client it came from"
