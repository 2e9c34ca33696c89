"""Bounded retries for a remote MLflow store, and what happens when it is lost for good.

MLflow's own client retries a dead server for minutes per call (7 retries with doubling
backoff, 120 s timeouts), and a sweep makes a call per trial result: a server killed
mid-sweep used to stall it for more than 9 minutes with no message. Here MLflow's retries
are turned off for the driver (unless the user set them) and each call is retried by
``RetryingClient`` with a doubling backoff until ``tracking.outage_limit_s`` has passed
since the first failure. A shorter outage costs only the wait (nothing logged is lost);
a longer one marks the store lost for this process: every later call fails at once with
``StoreLost`` (one line naming the URI), the Tune stopper ends the sweep, and the runs
left open are recorded in ``<paths.runs>/open_runs.json`` and closed as KILLED the next
time a harness command reaches that store (``close_recorded_runs``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import HarnessError

OPEN_RUNS_FILE = "open_runs.json"  # under paths.runs: {tracking uri: [run ids left RUNNING]}
TRANSIENT_HTTP = frozenset({429, 502, 503, 504})  # a proxy or a restarting server
FIRST_BACKOFF_S = 1.0
MAX_BACKOFF_S = 15.0
# MLflow's client settings while our loop does the retrying (a user's own values are kept)
MLFLOW_CLIENT_ENV = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}

T = TypeVar("T")
_lost: dict[str, StoreLost] = {}  # uri -> why, for this process (the driver)


class StoreLost(HarnessError):
    """The MLflow server stopped answering for longer than tracking.outage_limit_s."""

    exit_code = 3  # not a user mistake, but still one line and no traceback


def lost_store() -> StoreLost | None:
    """The store this process lost, if any (the Tune stopper and the drivers ask)."""
    return next(iter(_lost.values()), None)


def is_transient(exc: Exception) -> bool:
    """A connection failure, a timeout or a 429/502/503/504: worth retrying."""
    from mlflow.exceptions import MlflowException

    if not isinstance(exc, MlflowException):
        return isinstance(exc, (ConnectionError, TimeoutError))
    text = str(exc)
    if text.startswith("API request to") and ("failed with exception" in text or "timeout exception" in text):
        return True
    return exc.get_http_status_code() in TRANSIENT_HTTP


class RetryingClient:
    """An MlflowClient whose every method retries transient failures until ``limit_s`` has passed.

    on_lost(error) runs once when the limit passes (the tracker records its open runs there).
    """

    def __init__(self, client: Any, uri: str, limit_s: float, on_lost: Callable[[StoreLost], None]) -> None:
        for key, value in MLFLOW_CLIENT_ENV.items():
            os.environ.setdefault(key, value)  # read by MLflow per request
        self._client, self._uri, self._limit_s, self._on_lost = client, uri, limit_s, on_lost

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr
        return lambda *args, **kwargs: self._call(attr, args, kwargs)

    @property
    def raw(self) -> Any:
        """The wrapped client, without retries (for calls made inside create_once)."""
        return self._client

    def create_once(self, create: Callable[[], T], find: Callable[[], T | None]) -> T:
        """create() with the same retries, except that a retry first asks find() for what an earlier
        attempt made: a request that timed out may have been carried out by the server, and retrying
        it blindly would create a second run. Both should use ``raw`` (their failures are retried here)."""
        tried = False

        def attempt() -> T:
            nonlocal tried
            if tried and (found := find()) is not None:
                return found
            tried = True
            return create()

        return self._call(attempt, (), {})

    def _call(self, method: Callable[..., Any], args: tuple, kwargs: dict) -> Any:
        if self._uri in _lost:
            raise _lost[self._uri]
        deadline, backoff = None, FIRST_BACKOFF_S
        while True:
            try:
                return method(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001  sorted below: only transient failures are retried
                if not is_transient(exc):
                    raise
                now = time.monotonic()
                deadline = deadline or now + self._limit_s
                if now >= deadline:
                    raise self._give_up(exc) from None
                time.sleep(min(backoff, max(deadline - now, 0.0)))
                backoff = min(backoff * 2, MAX_BACKOFF_S)

    def _give_up(self, exc: Exception) -> StoreLost:
        reason = str(exc).split(" (Caused by")[0].splitlines()[0][:200]
        lost = StoreLost(f"tracking.uri {self._uri}: the MLflow server has not answered for {self._limit_s:g} s "
                         f"(tracking.outage_limit_s; last error: {reason}); stopped. Trial checkpoints are kept: "
                         "start the server again and rerun the command with --resume (runs left open are closed "
                         f"then, see {OPEN_RUNS_FILE})")
        _lost[self._uri] = lost
        self._on_lost(lost)
        return lost


def record_open_runs(runs_dir: Path, uri: str, run_ids: Iterable[str]) -> None:
    """Add run_ids to the runs to close as KILLED when uri answers again."""
    path = Path(runs_dir) / OPEN_RUNS_FILE
    recorded = _read(path)
    recorded[uri] = sorted(set(recorded.get(uri, [])) | set(run_ids))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(recorded, indent=1) + "\n")


def close_recorded_runs(runs_dir: Path, uri: str, client: Any) -> list[str]:
    """Close (KILLED) the runs a lost store left RUNNING; returns the ids closed."""
    from mlflow.exceptions import MlflowException

    path = Path(runs_dir) / OPEN_RUNS_FILE
    recorded = _read(path)
    closed = []
    for run_id in recorded.pop(uri, []):
        try:
            status = client.get_run(run_id).info.status
        except MlflowException:  # deleted since
            continue
        if status == "RUNNING":
            client.set_terminated(run_id, status="KILLED")
            closed.append(run_id)
    if recorded:
        path.write_text(json.dumps(recorded, indent=1) + "\n")
    else:
        path.unlink(missing_ok=True)
    return closed


def _read(path: Path) -> dict[str, list[str]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
