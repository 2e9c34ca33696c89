"""Tune's experiment state as both drivers keep it: <folder>/tune/, restored on --resume."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

TUNE_DIR = "tune"  # Tune's experiment name: state and trial checkpoints live in <folder>/tune/
NO_AUTO_LOGGERS_ENV = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"  # read by Tune when a run starts: no default loggers


def restored_tuner(folder: Path, trainable: Any, resume_errored: bool) -> Any | None:
    """The Tuner saved under folder/tune, or None when there is none to restore.

    A run interrupted before any trial started leaves state that Tuner.restore cannot read
    (it raises IndexError; docs/stack.md, "Ray 2.60"): that state is removed and the run starts over.
    """
    from ray import tune

    path = Path(folder) / TUNE_DIR
    os.environ[NO_AUTO_LOGGERS_ENV] = "1"  # as run_config: the restored run keeps its own loggers
    if not tune.Tuner.can_restore(str(path)):
        return None
    try:
        return tune.Tuner.restore(str(path), trainable, resume_errored=resume_errored)
    except IndexError:
        shutil.rmtree(path, ignore_errors=True)
        return None


def run_config(folder: Path, callback: Any, verbose: int, max_failures: int, progress: Any = None) -> Any:
    """Tune's RunConfig: state under folder/tune, the driver's MLflow callback, retries per trial
    (an exception in the trial or the loss of its node: Ray reports both as a trial error).

    progress: a Tune progress reporter for the console (default: Tune's own).
    Tune's result logs are kept (result.json, progress.csv in each trial's Tune folder); its
    TensorBoard logger is not added: its files went to Ray's session folder, which is deleted
    when Ray stops, and Tune then pointed the user at that folder.
    """
    from ray import tune
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    from harness.runtime.stopper import StopWhenStoreLost

    os.environ[NO_AUTO_LOGGERS_ENV] = "1"
    callbacks = [callback, JsonLoggerCallback(), CSVLoggerCallback()]
    return tune.RunConfig(name=TUNE_DIR, storage_path=str(folder), callbacks=callbacks, verbose=verbose,
                          failure_config=tune.FailureConfig(max_failures=max_failures), stop=StopWhenStoreLost(),
                          progress_reporter=progress)

