"""`harness ui`: the MLflow UI for the default sqlite store, on 127.0.0.1 only."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
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


def _server_processes(marker: str) -> list[int]:
    """Pids of live processes whose command line names marker (the store's unique folder)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((ln for ln in (proc / "status").read_text().splitlines() if ln.startswith("State:")), "")
            if marker in cmdline and "zombie" not in state:
                pids.append(int(proc.name))
    return pids


def _listening(port: int) -> bool:
    return f"127.0.0.1:{port} " in subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout


def test_ui_on_a_port_in_use_is_one_line_and_no_link(tmp_path: Path) -> None:
    """Issue 15 item 10: the port is checked before the link is printed; exit 2, one line. Run with no config
    in a folder holding only the demo's store (runs/demo/mlflow.db): the store is found, the port is not free."""
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    migrated_store(tmp_path / "runs" / "demo")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "harness.cli", "ui", "--port", str(port)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip() == f"error: port {port} on 127.0.0.1 is in use; pick another with --port"
    assert "http://" not in proc.stdout + proc.stderr


def test_ui_without_any_store_names_both_places(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "ui"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.returncode == 2
    runs = tmp_path.resolve() / "runs"
    assert proc.stderr.strip() == (f"error: {runs}/mlflow.db or {runs}/demo/mlflow.db: no MLflow store yet; "
                                   "run `harness sweep` first")


@pytest.mark.slow
def test_ui_finds_the_demo_store_and_stops_on_sigterm_off_a_terminal(tmp_path: Path) -> None:
    """`make demo`'s store found with no arguments; the link opens the shared runs-table view (trial runs,
    final metrics and switch params as columns); SIGTERM to `harness ui` (no terminal, not its process
    group) stops its server: no process left, the port closed."""
    import json

    from mlflow.tracking import MlflowClient

    from harness.runs.schema import RUN_NAME_ORDER, SHARED_VIEW_PREFIX
    from tests.report_store import build_store

    demo = (tmp_path / "runs" / "demo").resolve()
    (tmp_path / "template").mkdir()
    build_store(demo, migrated_store(tmp_path / "template"))  # a sweep through the real writers
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "ui", "--port", str(port)], cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        deadline, ok = time.monotonic() + 240, False
        while time.monotonic() < deadline and not ok and proc.poll() is None:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
                    ok = resp.status == 200
            time.sleep(0.5)
        assert ok, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "no answer"
        assert _server_processes(str(demo)), "the server is not a process naming the demo store"
        proc.send_signal(signal.SIGTERM)  # to `harness ui` alone, as a service manager or `timeout` would
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (_server_processes(str(demo)) or _listening(port)):
        time.sleep(0.5)
    assert _server_processes(str(demo)) == [] and not _listening(port)
    lines = proc.stderr.read().decode().strip().splitlines()
    link = next(ln for ln in lines if ln.startswith("MLflow UI on http://"))
    client = MlflowClient(f"sqlite:///{demo}/mlflow.db")
    exp = client.get_experiment_by_name("smoke")
    assert f"/#/experiments/{exp.experiment_id}/runs?workflowType=machine_learning&viewStateShareKey=" in link
    key = link.split("viewStateShareKey=")[1].split()[0]
    view = json.loads(exp.tags[SHARED_VIEW_PREFIX + key])
    assert view["orderByKey"] == RUN_NAME_ORDER and view["runsHiddenMode"] == "SHOW_ALL"
    assert {"metrics.`fid`", "metrics.`ssim`", "metrics.`hkc`", "params.`variant`", "params.`apdh`",
            "params.`hpa`", "params.`phd_pose`"} <= set(view["selectedColumns"])
    assert not any("train/" in c or "system/" in c for c in view["selectedColumns"])


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
