"""`harness ui`: the MLflow UI for the default sqlite store, on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import EXPERIMENTS, REPO
from tests.mlflow_server import free_port, migrated_store


def test_ui_without_a_store_is_one_line(tmp_path: Path, run_cli) -> None:
    proc = run_cli("ui", EXPERIMENTS / "smoke.yaml", f"paths.runs={tmp_path}")
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path.resolve()}/mlflow.db: no MLflow store yet; run `harness sweep` first"


def test_ui_refuses_a_server_uri(tmp_path: Path, run_cli) -> None:
    proc = run_cli("ui", EXPERIMENTS / "smoke.yaml", "tracking.uri=http://127.0.0.1:5000")
    assert proc.returncode == 2 and "open that server in a browser" in proc.stderr


@pytest.mark.slow
def test_ui_serves_the_default_store_on_localhost(tmp_path: Path) -> None:
    migrated_store(tmp_path)  # tmp_path/mlflow.db: a migrated default store ...
    from harness.config_load import load
    from harness.runs.schema import EXPERIMENT_KIND, EXPERIMENT_KIND_RUNS
    from harness.runs.tracker import Tracker

    tracker = Tracker(load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={tmp_path}"]))  # ... with the experiment
    assert tracker.client.get_experiment(tracker.experiment_id).tags[EXPERIMENT_KIND] == EXPERIMENT_KIND_RUNS
    port = free_port()
    cmd = [sys.executable, "-m", "harness.cli", "ui", str(EXPERIMENTS / "smoke.yaml"), f"paths.runs={tmp_path}",
           "--port", str(port)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
                            env=dict(os.environ))
    try:
        deadline, ok = time.monotonic() + 180, False  # its server took 70-90 s to answer at load 12-16
        while time.monotonic() < deadline and not ok and proc.poll() is None:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    ok = resp.status == 200
            time.sleep(0.5)
        assert ok, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no answer"
        listening = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
        assert f"127.0.0.1:{port}" in listening and f"0.0.0.0:{port}" not in listening
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # the printed link opens the runs table ("Model training"), not MLflow 3's GenAI traces page
    runs_page = f"http://127.0.0.1:{port}/#/experiments/{tracker.experiment_id}/runs?workflowType=machine_learning"
    assert runs_page in proc.stderr.read().decode()
