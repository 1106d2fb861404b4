"""Locust entry point for the artifact canister load tests (``locust -f loadtests/locustfile.py``).

The same file serves a local run, a master and every worker. What each role does here:

* everyone: registers the options ``--profile`` and ``--canister-id``;
* master or local run (``init``): loads the profile, sets each user class's fixed count from it,
  ships the profile to workers as JSON (Locust forwards custom options in its spawn messages, so a
  worker on another machine needs the code but not the profile file), and installs the SLO gates;
* worker: nothing at start-up. Its users build the shared context when the first spawn message
  has delivered the master's options.

Usually run through ``scripts/loadtest.sh``; by hand: ``locust --config loadtests/profiles/smoke.toml
--host URL --canister-id ID`` (see docs/loadtests.md).
"""

from __future__ import annotations

import argparse
import logging
import os
from typing import Any

import httpx
from locust import events
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.exception import LocustError
from locust.runners import LocalRunner, WorkerRunner

from clients.artifact.client import DEFAULT_CANISTER_ID
from loadtests import gates
from loadtests.context import profile_for
from loadtests.events import add_listener
from loadtests.users import BigUploader, GalleryStorer, PresenceReader, RateLimitProber

__all__ = ["BigUploader", "GalleryStorer", "PresenceReader", "RateLimitProber"]

log = logging.getLogger("loadtests")

USER_CLASSES = (GalleryStorer, BigUploader, RateLimitProber, PresenceReader)


def add_options(parser: LocustArgumentParser, **_: Any) -> None:
    group = parser.add_argument_group("storeforever artifact load test")
    group.add_argument(
        "--load-profile",
        default=os.environ.get("LOADTEST_PROFILE", ""),
        help="profile name in loadtests/profiles/ (smoke, full) or a path to a profile TOML",
    )
    group.add_argument(
        "--canister-id",
        default=os.environ.get("CANISTER_ID_BACKEND", DEFAULT_CANISTER_ID),
        help=f"the artifact canister's principal (default $CANISTER_ID_BACKEND or {DEFAULT_CANISTER_ID})",
    )
    # On the parser, not the group: only the parser's add_argument knows include_in_web_ui.
    parser.add_argument(
        "--database-url",
        default=os.environ.get("STOREFOREVER_DATABASE_URL", ""),
        include_in_web_ui=False,
        help="the app's PostgreSQL, for a profile with users.GalleryStorer.write_edges = true",
    )
    parser.add_argument(
        "--edges-identity-dir",
        default="",
        include_in_web_ui=False,
        help="where each GalleryStorer saves its key (<principal>.pem) so edges audit can run as it",
    )
    parser.add_argument("--profile-json", default="", help=argparse.SUPPRESS, include_in_web_ui=False)


def configure(environment: Environment, **_: Any) -> None:
    # httpx logs every request at INFO: thousands of lines a second that drown Locust's own output.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if isinstance(environment.runner, WorkerRunner):
        return
    try:
        _configure(environment)
    except LocustError as exc:
        # Exit 2, not Locust's 1: scripts and CI read 1 as "a gate failed", this is "nothing was run".
        log.error("%s", exc)
        raise SystemExit(2) from exc


def _check_reachable(host: str) -> None:
    """A local run fails fast on a wrong --host instead of six users dying with tracebacks."""
    try:
        httpx.get(f"{host.rstrip('/')}/api/v2/status", timeout=10.0).raise_for_status()
    except httpx.HTTPError as exc:
        raise LocustError(f"cannot reach the target {host}: {exc}") from exc


def _configure(environment: Environment) -> None:
    profile = profile_for(environment)
    options = environment.parsed_options
    assert options is not None  # profile_for raised otherwise
    options.profile_json = profile.to_json()
    users = profile.users()
    for cls in USER_CLASSES:
        cls.fixed_count = users[cls.__name__].count
        cls.weight = 0 if users[cls.__name__].count == 0 else 1
    wanted = profile.total_users
    if getattr(options, "num_users", None) not in (None, wanted):
        raise LocustError(
            f"profile {profile.name} runs {wanted} users (fixed counts per class) but -u/users is "
            f"{options.num_users}; change the counts in the profile instead"
        )
    if isinstance(environment.runner, LocalRunner) and environment.host:
        _check_reachable(environment.host)
    gates.install(environment)
    log.info(
        "profile %s: %s",
        profile.name,
        ", ".join(f"{name} x{s.count}" for name, s in users.items()),
    )


add_listener(events.init_command_line_parser, add_options)
add_listener(events.init, configure)
