"""Training stages of the ancestor recipe (train.stage; docs/training_recipe.md).

Moore-AnimateAnyone, the code EchoMimicV2's training descends from, trains in two stages:
``train_stage_1.py`` fits the image model on single frames (its denoiser is a 2D UNet, so no
temporal layers exist; the reference UNet trains except ``up_blocks.3``), then
``train_stage_2.py`` inserts motion modules and trains only them. ``joint`` (the default)
trains everything on clips at once, as the harness always did.

Stages only ever freeze parameters; they never unfreeze what the model builder froze.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from harness.train.conditions import Conditions

# diffusers' UNetMotionModel names every temporal layer "...motion_modules..." (and the
# ancestor's stage 2 selects its trainable parameters by the same substring).
MOTION_MODULE_MARK = "motion_modules"


def is_motion_parameter(name: str) -> bool:
    """True for a parameter of a motion (temporal) module, by its dotted name."""
    return MOTION_MODULE_MARK in name


def last_up_block_prefix(unet: nn.Module) -> str:
    """``"up_blocks.<last>."``: up_blocks.3 on sd15, up_blocks.1 on tiny (ancestor stage 1 freezes it)."""
    return f"up_blocks.{len(unet.up_blocks) - 1}."


def apply_stage(model: nn.Module, stage: str) -> None:
    """Freeze what ``stage`` does not train (requires_grad False); call before building the optimiser.

    model: EchoMimicV2 (reference_unet, denoising_unet, pose_encoder).
    """
    if stage == "joint":
        return  # the harness's own recipe: everything the builder left trainable trains
    if stage == "images":
        # ancestor: train_stage_1.py. The reference net's last up-block is frozen (its output
        # feeds nothing the denoiser reads); the denoiser has no motion modules there, so ours
        # stay frozen and only the spatial layers and the pose encoder learn.
        frozen_prefix = last_up_block_prefix(model.reference_unet)
        for name, param in model.reference_unet.named_parameters():
            if name.startswith(frozen_prefix):
                param.requires_grad_(False)
        for name, param in model.denoising_unet.named_parameters():
            if is_motion_parameter(name):
                param.requires_grad_(False)
        return
    if stage == "motion":
        # ancestor: train_stage_2.py. Everything frozen, then "motion_modules" parameters trained.
        for name, param in model.named_parameters():
            if not is_motion_parameter(name):
                param.requires_grad_(False)
        return
    raise ValueError(f"unknown training stage {stage!r}")


def single_frames(cond: Conditions, generator: torch.Generator) -> Conditions:
    """Stage ``images``: one random frame of each sample's window, F = 1 (ancestor stage 1 trains on frames).

    Every per-frame field, (B, F, ...) -> (B, 1, ...); the frame index (B,) is drawn from the
    step's generator. Fields without a frame axis (reference, reference_latents, loss_mask) stay as they are.
    """
    b, f = cond.frames.shape[:2]
    index = torch.randint(0, f, (b,), generator=generator).to(cond.frames.device)  # (B,)
    rows = torch.arange(b, device=cond.frames.device)

    def pick(values: torch.Tensor | None) -> torch.Tensor | None:
        return None if values is None else values[rows, index].unsqueeze(1)  # (B, 1, ...)

    return dataclasses.replace(
        cond,
        frames=pick(cond.frames),
        audio=pick(cond.audio),
        pose=pick(cond.pose),
        audio_mask=pick(cond.audio_mask),
        keypoints=pick(cond.keypoints),
        lips_boxes=pick(cond.lips_boxes),
        latents=pick(cond.latents),
    )
