"""`harness ui`'s parts: which store to open, the runs-table view MLflow's UI opens on, the port check, and
an MLflow UI server that stops with the command (SIGINT or SIGTERM, on a terminal or not).

The view: MLflow 3's runs page restores a "shared view" named by the URL parameter
``viewStateShareKey`` from the experiment tag ``mlflow.sharedViewState.<key>`` (a JSON of the
search facets and the table's UI state; read from MLflow 3.17's UI bundle, where the Share button
writes the same tag). ``harness ui`` writes one such view: the trial runs only, sorted by run name
(a filter and a sort the parent runs are not fetched for, so the trials are rows of their own, not
children folded under a collapsed parent), the final metrics and the switch params as columns,
every run visible in the charts. Which runs are expanded is not part of a shared view in MLflow 3.17. ``workflowType=machine_learning`` keeps MLflow 3 on its
runs pages instead of the GenAI ones.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import subprocess
from pathlib import Path
from typing import Any

from harness.errors import HarnessError
from harness.runs.schema import (RUN_NAME_ORDER, SHARED_VIEW_PREFIX, SYSTEM_METRICS_PREFIX, Curves, Role, TrialParams,
                                 role_filter)

# `make demo` writes its store here (Makefile: DEMO ?= runs/demo); `harness ui` with no config looks here too
DEMO_RUNS = Path("runs/demo")
SWITCH_COLUMNS = (TrialParams.VARIANT, TrialParams.SEED, TrialParams.APDH, TrialParams.HPA, TrialParams.PHD_POSE,
                  TrialParams.PHD_DETAIL, TrialParams.PHD_LOW, TrialParams.APDH_DROP_PHASES)
CURVE_PREFIXES = (Curves.TRAIN_PREFIX, Curves.EVAL_PREFIX, SYSTEM_METRICS_PREFIX)
STOP_WAIT_S = 10.0  # the server's grace period after SIGTERM before SIGKILL


def port_free(host: str, port: int) -> bool:
    """Whether host:port can be bound now (checked before the link is printed)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_experiment(client: Any, name: str) -> Any | None:
    """The experiment called name, else the one with the newest run (a store opened without its config)."""
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found
    newest, when = None, -1
    for exp in client.search_experiments():
        runs = client.search_runs([exp.experiment_id], max_results=1, order_by=["attributes.start_time DESC"])
        if runs and (runs[0].info.start_time or 0) > when:
            newest, when = exp, runs[0].info.start_time or 0
    return newest


def view_state(client: Any, experiment_id: str) -> dict[str, Any]:
    """The runs-table view: trial runs as rows (by run name: variant-seed), final metrics then switch params
    as columns, all runs shown."""
    runs = client.search_runs([experiment_id], filter_string=role_filter(Role.TRIAL), max_results=200)
    metrics = sorted({k for r in runs for k in r.data.metrics if not k.startswith(CURVE_PREFIXES)})
    params = [p for p in SWITCH_COLUMNS if any(p in r.data.params for r in runs)]
    columns = [f"metrics.`{m}`" for m in metrics] + [f"params.`{p}`" for p in params]
    return {"searchFilter": role_filter(Role.TRIAL), "orderByKey": RUN_NAME_ORDER,
            "orderByAsc": True, "selectedColumns": columns,
            "runsHiddenMode": "SHOW_ALL", "hideEmptyCharts": True}


def share_view(client: Any, experiment_id: str) -> str:
    """Write the view as the experiment's shared view state; returns its key (a hash of the view)."""
    state = json.dumps(view_state(client, experiment_id), sort_keys=True)
    key = "harness-" + hashlib.sha256(state.encode()).hexdigest()[:12]
    client.set_experiment_tag(experiment_id, SHARED_VIEW_PREFIX + key, state)
    return key


def runs_page(base: str, experiment_id: str, view_key: str | None) -> str:
    """The runs table of an experiment in MLflow 3's "Model training" view, with the shared view when given."""
    query = "workflowType=machine_learning" + (f"&viewStateShareKey={view_key}" if view_key else "")
    return f"{base}/#/experiments/{experiment_id}/runs?{query}"


class _Stop(Exception):
    """Raised by the SIGINT/SIGTERM handler: unwinds out of Popen.wait (which holds its lock) first."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def serve(cmd: list[str]) -> int:
    """Run the MLflow UI in its own process group until it exits or this process gets SIGINT/SIGTERM,
    which stop the whole group (uvicorn and its workers) also when not on a terminal. Returns the exit
    code (128 + the signal when stopped by one)."""
    proc = subprocess.Popen(cmd, env=dict(os.environ), start_new_session=True)

    def stop(signum: int, _frame: Any) -> None:
        raise _Stop(signum)  # not _stop_group here: Popen.wait below holds a lock _stop_group's wait needs

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return proc.wait()
    except _Stop as stopped:
        return 128 + stopped.signum
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        _stop_group(proc)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL after STOP_WAIT_S."""
    if proc.poll() is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # workers left behind by a server that exited
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_WAIT_S)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # what did not stop in time, and workers the server left behind
    proc.wait()


def store_error(db: Path, searched: list[Path]) -> HarnessError:
    """No store: one line naming where it looked."""
    where = " or ".join(str(p) for p in searched) if len(searched) > 1 else str(db)
    return HarnessError(f"{where}: no MLflow store yet; run `harness sweep` first")
