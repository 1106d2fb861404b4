"""Parity snapshots: every reply a test saw, normalised so two targets' runs can be compared.

Why normalise instead of comparing raw replies: ids the test generates (UUIDs), ids the target
generates (session and capsule ids, cursors), principals of generated keys and clock readings differ
on every run and every target, yet *where* the same value reappears matters ("the resumed session is
the session begun before"). So, as in LocalStack's snapshot transformers, each such value becomes a
placeholder numbered by first appearance (`<session:1>`), the same value always the same placeholder,
also inside message texts; times become `<time>`. Hashes and byte counts stay: test data is
deterministic, so they are part of the behaviour being compared.

Snapshot files (`conformance/snapshots/<test module>.json`) map a test's name (its node id without the
file) to `{"recorded-target", "recorded-date", "replies"}`. A diff is a list of `{path, expected,
actual}` with JSONPath-like paths (`$[3].reply.data[0].message`); a test marked
`snapshot_skip("*message*")` ignores matching paths, and `snapshot_skip()` without paths opts the test
out entirely (for replies whose order depends on thread scheduling).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .catalog import ANONYMOUS

__all__ = [
    "Normaliser",
    "Recorder",
    "SnapshotStore",
    "diff",
    "filter_diffs",
    "plain",
]

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
PRINCIPAL_RE = re.compile(r"(?:[a-z2-7]{5}-)+[a-z2-7]{1,5}")
# Fields whose values the target generates: replaced by a numbered placeholder of this kind.
KEY_KINDS: Mapping[str, str] = {"session_id": "session", "capsule_id": "capsule", "cursor": "cursor"}
TIME_KEYS = frozenset(
    {"created_at", "updated_at", "expires_at", "uploaded_at", "committed_at", "finished_at", "at"}
)
DURATION_KEYS = frozenset({"estimated_time_remaining", "duration_ms"})
# Positional arguments that carry target-generated values, by method (Candid arguments are unnamed).
ARG_KEYS: Mapping[str, tuple[str | None, ...]] = {
    "put_chunk": ("session_id",),
    "commit_asset": ("session_id",),
    "cancel_upload": ("session_id",),
    "get_upload_progress": ("session_id",),
    "get_memory_list_presence_icp": (None, "cursor"),
}


def plain(value: Any) -> Any:
    """Any value the suite sees (decoded Candid, client dataclasses, enums) as JSON-ready data.

    Bytes become `bytes:<len>:<sha256 prefix>`: long enough to tell two payloads apart, short enough
    that a snapshot of a 1 MiB chunk stays one line.
    """
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return f"bytes:{len(data)}:{hashlib.sha256(data).hexdigest()[:16]}"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class Normaliser:
    """Replaces run-specific values by placeholders; one instance per test, fed in call order.

    `aliases` are placeholders a test chose for values only it can recognise (a fragment of a random
    id sent on purpose), like LocalStack's per-test transformers.
    """

    def __init__(self, aliases: Mapping[str, str] | None = None) -> None:
        self.table: dict[str, str] = {raw: name for raw, name in (aliases or {}).items() if raw}
        self._aliases = frozenset(self.table)
        self._counts: dict[str, int] = {}

    def _placeholder(self, kind: str, raw: str) -> str:
        known = self.table.get(raw)
        if known is not None:
            return known
        self._counts[kind] = self._counts.get(kind, 0) + 1
        name = f"<{kind}:{self._counts[kind]}>"
        self.table[raw] = name
        return name

    def _text(self, value: str, key: str | None) -> str:
        if key is not None and key in KEY_KINDS and value:
            return self._placeholder(KEY_KINDS[key], value)
        if value in self.table:
            return self.table[value]
        if UUID_RE.fullmatch(value):
            return self._placeholder("uuid", value)
        if value != ANONYMOUS and PRINCIPAL_RE.fullmatch(value):
            return self._placeholder("principal", value)
        # Free text (messages): known values and UUIDs inside it, longest first so a value that
        # contains another is replaced whole.
        out = UUID_RE.sub(lambda m: self._placeholder("uuid", m.group(0)), value)
        for raw in sorted(self.table, key=len, reverse=True):
            if (len(raw) >= 8 or raw in self._aliases) and raw in out:
                out = out.replace(raw, self.table[raw])
        return out

    def normalise(self, value: Any, key: str | None = None) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, int):
            if key in TIME_KEYS and value != 0:
                return "<time>"
            if key in DURATION_KEYS:
                return "<duration>"
            return value
        if isinstance(value, float):
            return value
        if isinstance(value, str):
            if key in TIME_KEYS and value.isdigit() and value != "0":
                return "<time>"  # MemoryMetadataBase.uploaded_at is a time spelled as text
            return self._text(value, key)
        if isinstance(value, Mapping):
            if "call" in value and isinstance(value.get("args"), list):
                # A recorded call: its arguments first (they are what the reply answers), by position.
                args = self._args(str(value["call"]), value["args"])
                return {k: args if k == "args" else self.normalise(v, k) for k, v in value.items()}
            return {k: self.normalise(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.normalise(v, key) for v in value]
        return value

    def _args(self, method: str, args: list[Any]) -> list[Any]:
        keys = ARG_KEYS.get(method, ())
        return [self.normalise(arg, keys[i] if i < len(keys) else None) for i, arg in enumerate(args)]


class Recorder:
    """Collects one test's calls as they complete (thread-safe: concurrency tests call from threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._aliases: dict[str, str] = {}

    def record(self, entry: Mapping[str, Any]) -> None:
        with self._lock:
            self._entries.append(plain(entry))

    def alias(self, raw: str, placeholder: str) -> None:
        """Show `raw` as `placeholder` wherever it appears (whole or inside a message)."""
        with self._lock:
            self._aliases[raw] = placeholder

    def replies(self) -> list[Any]:
        """The recorded calls, normalised in the order they completed."""
        with self._lock:
            entries = list(self._entries)
            aliases = dict(self._aliases)
        normaliser = Normaliser(aliases)
        return [normaliser.normalise(e) for e in entries]


def diff(expected: Any, actual: Any, path: str = "$") -> list[dict[str, Any]]:
    """Every place where two normalised reply lists differ, shallowest first."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        out: list[dict[str, Any]] = []
        for k in sorted(set(expected) | set(actual)):
            sub = f"{path}.{k}"
            if k not in actual:
                out.append({"path": sub, "expected": expected[k], "actual": "<missing>"})
            elif k not in expected:
                out.append({"path": sub, "expected": "<missing>", "actual": actual[k]})
            else:
                out.extend(diff(expected[k], actual[k], sub))
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        out = []
        for i in range(max(len(expected), len(actual))):
            sub = f"{path}[{i}]"
            if i >= len(actual):
                out.append({"path": sub, "expected": expected[i], "actual": "<missing>"})
            elif i >= len(expected):
                out.append({"path": sub, "expected": "<missing>", "actual": actual[i]})
            else:
                out.extend(diff(expected[i], actual[i], sub))
        return out
    if expected != actual or type(expected) is not type(actual):
        return [{"path": path, "expected": expected, "actual": actual}]
    return []


def filter_diffs(diffs: Iterable[Mapping[str, Any]], skip_paths: Sequence[str]) -> list[dict[str, Any]]:
    """Drop differences at paths a test declared as known parity debt.

    Patterns are paths as the diff prints them, where `*` matches anything (`*.message`,
    `$[*].reply*`); brackets are literal, so `$[1]` means the second reply.
    """
    patterns = [re.compile(".*".join(re.escape(part) for part in p.split("*"))) for p in skip_paths]
    return [dict(d) for d in diffs if not any(p.fullmatch(str(d["path"])) for p in patterns)]


class SnapshotStore:
    """The snapshot files of one directory, loaded lazily, written back only when changed."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._files: dict[str, dict[str, Any]] = {}
        self._dirty: set[str] = set()

    def _file(self, module: str) -> dict[str, Any]:
        if module not in self._files:
            path = self.directory / f"{module}.json"
            self._files[module] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return self._files[module]

    def get(self, module: str, name: str) -> dict[str, Any] | None:
        entry = self._file(module).get(name)
        return None if entry is None else dict(entry)

    def put(self, module: str, name: str, replies: list[Any], target: str) -> None:
        """Record a test's replies; an unchanged recording keeps its date so files only change
        when behaviour did."""
        entries = self._file(module)
        old = entries.get(name)
        if old is not None and old.get("replies") == replies and old.get("recorded-target") == target:
            return
        entries[name] = {
            "recorded-target": target,
            "recorded-date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d"),
            "replies": replies,
        }
        self._dirty.add(module)

    def prune(self, module: str, keep: set[str]) -> None:
        """Forget entries of tests that no longer exist (renamed or removed) in a module."""
        entries = self._file(module)
        for name in [n for n in entries if n not in keep]:
            del entries[name]
            self._dirty.add(module)

    def save(self) -> list[Path]:
        written = []
        self.directory.mkdir(parents=True, exist_ok=True)
        for module in sorted(self._dirty):
            path = self.directory / f"{module}.json"
            text = json.dumps(self._files[module], indent=1, sort_keys=True, ensure_ascii=False)
            path.write_text(text + "\n", encoding="utf-8")
            written.append(path)
        self._dirty.clear()
        return written
