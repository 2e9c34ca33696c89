"""Test helper: install Debian packages the tests need (root + apt-get only), once, without a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess


def apt_install(packages: tuple[str, ...], missing: str) -> str:
    """apt-get install packages; '' on success, else why not (missing: what is absent, for the reason)."""
    names = " ".join(packages)
    if os.geteuid() != 0:
        return f"{missing} and the tests do not run as root (install the Debian package(s) {names})"
    if not shutil.which("apt-get"):
        return f"{missing} and apt-get is not available"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["apt-get", *args], capture_output=True, text=True, env=env, timeout=900)

    install = ("install", "-y", "-qq", "--no-install-recommends", *packages)
    if apt(*install).returncode == 0:
        return ""
    apt("update", "-qq")  # a fresh image may have no package lists yet
    done = apt(*install)
    return "" if done.returncode == 0 else f"apt-get install {names} failed: {done.stderr.strip()[-300:]}"
