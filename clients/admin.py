"""Client of the emulator's admin API (upgrade, clock, reset, snapshots, faults, inspection).

Used by `storeforever emulator <command>`, by tests and by the conformance suite's capability probe.
It speaks plain JSON over HTTP; a replica has no such API, which is how capabilities are detected.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx


class AdminError(RuntimeError):
    """The admin API answered with an error; `status` is the HTTP status, the message its text."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"admin API {status}: {message}")
        self.status = status
        self.message = message


def _error_text(r: httpx.Response) -> str:
    try:
        return str(r.json().get("error", r.text))
    except (ValueError, AttributeError):
        return r.text


@contextlib.contextmanager
def atomic_output(target: Path) -> Iterator[BinaryIO]:
    """A file written next to `target` and renamed over it only when the block ends normally.

    A download that fails (wrong token, dropped connection, full disk) leaves an existing `target`
    byte-identical instead of truncated, and never leaves a half-written file under its name.
    """
    target = Path(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent or ".")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        # mkstemp creates 0600; keep the mode the file had, or what a plain open() would have given.
        if target.exists():
            mode = stat.S_IMODE(target.stat().st_mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        tmp.chmod(mode)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


class AdminClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _req(self, method: str, path: str, **kwargs: Any) -> Any:
        if method != "GET":
            # The admin API refuses state-changing requests of CORS-"simple" content types (a web page
            # could send those cross-site), so even a bodiless POST names JSON.
            kwargs["headers"] = {"Content-Type": "application/json", **kwargs.get("headers", {})}
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise AdminError(0, f"cannot reach {self.url}: {exc}") from exc
        if r.status_code >= 400:
            try:
                message = r.json().get("error", r.text)
            except ValueError:
                message = r.text
            raise AdminError(r.status_code, message)
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else r.content

    def health(self) -> dict[str, Any]:
        return dict(self._req("GET", "/health"))

    def available(self) -> bool:
        try:
            return self.health().get("status") == "ok"
        except AdminError:
            return False

    def canisters(self) -> list[dict[str, Any]]:
        return list(self._req("GET", "/canisters"))

    def upgrade(self, canister_id: str, kind: str | None = None) -> dict[str, Any]:
        return dict(
            self._req("POST", f"/canisters/{canister_id}/upgrade", json={"kind": kind} if kind else {})
        )

    def advance_clock(self, canister_id: str, seconds: float) -> dict[str, Any]:
        return dict(self._req("POST", f"/canisters/{canister_id}/clock/advance", json={"seconds": seconds}))

    def clock(self, canister_id: str) -> dict[str, Any]:
        return dict(self._req("GET", f"/canisters/{canister_id}/clock"))

    def run_timers(self, canister_id: str) -> list[str]:
        return list(self._req("POST", f"/canisters/{canister_id}/timers/run")["fired"])

    def reset(self, canister_id: str) -> dict[str, Any]:
        return dict(self._req("POST", f"/canisters/{canister_id}/reset"))

    def inspect(self, canister_id: str, view: str, **params: Any) -> Any:
        return self._req("GET", f"/canisters/{canister_id}/inspect/{view}", params=params)

    def download_asset(self, canister_id: str, key: str) -> Iterator[bytes]:
        try:
            with self._http.stream("GET", f"/canisters/{canister_id}/assets/{key}/content") as r:
                if r.status_code >= 400:
                    r.read()
                    raise AdminError(r.status_code, _error_text(r))
                yield from r.iter_bytes()
        except httpx.HTTPError as exc:
            raise AdminError(0, f"download from {self.url} failed: {exc}") from exc

    def snapshot(self, target: Path) -> Path:
        """Saves the state as a zip; `target` is replaced only once the whole archive arrived."""
        try:
            with self._http.stream("GET", "/snapshot") as r:
                if r.status_code >= 400:
                    r.read()
                    raise AdminError(r.status_code, _error_text(r))
                with atomic_output(target) as fh:
                    for block in r.iter_bytes():
                        fh.write(block)
        except httpx.HTTPError as exc:
            raise AdminError(0, f"snapshot download from {self.url} failed: {exc}") from exc
        return target

    def restore(self, source: Path) -> dict[str, Any]:
        return dict(
            self._req(
                "PUT", "/snapshot", content=source.read_bytes(), headers={"Content-Type": "application/zip"}
            )
        )

    def add_fault(self, **rule: Any) -> dict[str, Any]:
        return dict(self._req("POST", "/faults", json=rule))

    def faults(self) -> list[dict[str, Any]]:
        return list(self._req("GET", "/faults"))

    def clear_faults(self) -> int:
        return int(self._req("DELETE", "/faults")["removed"])

    def metrics(self) -> str:
        return bytes(self._req("GET", "/metrics")).decode()
