"""Does the benchmark detect designed effects? experiments/validity.yaml (full + three positive
controls x 3 seeds) through `harness sweep` and `harness report` on a local Ray: the report's
comparison table must mark each control worse than full at p < 0.05 on the metric it breaks.

Measured wall time and p-values: docs/validity.md (no control is detected at p < 0.05 with the tiny CPU
model at these settings: xfail with the figures, not weakened).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from harness.config_load import load
from tests.conftest import EXPERIMENTS

VALIDITY = EXPERIMENTS / "validity.yaml"
DESIGNED = {"ctrl_no_audio": "sync_c", "ctrl_no_hand_pose": "hkc", "ctrl_no_reference": "csim"}
# The only settings in which validity.yaml may differ from smoke.yaml, each for a measured reason
# (docs/validity.md, "Validity at more identities"):
VALIDITY_ONLY = {
    "eval.metrics": "the designed metrics + SSIM; FID/FVD add minutes and measure no control",
    "eval.test_clips": "the whole test split (12 clips: with 3, CSIM favoured a grey model); smoke evaluates 2 "
                       "for FID/FVD's time",
    "loss.phd.bands.pose": "the default bands, as in every validity sweep measured (docs/validity.md); smoke's "
                           "bands make L_detail and L_low act for the demo's paper rows",
    "loss.phd.bands.detail": "as loss.phd.bands.pose",
    "loss.phd.bands.low": "as loss.phd.bands.pose",
}


def _flat(tree: object, prefix: str = "") -> dict[str, object]:
    """{dotted key: leaf value} of a config dump (lists are leaves)."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    return {k: v for key, sub in tree.items() for k, v in _flat(sub, f"{prefix}.{key}" if prefix else key).items()}


def test_validity_runs_the_smoke_settings_with_the_three_controls() -> None:
    smoke, validity = load(EXPERIMENTS / "smoke.yaml"), load(VALIDITY)
    ignored = ("name", "description", "sweep.")  # what the two experiments are, not how they train
    flat_smoke, flat_validity = (_flat(c.model_dump(mode="json")) for c in (smoke, validity))
    differing = {k for k in flat_smoke.keys() | flat_validity.keys()
                 if not k.startswith(ignored) and flat_smoke.get(k) != flat_validity.get(k)}
    assert differing <= set(VALIDITY_ONLY), sorted(differing - set(VALIDITY_ONLY))
    assert {"sync", "hkc", "csim"} <= set(validity.eval.metrics) and validity.eval.backend == "synthetic"
    assert validity.sweep.baseline == "full" and len(validity.sweep.seeds) == 3
    for variant, diff in validity.sweep.variants.items():
        assert smoke.sweep.variants[variant] == diff  # the same controls as the demo's
    assert set(validity.sweep.variants) == {"full", *DESIGNED}


def _comparisons(report: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(report / "ablation.csv", newline="") as f:
        return {(row["variant"], row["metric"]): row for row in csv.DictReader(f)}


@pytest.fixture(scope="module")
def validity_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """Run the validity sweep and its report once (subprocesses, local Ray): (comparison rows, ablation.md)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    tmp = tmp_path_factory.mktemp("validity")
    runs, out = tmp / "runs", tmp / "report"
    env = dict(os.environ)

    def cli(*args: str, timeout: float) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "harness.cli", *map(str, args)]
        return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)

    sweep = cli("sweep", VALIDITY, f"paths.runs={runs}", "--json", timeout=1800)
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    assert [t["status"] for t in json.loads(sweep.stdout)["trials"]] == ["TERMINATED"] * 12
    report = cli("report", VALIDITY, f"paths.runs={runs}", "--out", out, "--format", "md,csv", timeout=300)
    assert report.returncode == 0, report.stderr[-3000:]
    rows = _comparisons(out)
    for (variant, metric), row in sorted(rows.items()):  # every figure, for the log (pytest -s)
        if row["p_value"]:
            print(f"{variant:18s} {metric:7s} mean {float(row['mean']):.4f} delta {float(row['delta']):+.4f} "
                  f"p {float(row['p_value']):.4f} {row['verdict']}")
    return rows, (out / "ablation.md").read_text()


# Measured (docs/validity.md, "The learning rate, and CSIM centred on the population"; current settings: lr 1e-3,
# 200 steps, 48 clips, all 12 test clips, seeds 0-2, idle 2 cores, sweep 9 min 36 s): no control is worse at
# p < 0.05. ctrl_no_reference is lower on CSIM for every seed (p = 0.064); the audio and hand controls are not
# lower. The earlier detection of ctrl_no_audio (lr 1e-2, p = 0.016) did not survive a change of AdamW kernel
# (fused, the same update: p = 0.64), so it is not counted. The criterion stays; these are expected to fail
# until the tiny model learns more (more steps than 2 cores allow here).
NOT_YET_DETECTED = {
    "ctrl_no_audio": "Sync-C 0.586 -> 0.512, p = 0.34 (0.484/0.519, 0.595/0.509, 0.678/0.507 per seed): the model "
                     "copies the reference's mouth; at lr 1e-2 p = 0.016 with plain AdamW, 0.64 with fused AdamW",
    "ctrl_no_hand_pose": "HKC 0.056 -> 0.057, p = 0.79: no model tried draws hands the synthetic HKC tells from noise",
    "ctrl_no_reference": "CSIM 0.185 -> 0.023, lower for every seed (0.140/0.045, 0.213/-0.029, 0.201/0.054) but "
                         "p = 0.064 with 3 seeds; at 400 steps -0.062, p = 0.10 (SSIM -0.205, p = 0.006); at 96 clips "
                         "+0.072, p = 0.014, better (the 24 test identities share the blurred average's bias)",
}
CONTROLS = [pytest.param(v, marks=pytest.mark.xfail(reason=NOT_YET_DETECTED[v], strict=False))
            if v in NOT_YET_DETECTED else v for v in sorted(DESIGNED)]


@pytest.mark.slow
@pytest.mark.parametrize("variant", CONTROLS)
def test_each_control_is_worse_on_its_designed_metric(validity_report: tuple[dict, str], variant: str) -> None:
    rows, md = validity_report
    metric = DESIGNED[variant]
    row = rows[(variant, metric)]
    assert row["test"] == "paired t" and row["n_compared"] == "3", row
    assert row["backend"].startswith("synthetic"), row  # a flagged stand-in, never unlabelled
    assert row["verdict"] == "worse" and float(row["p_value"]) < 0.05, (
        f"{variant} on {metric}: full {rows[('full', metric)]['mean']}, control {row['mean']}, "
        f"delta {row['delta']}, p {row['p_value']}, verdict {row['verdict']}")
    from reports.labels import variant_label

    names = {"sync_c": "Sync-C", "hkc": "HKC", "csim": "CSIM"}
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines() if "paired t" in line]
    (verdict,) = [c[-1] for c in cells if c[0] == variant_label(variant) and c[1].split()[0] == names[metric]]
    assert "worse" in verdict  # the report's comparison table says it too
