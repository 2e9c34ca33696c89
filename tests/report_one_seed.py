"""Test helper: a one-seed sweep written through the real sweep callback (tests/report_store.py, write_sweep).

The sweep ``smoke-one-seed`` (variants full, wo_apdh, wo_l_pose, wo_hpa; seed 0 only):

* full and wo_apdh finish with the golden store's seed-0 FID and SSIM values;
* HKC has no value in any trial (its reason names a cache path, a URL and a command in backticks, as a
  missing weight file's message does), so the report drops its column and says why;
* wo_l_pose fails with an error naming a machine path and a URL; wo_hpa never runs.

With one seed per variant there is nothing to test: no comparison rows, nothing bold.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from unittest import mock

from harness.config_load import load
from tests import report_store
from tests.conftest import EXPERIMENTS

CACHE_PATH = "/root/.cache/harness/weights"
URL = "https://storage.example.org/models/hand_landmarker.task"
NO_HKC = (f"missing weight file hand_landmarker.task (hands, sha256 0a1b): put it in $HARNESS_WEIGHTS (unset) or "
          f"{CACHE_PATH}; get it from {URL} (`harness weights list` shows it)")  # as metrics/weights.py words it
ERROR = f"OSError: cannot open /tmp/ray/session_1/artifacts/clip0.mp4 (see {URL})"
TRIALS = [("full", 0), ("wo_apdh", 0), ("wo_l_pose", 0)]
FINISHED = [("full", 0), ("wo_apdh", 0)]


def one_seed_runs(tmp_path_factory) -> Path:
    """The one-seed store (paths.runs), built once per test session."""
    from tests.mlflow_server import migrated_store

    base = tmp_path_factory.getbasetemp() / "report_one_seed"
    runs = base / "runs"
    if not (runs / "done").is_file():
        (base / "template").mkdir(parents=True, exist_ok=True)
        runs.mkdir(parents=True, exist_ok=True)
        shutil.copy(migrated_store(base / "template"), runs / "mlflow.db")
        values = {key: {**report_store.VALUES[key], "hkc": None} for key in FINISHED}
        with mock.patch.dict(report_store.VALUES, values, clear=True), \
                mock.patch.object(report_store, "NO_HAND", NO_HKC), mock.patch.object(report_store, "ERROR", ERROR):
            report_store.write_sweep(one_seed_config(runs), "oneseed000000001", "smoke-one-seed", TRIALS,
                                     runs / "tune_errors")
        (runs / "done").write_text("ok\n")
    return runs


def one_seed_config(runs: Path):
    """The config of the one-seed sweep (smoke.yaml, four variants, seed 0, paths.runs=runs)."""
    return load(EXPERIMENTS / "smoke.yaml", [f"paths.runs={runs}", report_store.VARIANTS, "sweep.seeds=[0]",
                                             "train.steps=4"])
