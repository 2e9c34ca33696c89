"""One tuning trial on Tune: config = base <- sampled diff; train -> (evaluate every N steps) -> final.

The pipeline is the sweep's (harness/trial_pipeline.py, harness/runtime/): the trainer's run
folder is stable per Optuna trial, ``<study>/trials/trial-<number>``, Tune checkpoints are
pointers to the trainer's checkpoints, so a retried or resumed trial continues from its newest
checkpoint, and the final report carries the trial's outputs for the driver's MLflow callback.

With ``tune.eval_every = N > 0`` the trial stops training at every N-th step, samples and
evaluates the test clips, and reports ``eval/<metric>`` at that step: the intermediate values
ASHA compares (one objective) and the ``eval/*`` curves in MLflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.config import ExperimentConfig
from harness.runs.schema import Curves, study_trial_key
from harness.runtime.reporters import StepReporter
from harness.runtime.trial_io import STEP_KEY, final_checkpoint, final_metrics, next_attempt, pointer_checkpoint
from harness.trial_pipeline import checkpoint_step
from harness.tune.space import TRIAL_NUMBER, SearchSpace, params_of


def trial_name(number: int) -> str:
    """Run name, folder name and resume key of Optuna trial `number`."""
    return study_trial_key(number)


def tune_trial_name(trial: Any) -> str:
    """Tune's name of a trial (its console tables): the MLflow run name, trial-<number>."""
    return trial_name(trial.config[TRIAL_NUMBER])


def trial_dirname(trial: Any) -> str:
    """Tune's folder name for a trial: short (long names break paths)."""
    return f"{trial_name(trial.config[TRIAL_NUMBER])}-{trial.trial_id}"


def eval_points(cfg: ExperimentConfig) -> list[int]:
    """Steps with an intermediate evaluation (the final one at train.steps is not included)."""
    every = cfg.tune.eval_every
    return list(range(every, cfg.train.steps, every)) if every > 0 else []


def eval_metrics(results: list[dict[str, Any]]) -> dict[str, float]:
    """{"eval/<key>": value} of the measured results (missing values left out)."""
    return {f"{Curves.EVAL_PREFIX}{r['key']}": float(r["value"]) for r in results if r.get("value") is not None}


def tune_trainable(config: dict[str, Any], base: dict[str, Any], study_dir: str, space: SearchSpace) -> None:
    """The Tune function trainable of one Optuna trial."""
    import torch
    from ray import tune

    from harness.train.trainer import train
    from harness.trial_pipeline import evaluate_checkpoint, run_trial

    key = trial_name(config[TRIAL_NUMBER])
    cfg = space.trial_config(base, params_of(config))
    folder = Path(study_dir) / "trials" / key
    torch.set_num_threads(max(1, int(cfg.sweep.cpus_per_trial)))
    attempt = next_attempt(folder)
    start_step = checkpoint_step(folder)  # before the intermediate stops: where this attempt resumed
    reporter = StepReporter(cfg, folder, key, attempt)
    for point in eval_points(cfg):
        if checkpoint_step(folder) >= point:  # a retried trial: this evaluation was reported before
            continue
        result = train(cfg, folder, on_step=reporter, progress=False, until=point)
        results = evaluate_checkpoint(cfg, result.checkpoint)
        reporter.last_ckpt = result.checkpoint  # reported here; the step hook need not repeat it
        metrics = {STEP_KEY: point, "attempt": attempt, **eval_metrics(results)}
        tune.report(metrics, checkpoint=pointer_checkpoint(folder, result.checkpoint))
    outcome = run_trial(cfg, folder, on_step=reporter)
    final = final_metrics(outcome, attempt, start_step, extra=eval_metrics(outcome.results))
    tune.report(final, checkpoint=final_checkpoint(folder, outcome))
