"""The target under test: where it is, what it offers, and how to drive what it offers.

A target is either an emulator the suite starts itself (fresh state directory, free ports, the
suite's limits) or anything else reachable over the IC HTTP interface ("replica": a dfx replica,
PocketIC, a staging canister, or an emulator someone else started). Both are reached the same way
afterwards: a URL, a canister id and a signing identity. What differs is discovered, never assumed:

* the interface: the target's own `candid:service` metadata (through a verified `read_state`), or
  `--did FILE`, or as a last resort `__get_candid_interface_tmp_hack`;
* capabilities: `clock` and `inspect` need an admin API (the emulator's); `upgrade` needs an admin
  API or an `--upgrade-command`; `scale` is opt-in (`--scale-memories N`);
* limits: what the profile (or the emulator's limits file) states; the rest are the contract's
  defaults, marked as assumed.

Settings come from command-line options, a profile file (JSON or TOML, same keys with underscores)
and defaults, in that order of precedence.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clients.admin import AdminClient
from clients.artifact.client import load_artifact_did
from clients.ic import Connection, DidService, generate_ed25519, load_pem_file, principal_bytes
from clients.ic.candid import decode_reply, encode_args
from emulator.process import DEFAULT_ID, EmulatorProcess

from .calls import SuiteClient
from .catalog import CANDID_HACK_METHOD, Limits
from .snapshot import Recorder
from .stored_bytes import StoredBytes

__all__ = [
    "PROFILE_KEYS",
    "Target",
    "TargetConfig",
    "TargetError",
    "load_profile",
    "start_target",
]

REPO = Path(__file__).resolve().parents[1]
DEFAULT_EMULATOR_LIMITS = Path(__file__).resolve().parent / "emulator-limits.json"
PROFILE_KEYS = frozenset(
    {
        "name",
        "target",
        "url",
        "canister_id",
        "identity",
        "did",
        "upgrade_command",
        "admin_url",
        "admin_token",
        "root_key",
        "limits",
        "emulator_canister",
        "emulator_args",
        "emulator_limits",
        "scale_memories",
        "upgrade_timeout",
    }
)
TARGET_KINDS = ("emulator", "replica")


class TargetError(RuntimeError):
    """The target cannot be used as configured; the message says what to pass or fix."""


@dataclass(frozen=True, slots=True)
class TargetConfig:
    kind: str = "emulator"
    name: str = ""
    url: str | None = None
    canister_id: str = DEFAULT_ID
    identity: Path | None = None
    did: Path | None = None
    upgrade_command: str | None = None
    admin_url: str | None = None
    admin_token: str | None = None
    root_key: str | None = None
    limits: Mapping[str, Any] = field(default_factory=dict)
    emulator_canister: str = "artifact"
    emulator_args: tuple[str, ...] = ()
    emulator_limits: Path = DEFAULT_EMULATOR_LIMITS
    scale_memories: int = 0
    upgrade_timeout: float = 900.0

    @property
    def label(self) -> str:
        return self.name or self.kind


def load_profile(path: Path) -> dict[str, Any]:
    """A profile file's settings; relative paths in it are relative to the file, not the cwd."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TargetError(f"cannot read profile {path}: {exc}") from exc
    try:
        data: Any = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise TargetError(f"profile {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from exc
    if not isinstance(data, dict):
        raise TargetError(f"profile {path} must hold a table/object of settings")
    data = {k.replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(set(data) - PROFILE_KEYS)
    if unknown:
        raise TargetError(
            f"profile {path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(PROFILE_KEYS))}"
        )
    for key in ("identity", "did", "emulator_limits"):
        if isinstance(data.get(key), str):
            data[key] = str((path.parent / data[key]).resolve())
    return dict(data)


def build_config(options: Mapping[str, Any], profile: Mapping[str, Any]) -> TargetConfig:
    """Options (None = not given) over profile over defaults, then checked for the chosen kind."""

    def pick(key: str) -> Any:
        value = options.get(key)
        return value if value not in (None, (), []) else profile.get(key)

    kind = pick("target") or "emulator"
    if kind not in TARGET_KINDS:
        raise TargetError(f"--target must be one of: {', '.join(TARGET_KINDS)} (got {kind!r})")
    limits = profile.get("limits") or {}
    if not isinstance(limits, Mapping):
        raise TargetError("profile 'limits' must be a table of limit name -> number")
    emulator_limits = Path(pick("emulator_limits") or DEFAULT_EMULATOR_LIMITS)
    if kind == "emulator":
        # The limits the suite starts the emulator with are stated limits by construction.
        try:
            file_limits = json.loads(emulator_limits.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise TargetError(f"cannot read emulator limits {emulator_limits}: {exc}") from exc
        limits = {**file_limits, **limits}
    config = TargetConfig(
        kind=kind,
        name=str(pick("name") or ""),
        url=pick("url"),
        canister_id=str(pick("canister_id") or DEFAULT_ID),
        identity=Path(pick("identity")) if pick("identity") else None,
        did=Path(pick("did")) if pick("did") else None,
        upgrade_command=pick("upgrade_command"),
        admin_url=pick("admin_url"),
        admin_token=pick("admin_token"),
        root_key=pick("root_key"),
        limits=dict(limits),
        emulator_canister=str(pick("emulator_canister") or "artifact"),
        emulator_args=tuple(pick("emulator_args") or ()),
        emulator_limits=emulator_limits,
        scale_memories=int(pick("scale_memories") or 0),
        upgrade_timeout=float(pick("upgrade_timeout") or 900.0),
    )
    if kind == "replica":
        missing = [
            opt for opt, value in (("--url", config.url), ("--canister-id", pick("canister_id"))) if not value
        ]
        if missing:
            raise TargetError(f"--target replica needs {' and '.join(missing)} (or a --profile with them)")
    elif config.url:
        raise TargetError("--url is for --target replica; the emulator target starts its own emulator")
    try:
        Limits.from_mapping(config.limits)
    except ValueError as exc:
        raise TargetError(f"limits: {exc}") from exc
    return config


def candid_shape(typ: Any, path: tuple[int, ...] = ()) -> Any:
    """A comparable, structural form of an icp_candid type: two `.did` files declaring the same
    wire type under different type names, or inline, give equal shapes (names are not on the wire).

    Named types are unwrapped; only a genuine cycle (a type reached again inside itself) becomes a
    back-reference, numbered by how far up the path it points.
    """
    inner = getattr(typ, "_type", None)
    if type(typ).__name__ == "RecClass":
        key = id(typ)
        if key in path:
            return ("cycle", len(path) - path.index(key))
        return candid_shape(inner, (*path, key))
    fields = getattr(typ, "_field_map", None)
    if isinstance(fields, Mapping):
        kind = "variant" if "Variant" in type(typ).__name__ else "record"
        return (kind, tuple(sorted((h, str(n), candid_shape(t, path)) for h, (n, t) in fields.items())))
    if inner is not None:
        return (type(typ).__name__, candid_shape(inner, path))
    return typ.name


def method_shape(service: DidService, name: str) -> Any:
    method = service[name]
    return (
        tuple(candid_shape(t) for t in method.arg_types),
        tuple(candid_shape(t) for t in method.ret_types),
        method.is_query,
    )


@contextlib.contextmanager
def _importable_from_repo() -> Iterator[None]:
    """Let an emulator child import `module:Class` canister kinds from this checkout (test fixtures)."""
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), old) if p)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


class Target:
    """A running, discovered target; built once per session by `start_target`."""

    def __init__(self, config: TargetConfig) -> None:
        self.config = config
        self.kind = config.kind
        self.name = config.label
        self.canister_id = config.canister_id
        self.process: EmulatorProcess | None = None
        self._state_root: Path | None = None
        self.url = ""
        self.admin: AdminClient | None = None
        self.limits = Limits.from_mapping(config.limits)
        self.contract_did = load_artifact_did()
        self.contract = DidService.from_text(self.contract_did)
        self.did_text = ""
        self.interface_source = ""
        self.service: DidService | None = None
        self.methods: frozenset[str] = frozenset()
        self.capabilities: frozenset[str] = frozenset()
        self.principal = ""
        self.notes: list[str] = []
        self.upgrades = 0
        self.stored_bytes = StoredBytes(None)

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> Target:
        config = self.config
        if config.kind == "emulator":
            self._state_root = Path(tempfile.mkdtemp(prefix="conformance-emulator-"))
            # The limits file merged with any profile limits: what the emulator runs with is exactly
            # what the suite believes it runs with.
            limits_file = self._state_root / "limits.json"
            limits_file.write_text(json.dumps(dict(config.limits), indent=1), encoding="utf-8")
            args = ["--config", str(limits_file), *config.emulator_args]
            self.process = EmulatorProcess(
                self._state_root / "state",
                canisters=[f"{config.emulator_canister}={config.canister_id}"],
                extra_args=args,
            )
            with _importable_from_repo():
                try:
                    self.process.start()
                except (RuntimeError, TimeoutError) as exc:
                    raise TargetError(f"the emulator did not start: {exc}") from exc
            self.url = self.process.url
            admin_url: str | None = self.process.admin_url
        else:
            assert config.url is not None
            self.url = config.url.rstrip("/")
            admin_url = config.admin_url
        identity = self._identity()
        root_key = bytes.fromhex(config.root_key) if config.root_key else None
        self.connection = Connection(self.url, identity, root_key=root_key)
        try:
            self.connection.status()
        except Exception as exc:
            raise TargetError(f"cannot reach the target at {self.url}: {exc}") from exc
        self._discover_interface()
        self.principal = self._whoami()
        caps: set[str] = set()
        if admin_url:
            admin = AdminClient(admin_url, config.admin_token)
            if admin.available():
                self.admin = admin
                caps |= {"clock", "inspect", "upgrade"}
            else:
                admin.close()
                self.notes.append(f"admin API at {admin_url} did not answer: no clock/inspect")
        if config.upgrade_command:
            caps.add("upgrade")
        if config.scale_memories > 0:
            caps.add("scale")
        self.capabilities = frozenset(caps)
        self.stored_bytes = self._stored_bytes_check()
        return self

    def _stored_bytes_check(self) -> StoredBytes:
        """Read back committed assets where the target can return them (the admin download)."""
        admin = self.admin
        if admin is None or "inspect" not in self.capabilities:
            return StoredBytes(None)
        canister_id = self.canister_id

        def fetch(memory_id: str) -> bytes:
            return b"".join(admin.download_asset(canister_id, memory_id))

        return StoredBytes(fetch, "read back through the admin API's asset download")

    def close(self, keep_log: Path | None = None) -> None:
        """Stop what the suite started; `keep_log` saves the emulator's log (the state goes)."""
        if self.admin is not None:
            self.admin.close()
        if getattr(self, "connection", None) is not None:
            self.connection.close()
        if self.process is not None:
            self.process.stop()
            log = self.process.log_path
            if keep_log is not None and log is not None and log.exists():
                keep_log.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(log, keep_log)
        if self._state_root is not None:
            shutil.rmtree(self._state_root, ignore_errors=True)

    def _identity(self) -> Any:
        path = self.config.identity
        if path is None:
            return generate_ed25519()
        try:
            return load_pem_file(path)
        except Exception as exc:
            raise TargetError(f"cannot load --identity {path}: {exc}") from exc

    def _discover_interface(self) -> None:
        text: str | None = None
        if self.config.did is not None:
            try:
                text = self.config.did.read_text(encoding="utf-8")
            except OSError as exc:
                raise TargetError(f"cannot read --did {self.config.did}: {exc}") from exc
            self.interface_source = f"--did {self.config.did}"
        else:
            text = self._metadata_did()
            if text is not None:
                self.interface_source = "candid:service metadata (verified read_state)"
            else:
                text = self._candid_hack_did()
                if text is not None:
                    self.interface_source = f"{CANDID_HACK_METHOD} query"
        if text is None:
            raise TargetError(
                f"cannot discover the interface of {self.canister_id}: no candid:service metadata and no "
                f"{CANDID_HACK_METHOD}; pass --did FILE"
            )
        try:
            self.service = DidService.from_text(text)
        except Exception as exc:
            raise TargetError(
                f"the target's interface ({self.interface_source}) does not parse: {exc}"
            ) from exc
        self.did_text = text
        self.methods = frozenset(self.service.methods)

    def _metadata_did(self) -> str | None:
        path = [b"canister", principal_bytes(self.canister_id), b"metadata", b"candid:service"]
        try:
            cert = self.connection.read_state(self.canister_id, [path])
        except Exception as exc:
            self.notes.append(f"candid:service metadata not readable: {exc}")
            return None
        raw = cert.lookup(path)
        return None if raw is None else bytes(raw).decode("utf-8")

    def _candid_hack_did(self) -> str | None:
        method = self.contract[CANDID_HACK_METHOD]
        try:
            raw = self.connection.query_raw(self.canister_id, CANDID_HACK_METHOD, encode_args((), ()))
            return str(decode_reply(raw, method.ret_types))
        except Exception as exc:
            self.notes.append(f"{CANDID_HACK_METHOD} not answered: {exc}")
            return None

    def _whoami(self) -> str:
        """Preflight: the target answers a signed query, verified, and sees our principal."""
        expected = self.connection.identity.sender().to_str()
        if "whoami" not in self.methods:
            return str(expected)
        client = self.client("preflight", self.connection.identity)
        seen = client.whoami()
        if seen != expected:
            raise TargetError(f"the target sees the caller as {seen}, not {expected}")
        return seen

    # -- what tests use ----------------------------------------------------------------------------

    def client(
        self,
        label: str,
        identity: Any,
        recorder: Recorder | None = None,
        *,
        connection: Connection | None = None,
    ) -> SuiteClient:
        """A client for one principal (`identity=None` is the anonymous caller); `connection`
        replaces the run's own (a test that needs a differently configured agent)."""
        return SuiteClient(
            connection if connection is not None else self.connection.with_identity(identity),
            self.canister_id,
            label=label,
            target_methods=self.methods,
            recorder=recorder,
            did_text=self.contract_did,
            stored_bytes=self.stored_bytes,
        )

    def upgrade(self) -> None:
        """Upgrade the canister in place (between the phases of a persistence test)."""
        command = self.config.upgrade_command
        if command:
            try:
                done = subprocess.run(
                    command,
                    shell=True,
                    capture_output=True,
                    text=True,
                    timeout=self.config.upgrade_timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise TargetError(f"upgrade command timed out after {exc.timeout}s: {command}") from exc
            if done.returncode != 0:
                raise TargetError(
                    f"upgrade command failed ({done.returncode}): {command}\n{done.stdout[-2000:]}"
                    f"{done.stderr[-2000:]}"
                )
        elif self.admin is not None:
            self.admin.upgrade(self.canister_id)
        else:
            raise TargetError("this target cannot be upgraded (no admin API, no --upgrade-command)")
        self.upgrades += 1
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        """After an external upgrade the canister may answer a moment later (dfx restarts it)."""
        deadline = time.monotonic() + timeout
        probe = self.client("probe", self.connection.identity)
        while True:
            try:
                probe.get_api_version()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def advance_clock(self, seconds: float) -> None:
        if self.admin is None:
            raise TargetError("this target's clock cannot be moved (no admin API)")
        self.admin.advance_clock(self.canister_id, seconds)

    def inspect(self, view: str, **params: Any) -> list[dict[str, Any]]:
        """Rows of an admin inspection view (first page; the suite's principals own few rows)."""
        if self.admin is None:
            raise TargetError("this target's state cannot be inspected (no admin API)")
        found = self.admin.inspect(self.canister_id, view, **params)
        rows = found.get(view) if isinstance(found, dict) else found
        if not isinstance(rows, list):
            raise TargetError(f"unexpected shape of admin view {view!r}: {found!r:.200}")
        return rows

    def describe(self) -> dict[str, Any]:
        """What the report header, results file and matrix say about the target."""
        return {
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "canister_id": self.canister_id,
            "principal": self.principal,
            "interface_source": self.interface_source,
            "methods": sorted(self.methods),
            "capabilities": sorted(self.capabilities),
            "upgrade": (
                f"command: {self.config.upgrade_command}"
                if self.config.upgrade_command
                else ("admin API" if self.admin is not None else "none")
            ),
            "emulator_canister": self.config.emulator_canister if self.kind == "emulator" else None,
            "limits": self.limits.to_json(),
            "notes": list(self.notes),
            "stored_bytes": self.stored_bytes.describe(),
        }

    def header_lines(self) -> list[str]:
        caps = ", ".join(sorted(self.capabilities)) or "none"
        stated = ", ".join(f"{k}={self.limits[k]}" for k in sorted(self.limits.stated)) or "none"
        lines = [
            f"conformance target: {self.name} ({self.kind}) {self.url} canister {self.canister_id}"
            + (f" [{self.config.emulator_canister}]" if self.kind == "emulator" else ""),
            f"  interface: {self.interface_source}; {len(self.methods)} methods; caller {self.principal}",
            f"  capabilities: {caps}; upgrade: {self.describe()['upgrade']}",
            f"  stated limits: {stated} (others: contract defaults)",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        return lines


def start_target(config: TargetConfig) -> Target:
    target = Target(config)
    try:
        return target.start()
    except BaseException:
        target.close()
        raise
