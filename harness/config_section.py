"""The base of every config section and the value types the sections share.

The choices are the project's vocabularies (harness/vocabulary.py), so a phase's audio mask,
a pose part or a metric name is spelled in one place.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from harness.vocabulary import MASK_REGIONS, METRIC_NAMES, POSE_PARTS

# Literal[tuple] expands to the tuple's members: the schema accepts exactly the vocabulary.
PosePart = Literal[POSE_PARTS]  # type: ignore[valid-type]
MaskRegion = Literal[MASK_REGIONS]  # type: ignore[valid-type]
MetricName = Literal[METRIC_NAMES]  # type: ignore[valid-type]
PhaseName = Literal["initial_pose", "audio_lips", "audio_face", "audio_body"]


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, assignments re-validate."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
