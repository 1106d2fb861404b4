"""What all users of one Locust process share: the profile, one pooled connection, the invariant state.

Why per process and built lazily by the first user: on a worker the profile and the canister id
arrive with the master's first spawn message (Locust forwards custom options then), not at start-up,
so nothing here may be read before a user exists.

HTTP pools are per user (``connection_for``), not per process: httpx's default pool (httpcore)
checks every pooled connection for readability (a ``poll`` each, under gevent a watcher each)
whenever it hands out or takes back a connection, so one process-wide pool made each call's cost
grow with the number of users (9.8 % of the worker's CPU in the smoke profile, issue 13); the
transport now is geventhttpclient's (``transport.py``), one small pool per user all the same. A user
holds at most as many sockets as it has calls in flight (a prober's burst, an uploader's chunk
concurrency), as a person's browser would.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from locust.env import Environment
from locust.exception import LocustError
from locust.runners import WorkerRunner

from clients.artifact.client import load_artifact_did
from clients.ic import Connection

from .client import verify_bls_on_native_thread
from .profile import Profile, ProfileError, load_profile, parse_profile
from .slo import InvariantState
from .transport import GeventTransport

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

    def connection_for(self, identity: Any) -> tuple[Connection, httpx.Client]:
        """A connection calling as ``identity`` over an HTTP pool of its own (see the module docstring).

        The root key is the one fetched once for the process; certificates are verified on gevent's
        native threads (``verify_bls_on_native_thread``). The caller closes the returned client.
        """
        http = _new_http()
        connection = Connection(
            self.connection.url,
            identity,
            root_key=self.connection.root_key,
            http=http,
            bls_verifier=verify_bls_on_native_thread,
        )
        return connection, http

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


def _new_http() -> httpx.Client:
    """httpx over geventhttpclient (``transport.py``: why); timeouts live in the transport."""
    # 16 connections: more than any user has calls in flight (a burst of 6, 4 chunk threads).
    return httpx.Client(
        transport=GeventTransport(max_connections=16, connect_timeout=10.0, network_timeout=60.0)
    )


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
    http = _new_http()
    connection = Connection(environment.host, http=http, bls_verifier=verify_bls_on_native_thread)
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
