"""Config sections of a training run and its evaluation: ``train:``, ``loss:`` and ``eval:``.

Part of the schema (harness/config.py assembles the sections); every default lives here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from harness.config_section import MetricName, Section
from harness.vocabulary import METRIC_NAMES


# --------------------------------------------------------------------------- train


class TrainConfig(Section):
    """Optimisation and checkpointing (v-prediction, zero-terminal-SNR; docs/method.md, "Objective and sampling")."""

    steps: int = Field(default=200, ge=0, description="0 = no training: evaluate the model as built (e.g. from model.init)")
    batch_size: int = Field(default=2, ge=1)
    lr: float = Field(default=1e-4, gt=0.0)
    weight_decay: float = Field(default=1e-2, ge=0.0)
    seed: int = Field(default=0, ge=0, description="numpy seeds are non-negative (data windows, rank streams)")
    checkpoint_every: int = Field(default=50, ge=1)
    log_every: int = Field(default=10, ge=1)
    # Speed and memory (harness/model/speed.py; each equals the plain path within a tolerance stated in
    # tests/test_speed_options.py). sd15 takes the fast choice of each key a config does not set
    # (config_presets.PRESET_SPEED); tiny keeps these plain defaults.
    mixed_precision: Literal["no", "bf16"] = Field(default="no", description="bf16 autocast of the step; sd15 default: bf16")
    gradient_checkpointing: bool = Field(
        default=False, description="recompute activations in backward: both UNets and every motion module; sd15 default: true"
    )
    attention: Literal["sdpa", "manual"] = Field(
        default="sdpa", description="every attention processor: fused scaled_dot_product_attention or manual softmax (plain path)"
    )
    optimizer: Literal["adamw", "adamw_fused", "adamw_8bit"] = Field(
        default="adamw",
        description="AdamW (torch's foreach), its fused kernel (same update), or AdamW with 8-bit moments "
        "(harness/train/adamw8bit.py: 2 bytes a parameter instead of 8, for memory); sd15 and tiny default: adamw_fused",
    )
    channels_last: bool = Field(default=False, description="NHWC 4D weights (UNets, pose encoder, VAE); unmeasured on GPU: off")
    compile: bool = Field(default=False, description="torch.compile both UNets; unmeasured on GPU: off")
    encode_frames_per_call: int = Field(
        default=0, ge=0, description="frames per frozen-VAE encode call, 0 = the whole batch at once; sd15 default: 4"
    )
    latent_cache: bool = Field(
        default=False,
        description="encode each clip's frames once with the frozen VAE and keep the latents beside the clip "
        "(latents_<fingerprint>.pt), instead of encoding every window in every step; sd15 default: true",
    )
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
    decode_checkpointing: bool = Field(
        default=False, description="recompute the decode in backward (VAE decoder activations not kept); sd15 default: true"
    )
    decode_block_checkpointing: bool = Field(
        default=False,
        description="also checkpoint each VAE decoder block, so the recompute holds one block's activations: "
        "-5 GiB counted at 768 px for one more decoder forward a decoded frame; off",
    )


class LossConfig(Section):
    phd: PhdConfig = Field(default_factory=PhdConfig)


# --------------------------------------------------------------------------- eval


class EvalConfig(Section):
    """Sampling and metrics for each finished run."""

    metrics: list[MetricName] = Field(default_factory=lambda: list(METRIC_NAMES))
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
