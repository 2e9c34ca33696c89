"""The base of every config section and the value types the sections share.

The choices are the project's vocabularies (harness/vocabulary.py), so a phase's audio mask,
a pose part or a metric name is spelled in one place.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from harness.vocabulary import MASK_REGIONS, METRIC_NAMES, POSE_PARTS

# Literal[tuple] expands to the tuple's members: the schema accepts exactly the vocabulary.
PosePart = Literal[POSE_PARTS]  # type: ignore[valid-type]
MaskRegion = Literal[MASK_REGIONS]  # type: ignore[valid-type]
MetricName = Literal[METRIC_NAMES]  # type: ignore[valid-type]
PhaseName = Literal["initial_pose", "audio_lips", "audio_face", "audio_body"]


def _leaf_types(annotation: Any) -> set[Any]:
    """The plain types inside an annotation: ``list[int] | None`` -> {int, NoneType}."""
    args = get_args(annotation)
    if not args:
        return {annotation}
    return set().union(*(_leaf_types(a) for a in args))


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, assignments re-validate.

    Numbers are meant literally: ``.inf``/``.nan`` are refused (allow_inf_nan), and so is a
    YAML boolean where a number is meant (pydantic's lax mode would read ``steps: true`` as 1).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_boolean_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        leaves = _leaf_types(cls.model_fields[info.field_name].annotation)
        if bool in leaves or not leaves & {int, float}:
            return value
        items = value if isinstance(value, list) else [value]
        if any(isinstance(item, bool) for item in items):
            raise ValueError("expected a number, got a boolean")
        return value
