"""Tests that drive a Debian package for real (Chromium, PostgreSQL, mount) ask for it here.

On a developer's machine without the package the test skips and says which package to install;
under ``CI=true`` a missing package is a failure, because CI installs them (`scripts/setup.sh
--system`) and a silent skip there would hide a broken set-up.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip with ``reason`` locally; fail with it under CI=true."""
    if in_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


def require_command(command: str, package: str) -> str:
    """The path of ``command`` from Debian's ``package``, or skip/fail saying how to get it."""
    found = shutil.which(command)
    if found is None:
        for directory in ("/usr/bin", "/usr/sbin", "/usr/lib/postgresql"):
            candidate = os.path.join(directory, command)
            if os.access(candidate, os.X_OK):
                return candidate
        missing(f"{command} not found: install Debian's {package} (bash scripts/setup.sh --system, as root)")
    assert found is not None
    return found


@contextlib.contextmanager
def mounted_tmpfs(mountpoint: Path, mib: int, purpose: str) -> Iterator[Path]:
    """A ``mib``-MiB tmpfs at ``mountpoint`` (created), unmounted after; skip/fail when it cannot be.

    Why a real small filesystem: a full disk is only honest when the kernel says ENOSPC. Mounting
    needs root (``purpose`` says which test wanted it, in the skip or failure reason).
    """
    mountpoint.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        missing(f"mounting a size-limited tmpfs for {purpose} needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        missing(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
