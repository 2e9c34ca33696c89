"""Ray for the length of one driver run: join a cluster or start a local Ray, then stop it.

    with marks_interrupted(callback), ray_session(address):
        tuner.fit()

A local Ray gets its own short temp dir under $RAY_TMPDIR (default /tmp), removed on the way
out; a cluster is joined with `address` and left running. Either way the driver's Ray is shut
down on every exit (normal end, error, Ctrl-C). marks_interrupted goes outside, so that a
failed start or join is marked as well; the marking is MLflow only and needs no Ray.
"""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from harness.errors import HarnessError
from harness.runs.retry import lost_store
from harness.runtime.faults import FAIL_ONCE_ENV

AUTH_MODE_ENV = "RAY_AUTH_MODE"  # Ray's switch: "token" or "disabled"
WORKER_ENV = (AUTH_MODE_ENV, FAIL_ONCE_ENV, "HARNESS_WEIGHTS")  # passed from the driver to every worker


class Interruptible(Protocol):
    """What marks_interrupted needs of the driver's MLflow callback."""

    def mark_interrupted(self) -> None: ...


def local_token_auth() -> None:
    """Token authentication for a local Ray, with a fresh token held in this process's environment.

    Ray 2.60's GCS, raylet and worker gRPC servers listen on every interface and have no bind
    option (docs/design.md, "Faults and recovery"), so the token is what keeps other hosts out.
    Left to itself, Ray would write the token to ~/.ray/auth_token; a token in RAY_AUTH_TOKEN
    is used instead, and Ray's processes, started from this one, inherit it. An explicit
    RAY_AUTH_MODE (e.g. disabled) or a token the user provides is respected.
    """
    mode = os.environ.setdefault(AUTH_MODE_ENV, "token")
    if mode != "token":
        return
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    # Ray reads the mode and the token once, at import: refresh both, as Ray's own auth setup does
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def start_ray(address: str | None, num_cpus: int | None = None) -> str | None:
    """Join a cluster (its auth settings untouched), or start a local Ray with token auth and
    its own short temp dir (returned for cleanup)."""
    os.environ.setdefault("RAY_num_prestart_python_workers", "0")
    if not address:
        local_token_auth()
    import ray

    env = {k: os.environ[k] for k in WORKER_ENV if k in os.environ}
    runtime_env = {"env_vars": env}
    if address:
        try:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise HarnessError(f"cannot connect to the Ray cluster at {address}: {exc}") from None
        return None
    parent = os.environ.get("RAY_TMPDIR", "/tmp")  # keep it short: Ray's socket paths live here
    Path(parent).mkdir(parents=True, exist_ok=True)
    temp_dir = tempfile.mkdtemp(prefix="ray-", dir=parent)
    ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False,
             _temp_dir=temp_dir, runtime_env=runtime_env)
    return temp_dir


@contextmanager
def ray_session(address: str | None, num_cpus: int | None = None) -> Iterator[None]:
    """Ray started (or joined) for the body; shut down and its temp dir removed however the body ends.

    num_cpus: a local Ray's CPUs (default: all cores); ignored when joining a cluster.
    """
    temp_dir: str | None = None
    try:
        temp_dir = start_ray(address, num_cpus)
        yield
    finally:
        import ray

        ray.shutdown()
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


@contextmanager
def marks_interrupted(callback: Interruptible) -> Iterator[None]:
    """On any exception (Ctrl-C included) mark the run interrupted in MLflow, then re-raise.

    A tracking server lost for good (harness.runs.retry) ends the block with its one-line
    StoreLost, whether Tune raised or its stopper ended the run quietly; the open runs are
    already recorded for closing, since nothing can reach the server to mark them.
    """
    try:
        yield
    except BaseException:
        if (lost := lost_store()) is not None:
            raise lost from None
        callback.mark_interrupted()
        raise
    if (lost := lost_store()) is not None:
        raise lost
