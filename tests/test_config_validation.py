"""Validation in one place: every config that `harness sweep`, `tune` or `train` refused at start (or
failed on at run time) is refused by `harness config validate` with the same one line, exit 2.

Each case is an experiment file extending a shipped experiment with one mistake. The expected line
is written out here (file, key path, message); `harness config validate` runs once as a subprocess
over all of them, and each command runs in-process with its runner replaced by a tripwire, so a
config that slipped through would fail the test instead of starting Ray or a training run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXPERIMENTS, REPO

RANGE = {"low": 0.01, "high": 1.0}
ENV = dict(os.environ)


@dataclass(frozen=True)
class Case:
    """One mistake: the experiment it extends, the YAML it adds, the command that refused it, the line."""

    id: str
    base: str  # the shipped experiment it extends: "base", "smoke" or "tune_schedule"
    change: dict[str, Any]
    command: str  # sweep | tune | train
    key: str  # the key path the line names
    message: str
    source: str = "leaf"  # the file the key was set in: "leaf" (the case's file) or "base"


CASES = [
    # harness sweep: names, seeds and GPUs per trial
    Case("variant_space", "smoke", {"sweep": {"variants": {"full": {}, "a b": {}}}}, "sweep", "sweep.variants.a b",
         "names may use letters, digits, '_', '.', '-' only; got ['a b']"),
    Case("variant_dotdot", "smoke", {"sweep": {"variants": {"full": {}, "../x": {}}}}, "sweep", "sweep.variants.../x",
         "names may use letters, digits, '_', '.', '-' only; got ['../x']"),
    Case("variant_only_dots", "smoke", {"sweep": {"variants": {"full": {}, "..": {}}}}, "sweep", "sweep.variants...",
         "names may use letters, digits, '_', '.', '-' only; got ['..']"),
    Case("seeds_repeated", "smoke", {"sweep": {"seeds": [1, 1]}}, "sweep", "sweep.seeds", "repeated seeds [1, 1]"),
    Case("seeds_empty", "smoke", {"sweep": {"seeds": []}}, "sweep", "sweep.seeds",
         "at least one seed is needed (each seed is one trial per variant)"),
    Case("seed_negative", "smoke", {"sweep": {"seeds": [0, -1]}}, "sweep", "sweep.seeds.1",
         "Input should be greater than or equal to 0"),
    Case("gpus_fraction", "smoke", {"sweep": {"gpus_per_trial": 2.5}}, "sweep", "sweep.gpus_per_trial",
         "2.5 with sweep.workers_per_trial=2: a trial on several GPUs takes a whole number of them, "
         "one per data-parallel worker"),
    Case("gpus_per_worker", "smoke", {"sweep": {"gpus_per_trial": 4, "workers_per_trial": 2}}, "sweep",
         "sweep.gpus_per_trial", "4 with sweep.workers_per_trial=2: a trial on several GPUs takes a whole number "
         "of them, one per data-parallel worker"),
    Case("experiment_name", "smoke", {"tracking": {"experiment": "../elsewhere"}}, "sweep", "tracking.experiment",
         "'../elsewhere': use letters, digits, '_', '.', '-' only"),
    # harness tune: the study's name, objectives, search space, one worker per trial, sampler seed
    Case("study_dotdot", "tune_schedule", {"tune": {"study_name": "../up"}}, "tune", "tune.study_name",
         "'../up': use letters, digits, '_', '.', '-' only"),
    Case("objective_not_computed", "tune_schedule", {"eval": {"metrics": ["ssim", "psnr"]}}, "tune",
         "tune.objectives[0].metric", "'fid' is not computed: eval.metrics [ssim, psnr] gives [ssim, psnr]",
         source="base"),
    Case("objective_twice", "tune_schedule",
         {"tune": {"objectives": [{"metric": "ssim", "direction": "maximize"},
                                  {"metric": "ssim", "direction": "minimize"}]}}, "tune",
         "tune.objectives[1].metric", "'ssim' is already an objective"),
    Case("space_unknown_key", "tune_schedule", {"tune": {"space": {"loss.phd.low.wieght": RANGE}}}, "tune",
         "tune.space.loss.phd.low.wieght", "unknown config key (did you mean loss.phd.low.weight?)"),
    Case("space_not_number", "tune_schedule", {"tune": {"space": {"model.preset": RANGE}}}, "tune",
         "tune.space.model.preset", "not a number (str)"),
    Case("space_not_tunable", "tune_schedule",
         {"tune": {"space": {"sweep.max_failures": {"low": 1, "high": 3, "kind": "int"}}}}, "tune",
         "tune.space.sweep.max_failures", "not a training setting (tune, sweep, tracking and paths keys cannot be tuned)"),
    Case("space_band_conflict", "tune_schedule", {"tune": {"space": {"loss.phd.bands.pose": RANGE}}}, "tune",
         "tune.space.loss.phd.bands.pose", "conflicts with tune.tune_phd_bands (the bands are sampled together)"),
    Case("space_int_without_kind", "tune_schedule", {"tune": {"space": {"train.steps": {"low": 10, "high": 20}}}},
         "tune", "tune.space.train.steps", "train.steps is an integer; add kind: int"),
    Case("space_no_integer", "tune_schedule",
         {"tune": {"space": {"train.steps": {"low": 10.2, "high": 10.8, "kind": "int"}}}}, "tune",
         "tune.space.train.steps", "no integer in [10.2, 10.8]"),
    Case("space_end_invalid", "tune_schedule", {"tune": {"space": {"train.lr": {"low": 0.0, "high": 0.1}}}}, "tune",
         "tune.space.train.lr", "low=0 gives an invalid config (train.lr: Input should be greater than 0)"),
    Case("boundaries_without_apdh", "tune_schedule", {"model": {"apdh": {"enabled": False}}}, "tune",
         "tune.tune_apdh_boundaries", "model.apdh.enabled is false, so the boundaries change nothing", source="base"),
    Case("boundaries_one_phase", "base",  # base.yaml: no sweep variants that drop phases
         {"model": {"apdh": {"phases": [{"name": "audio_body", "end": 1.0, "pose_parts": ["hands"],
                                         "audio_mask": "full"}]}}, "tune": {"tune_apdh_boundaries": True}}, "tune",
         "tune.tune_apdh_boundaries", "model.apdh.phases has one phase; there is no boundary to tune"),
    Case("tune_two_workers", "tune_schedule", {"sweep": {"workers_per_trial": 2}}, "tune", "sweep.workers_per_trial",
         "2 data-parallel workers per trial (sweep.gpus_per_trial=0) run under `harness sweep`; `harness tune` "
         "trains each trial in one process (not supported yet)"),
    Case("sampler_seed", "tune_schedule", {"tune": {"seed": -1}}, "tune", "tune.seed",
         "Input should be greater than or equal to 0"),
    # harness train: what failed at run time (numpy seeds, the preset's downsampling, LPIPS)
    Case("train_seed", "smoke", {"train": {"seed": -1}}, "train", "train.seed", "Input should be greater than or equal to 0"),
    Case("synthetic_seed", "smoke", {"data": {"synthetic": {"seed": -3}}}, "train", "data.synthetic.seed",
         "Input should be greater than or equal to 0"),
    Case("size_vs_preset", "smoke", {"data": {"size": 36}}, "train", "data.size",
         "36 is not divisible by the tiny preset's total downsampling (8)"),
    Case("window_longer_than_clip", "smoke", {"data": {"frames": 30, "synthetic": {"seconds": 1.0}}}, "train",
         "data.frames", "30 frames per window, but a synthetic clip has 24 (data.synthetic.seconds=1 x data.fps=24)"),
    Case("lpips", "smoke", {"loss": {"phd": {"low": {"kind": "lpips"}}}}, "train", "loss.phd.low.kind",
         "lpips needs LPIPS weights on disk, which the harness does not support yet; use ssim_l1"),
]


def _write(case: Case, folder: Path) -> Path:
    body = {"extends": str(EXPERIMENTS / f"{case.base}.yaml"), "paths": {"runs": str(folder / "runs")}, **case.change}
    path = folder / f"{case.id}.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def _expected(case: Case, path: Path) -> str:
    source = path if case.source == "leaf" else EXPERIMENTS / f"{case.base}.yaml"
    return f"{source}: {case.key}: {case.message}"


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], subprocess.CompletedProcess]:
    """Every case's file, and one `harness config validate` over all of them (plus a good file)."""
    folder = tmp_path_factory.mktemp("cases")
    paths = {case.id: _write(case, folder) for case in CASES}
    good = EXPERIMENTS / "tune_schedule.yaml"
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "config", "validate", str(good), *map(str, paths.values())],
                          capture_output=True, text=True, cwd=REPO, timeout=300, env=ENV)
    return paths, proc


def test_validate_refuses_every_case_and_passes_the_good_file(validated) -> None:
    paths, proc = validated
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout.startswith(f"ok  {EXPERIMENTS / 'tune_schedule.yaml'}"), proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert lines[-1] == f"{len(CASES)} of {len(CASES) + 1} file(s) invalid"
    assert len(lines) == len(CASES) + 1 and "Traceback" not in proc.stderr  # one line per refused file


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_validate_and_the_command_refuse_with_the_same_line(case: Case, validated, monkeypatch) -> None:
    from harness.cli import app
    from harness.errors import HarnessError

    paths, proc = validated
    expected = _expected(case, paths[case.id])
    assert expected in proc.stderr.splitlines(), proc.stderr
    _tripwire(monkeypatch)
    with pytest.raises(HarnessError) as refused:
        app([case.command, str(paths[case.id])], standalone_mode=False)
    assert str(refused.value) == expected  # the CLI prints it as "error: <line>", exit 2


def test_sweep_prints_the_line_and_exits_2(validated) -> None:
    """The command as users run it: one line on stderr, exit 2, no Ray started."""
    paths, _ = validated
    case = next(c for c in CASES if c.id == "seeds_empty")
    proc = subprocess.run([sys.executable, "-m", "harness.cli", "sweep", str(paths[case.id])],
                          capture_output=True, text=True, cwd=REPO, timeout=300, env=ENV)
    assert proc.returncode == 2 and proc.stderr.strip() == f"error: {_expected(case, paths[case.id])}", proc.stderr


def _tripwire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replace what each command would start, so a config that is not refused fails fast."""
    def started(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the command started instead of refusing the config")

    import harness.sweep.driver
    import harness.tune.driver

    monkeypatch.setattr(harness.sweep.driver, "run_sweep", started)
    monkeypatch.setattr(harness.tune.driver, "run_tune", started)
    trainer = type(sys)("harness.train.trainer")
    trainer.train = started  # no torch import: train() is looked up in this module when the command runs
    monkeypatch.setitem(sys.modules, "harness.train.trainer", trainer)
