"""Tune's stopper for a lost tracking server (a module of its own: it imports Ray, and Tune
pickles it with the run's state, so it cannot be defined inside a function)."""

from __future__ import annotations

from ray.tune import Stopper

from harness.runs.retry import lost_store


class StopWhenStoreLost(Stopper):
    """Ends every trial once the driver has lost its tracking server (harness.runs.retry):
    training on would produce results nobody can record. Checkpoints stay for --resume."""

    def __call__(self, trial_id: str, result: dict) -> bool:
        return lost_store() is not None

    def stop_all(self) -> bool:
        return lost_store() is not None
