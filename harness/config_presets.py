"""What a model preset chooses when the config does not: the release's inference behaviours for sd15.

The release's behaviours (docs/release_behaviour.md). sd15 is the shape of the released
weights, so a key the config does not set takes the release's choice below when the whole config
is validated; a preset not listed (tiny) keeps each field's own default, the harness's behaviour.
"""

from __future__ import annotations

from pydantic import BaseModel

PRESET_BEHAVIOUR: dict[str, dict[tuple[str, str], str]] = {
    "sd15": {
        ("model", "whisper_levels"): "release",  # release: src/models/whisper/audio2feature.py
        ("model", "motion_norm"): "per_frame",  # release: src/models/motion_module.py
        ("data", "hand_map"): "release",  # release: src/utils/dwpose_util.py
        ("eval", "uncond_pose"): "zero_features",  # release: src/pipelines/pipeline_echomimicv2.py
        ("eval", "context_windows"): "closed_loop_shifted",  # release: src/pipelines/context.py
    },
}


def apply_preset_behaviour(cfg: BaseModel, preset: str) -> None:
    """Set every behaviour key of ``preset`` that the config did not set to the preset's choice (in place)."""
    for (section, key), choice in PRESET_BEHAVIOUR.get(preset, {}).items():
        part = getattr(cfg, section)
        if key not in part.model_fields_set:
            setattr(part, key, choice)
