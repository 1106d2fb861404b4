"""Typed shims over Locust's ``EventHook``, whose ``fire``/``add_listener`` carry no annotations.

Why a module for three lines: under ``mypy --strict`` every call into an untyped function is an
error; keeping the one unavoidable ``type: ignore`` per operation here means the rest of the package
is checked normally, and the shape of a request event is written down once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importing Locust monkey-patches the process with gevent; types only
    from locust.event import EventHook

__all__ = ["add_listener", "fire_request"]


def fire_request(
    hook: EventHook,
    *,
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    exception: BaseException | None,
    context: dict[str, Any] | None = None,
) -> None:
    """Fire ``events.request``: Locust's per-name statistics, CSV and HTML are built from these."""
    hook.fire(  # type: ignore[no-untyped-call]
        request_type=request_type,
        name=name,
        response_time=response_time,
        response_length=response_length,
        exception=exception,
        context=context or {},
    )


def add_listener(hook: EventHook, handler: Callable[..., Any]) -> None:
    hook.add_listener(handler)  # type: ignore[no-untyped-call]
