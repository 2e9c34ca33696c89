"""The fault-injection test hook: make one trial raise once after a given step.

    HARNESS_SWEEP_FAIL_ONCE=<trial key>:<step>    e.g. wo_hpa-s0:3 (sweep) or trial-0002:3 (tune)

The driver passes the variable on to Ray's workers (session.WORKER_ENV); the step reporters
call FailOnce.check after every step. Tests use it to exercise Tune's retry from a checkpoint.
"""

from __future__ import annotations

import os
from pathlib import Path

FAIL_ONCE_ENV = "HARNESS_SWEEP_FAIL_ONCE"


class InjectedFailure(RuntimeError):
    """Raised by the FAIL_ONCE_ENV test hook."""


class FailOnce:
    """The FAIL_ONCE_ENV test hook for one trial: raise once, after its step; a marker file in
    the trial folder keeps the retried attempt from raising again."""

    def __init__(self, key: str, folder: Path) -> None:
        self.key, self.marker = key, folder / "injected_failure"
        target, _, step = os.environ.get(FAIL_ONCE_ENV, "").rpartition(":")
        self.at = int(step) if target == key and not self.marker.exists() else None

    def check(self, step: int) -> None:
        """Raise InjectedFailure the first time `step` reaches the hook's step (once per trial folder)."""
        if self.at is not None and step >= self.at:
            self.marker.write_text(str(step))
            raise InjectedFailure(f"{FAIL_ONCE_ENV}: injected failure of {self.key} after step {step}")
