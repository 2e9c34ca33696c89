"""Typed experiment configuration: the ONLY home of defaults.

Resolution order (later wins):
    schema defaults (this file) -> ``extends:`` chain of YAML files -> experiment YAML
    -> command-line overrides ``a.b.c=value`` (value parsed as YAML).

Every section forbids unknown keys. Loading and error reporting live in
``harness.config_load``; this file only declares the schema.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PosePart = Literal["lips", "face", "body", "hands"]
MaskRegion = Literal["lips", "face", "head", "full"]
PhaseName = Literal["initial_pose", "audio_lips", "audio_face", "audio_body"]
MetricName = Literal["fid", "fvd", "ssim", "psnr", "sync", "hkc", "csim"]


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, assignments re-validate."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- model


class ApdhPhase(Section):
    """One phase of Audio-Pose Dynamic Harmonization (paper Sec. 3.2, schedule [inferred])."""

    name: PhaseName
    end: float = Field(gt=0.0, le=1.0, description="training fraction at which the phase ends")
    pose_parts: list[PosePart] = Field(description="keypoint groups drawn into the pose map")
    audio_mask: MaskRegion = Field(description="region the audio cross-attention may write to")
    pose_drop_prob: float = Field(default=0.0, ge=0.0, le=1.0)


def _default_apdh_phases() -> list[ApdhPhase]:
    # The reference's four phases (echomimicv2.md, "APDH"); boundaries are our default.
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
    seed: int = 0


class DataConfig(Section):
    """Where clips come from and how training windows are cut."""

    source: Literal["synthetic", "prepared"] = "synthetic"
    root: Path | None = Field(default=None, description="clip dataset folder; default <paths.runs>/data/<source>")
    size: int = Field(default=64, ge=16, description="square frame size in pixels")
    frames: int = Field(default=8, ge=1, description="frames per training window")
    fps: int = Field(default=24, ge=1)
    sample_rate: int = Field(default=16000, ge=8000)
    hpa: HpaConfig = Field(default_factory=HpaConfig)
    synthetic: SynthConfig = Field(default_factory=SynthConfig)
    hand_map: Literal["release", "harness"] = Field(
        default="harness",
        description="hand pose colours: release = src/utils/dwpose_util.py's final RGB (red/blue swapped against its "
        "drawing colours, red joints, no confidence cut); harness = drawing colours, blue joints, cut at 0.3; "
        "sd15 default: release",
    )


# --------------------------------------------------------------------------- train


class TrainConfig(Section):
    """Optimisation and checkpointing (v-prediction, zero-terminal-SNR; echomimicv2.md)."""

    steps: int = Field(default=200, ge=0, description="0 = no training: evaluate the model as built (e.g. from model.init)")
    batch_size: int = Field(default=2, ge=1)
    lr: float = Field(default=1e-4, gt=0.0)
    weight_decay: float = Field(default=1e-2, ge=0.0)
    seed: int = 0
    checkpoint_every: int = Field(default=50, ge=1)
    log_every: int = Field(default=10, ge=1)
    mixed_precision: Literal["no", "bf16"] = "no"
    gradient_checkpointing: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    drop_reference: float = Field(default=0.05, ge=0.0, le=1.0, description="CFG dropout of the reference")
    drop_audio: float = Field(default=0.05, ge=0.0, le=1.0)
    drop_pose: float = Field(default=0.05, ge=0.0, le=1.0)
    drop_all: float = Field(default=0.05, ge=0.0, le=1.0)
    # Recipe options of the ancestor training code (Moore-AnimateAnyone train_stage_1.py /
    # train_stage_2.py, configs/train/stage*.yaml); the defaults switch them off. docs/training_recipe.md.
    snr_gamma: float | None = Field(
        default=None, ge=0.0, description="min-SNR loss weighting gamma, v-prediction form; None/0 = off (ancestor: 5.0)"
    )
    noise_offset: float = Field(
        default=0.0, ge=0.0, description="per-sample, per-channel constant added to the noise; 0 = off (ancestor: 0.05)"
    )
    uncond_batch_prob: float = Field(
        default=0.0, ge=0.0, le=1.0, description="probability that a whole batch drops every condition (ancestor: 0.1)"
    )
    min_timestep: int = Field(
        default=0, ge=0, lt=1000,
        description="train on t >= this only (0 = all t, the paper); the CPU smoke trains where its 1-step sampler acts",
    )
    stage: Literal["joint", "images", "motion"] = Field(
        default="joint",
        description="joint = everything trains on clips; images = ancestor stage 1 (single frames, no motion modules, "
        "reference net's last up-block frozen); motion = ancestor stage 2 (motion modules only)",
    )


# --------------------------------------------------------------------------- loss


class PhdBands(Section):
    """PhD timestep bands as fractions of denoising, noisiest first; they sum to 1."""

    pose: float = Field(default=0.1, gt=0.0, lt=1.0, description="S1: first share of denoising (t >= (1-pose) T)")
    detail: float = Field(default=0.6, gt=0.0, lt=1.0, description="S2: middle share")
    low: float = Field(default=0.3, gt=0.0, lt=1.0, description="S3: final share (t < low T)")

    @model_validator(mode="after")
    def _sum_to_one(self) -> PhdBands:
        total = self.pose + self.detail + self.low
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"band fractions must sum to 1, got {total:.6f}")
        return self


class PhdTerm(Section):
    """One PhD loss term: on/off and its weight (lambda, default 0.1 [inferred])."""

    enabled: bool = True
    weight: float = Field(default=0.1, ge=0.0)


class PhdPose(PhdTerm):
    """L_pose (PhD S1): keypoint-heatmap weighted error [inferred]."""

    heatmap_sigma: float = Field(
        default=0.02, gt=0.0, description="L_pose keypoint-heatmap Gaussian sigma, as a fraction of the frame width"
    )


class PhdDetail(PhdTerm):
    lip_emphasis: float = Field(default=2.0, ge=1.0, description="edge-loss weight inside the lip box")


class PhdLow(PhdTerm):
    kind: Literal["ssim_l1", "lpips"] = "ssim_l1"


class PhdConfig(Section):
    """Phase-specific Denoising loss (paper Sec. 3.4): one switch per term."""

    bands: PhdBands = Field(default_factory=PhdBands)
    pose: PhdPose = Field(default_factory=PhdPose)
    detail: PhdDetail = Field(default_factory=PhdDetail)
    low: PhdLow = Field(default_factory=PhdLow)
    decode_frames: int = Field(default=2, ge=1, description="frames decoded from x0_hat per sample")


class LossConfig(Section):
    phd: PhdConfig = Field(default_factory=PhdConfig)


# --------------------------------------------------------------------------- eval


class EvalConfig(Section):
    """Sampling and metrics for each finished run."""

    metrics: list[MetricName] = Field(default_factory=lambda: ["fid", "fvd", "ssim", "psnr", "sync", "hkc", "csim"])
    backend: Literal["reference", "offline", "synthetic"] = Field(
        default="offline",
        description="'reference' needs the official weights; 'offline' uses labelled stand-ins; 'synthetic' measures "
        "Sync, HKC/HKV and CSIM at the synthetic set's ground truth (data.source synthetic only; "
        "docs/metrics_synthetic.md), the other metrics as 'offline'",
    )
    test_clips: int = Field(default=4, ge=1)
    sampling_steps: int = Field(default=30, ge=1)
    guidance_scale: float = Field(default=2.5, ge=1.0)
    context_frames: int = Field(default=12, ge=1)
    context_overlap: int = Field(default=3, ge=0)
    audio_attn_scale: float = Field(default=3.0, gt=0.0, description="inference audio scale of the release [code]")
    uncond_pose: Literal["zero_features", "zero_image"] = Field(
        default="zero_image",
        description="CFG unconditional branch: zero_features = pose encoder output zeroed (release: "
        "src/pipelines/pipeline_echomimicv2.py); zero_image = a blank pose image encoded; sd15 default: zero_features",
    )
    context_windows: Literal["closed_loop_shifted", "fixed"] = Field(
        default="fixed",
        description="closed_loop_shifted = windows wrap to the clip's start and move 3 frames per denoising step "
        "(release: src/pipelines/context.py, pipeline_echomimicv2.py); fixed = the same in-order windows every step; "
        "sd15 default: closed_loop_shifted",
    )

    @model_validator(mode="after")
    def _overlap_fits(self) -> EvalConfig:
        if self.context_overlap >= self.context_frames:
            raise ValueError("context_overlap must be smaller than context_frames")
        return self


# --------------------------------------------------------------------------- sweep / tune


class SweepConfig(Section):
    """Ray sweep: every variant x seed is one trial. A variant is a config diff."""

    variants: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"full": {}})
    baseline: str = "full"
    seeds: list[int] = Field(default_factory=lambda: [0])
    cpus_per_trial: float = Field(default=1.0, gt=0.0)
    gpus_per_trial: float = Field(default=0.0, ge=0.0)
    workers_per_trial: int = Field(
        default=0, ge=0, description="data-parallel Ray Train workers per trial; 0 = one per whole GPU (at least 1)"
    )
    max_failures: int = Field(default=1, ge=0)
    max_concurrent: int = Field(default=0, ge=0, description="0 = as many as resources allow")

    @model_validator(mode="after")
    def _baseline_is_variant(self) -> SweepConfig:
        if self.baseline not in self.variants:
            raise ValueError(f"baseline {self.baseline!r} is not one of the variants {sorted(self.variants)}")
        return self


class SearchParam(Section):
    """A search dimension: a config key with a range (log-uniform when log=true)."""

    low: float
    high: float
    log: bool = False
    kind: Literal["float", "int"] = "float"

    @model_validator(mode="after")
    def _range_ok(self) -> SearchParam:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("log-uniform ranges need low > 0")
        return self


class Objective(Section):
    """One objective of the study: a metric result key (e.g. fid, ssim, sync_c) and its direction."""

    metric: str = Field(description="a result key of eval.metrics: fid fvd ssim psnr sync_c sync_d hkc hkv csim")
    direction: Literal["minimize", "maximize"]


class TuneConfig(Section):
    """Optuna study over the APDH schedule, PhD bands, loss weights and any ranged key."""

    study_name: str | None = Field(default=None, description="default: the experiment name")
    storage: str | None = Field(default=None, description="Optuna RDB URL; default sqlite in the run folder")
    trials: int = Field(default=8, ge=1)
    max_concurrent: int = Field(default=2, ge=1)
    seed: int = Field(default=0, description="seed of the Optuna sampler (TPE)")
    objectives: list[Objective] = Field(
        default_factory=lambda: [Objective(metric="fid", direction="minimize")], min_length=1
    )
    tune_apdh_boundaries: bool = False
    tune_phd_bands: bool = False
    space: dict[str, SearchParam] = Field(default_factory=dict, description="dotted config key -> range")
    eval_every: int = Field(
        default=0, ge=0, description="steps between intermediate evaluations of a trial (0 = only at the end)"
    )
    early_stopping: bool = Field(
        default=True, description="ASHA stops poor trials at intermediate evaluations (one objective, eval_every > 0)"
    )
    reduction_factor: float = Field(default=2.0, gt=1.0, description="ASHA: the best 1/rf of a rung continue")


# --------------------------------------------------------------------------- tracking / paths


class TrackingConfig(Section):
    """MLflow. No uri = a sqlite store inside paths.runs (one writer; use a server on clusters)."""

    uri: str | None = None
    experiment: str | None = Field(default=None, description="default: the experiment name")


class PathsConfig(Section):
    runs: Path = Field(default=Path("runs"), description="all generated output goes below here")
    weights: Path | None = Field(default=None, description="weights folder; default $HARNESS_WEIGHTS")


# --------------------------------------------------------------------------- preset behaviours

# The release's inference behaviours (docs/release_behaviour.md). sd15 is the shape of the released
# weights, so a key the config does not set takes the release's choice below when the whole config
# is validated; a preset not listed (tiny) keeps each field's own default, the harness's behaviour.
PRESET_BEHAVIOUR: dict[str, dict[tuple[str, str], str]] = {
    "sd15": {
        ("model", "whisper_levels"): "release",
        ("model", "motion_norm"): "per_frame",
        ("data", "hand_map"): "release",
        ("eval", "uncond_pose"): "zero_features",
        ("eval", "context_windows"): "closed_loop_shifted",
    },
}


# --------------------------------------------------------------------------- root


class ExperimentConfig(Section):
    """A whole experiment. ``name`` defaults to the YAML file's stem."""

    name: str = "default"
    description: str = ""
    model: ModelConfig = Field(default_factory=ModelConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    sweep: SweepConfig = Field(default_factory=SweepConfig)
    tune: TuneConfig = Field(default_factory=TuneConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    paths: PathsConfig = Field(default_factory=PathsConfig)

    @field_validator("name")
    @classmethod
    def _name_is_simple(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ "):
            raise ValueError("must be non-empty and contain no spaces or slashes")
        return v

    @model_validator(mode="after")
    def _preset_behaviour(self) -> ExperimentConfig:
        # The one place a preset picks a default: a behaviour key the config did not set gets PRESET_BEHAVIOUR's choice.
        for (section, key), choice in PRESET_BEHAVIOUR.get(self.model.preset, {}).items():
            part = getattr(self, section)
            if key not in part.model_fields_set:
                setattr(part, key, choice)
        return self

    @model_validator(mode="after")
    def _synthetic_backend_needs_synthetic_data(self) -> ExperimentConfig:
        # The synthetic metric backends read the generator's ground truth (metrics/synthetic/).
        if self.eval.backend == "synthetic" and self.data.source != "synthetic":
            raise ValueError("eval.backend 'synthetic' measures only data.source 'synthetic' clips; "
                             "use eval.backend offline or reference")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (paths as strings)."""
        return self.model_dump(mode="json")

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def config_hash(self) -> str:
        """Stable 12-hex hash of the content: independent of key order and formatting."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:12]
