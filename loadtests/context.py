"""What all users of one Locust process share: the profile, one pooled connection, the invariant state.

Why per process and built lazily by the first user: on a worker the profile and the canister id
arrive with the master's first spawn message (Locust forwards custom options then), not at start-up,
so nothing here may be read before a user exists. One pooled ``httpx.Client`` per process (users get
``with_identity`` clones) because a pool per user would open hundreds of sockets for no gain and
make the load generator, not the target, the bottleneck.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import httpx
from locust.env import Environment
from locust.exception import LocustError
from locust.runners import WorkerRunner

from clients.artifact.client import load_artifact_did
from clients.ic import Connection

from .profile import Profile, ProfileError, load_profile, parse_profile
from .slo import InvariantState

__all__ = [
    "INVARIANT_MESSAGE",
    "LoadContext",
    "context_for",
    "profile_for",
    "reset_contexts",
]

log = logging.getLogger(__name__)

INVARIANT_MESSAGE = "loadtests:invariant_broken"
"""Custom message a worker sends the master when a rate-limit invariant broke (gates run there)."""


@dataclass
class LoadContext:
    environment: Environment
    profile: Profile
    canister_id: str
    connection: Connection
    http: httpx.Client
    did_text: str
    invariant: InvariantState

    def report_invariant_break(self, detail: str) -> None:
        self.invariant.mark_broken(detail)
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            runner.send_message(INVARIANT_MESSAGE, {"detail": detail})


_CONTEXTS: dict[int, LoadContext] = {}
_INVARIANTS: dict[int, InvariantState] = {}


def invariant_for(environment: Environment) -> InvariantState:
    """Exists before any user does: the master holds one although it never runs users."""
    return _INVARIANTS.setdefault(id(environment), InvariantState())


def profile_for(environment: Environment) -> Profile:
    """The profile from the master's JSON copy if one arrived, else from ``--profile``."""
    options = environment.parsed_options
    if options is None:
        raise LocustError("no parsed options: run the load test through the locust command")
    try:
        shipped = getattr(options, "profile_json", "") or ""
        if shipped:
            return parse_profile(json.loads(shipped), source="profile sent by the master")
        name = getattr(options, "load_profile", "") or ""
        if not name:
            raise LocustError("no load profile: pass --load-profile NAME|PATH (or --config a profile file)")
        return load_profile(name)
    except ProfileError as exc:
        raise LocustError(str(exc)) from exc


def context_for(environment: Environment) -> LoadContext:
    existing = _CONTEXTS.get(id(environment))
    if existing is not None:
        return existing
    options = environment.parsed_options
    canister_id = getattr(options, "canister_id", "") if options is not None else ""
    if not canister_id:
        raise LocustError("ArtifactUser needs --canister-id (the artifact canister's principal)")
    if not environment.host:
        raise LocustError(
            "ArtifactUser needs --host (the replica or emulator URL, e.g. http://127.0.0.1:4943)"
        )
    profile = profile_for(environment)
    http = httpx.Client(
        timeout=httpx.Timeout(60.0, connect=10.0),
        limits=httpx.Limits(max_connections=512, max_keepalive_connections=256),
    )
    connection = Connection(environment.host, http=http)
    try:
        _ = connection.root_key  # fetched once here, so no user pays (or races) for it
    except Exception as exc:
        raise LocustError(f"cannot reach {environment.host}: {exc}") from exc
    context = LoadContext(
        environment=environment,
        profile=profile,
        canister_id=canister_id,
        connection=connection,
        http=http,
        did_text=load_artifact_did(),
        invariant=invariant_for(environment),
    )
    _CONTEXTS[id(environment)] = context
    log.info("load profile %s against %s canister %s", profile.name, environment.host, canister_id)
    return context


def reset_contexts() -> None:
    """Forget every context (tests build several environments in one process)."""
    for context in _CONTEXTS.values():
        context.http.close()
    _CONTEXTS.clear()
    _INVARIANTS.clear()
