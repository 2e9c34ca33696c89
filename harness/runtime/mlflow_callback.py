"""Driver-side MLflow logging of trials (a Tune Callback), the sweep's as it is and the study's base: the only MLflow writer.

Trial -> run mapping goes through the tracker's ``trial_key`` lookup, not Tune's trial ids,
so a retried trial, or one continued by ``Tuner.restore`` in a new driver, writes into its
existing child run. The callback is pickled into Tune's experiment state: it keeps only
plain data and re-opens the tracker lazily.

MLflow's system metrics of a trial run are sampled here, in the driver (tracking.system_metrics_s):
with a local Ray that is the node the trials run on; on a cluster it is the head node.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from ray.tune import Callback

from harness.config import ExperimentConfig
from harness.config_load import load_dict, sweep_trial_config
from harness.runs.context import SystemMetrics, checkpoint_record, source_tags
from harness.runs.record import diff_param, flatten, varying_keys
from harness.runs.schema import (MAX_PARAM_CHARS, NOTE, Artifacts, Curves, Role, SweepParams, SweepTags, TrialParams,
                                 TrialTags, trial_key)
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
        self._monitors: dict[str, SystemMetrics] = {}  # run id -> its system-metrics sampler (threads: not pickled)
        self._cfg: ExperimentConfig | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.update(_tracker=None, _parent=None, _runs={}, _monitors={}, _cfg=None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"_monitors": {}, "_cfg": None, **state})  # state pickled before these existed

    # ------------------------------------------------------------------ runs

    def parent(self) -> str:
        """The sweep's parent run id (created or found on first use)."""
        if self._parent is None:
            cfg = self._cfg = load_dict(self.base)
            self._tracker = Tracker(cfg)
            tags, params = self.parent_info(cfg)
            self._parent = self._tracker.parent_run(self.sweep_id, self.sweep_name, tags=tags, params=params,
                                                    role=self.role)
        return self._parent

    def parent_info(self, cfg: ExperimentConfig) -> tuple[dict[str, str], dict[str, str]]:
        """(tags, params) of the parent run when it is created."""
        tags = {SweepTags.GIT_COMMIT: git_commit(), SweepTags.CONFIG_HASH: self.base_hash(),
                SweepTags.DATASET_HASH: self.dataset_hash, SweepTags.SWEEP_NAME: self.sweep_name,
                SweepTags.VARIANTS: ",".join(cfg.sweep.variants), SweepTags.SEEDS: ",".join(map(str, cfg.sweep.seeds)),
                **source_tags()}
        params = {SweepParams.VARIANTS: json.dumps(cfg.sweep.variants, sort_keys=True)[:MAX_PARAM_CHARS],
                  SweepParams.SEEDS: json.dumps(cfg.sweep.seeds)}
        lines = [f"Ablation sweep of `{cfg.name}`: {len(cfg.sweep.variants)} variants x seeds "
                 f"{cfg.sweep.seeds}, baseline `{cfg.sweep.baseline}`.", "",
                 "| variant | change against the experiment |", "|---|---|"]
        lines += [f"| {v} | {variant_change(diff)} |" for v, diff in cfg.sweep.variants.items()]
        lines += ["", "Runs table: the child runs carry `variant`, `seed` and the switches (`apdh`, `hpa`, `phd_*`) "
                  "as params and every final metric as one value (a bar in the chart view).",
                  "Compare: select the child runs, press Compare, and put `variant` on the axis; "
                  f"`harness report` writes the tables and plots and adds them here under `{Artifacts.REPORT}/`."]
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
                NOTE: f"`{variant}` (seed {cfg.train.seed}): {variant_change(cfg.sweep.variants[variant])}",
                **source_tags()}

    def trial_params(self, trial: Any, cfg: ExperimentConfig) -> dict[str, str]:
        """Params of a new child run besides its seed, switches, settings and records: the variant, the config
        keys any variant changes (the same columns on every trial) and the variant's config diff."""
        flat = flatten(cfg.to_dict())
        varying = {k: flat[k][:MAX_PARAM_CHARS] for k in varying_keys(cfg.sweep.variants.values()) if k in flat}
        return {TrialParams.VARIANT: trial.config["variant"], **varying,
                **diff_param(cfg.sweep.variants[trial.config["variant"]])}

    # ------------------------------------------------------------------ Tune hooks

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        run_id = self.run_for(trial)
        interval = self.config.tracking.system_metrics_s
        if interval > 0 and run_id not in self._monitors:
            self._monitors[run_id] = SystemMetrics(run_id, self.tracker.uri, interval)

    @property
    def config(self) -> ExperimentConfig:
        """The experiment's config (loaded with the parent run)."""
        self.parent()
        assert self._cfg is not None
        return self._cfg

    def stop_system_metrics(self, run_id: str) -> None:
        """Stop sampling a run's system metrics (before its status leaves RUNNING)."""
        monitor = self._monitors.pop(run_id, None)
        if monitor is not None:
            monitor.finish()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        run_id = self.run_for(trial)
        step = int(result.get(STEP_KEY, 0))
        curves = {k: v for k, v in result.items() if k.startswith(Curves.TRAIN_PREFIX)}
        self.tracker.log_metrics(run_id, curves, step)
        if "attempt" in result:
            self.tracker.set_tags(run_id, {TrialTags.ATTEMPTS: result["attempt"]})
        if result.get(DONE_KEY):
            self.tracker.log_results(run_id, json.loads(result["results_json"]))
            self.tracker.set_tags(run_id, {TrialTags.RESUMED_FROM_STEP: result.get("start_step", 0)})

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.tracker.set_tags(self.run_for(trial), {TrialTags.LAST_ERROR: _error_text(trial)})

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        run_id = self.run_for(trial)
        self.stop_system_metrics(run_id)
        if trial.checkpoint is not None:
            with tempfile.TemporaryDirectory(prefix="harness-art-") as tmp:
                folder = Path(trial.checkpoint.to_directory(tmp))
                self.log_checkpoint(run_id, folder / Artifacts.TRIAL)
                self.tracker.log_artifacts(run_id, folder)
        self.tracker.finish(run_id)

    def log_checkpoint(self, run_id: str, trial_json: Path) -> None:
        """The final trainer checkpoint: its URI, or (tracking.checkpoints=artifact) the file under checkpoint/;
        trial.json is rewritten to name it so, and the CHECKPOINT tag says where it is."""
        if not trial_json.is_file():
            return
        record, file = checkpoint_record(trial_json, self.config.tracking.checkpoints)
        trial_json.write_text(json.dumps(record) + "\n")
        if file is not None:
            self.tracker.client.log_artifact(run_id, str(file), Artifacts.CHECKPOINT)
        if record.get(TrialTags.CHECKPOINT, "none") != "none":
            self.tracker.set_tags(run_id, {TrialTags.CHECKPOINT: record[TrialTags.CHECKPOINT]})

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        run_id = self.run_for(trial)
        self.stop_system_metrics(run_id)
        self.tracker.finish(run_id, error=_error_text(trial))

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        failed = [t for t in trials if t.status == "ERROR"]
        self.tracker.set_tags(self.parent(), {SweepTags.TRIALS: len(trials), SweepTags.FAILED_TRIALS: len(failed)})
        self.tracker.finish(self.parent(), error=f"{len(failed)} trial(s) failed" if failed else None)

    def mark_interrupted(self) -> None:
        """The driver stops early (Ctrl-C, error): its RUNNING runs become KILLED (--resume reopens them)."""
        if self._tracker is None:
            return
        for run_id in list(self._monitors):
            self.stop_system_metrics(run_id)
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
