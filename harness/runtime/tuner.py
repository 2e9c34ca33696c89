"""Tune's experiment state as both drivers keep it: <folder>/tune/, restored on --resume."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

TUNE_DIR = "tune"  # Tune's experiment name: state and trial checkpoints live in <folder>/tune/


def restored_tuner(folder: Path, trainable: Any, resume_errored: bool) -> Any | None:
    """The Tuner saved under folder/tune, or None when there is none to restore.

    A run interrupted before any trial started leaves state that Tuner.restore cannot read
    (it raises IndexError; docs/stack.md, "Ray 2.60"): that state is removed and the run starts over.
    """
    from ray import tune

    path = Path(folder) / TUNE_DIR
    if not tune.Tuner.can_restore(str(path)):
        return None
    try:
        return tune.Tuner.restore(str(path), trainable, resume_errored=resume_errored)
    except IndexError:
        shutil.rmtree(path, ignore_errors=True)
        return None


def run_config(folder: Path, callback: Any, verbose: int, max_failures: int) -> Any:
    """Tune's RunConfig: state under folder/tune, the driver's MLflow callback, retries per trial."""
    from ray import tune

    from harness.runtime.stopper import StopWhenStoreLost

    return tune.RunConfig(name=TUNE_DIR, storage_path=str(folder), callbacks=[callback], verbose=verbose,
                          failure_config=tune.FailureConfig(max_failures=max_failures), stop=StopWhenStoreLost())

