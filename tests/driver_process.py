"""Test helper: a `harness` driver started in its own session, and killed as a crash would."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.conftest import REPO


@contextlib.contextmanager
def crashing_driver(args: list[str], log_path: Path) -> Iterator[subprocess.Popen]:
    """Start `harness *args` (own session, own Ray temp dir); on exit SIGKILL it, then its session.

    The driver alone is killed first, as a crash would; then anything of its session that
    outlived it (Ray's processes), and the Ray temp dir a killed driver cannot remove.
    """
    ray_tmp = Path(tempfile.mkdtemp(prefix="rk-", dir="/tmp"))
    env = {**os.environ, "TUNE_GLOBAL_CHECKPOINT_S": "1", "RAY_TMPDIR": str(ray_tmp)}
    log = open(log_path, "w")
    driver = subprocess.Popen([sys.executable, "-m", "harness.cli", *args], cwd=REPO, env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield driver
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        time.sleep(1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def wait_for(predicate: Callable[[], bool], timeout: float, proc: subprocess.Popen, what: str) -> None:
    """Poll predicate until true; fail when proc ends first or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc.poll() is not None:
            raise AssertionError(f"driver ended (rc {proc.returncode}) before {what}")
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")
