"""The local Ray of sweep, tune and data prepare runs with token authentication: a client
without the token is refused, and no token file is written outside the run (Ray would put one
in ~/.ray). Ray 2.60 has no bind option (its gRPC servers listen on every interface); the
listeners are read from the OS here and printed, so a Ray upgrade that binds them to the node
address shows up in this test's output (docs/design.md, "Faults and recovery")."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DRIVER = r"""
import json, os, subprocess, sys
import psutil, ray
from harness.runtime.session import ray_session

with ray_session(None, num_cpus=1):
    gcs = ray.get_runtime_context().gcs_address
    procs = [p for p in psutil.Process().children(recursive=True)]
    listeners = sorted({f"{c.laddr.ip}:{c.laddr.port}" for p in procs for c in p.net_connections("tcp")
                        if c.status == psutil.CONN_LISTEN})
    intruder_env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    intruder_env["RAY_AUTH_MODE"] = "disabled"  # a client that does not know the token
    code = "import ray; ray.init(address=%r, log_to_driver=False); print('connected')" % gcs
    try:
        intruder = subprocess.run([sys.executable, "-c", code], env=intruder_env, capture_output=True, text=True, timeout=60)
        outcome = {"rc": intruder.returncode, "stdout": intruder.stdout, "stderr": intruder.stderr[-400:]}
    except subprocess.TimeoutExpired:
        outcome = {"rc": None, "stdout": "", "stderr": "timed out"}
    print(json.dumps({"mode": os.environ.get("RAY_AUTH_MODE"), "gcs": gcs, "listeners": listeners, "intruder": outcome}))
"""


@pytest.mark.slow
def test_local_ray_refuses_a_client_without_the_token_and_writes_no_token_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
    env["HOME"] = str(tmp_path)  # Ray's default token file would be <HOME>/.ray/auth_token
    proc = subprocess.run([sys.executable, "-c", DRIVER], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    print("local Ray listeners (ip:port):", report["listeners"])
    assert report["mode"] == "token"
    assert report["intruder"]["rc"] != 0 and "connected" not in report["intruder"]["stdout"], report["intruder"]
    assert not (tmp_path / ".ray").exists()  # the token lived in the environment only
    assert report["listeners"], "no listener found: the OS read failed"
