"""APDH phase schedule: which pose parts are drawn and where audio may attend, per training step.

Paper: Audio-Pose Dynamic Harmonization (docs/method.md, "APDH"; paper Sec. 3.2). Pose Sampling
removes keypoint groups lips -> face -> body until only the hands remain, while Audio Diffusion
grows the audio cross-attention mask lips -> face -> whole frame. The phase boundaries are
training-step fractions from ``ApdhConfig.phases`` [inferred]; this module only turns that
config into "the phase active at step s". Pure functions, no torch.

Fractions: a phase spans ``[start, end)`` of ``step / total_steps``; the last phase also
includes 1.0 (and any step past the end). Comparisons are done on ``step / total_steps``
(a correctly rounded division), so a boundary given as ``end=0.2`` switches exactly at
``step == 0.2 * total_steps`` whenever that product is an integer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from harness.config_model import ApdhConfig, ApdhPhase

# The paper's "w/o APDH" condition (docs/method.md, "APDH"): the pose conditions
# are removed directly -- hands-only pose and unmasked audio from the first step.
NO_APDH_NAME = "no_apdh"
NO_APDH_POSE_PARTS: frozenset[str] = frozenset({"hands"})
NO_APDH_AUDIO_MASK = "full"


@dataclass(frozen=True)
class ActivePhase:
    """What the trainer does at one step (docs/method.md, "APDH" table).

    name: phase name from the config (or ``"no_apdh"`` when APDH is off).
    pose_parts: keypoint groups drawn into the pose map, subset of {lips, face, body, hands}.
    audio_mask: region the audio cross-attention output may write to {lips, face, head, full}.
    pose_drop_prob: probability of dropping the whole pose condition for a sample.
    """

    name: str
    pose_parts: frozenset[str]
    audio_mask: str
    pose_drop_prob: float


def resolved_phases(apdh: ApdhConfig) -> list[tuple[float, float, ApdhPhase]]:
    """Phases left after ``drop_phases``, each with its ``(start, end)`` training fraction.

    A removed phase's span is absorbed by the next remaining phase (its start moves back to
    the removed phase's start); a removed last phase is absorbed by the previous remaining
    phase (its end moves to 1.0). This gives the paper's single-phase ablation rows
    ("w/o initial pose / audio-lips / audio-face / audio-body", docs/method.md, "APDH").
    """
    dropped = set(apdh.drop_phases)
    kept = [phase for phase in apdh.phases if phase.name not in dropped]
    spans: list[tuple[float, float, ApdhPhase]] = []
    start = 0.0
    for index, phase in enumerate(kept):
        end = 1.0 if index == len(kept) - 1 else phase.end
        spans.append((start, end, phase))
        start = end
    return spans


def _active_from_phase(phase: ApdhPhase) -> ActivePhase:
    return ActivePhase(
        name=phase.name,
        pose_parts=frozenset(phase.pose_parts),
        audio_mask=phase.audio_mask,
        pose_drop_prob=phase.pose_drop_prob,
    )


def _no_apdh_phase() -> ActivePhase:
    return ActivePhase(
        name=NO_APDH_NAME, pose_parts=NO_APDH_POSE_PARTS, audio_mask=NO_APDH_AUDIO_MASK, pose_drop_prob=0.0
    )


def _check_steps(step: int, total_steps: int) -> None:
    if total_steps <= 0:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    if step < 0:
        raise ValueError(f"step must be non-negative, got {step}")


def apdh_phase_at(apdh: ApdhConfig, step: int, total_steps: int) -> ActivePhase:
    """The APDH phase active at ``step`` of ``total_steps`` (docs/method.md, "APDH").

    The phase whose ``[start, end)`` contains ``step / total_steps``; the last phase includes
    1.0 and steps beyond ``total_steps``. With ``apdh.enabled == False`` this is the paper's
    "w/o APDH" condition at every step: pose parts {"hands"}, audio mask "full", no pose drop.
    """
    _check_steps(step, total_steps)
    if not apdh.enabled:
        return _no_apdh_phase()
    fraction = step / total_steps
    spans = resolved_phases(apdh)
    for start, end, phase in spans[:-1]:
        if start <= fraction < end:
            return _active_from_phase(phase)
    return _active_from_phase(spans[-1][2])


def _first_step_at_or_after(fraction: float, total_steps: int) -> int:
    """Smallest integer step with ``step / total_steps >= fraction`` (same test as above)."""
    step = max(0, math.ceil(fraction * total_steps))  # exact up to float rounding; fix it up
    while step > 0 and (step - 1) / total_steps >= fraction:
        step -= 1
    while step / total_steps < fraction:
        step += 1
    return step


def apdh_schedule_table(apdh: ApdhConfig, total_steps: int) -> list[dict[str, object]]:
    """One row per resolved phase, for logging and plots (docs/method.md, "APDH").

    Keys: ``phase`` (name), ``start_step`` (inclusive), ``end_step`` (exclusive; the last row
    ends at ``total_steps``), ``pose_parts`` (sorted list) and ``audio_mask``. Rows agree with
    :func:`apdh_phase_at` step by step. A phase whose span holds no whole step (possible for
    tiny ``total_steps``) appears with ``start_step == end_step``.
    """
    _check_steps(0, total_steps)
    if not apdh.enabled:
        off = _no_apdh_phase()
        return [
            {
                "phase": off.name,
                "start_step": 0,
                "end_step": total_steps,
                "pose_parts": sorted(off.pose_parts),
                "audio_mask": off.audio_mask,
            }
        ]
    spans = resolved_phases(apdh)
    rows: list[dict[str, object]] = []
    for index, (start, end, phase) in enumerate(spans):
        last = index == len(spans) - 1
        start_step = min(_first_step_at_or_after(start, total_steps), total_steps)
        end_step = total_steps if last else min(_first_step_at_or_after(end, total_steps), total_steps)
        rows.append(
            {
                "phase": phase.name,
                "start_step": start_step,
                "end_step": end_step,
                "pose_parts": sorted(phase.pose_parts),
                "audio_mask": phase.audio_mask,
            }
        )
    return rows
