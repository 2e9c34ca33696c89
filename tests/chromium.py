"""Test helper: a headless Chromium for rendering HTML reports (Debian package `chromium`).

``chromium`` (session fixture): the browser's path. When it is missing and the process is root
with apt-get available, it is installed once per session (`apt-get install -y chromium`, with
an `apt-get update` retry); otherwise the test skips and says why.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.debian import apt_install

NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", "--disable-dev-shm-usage")


def find_browser() -> str | None:
    return next((path for name in NAMES if (path := shutil.which(name))), None)


def install_chromium() -> str:
    """Install Debian's chromium (root + apt-get only); '' on success, else the reason it was not installed."""
    return apt_install(("chromium",), "chromium is not installed")


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium, installed once per session when missing (root), else skip."""
    path = find_browser()
    if path is None:
        reason = install_chromium()
        path = find_browser()
        if path is None:
            pytest.skip(reason or "chromium installed but not found on PATH")
    return path


def screenshot(browser: str, page: Path, png: Path, size: tuple[int, int] = (1300, 2400)) -> subprocess.CompletedProcess:
    return subprocess.run([browser, *FLAGS, f"--window-size={size[0]},{size[1]}", f"--screenshot={png}",
                           page.resolve().as_uri()], capture_output=True, text=True, timeout=120)


def dump_dom(browser: str, page: Path) -> str:
    done = subprocess.run([browser, *FLAGS, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
