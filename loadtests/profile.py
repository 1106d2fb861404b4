"""Load profiles: one TOML file holds Locust's own settings and everything the users and gates need.

Why one file: a profile is "what was run and what counts as passing". If the user mix lived in the
locustfile, the SLO thresholds in CI config and the emulator limits in the shell script, a change to
one could silently invalidate the others. The file has two parts:

* ``[tool.locust]``: read by Locust itself (``locust --config PROFILE.toml``): headless, users,
  spawn rate, run time, report paths.
* ``[loadtest]``: read here. ``target`` (the limits the canister under test was built with),
  ``emulator`` (durability and the ``--limit`` values ``scripts/loadtest.sh`` starts it with, each
  with the reason in a comment), ``users.<Class>`` (fixed count, wait range, class options) and
  ``slo`` (the gates).

Parsing is strict: an unknown key is an error, because a misspelt threshold that is silently ignored
is a gate that never fires.

``python -m loadtests.profile emulator-args smoke`` prints the emulator flags one per line (the shell
script uses it), ``... locust-setting smoke users`` prints one ``[tool.locust]`` value.
"""

from __future__ import annotations

import json
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .sizes import SizeDistribution

__all__ = [
    "PROFILE_DIR",
    "BigUploaderSettings",
    "EmulatorSettings",
    "GallerySettings",
    "ProberSettings",
    "Profile",
    "ProfileError",
    "ReaderSettings",
    "SloSettings",
    "TargetSettings",
    "UserSettings",
    "load_profile",
    "parse_profile",
    "resolve_profile_path",
]

PROFILE_DIR = Path(__file__).resolve().parent / "profiles"
USER_CLASSES = ("GalleryStorer", "BigUploader", "RateLimitProber", "PresenceReader")


class ProfileError(ValueError):
    """The profile file is missing, malformed, or contradicts itself."""


@dataclass(frozen=True, slots=True)
class TargetSettings:
    """The canister's limits as built (defaults: the contract's). Users size their work by these."""

    max_chunk_size: int = 1024 * 1024
    max_asset_size: int = 100 * 1024 * 1024
    max_active_sessions: int = 3
    max_listed_sessions: int = 10
    presence_page_size: int = 100


@dataclass(frozen=True, slots=True)
class EmulatorSettings:
    durability: str = "full"
    limits: Mapping[str, int] = field(default_factory=dict)

    def args(self) -> list[str]:
        """Flags for ``storeforever emulator`` (used only when the script starts the emulator)."""
        out = ["--durability", self.durability]
        for key, value in self.limits.items():
            out += ["--limit", f"{key}={value}"]
        return out


@dataclass(frozen=True, slots=True)
class UserSettings:
    count: int
    wait: tuple[float, float]


@dataclass(frozen=True, slots=True)
class GallerySettings(UserSettings):
    gallery_size: int
    asset_size: SizeDistribution
    memory_concurrency: int
    presence_page_size: int
    # Also write each gallery's icp-canister edges to the app's PostgreSQL table (storage_edges) as
    # ``store-gallery --database-url`` does; the database comes from the locust option --database-url.
    write_edges: bool = False


@dataclass(frozen=True, slots=True)
class BigUploaderSettings(UserSettings):
    asset_size: SizeDistribution
    chunk_concurrency: int


@dataclass(frozen=True, slots=True)
class ProberSettings(UserSettings):
    burst: int


@dataclass(frozen=True, slots=True)
class ReaderSettings(UserSettings):
    seed_memories: int
    seed_assets: int
    asset_size: SizeDistribution


@dataclass(frozen=True, slots=True)
class SloSettings:
    max_failure_ratio: float
    p95_ms: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    seed: int
    target: TargetSettings
    emulator: EmulatorSettings
    gallery: GallerySettings
    big: BigUploaderSettings
    prober: ProberSettings
    reader: ReaderSettings
    slo: SloSettings
    client_retries: int = 0
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def users(self) -> dict[str, UserSettings]:
        return {
            "GalleryStorer": self.gallery,
            "BigUploader": self.big,
            "RateLimitProber": self.prober,
            "PresenceReader": self.reader,
        }

    @property
    def total_users(self) -> int:
        return sum(s.count for s in self.users().values())

    @property
    def gallery_event(self) -> str:
        """The Locust request name of one whole gallery stored (e.g. ``gallery:store_1000``)."""
        return f"gallery:store_{self.gallery.gallery_size}"

    def to_json(self) -> str:
        """The ``[loadtest]`` table as JSON: what the master hands to workers that lack the file."""
        return json.dumps({"loadtest": self.raw}, sort_keys=True)


# ------------------------------------------------------------------------------------------- parsing


def resolve_profile_path(name_or_path: str) -> Path:
    """A bare name (``smoke``) is a file in ``loadtests/profiles/``; anything else is a path."""
    candidate = Path(name_or_path)
    if candidate.suffix != ".toml" and "/" not in name_or_path:
        candidate = PROFILE_DIR / f"{name_or_path}.toml"
    if not candidate.is_file():
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))
        raise ProfileError(f"no profile file {candidate} (profiles shipped: {known})")
    return candidate


def load_profile(name_or_path: str) -> Profile:
    path = resolve_profile_path(name_or_path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: {exc}") from exc
    return parse_profile(document, source=str(path))


def parse_profile(document: Mapping[str, Any], source: str = "<profile>") -> Profile:
    """Build and cross-check a profile from a parsed TOML document (or the JSON a master sent)."""
    try:
        return _parse(_table(document, "loadtest", required=True))
    except ProfileError as exc:
        raise ProfileError(f"{source}: {exc}") from exc
    except (TypeError, ValueError) as exc:
        raise ProfileError(f"{source}: {exc}") from exc


def _parse(lt: Mapping[str, Any]) -> Profile:
    _only(lt, "loadtest", {"name", "seed", "client", "target", "emulator", "users", "slo"})
    target = _target(_table(lt, "target"))
    emulator = _emulator(_table(lt, "emulator"))
    client = _table(lt, "client")
    _only(client, "client", {"retries"})
    users = _table(lt, "users", required=True)
    _only(users, "users", set(USER_CLASSES))
    gallery = _gallery(_table(users, "GalleryStorer", required=True), target)
    big = _big(_table(users, "BigUploader", required=True), target)
    prober = _prober(_table(users, "RateLimitProber", required=True), target)
    reader = _reader(_table(users, "PresenceReader", required=True), target)
    slo = _slo(_table(lt, "slo", required=True))
    _check_emulator_matches_target(emulator, target)
    profile = Profile(
        name=_str(lt, "name"),
        seed=_int(lt, "seed", default=0, minimum=0),
        target=target,
        emulator=emulator,
        gallery=gallery,
        big=big,
        prober=prober,
        reader=reader,
        slo=slo,
        client_retries=_int(client, "retries", default=0, minimum=0),
        raw=lt,
    )
    if profile.total_users < 1:
        raise ProfileError("the profile runs no users at all")
    return profile


def _target(raw: Mapping[str, Any]) -> TargetSettings:
    defaults = TargetSettings()
    _only(raw, "target", set(TargetSettings.__dataclass_fields__))
    values = {name: _int(raw, name, default=getattr(defaults, name), minimum=1) for name in raw}
    target = TargetSettings(**values)
    if target.presence_page_size > 100:
        raise ProfileError("target.presence_page_size cannot exceed the contract's maximum page of 100")
    return target


def _emulator(raw: Mapping[str, Any]) -> EmulatorSettings:
    _only(raw, "emulator", {"durability", "limits"})
    durability = str(raw.get("durability", "full"))
    if durability not in ("full", "normal"):
        raise ProfileError(f"emulator.durability must be full or normal, got {durability!r}")
    limits_raw = _table(raw, "limits")
    limits = {key: _int(limits_raw, key, minimum=1) for key in limits_raw}
    return EmulatorSettings(durability, limits)


def _check_emulator_matches_target(emulator: EmulatorSettings, target: TargetSettings) -> None:
    """The emulator must be started with the limits the users assume, or the gates judge nonsense."""
    pairs = {
        "max_chunk_size": target.max_chunk_size,
        "max_asset_size": target.max_asset_size,
        "max_active_sessions": target.max_active_sessions,
        "max_listed_sessions": target.max_listed_sessions,
    }
    defaults = TargetSettings()
    for key, expected in pairs.items():
        configured = emulator.limits.get(key, getattr(defaults, key))
        if configured != expected:
            raise ProfileError(
                f"emulator.limits.{key} = {configured} but target.{key} = {expected}; set both or neither"
            )
    if target.max_active_sessions >= target.max_listed_sessions:
        raise ProfileError(
            "target.max_active_sessions must be below max_listed_sessions, or get_user_upload_sessions "
            "could not show a principal holding one session too many"
        )


def _common(raw: Mapping[str, Any], name: str) -> dict[str, Any]:
    wait = raw.get("wait", [0.0, 0.0])
    if (
        not isinstance(wait, list)
        or len(wait) != 2
        or not all(isinstance(w, int | float) and not isinstance(w, bool) for w in wait)
        or not 0 <= wait[0] <= wait[1]
    ):
        raise ProfileError(f"users.{name}.wait must be [min_seconds, max_seconds], got {wait!r}")
    return {"count": _int(raw, "count", minimum=0), "wait": (float(wait[0]), float(wait[1]))}


def _size(raw: Mapping[str, Any], name: str, target: TargetSettings) -> SizeDistribution:
    dist = SizeDistribution.from_mapping(_table(raw, "asset_size", required=True))
    if dist.max > target.max_asset_size:
        raise ProfileError(f"users.{name}.asset_size.max exceeds target.max_asset_size")
    return dist


def _gallery(raw: Mapping[str, Any], target: TargetSettings) -> GallerySettings:
    name = "GalleryStorer"
    _only(
        raw,
        name,
        {
            "count",
            "wait",
            "gallery_size",
            "asset_size",
            "memory_concurrency",
            "presence_page_size",
            "write_edges",
        },
    )
    write_edges = raw.get("write_edges", False)
    if not isinstance(write_edges, bool):
        raise ProfileError(f"users.{name}.write_edges must be true or false, got {write_edges!r}")
    settings = GallerySettings(
        **_common(raw, name),
        gallery_size=_int(raw, "gallery_size", minimum=1),
        asset_size=_size(raw, name, target),
        memory_concurrency=_int(raw, "memory_concurrency", default=1, minimum=1),
        presence_page_size=_int(raw, "presence_page_size", default=target.presence_page_size, minimum=1),
        write_edges=write_edges,
    )
    if settings.memory_concurrency > target.max_active_sessions:
        raise ProfileError(
            f"users.{name}.memory_concurrency ({settings.memory_concurrency}) above "
            f"target.max_active_sessions ({target.max_active_sessions}) would make the storer hit its own "
            "rate limit"
        )
    if settings.presence_page_size > target.presence_page_size:
        raise ProfileError(f"users.{name}.presence_page_size exceeds target.presence_page_size")
    return settings


def _big(raw: Mapping[str, Any], target: TargetSettings) -> BigUploaderSettings:
    name = "BigUploader"
    _only(raw, name, {"count", "wait", "asset_size", "chunk_concurrency"})
    settings = BigUploaderSettings(
        **_common(raw, name),
        asset_size=_size(raw, name, target),
        chunk_concurrency=_int(raw, "chunk_concurrency", default=4, minimum=1),
    )
    if settings.asset_size.min <= target.max_chunk_size:
        raise ProfileError(
            f"users.{name}.asset_size.min must exceed one chunk, or uploads are not multi-chunk"
        )
    return settings


def _prober(raw: Mapping[str, Any], target: TargetSettings) -> ProberSettings:
    name = "RateLimitProber"
    _only(raw, name, {"count", "wait", "burst"})
    settings = ProberSettings(**_common(raw, name), burst=_int(raw, "burst", minimum=1))
    if settings.burst <= target.max_active_sessions:
        raise ProfileError(
            f"users.{name}.burst ({settings.burst}) must exceed target.max_active_sessions "
            f"({target.max_active_sessions}), or the limit is never reached"
        )
    return settings


def _reader(raw: Mapping[str, Any], target: TargetSettings) -> ReaderSettings:
    name = "PresenceReader"
    _only(raw, name, {"count", "wait", "seed_memories", "seed_assets", "asset_size"})
    settings = ReaderSettings(
        **_common(raw, name),
        seed_memories=_int(raw, "seed_memories", minimum=1),
        seed_assets=_int(raw, "seed_assets", default=0, minimum=0),
        asset_size=_size(raw, name, target),
    )
    if settings.seed_assets > settings.seed_memories:
        raise ProfileError(f"users.{name}.seed_assets cannot exceed seed_memories")
    if settings.asset_size.max > target.max_chunk_size:
        raise ProfileError(f"users.{name}.asset_size.max must fit one chunk (its progress session uses two)")
    return settings


def _slo(raw: Mapping[str, Any]) -> SloSettings:
    _only(raw, "slo", {"max_failure_ratio", "p95_ms"})
    ratio = raw.get("max_failure_ratio")
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise ProfileError(f"slo.max_failure_ratio must be a number in [0, 1], got {ratio!r}")
    p95_raw = _table(raw, "p95_ms", required=True)
    p95: dict[str, float] = {}
    for key, value in p95_raw.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ProfileError(f"slo.p95_ms.{key} must be a positive number of milliseconds, got {value!r}")
        p95[str(key)] = float(value)
    return SloSettings(float(ratio), p95)


# ------------------------------------------------------------------------------------------ helpers


def _table(raw: Mapping[str, Any], key: str, *, required: bool = False) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        if required:
            raise ProfileError(f"missing table [{key}]")
        return {}
    if not isinstance(value, Mapping):
        raise ProfileError(f"{key} must be a table")
    return value


def _only(raw: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    unknown = set(raw) - allowed
    if unknown:
        raise ProfileError(f"unknown keys in {where}: {', '.join(sorted(unknown))}")


def _int(raw: Mapping[str, Any], key: str, *, default: int | None = None, minimum: int = 0) -> int:
    value = raw.get(key, default)
    if value is None:
        raise ProfileError(f"missing {key}")
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ProfileError(f"{key} must be an integer >= {minimum}, got {value!r}")
    return value


def _str(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise ProfileError(f"{key} must be a non-empty string")
    return value


# ---------------------------------------------------------------------------------------------- CLI


def _locust_setting(name_or_path: str, key: str) -> str:
    path = resolve_profile_path(name_or_path)
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    value = document.get("tool", {}).get("locust", {}).get(key)
    if value is None:
        raise ProfileError(f"{path}: [tool.locust] has no {key}")
    return str(value).lower() if isinstance(value, bool) else str(value)


def main(argv: list[str]) -> int:
    """Tiny CLI for ``scripts/loadtest.sh``: the shell never parses TOML itself."""
    usage = (
        "usage: python -m loadtests.profile (emulator-args|path|check) PROFILE | locust-setting PROFILE KEY"
    )
    try:
        if len(argv) == 2 and argv[0] == "emulator-args":
            print("\n".join(load_profile(argv[1]).emulator.args()))
        elif len(argv) == 2 and argv[0] == "path":
            print(resolve_profile_path(argv[1]))
        elif len(argv) == 2 and argv[0] == "check":
            p = load_profile(argv[1])
            gates = len(p.slo.p95_ms)
            print(f"{p.name}: {p.total_users} users, gallery {p.gallery.gallery_size}, {gates} p95 gates")
        elif len(argv) == 3 and argv[0] == "locust-setting":
            print(_locust_setting(argv[1], argv[2]))
        else:
            print(usage, file=sys.stderr)
            return 2
    except ProfileError as exc:
        print(f"profile error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
