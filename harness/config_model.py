"""Config sections of the network and its data: ``model:`` (preset, APDH, controls) and ``data:``.

Part of the schema (harness/config.py assembles the sections); every default lives here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from harness.config_section import MaskRegion, PhaseName, PosePart, Section
from harness.vocabulary import CLIP_FPS


# --------------------------------------------------------------------------- model


class ApdhPhase(Section):
    """One phase of Audio-Pose Dynamic Harmonization (paper Sec. 3.2, schedule [inferred])."""

    name: PhaseName
    end: float = Field(gt=0.0, le=1.0, description="training fraction at which the phase ends")
    pose_parts: list[PosePart] = Field(description="keypoint groups drawn into the pose map")
    audio_mask: MaskRegion = Field(description="region the audio cross-attention may write to")
    pose_drop_prob: float = Field(default=0.0, ge=0.0, le=1.0)


def _default_apdh_phases() -> list[ApdhPhase]:
    # The reference's four phases (docs/method.md, "APDH"); boundaries are our default.
    return [
        ApdhPhase(name="initial_pose", end=0.2, pose_parts=["body", "face", "lips", "hands"], audio_mask="lips"),
        ApdhPhase(name="audio_lips", end=0.4, pose_parts=["body", "face", "hands"], audio_mask="lips"),
        ApdhPhase(name="audio_face", end=0.6, pose_parts=["body", "hands"], audio_mask="face"),
        ApdhPhase(name="audio_body", end=1.0, pose_parts=["hands"], audio_mask="full", pose_drop_prob=0.2),
    ]


class ApdhConfig(Section):
    """APDH switch. Off = the paper's "w/o APDH": hands-only pose, unmasked audio from step 0."""

    enabled: bool = True
    phases: list[ApdhPhase] = Field(default_factory=_default_apdh_phases)
    drop_phases: list[PhaseName] = Field(
        default_factory=list,
        description="phases removed for the single-phase ablation rows; the next phase absorbs their span",
    )

    @model_validator(mode="after")
    def _phases_ordered(self) -> ApdhConfig:
        ends = [p.end for p in self.phases]
        if not ends:
            raise ValueError("phases: at least one phase is required")
        if any(b <= a for a, b in zip(ends, ends[1:])):
            raise ValueError(f"phases: 'end' fractions must be strictly increasing, got {ends}")
        if ends[-1] != 1.0:
            raise ValueError(f"phases: the last phase must end at 1.0, got {ends[-1]}")
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phases: phase names must be unique, got {names}")
        unknown = sorted(set(self.drop_phases) - set(names))
        if unknown:
            raise ValueError(f"drop_phases: {unknown} are not in phases {names}")
        if len(set(self.drop_phases)) >= len(names):
            raise ValueError("drop_phases: at least one phase must remain")
        return self


class ControlsConfig(Section):
    """Positive controls (issue 13, not paper ablations): each removes one condition in training
    AND sampling, so the benchmark must see it (harness/train/controls.py, experiments/validity.yaml)."""

    no_audio: bool = Field(default=False, description="audio features zeroed (Sync-C must drop)")
    no_hand_pose: bool = Field(default=False, description="no hands in any pose map (HKC must drop)")
    no_reference: bool = Field(default=False, description="no reference attention (CSIM must drop)")


class ModelConfig(Section):
    """Network preset and the APDH switch."""

    preset: Literal["tiny", "sd15"] = "tiny"
    apdh: ApdhConfig = Field(default_factory=ApdhConfig)
    audio_encoder: Literal["mel", "whisper"] = Field(
        default="mel", description="'whisper' is the paper's (local Whisper-tiny); 'mel' the offline default"
    )
    whisper_path: Path | None = Field(
        default=None,
        description="Whisper-tiny weights: a Hugging Face folder, OpenAI's tiny.pt (the release's audio_processor/tiny.pt) "
        "or a folder holding it; null = $HARNESS_WEIGHTS/whisper-tiny",
    )
    pretrained_dir: Path | None = Field(default=None, description="local folder of sd15 weights")
    allow_random_init: bool = Field(default=False, description="let sd15 start from random weights (benchmarks only)")
    init: Path | None = Field(
        default=None,
        description="checkpoint whose 'model' weights the whole network starts from: an imported release "
        "(`harness weights import-release`, docs/release.md) or a harness checkpoint; replaces pretrained_dir's UNets",
    )
    motion_adapter: Path | None = Field(
        default=None,
        description="AnimateDiff motion-module file (original key names, e.g. mm_sd_v15_v2.ckpt) the motion modules "
        "start from (ancestor: Moore-AnimateAnyone train_stage_2.py); null = zero output projections (release: "
        "src/models/motion_module.py); not with init, which holds its own motion modules",
    )
    audio_attn_scale: float = Field(default=1.0, gt=0.0, description="audio cross-attention output scale in training")
    # Release behaviours (docs/release_behaviour.md): these defaults are the harness's own; sd15 switches
    # every one the config does not set to the release's (PRESET_BEHAVIOUR below).
    whisper_levels: Literal["release", "transformers"] = Field(
        default="transformers",
        description="release: log-mel over the whole clip, OpenAI's 30 s windows, 5th level before the encoder's final "
        "LayerNorm (release: src/models/whisper/audio2feature.py, whisper/model.py); transformers: per-30 s feature "
        "extractor, 5th level after it; sd15 default: release",
    )
    motion_norm: Literal["per_frame", "across_frames"] = Field(
        default="across_frames",
        description="motion-module GroupNorm: per_frame (release: src/models/motion_module.py) or across_frames "
        "(diffusers' AnimateDiffTransformer3D); sd15 default: per_frame",
    )
    controls: ControlsConfig = Field(default_factory=ControlsConfig)

    @model_validator(mode="after")
    def _one_motion_start(self) -> ModelConfig:
        if self.init is not None and self.motion_adapter is not None:
            raise ValueError("motion_adapter: not with init (the init checkpoint holds its own motion modules)")
        return self


# --------------------------------------------------------------------------- data


class HpaConfig(Section):
    """Head Partial Attention switch (paper Sec. 3.3). Off = portrait clips are not used."""

    enabled: bool = True
    portrait_ratio: float = Field(default=0.25, ge=0.0, le=1.0, description="share of portrait samples per batch")
    head_scale: float = Field(default=0.45, gt=0.0, le=1.0, description="portrait shrink factor into the canvas")


class SynthConfig(Section):
    """The embedded synthetic semi-body dataset (no downloads, exact keypoints)."""

    clips: int = Field(default=12, ge=1)
    portrait_clips: int = Field(default=4, ge=0)
    seconds: float = Field(default=2.0, gt=0.0)
    seed: int = Field(default=0, ge=0, description="numpy seeds are non-negative")


class DataConfig(Section):
    """Where clips come from and how training windows are cut."""

    source: Literal["synthetic", "prepared"] = "synthetic"
    root: Path | None = Field(default=None, description="clip dataset folder; default <paths.runs>/data/<source>")
    size: int = Field(default=64, ge=16, description="square frame size in pixels")
    frames: int = Field(default=8, ge=1, description="frames per training window")
    fps: int = Field(default=CLIP_FPS, ge=1)
    sample_rate: int = Field(default=16000, ge=8000)
    hpa: HpaConfig = Field(default_factory=HpaConfig)
    synthetic: SynthConfig = Field(default_factory=SynthConfig)
    hand_map: Literal["release", "harness"] = Field(
        default="harness",
        description="hand pose colours: release = src/utils/dwpose_util.py's final RGB (red/blue swapped against its "
        "drawing colours, red joints, no confidence cut); harness = drawing colours, blue joints, cut at 0.3; "
        "sd15 default: release",
    )
