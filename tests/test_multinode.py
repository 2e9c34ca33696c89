"""Two real Ray nodes on this machine: a sweep (and a data prepare) joins them with --address,
node B is killed mid-trial, and the trial is retried from its checkpoint on node C.

The head carries no `worker_node` resource, so a trial (sweep.trial_resources={worker_node: 1})
can only run on node B, then on its replacement C: the retry is on another node, not the same
process tree. Every Ray process here is this test's own (own temp dirs, own process groups,
killed by PID); `ray stop` is never used (it would stop every Ray on the machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.mlflow_server import free_port, migrated_store, mlflow_server
from tests.test_sweep import TINY, split_runs
from tests.conftest import EXPERIMENTS

RAY = str(Path(sys.executable).with_name("ray"))
# a lost node is noticed in ~3 s instead of Ray's default ~30 s (heartbeats every 1 s, 3 misses)
FAST_NODE_DEATH = {"RAY_health_check_period_ms": "1000", "RAY_health_check_failure_threshold": "3",
                   "RAY_health_check_initial_delay_ms": "0"}


class Cluster:
    """`ray start --head` and `ray start --address` nodes, each in its own process group and temp dir."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.port = tmp, free_port()
        self.address = f"127.0.0.1:{self.port}"
        # the harness's local Ray uses token auth; the cluster gets a shared token the same way
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
                    "RAY_num_prestart_python_workers": "0", "OMP_NUM_THREADS": "1", **FAST_NODE_DEATH}
        self.nodes: dict[str, subprocess.Popen] = {}
        self.temp_dirs: list[str] = []

    def start(self, name: str, *args: str) -> None:
        temp = tempfile.mkdtemp(prefix=f"rn{name}-", dir="/tmp")  # short: Ray's socket paths live here
        self.temp_dirs.append(temp)
        log = open(self.tmp / f"node_{name}.log", "w")
        cmd = [RAY, "start", "--block", "--node-ip-address", "127.0.0.1", "--temp-dir", temp,
               "--disable-usage-stats", *args]
        self.nodes[name] = subprocess.Popen(cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)

    def raylet_pid(self, name: str) -> int:
        """The raylet of a node: the `raylet` process in that node's process group."""
        pgid = self.nodes[name].pid
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if os.getpgid(int(proc.name)) == pgid and (proc / "comm").read_text().strip() == "raylet":
                    return int(proc.name)
        raise AssertionError(f"node {name}: no raylet")

    def wait_nodes(self, count: int, timeout: float = 90) -> None:
        """Until `count` nodes are alive (asked with `ray status`, which needs the token)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            dead = [name for name, proc in self.nodes.items() if proc.poll() is not None]
            assert not dead, f"ray start of node {dead} ended: {(self.tmp / f'node_{dead[0]}.log').read_text()[-2000:]}"
            out = subprocess.run([RAY, "status", "--address", self.address], env=self.env, capture_output=True,
                                 text=True, timeout=60).stdout
            active = out.split("Active:", 1)[-1].split("Pending:", 1)[0]
            if active.count("node_") >= count:
                return
            time.sleep(1)
        raise AssertionError(f"fewer than {count} Ray nodes after {timeout} s: {out}")

    def kill(self, name: str) -> None:
        """SIGKILL the node's whole process group (raylet, workers, `ray start --block`)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.nodes[name].pid, signal.SIGKILL)
        self.nodes[name].wait()

    def stop_all(self) -> None:
        for name in reversed(list(self.nodes)):
            self.kill(name)
        for temp in self.temp_dirs:
            shutil.rmtree(temp, ignore_errors=True)


@contextlib.contextmanager
def two_nodes(tmp: Path) -> Iterator[Cluster]:
    """A head (1 CPU, no custom resource) and node B (1 CPU, worker_node: 1); every node killed on exit."""
    cluster = Cluster(tmp)
    try:
        cluster.start("head", "--head", "--port", str(cluster.port), "--num-cpus", "1", "--include-dashboard=false",
                      "--dashboard-port", str(free_port()))  # Ray runs a headless dashboard anyway: not on 8265
        cluster.wait_nodes(1)
        cluster.start("b", "--address", cluster.address, "--num-cpus", "1", "--resources", '{"worker_node": 1}')
        cluster.wait_nodes(2)
        yield cluster
    finally:
        cluster.stop_all()


def _wait(predicate, timeout: float, driver: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        assert driver.poll() is None, f"the driver ended (rc {driver.returncode}) before {what}"
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sweep_on_two_nodes_survives_losing_the_trial_node(tmp_path: Path) -> None:
    runs = tmp_path / "shared_runs"  # the folder every node sees (one machine: one disk)
    with mlflow_server(tmp_path, migrated_store(tmp_path)) as uri, two_nodes(tmp_path) as cluster:
        args = [str(EXPERIMENTS / "smoke.yaml"), f"paths.runs={runs}", *TINY, "train.steps=6",
                "sweep.variants={full: {}}", "sweep.trial_resources={worker_node: 1}", f"tracking.uri={uri}",
                "tracking.experiment=multinode", "tracking.system_metrics_s=0"]
        log = open(tmp_path / "driver.log", "w")
        driver = subprocess.Popen([sys.executable, "-m", "harness.cli", "sweep", *args, "--address", cluster.address,
                                   "--json"], cwd=REPO, env=cluster.env, stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            ckpt = runs / "sweeps"
            _wait(lambda: any(ckpt.glob("*/trials/full-s0/checkpoints/step_0000002.pt.json")), 240, driver,
                  "the trial's first checkpoint on node B")
            first_raylet = cluster.raylet_pid("b")
            os.kill(first_raylet, signal.SIGKILL)  # node B is lost mid-trial (its workers die with it)
            cluster.kill("b")
            cluster.start("c", "--address", cluster.address, "--num-cpus", "1", "--resources", '{"worker_node": 1}')
            out, _ = driver.communicate(timeout=300)
        finally:
            if driver.poll() is None:
                driver.kill()
            log.close()
        second_raylet = cluster.raylet_pid("c")
        assert driver.returncode == 0, (tmp_path / "driver.log").read_text()[-3000:]
        summary = json.loads(out)
        assert [(t["key"], t["status"]) for t in summary["trials"]] == [("full-s0", "TERMINATED")]
        trial = Path(summary["folder"]) / "trials" / "full-s0"
        attempts = [dict(zip(line.split()[::2], map(int, line.split()[1::2])))
                    for line in (trial / "attempts.log").read_text().splitlines()]
        # the first attempt's worker was a child of node B's raylet, the retry's of node C's
        assert [a["parent"] for a in attempts] == [first_raylet, second_raylet]
        result = [json.loads(line) for line in next((Path(summary["folder"]) / "tune").glob("full-s0*/result.json"))
                  .read_text().splitlines()]
        final = [r for r in result if r.get("trial_done")]
        assert len(final) == 1 and final[0]["start_step"] >= 2 and final[0]["attempt"] == 2  # resumed, not restarted
        from mlflow.tracking import MlflowClient

        client = MlflowClient(uri)
        exp = client.get_experiment_by_name("multinode")
        all_runs = client.search_runs([exp.experiment_id])
        parents, children = split_runs(all_runs)
        assert len(parents) == 1 and list(children) == ["full-s0"] and len(children["full-s0"]) == 1
        assert all(r.info.status == "FINISHED" for r in all_runs)  # none left RUNNING
        run = children["full-s0"][0]
        assert run.data.tags["attempts"] == "2" and int(run.data.tags["resumed_from_step"]) >= 2
        assert {"ssim", "psnr"} <= set(run.data.metrics)


def _videos(folder: Path, count: int, seconds: float) -> None:
    """Short videos with speech-like audio and no person in them (each is a rejected clip, after the
    keypoint detector has looked at every frame: seconds of work per video)."""
    import numpy as np

    from harness.media import write_video

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    frames = int(25 * seconds)
    for i in range(count):
        video = rng.integers(0, 255, (frames, 96, 96, 3), dtype=np.uint8)
        audio = (0.3 * np.sin(np.arange(int(16000 * seconds)) * 0.05 * (i + 1))).astype(np.float32)
        write_video(folder / f"v{i}.mp4", video, 25, audio, 16000)


def _running_task(cluster: Cluster, name: str, task: str) -> bool:
    """A worker of node `name` is running `task`: a child of its raylet (workers get their own process
    group) whose title Ray sets to ray::<task> while it runs."""
    raylet = cluster.raylet_pid(name)
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if parent == raylet and f"ray::{task}" in (proc / "cmdline").read_text():
                    return True
    return False


@pytest.mark.slow
def test_data_prepare_on_two_nodes_retries_the_lost_nodes_task(tmp_path: Path) -> None:
    src, out = tmp_path / "videos", tmp_path / "shared_data"
    _videos(src, count=4, seconds=4.0)
    with two_nodes(tmp_path) as cluster:
        log = open(tmp_path / "prepare.log", "w")
        driver = subprocess.Popen([sys.executable, "-m", "harness.cli", "data", "prepare", str(src), "--out", str(out),
                                   "--size", "64", "--address", cluster.address, "--json"], cwd=REPO, env=cluster.env,
                                  stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            _wait(lambda: _running_task(cluster, "b", "_safe_prepare"), 180, driver, "a prepare task on node B")
            os.kill(cluster.raylet_pid("b"), signal.SIGKILL)  # node B and the task it was running are lost
            cluster.kill("b")
            out_text, _ = driver.communicate(timeout=240)
        finally:
            if driver.poll() is None:
                driver.kill()
            log.close()
    assert driver.returncode == 0, (tmp_path / "prepare.log").read_text()[-3000:]
    summary = json.loads(out_text)
    rejects = json.loads((out / "rejects.json").read_text())
    # every video has its own verdict: the lost task ran again on the head (no "worker failed" reject)
    assert sorted(Path(r["source"]).name for r in rejects) == [f"v{i}.mp4" for i in range(4)]
    assert all("no person" in r["reason"] for r in rejects), rejects
    assert len(summary["rejected"]) == 4 and summary["clips"] == 0
    assert "will be retried" in (tmp_path / "prepare.log").read_text()  # Ray's note, kept off the JSON on stdout
