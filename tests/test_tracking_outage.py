"""A tracking server that goes away (#15 item 1), with a real `mlflow server` on 127.0.0.1.

* an outage shorter than tracking.outage_limit_s is waited out and nothing logged is lost;
* a server killed for good mid-sweep ends the sweep within the limit, in one line naming the
  URI (exit 3, no traceback); the runs it left open are closed as KILLED when the server is
  back, and --resume finishes the sweep from the trials' checkpoints with one run per trial.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.config_load import load
from harness.runs.retry import OPEN_RUNS_FILE, RetryingClient, is_transient
from harness.runs.tracker import Tracker
from tests.driver_process import wait_for
from tests.mlflow_server import _wait_healthy, free_port, migrated_store
from tests.test_sweep import split_runs, tiny_args

REPO = Path(__file__).resolve().parents[1]


class Server:
    """`mlflow server` on a fixed port and store, stopped and started again at will (same URI)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.port = tmp, free_port()
        self.db = tmp / "server.db"
        shutil.copy(migrated_store(tmp), self.db)
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port",
               str(self.port), "--workers", "1", "--backend-store-uri", f"sqlite:///{self.db}",
               "--artifacts-destination", str(self.tmp / "server_artifacts")]
        log = self.tmp / "server.log"
        with open(log, "a") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_healthy(self.uri, self.proc, 90, log)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path)
    srv.start()
    try:
        yield srv
    finally:
        srv.kill()


def test_connection_failures_are_transient_and_api_errors_are_not(server: Server) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    with pytest.raises(MlflowException) as missing:
        MlflowClient(server.uri).get_run("0" * 32)
    assert not is_transient(missing.value)  # the server answered: retrying cannot help
    server.kill()
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(MlflowException) as refused:
        MlflowClient(server.uri).search_experiments()
    assert is_transient(refused.value)


@pytest.mark.slow
def test_a_25_second_outage_is_waited_out_and_loses_nothing(server: Server) -> None:
    from mlflow.tracking import MlflowClient

    lost: list = []
    client = RetryingClient(MlflowClient(server.uri), server.uri, limit_s=90, on_lost=lost.append)
    exp = client.create_experiment("outage")
    run_id = client.create_run(exp).info.run_id
    client.log_metric(run_id, "before", 1.0)
    server.kill()
    restart = threading.Timer(25, server.start)
    restart.start()
    start = time.monotonic()
    client.log_metric(run_id, "during", 2.0)  # blocks through the outage
    waited = time.monotonic() - start
    restart.join()
    assert 25 <= waited < 90 and not lost
    assert MlflowClient(server.uri).get_run(run_id).data.metrics == {"before": 1.0, "during": 2.0}


@pytest.mark.slow
def test_a_server_lost_mid_sweep_stops_it_in_one_line_and_resume_finishes(tmp_path: Path, server: Server,
                                                                          run_cli) -> None:
    runs = tmp_path / "runs"
    args = tiny_args(runs, "sweep.variants={full: {}}", "train.steps=6", f"tracking.uri={server.uri}",
                     "tracking.experiment=outage", "tracking.outage_limit_s=10")
    log = tmp_path / "driver.log"
    with open(log, "w") as out:
        driver = subprocess.Popen([sys.executable, "-m", "harness.cli", "sweep", *args], cwd=REPO, stdout=out,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: any(runs.glob("sweeps/*/trials/*/checkpoints/step_0000002.pt")), 300, driver,
                 "the first checkpoint")
        server.kill()
        killed_at = time.monotonic()
        rc = driver.wait(timeout=240)
        stopped_after = time.monotonic() - killed_at
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(driver.pid, signal.SIGKILL)
    text = log.read_text()
    errors = [ln for ln in text.splitlines() if ln.startswith("error:")]
    assert rc == 3, text[-3000:]
    assert "Traceback" not in text and len(errors) == 1, text[-3000:]
    assert server.uri in errors[0] and "--resume" in errors[0]
    assert stopped_after < 180, stopped_after  # 10 s limit + stopping the trial under load
    assert (runs / OPEN_RUNS_FILE).is_file()  # what could not be closed, recorded for later

    from mlflow.tracking import MlflowClient

    server.start()  # the same URI answers again
    client = MlflowClient(server.uri)
    experiment = client.get_experiment_by_name("outage").experiment_id
    assert {r.info.status for r in client.search_runs([experiment])} == {"RUNNING"}  # nobody could close them
    Tracker(load(args[0], args[1:]))  # any harness command that opens the store closes them
    assert {r.info.status for r in client.search_runs([experiment])} == {"KILLED"}
    assert not (runs / OPEN_RUNS_FILE).exists()

    proc = run_cli("sweep", *args, "--resume", "--json", timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    every = client.search_runs([experiment], max_results=100)
    parents, children = split_runs(every)
    assert [r.info.status for r in every if r.info.status == "RUNNING"] == []
    assert len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert list(children) == ["full-s0"] and len(children["full-s0"]) == 1
    trial = children["full-s0"][0]
    assert trial.info.status == "FINISHED" and int(trial.data.tags["resumed_from_step"]) >= 2
