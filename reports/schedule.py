"""The APDH phase schedule of each variant in training steps, for the schedule diagram.

Source: the schedule each trial recorded (``TrialParams.APDH_SCHEDULE``: the trainer's phases
in steps, harness/runs/record.py), so the report reads MLflow only. Variants with the same
schedule share one row. Runs older than that record have none: the report says the schedule
is not recorded (NOT_RECORDED) instead of drawing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.runs.schema import TrialParams

NO_APDH = "no APDH: hands only, full audio"
NOT_RECORDED = "APDH schedule: not recorded by these runs (they predate the schedule record), so not drawn."


@dataclass(frozen=True)
class Span:
    """One phase in steps: [start, end), its name, the pose parts drawn and the audio mask region."""

    start: float
    end: float
    name: str
    pose: str
    audio: str


@dataclass(frozen=True)
class Schedule:
    """The rows of the diagram: the variants sharing it, total steps, phases (empty: APDH off)."""

    variants: tuple[str, ...]
    total_steps: int
    spans: tuple[Span, ...]


def from_params(params: dict[str, str]) -> tuple[int, tuple[Span, ...]] | None:
    """(total steps, phases) from a run's schedule record; None when it is absent or unreadable."""
    try:
        record = json.loads(params[TrialParams.APDH_SCHEDULE])
        spans = tuple(Span(p["start_step"], p["end_step"], p["phase"], "+".join(p["pose_parts"]), p["audio_mask"])
                      for p in record["phases"])
        return int(record["total_steps"]), spans
    except (KeyError, ValueError, TypeError):
        return None


def schedules(variants: list[str], params: dict[str, dict[str, str]]) -> list[Schedule]:
    """One schedule per distinct (steps, phases), in variant order; params: variant -> a run's params.

    A variant without a recorded schedule (never ran, or an older run) is left out.
    """
    groups: dict[tuple[int, tuple[Span, ...]], list[str]] = {}
    for variant in variants:
        found = from_params(params.get(variant, {}))
        if found is not None:
            groups.setdefault(found, []).append(variant)
    return [Schedule(tuple(names), steps, spans) for (steps, spans), names in groups.items()]
