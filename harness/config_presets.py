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


# Speed and memory choices (harness/model/speed.py): the fast choice of each key a config does not set.
# Each equals the plain path within the tolerance of tests/test_speed_options.py. channels_last and
# compile stay off until bench/gpu.sh has measured them on a GPU (docs/benchmarks.md, "Training step").
PRESET_SPEED: dict[str, dict[tuple[str, ...], str | bool | int]] = {
    "sd15": {
        ("train", "mixed_precision"): "bf16",  # tensor-core matmuls; bench/train_step.py measures it
        ("train", "gradient_checkpointing"): True,  # 12 frames at 768 px do not fit without (issue 17)
        ("train", "optimizer"): "adamw_fused",  # one kernel per step instead of a loop of foreach kernels
        ("loss", "phd", "decode_checkpointing"): True,  # the VAE decoder's activations at 768 px are not kept
        ("train", "encode_frames_per_call"): 4,  # 24 frames in one call: a 24 GiB encoder peak; 4: it goes (memory_plan)
        ("train", "latent_cache"): True,  # the frozen VAE's encode is 33.9 of a 12-frame step's 211.8 TFLOP
    },
    "tiny": {
        # on CPU torch's plain AdamW loops over the tensors one by one: 0.32-0.37 CPU s per smoke
        # step against 0.28 fused, the same loss after 40 steps (docs/validity.md, "Speed")
        ("train", "optimizer"): "adamw_fused",
    },
}


def apply_preset_behaviour(cfg: BaseModel, preset: str) -> None:
    """Set every behaviour and speed key of ``preset`` that the config did not set to the preset's choice (in place)."""
    for (section, key), choice in PRESET_BEHAVIOUR.get(preset, {}).items():
        part = getattr(cfg, section)
        if key not in part.model_fields_set:
            setattr(part, key, choice)
    for path, choice in PRESET_SPEED.get(preset, {}).items():
        part = cfg
        for name in path[:-1]:
            part = getattr(part, name)
        if path[-1] not in part.model_fields_set:
            setattr(part, path[-1], choice)
