"""Driver-side MLflow logging of trials (a Tune Callback), the sweep's as it is and the study's base: the only MLflow writer.

Trial -> run mapping goes through the tracker's ``trial_key`` lookup, not Tune's trial ids,
so a retried trial, or one continued by ``Tuner.restore`` in a new driver, writes into its
existing child run. The callback is pickled into Tune's experiment state: it keeps only
plain data and re-opens the tracker lazily.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ray.tune import Callback

from harness.config import ExperimentConfig
from harness.config_load import load_dict, sweep_trial_config
from harness.runs.record import diff_param, flatten
from harness.runs.schema import MAX_PARAM_CHARS, NOTE, Curves, Role, SweepParams, SweepTags, TrialTags, trial_key
from harness.runs.store import git_commit
from harness.runtime.trial_io import DONE_KEY, STEP_KEY
from harness.runs.tracker import Tracker


def variant_change(diff: dict[str, Any]) -> str:
    """A variant's config diff in one line: 'model.apdh.enabled=false' (or 'none' for the baseline)."""
    return ", ".join(f"`{k}={v}`" for k, v in flatten(diff).items()) or "none (the experiment as it is)"


class MlflowSweepCallback(Callback):
    """Parent run per sweep, child run per trial: params, tags, curves, final metrics, artifacts.

    Subclasses (the tuning study's callback) override ``role``, ``parent_info``,
    ``trial_key_of``, ``trial_config_of``, ``trial_tags`` and ``trial_params``.
    """

    role = Role.SWEEP

    def __init__(self, base: dict[str, Any], sweep_id: str, sweep_name: str, dataset_hash: str) -> None:
        self.base, self.sweep_id, self.sweep_name, self.dataset_hash = base, sweep_id, sweep_name, dataset_hash
        self._tracker: Tracker | None = None
        self._parent: str | None = None
        self._runs: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_tracker=None, _parent=None, _runs={})
        return state

    # ------------------------------------------------------------------ runs

    def parent(self) -> str:
        """The sweep's parent run id (created or found on first use)."""
        if self._parent is None:
            cfg = load_dict(self.base)
            self._tracker = Tracker(cfg)
            tags, params = self.parent_info(cfg)
            self._parent = self._tracker.parent_run(self.sweep_id, self.sweep_name, tags=tags, params=params,
                                                    role=self.role)
        return self._parent

    def parent_info(self, cfg: ExperimentConfig) -> tuple[dict[str, str], dict[str, str]]:
        """(tags, params) of the parent run when it is created."""
        tags = {SweepTags.GIT_COMMIT: git_commit(), SweepTags.CONFIG_HASH: self.base_hash(),
                SweepTags.DATASET_HASH: self.dataset_hash, SweepTags.SWEEP_NAME: self.sweep_name,
                SweepTags.VARIANTS: ",".join(cfg.sweep.variants), SweepTags.SEEDS: ",".join(map(str, cfg.sweep.seeds))}
        params = {SweepParams.VARIANTS: json.dumps(cfg.sweep.variants, sort_keys=True)[:MAX_PARAM_CHARS],
                  SweepParams.SEEDS: json.dumps(cfg.sweep.seeds)}
        lines = [f"Ablation sweep of `{cfg.name}`: {len(cfg.sweep.variants)} variants x seeds "
                 f"{cfg.sweep.seeds}, baseline `{cfg.sweep.baseline}`.", "",
                 "| variant | change against the experiment |", "|---|---|"]
        lines += [f"| {v} | {variant_change(diff)} |" for v, diff in cfg.sweep.variants.items()]
        lines += ["", "Compare: select the child runs, press Compare, and put `variant` on the axis; "
                  "`harness report` writes the tables and plots."]
        tags[NOTE] = "\n".join(lines)  # the run's Description in the MLflow UI
        return tags, params

    def base_hash(self) -> str:
        return self.sweep_name.rsplit("-", 1)[-1]

    @property
    def tracker(self) -> Tracker:
        self.parent()
        assert self._tracker is not None
        return self._tracker

    def run_for(self, trial: Any) -> str:
        """The child run of a trial (found by its key, else created with params and tags)."""
        key = self.trial_key_of(trial)
        if key not in self._runs:
            cfg = self.trial_config_of(trial)
            self._runs[key] = self.tracker.trial_run(self.parent(), key, cfg, tags=self.trial_tags(trial, cfg),
                                                     params=self.trial_params(trial, cfg))
        return self._runs[key]

    def trial_key_of(self, trial: Any) -> str:
        """The resume key and run name of a Tune trial (never Tune's trial id)."""
        return trial_key(trial.config["variant"], int(trial.config["seed"]))

    def trial_config_of(self, trial: Any) -> ExperimentConfig:
        return sweep_trial_config(self.base, trial.config["variant"], int(trial.config["seed"]))

    def trial_tags(self, trial: Any, cfg: ExperimentConfig) -> dict[str, str]:
        """Tags of a new child run (the tracker adds trial_key, seed, config hash and switch tags)."""
        variant = trial.config["variant"]
        return {TrialTags.VARIANT: variant, TrialTags.GIT_COMMIT: git_commit(),
                TrialTags.DATASET_HASH: self.dataset_hash,
                TrialTags.SWEEP_NAME: self.sweep_name, TrialTags.BASELINE: str(variant == cfg.sweep.baseline).lower(),
                NOTE: f"`{variant}` (seed {cfg.train.seed}): {variant_change(cfg.sweep.variants[variant])}"}

    def trial_params(self, trial: Any, cfg: ExperimentConfig) -> dict[str, str]:
        """Params of a new child run besides its resolved config and records: the variant's config diff."""
        return diff_param(cfg.sweep.variants[trial.config["variant"]])

    # ------------------------------------------------------------------ Tune hooks

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.run_for(trial)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        run_id = self.run_for(trial)
        step = int(result.get(STEP_KEY, 0))
        curves = {k: v for k, v in result.items() if k.startswith(Curves.TRAIN_PREFIX)}
        self.tracker.log_metrics(run_id, curves, step)
        if "attempt" in result:
            self.tracker.set_tags(run_id, {TrialTags.ATTEMPTS: result["attempt"]})
        if result.get(DONE_KEY):
            self.tracker.log_results(run_id, json.loads(result["results_json"]), step)
            self.tracker.set_tags(run_id, {TrialTags.RESUMED_FROM_STEP: result.get("start_step", 0)})

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.set_tags(self.run_for(trial), {TrialTags.LAST_ERROR: _error_text(trial)})

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        run_id = self.run_for(trial)
        if trial.checkpoint is not None:
            with tempfile.TemporaryDirectory(prefix="harness-art-") as tmp:
                folder = Path(trial.checkpoint.to_directory(tmp))
                self.tracker.log_artifacts(run_id, folder)
        self.tracker.finish(run_id)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.finish(self.run_for(trial), error=_error_text(trial))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        failed = [t for t in trials if t.status == "ERROR"]
        self.tracker.set_tags(self.parent(), {SweepTags.TRIALS: len(trials), SweepTags.FAILED_TRIALS: len(failed)})
        self.tracker.finish(self.parent(), error=f"{len(failed)} trial(s) failed" if failed else None)

    def mark_interrupted(self) -> None:
        """The driver stops early (Ctrl-C, error): its RUNNING runs become KILLED (--resume reopens them)."""
        if self._tracker is None:
            return
        parent = self.parent()
        for run in self._tracker.child_runs(parent):
            if run.info.status == "RUNNING":
                self._tracker.kill(run.info.run_id)
        self._tracker.kill(parent)

def _error_text(trial: Any) -> str:
    """The trial's error as one short text (Tune keeps it in error.txt / error.pkl)."""
    path = getattr(trial, "error_file", None)
    try:
        text = Path(path).read_text() if path else ""
    except OSError:
        text = ""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else "trial failed")[:1000]
