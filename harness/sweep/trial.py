"""One sweep trial: config = base <- variant diff <- seed; train -> sample -> evaluate on Tune.

The trainer's run folder is a stable per-trial folder, ``<sweep>/trials/<variant>-s<seed>``,
so a retried or resumed trial continues from its newest checkpoint. Tune checkpoints, step
reports and the fault hook are the runtime's (harness/runtime/trial_io.py, reporters.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.config_load import sweep_trial_config
from harness.runtime.reporters import StepReporter
from harness.runtime.trial_io import final_checkpoint, final_metrics, next_attempt
from harness.runs.schema import trial_key


def trial_dir(sweep_dir: Path, variant: str, seed: int) -> Path:
    return Path(sweep_dir) / "trials" / trial_key(variant, seed)


def trial_dirname(trial: Any) -> str:
    """Tune's folder name for a trial: short (long names break paths)."""
    return f"{trial_key(trial.config['variant'], trial.config['seed'])}-{trial.trial_id}"


def trial_name(trial: Any) -> str:
    """Tune's name of a trial (its console tables): the MLflow run name, <variant>-s<seed>."""
    return trial_key(trial.config["variant"], int(trial.config["seed"]))


def sweep_trainable(config: dict[str, Any], base: dict[str, Any], sweep_dir: str) -> None:
    """The Tune function trainable: one (variant, seed)."""
    import torch
    from ray import tune

    from harness.sweep.data_parallel import run_trial_data_parallel
    from harness.trial_pipeline import run_trial

    variant, seed = config["variant"], int(config["seed"])
    cfg = sweep_trial_config(base, variant, seed)
    key, folder = trial_key(variant, seed), trial_dir(Path(sweep_dir), variant, seed)
    attempt = next_attempt(folder)
    if cfg.sweep.trial_workers() > 1:  # data-parallel on Ray Train workers (harness/sweep/data_parallel.py)
        outcome = run_trial_data_parallel(cfg, folder, key, attempt)
    else:
        torch.set_num_threads(max(1, int(cfg.sweep.cpus_per_trial)))
        outcome = run_trial(cfg, folder, on_step=StepReporter(cfg, folder, key, attempt))
    tune.report(final_metrics(outcome, attempt, outcome.start_step), checkpoint=final_checkpoint(folder, outcome))
