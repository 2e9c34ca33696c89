"""The APDH phase schedule of each variant in training steps, for the schedule diagram.

Source: the resolved config a trial logged as MLflow params (``model.apdh.enabled``,
``model.apdh.phases``, ``model.apdh.drop_phases``, ``train.steps``; lists are JSON text, see
harness.tracking.flatten), else the experiment config with the variant's diff. Phases after
``drop_phases`` come from harness.train.apdh.resolved_phases, the trainer's own rule (paper
Sec. 3.2). Variants with the same schedule share one row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from harness.config import ApdhConfig, ExperimentConfig

NO_APDH = "no APDH: hands only, full audio"


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


def spans_of(apdh: ApdhConfig, steps: int) -> tuple[Span, ...]:
    """The phases the trainer uses over steps (none when APDH is off)."""
    from harness.train.apdh import resolved_phases

    if not apdh.enabled:
        return ()
    return tuple(Span(a * steps, b * steps, p.name, "+".join(p.pose_parts), p.audio_mask)
                 for a, b, p in resolved_phases(apdh))


def from_params(params: dict[str, str]) -> tuple[ApdhConfig, int] | None:
    """(ApdhConfig, train.steps) from a run's params; None when they are absent or unreadable."""
    try:
        apdh = ApdhConfig.model_validate({
            "enabled": json.loads(params["model.apdh.enabled"]),
            "phases": json.loads(params["model.apdh.phases"]),
            "drop_phases": json.loads(params.get("model.apdh.drop_phases", "[]")),
        })
        return apdh, int(params["train.steps"])
    except (KeyError, ValueError, TypeError):
        return None


def from_config(cfg: ExperimentConfig, variant: str) -> tuple[ApdhConfig, int] | None:
    """(ApdhConfig, train.steps) of a variant of cfg's sweep; None for a variant cfg does not have."""
    from harness.config_load import apply_diff, load_dict
    from harness.errors import HarnessError

    if variant not in cfg.sweep.variants:
        return None
    try:
        trial = load_dict(apply_diff(cfg.to_dict(), cfg.sweep.variants[variant]))
    except HarnessError:
        return None
    return trial.model.apdh, trial.train.steps


def schedules(variants: list[str], params: dict[str, dict[str, str]], cfg: ExperimentConfig) -> list[Schedule]:
    """One schedule per distinct (steps, phases), in variant order; params: variant -> a run's params.

    When any run logged its config, only those runs are drawn (a variant without a run is left
    out: its schedule is unknown to MLflow); the experiment config is used only when none did.
    """
    from_runs = {v: found for v in variants if (found := from_params(params.get(v, {}))) is not None}
    groups: dict[tuple[int, tuple[Span, ...]], list[str]] = {}
    for variant in variants:
        found = from_runs.get(variant) if from_runs else from_config(cfg, variant)
        if found is None:
            continue
        apdh, steps = found
        groups.setdefault((steps, spans_of(apdh, steps)), []).append(variant)
    return [Schedule(tuple(names), steps, spans) for (steps, spans), names in groups.items()]
