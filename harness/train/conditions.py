"""Turn a batch of clips into model conditions for the current APDH phase (and HPA portraits).

One branch per switch (docs/method.md, "APDH", "HPA"): APDH picks the pose parts drawn and the audio mask
region; HPA places portrait clips into the semi-body canvas with the head as their audio
region and a loss mask over the unpadded area. With both off, the audio mask is None and the
loss mask is None: exactly the baseline path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from harness.config import ExperimentConfig
from harness.data.pose_maps import draw_pose_maps, region_mask
from harness.train.apdh import ActivePhase
from harness.train.controls import controlled_audio, controlled_pose_parts
from harness.train.hpa import place_portrait
from harness.vocabulary import REGIONS

LIPS = REGIONS.index("lips")  # row of the lips box in boxes (F, 4, 4), REGIONS order


@dataclass
class Conditions:
    """Everything one training step feeds the network, in pixel space.

    frames (B, F, 3, H, W) and reference (B, 3, H, W) in [-1, 1]; audio (B, F, L, D);
    pose (B, F, 3, H, W) in [0, 1]; audio_mask (B, F, 1, H, W) or None (= unmasked);
    loss_mask (B, 1, H, W) or None (= every pixel counts); keypoints (B, F, 133, 3);
    lips_boxes (B, F, 4); latents (B, F, C, h, w) and reference_latents (B, C, h, w): the frozen codec's
    latents of frames and reference from train.latent_cache, or None (= encoded in the step).
    """

    frames: torch.Tensor
    reference: torch.Tensor
    audio: torch.Tensor
    pose: torch.Tensor
    audio_mask: torch.Tensor | None
    loss_mask: torch.Tensor | None
    keypoints: torch.Tensor
    lips_boxes: torch.Tensor
    latents: torch.Tensor | None = None
    reference_latents: torch.Tensor | None = None


def build_conditions(batch: dict, phase: ActivePhase, cfg: ExperimentConfig, generator: torch.Generator) -> Conditions:
    """Apply HPA placement, draw the phase's pose parts, build the audio mask."""
    frames, reference = batch["frames"], batch["reference"]
    keypoints, boxes = batch["keypoints"], batch["boxes"]
    portrait = torch.tensor([k == "portrait" for k in batch["kind"]])
    loss_mask = None
    latents, reference_latents = batch.get("latents"), batch.get("reference_latents")  # train.latent_cache
    # 1. HPA (paper Sec. 3.3): portraits shrunk and padded into the semi-body canvas.
    if portrait.any():
        placed = place_portrait(frames[portrait], reference[portrait], keypoints[portrait], boxes[portrait], cfg.data.hpa.head_scale)
        frames, reference = _scatter(frames, portrait, placed.frames), _scatter(reference, portrait, placed.reference)
        keypoints, boxes = _scatter(keypoints, portrait, placed.keypoints), _scatter(boxes, portrait, placed.boxes)
        loss_mask = _scatter(torch.ones(frames.shape[0], 1, *frames.shape[-2:]), portrait, placed.valid_mask)
        latents = reference_latents = None  # the cache holds the pixels as stored, not as placed: encode them
    size = frames.shape[-1]
    # 2. APDH pose sampling: only the phase's parts are drawn; a pose-drop draws nothing.
    b, f = keypoints.shape[:2]
    parts = controlled_pose_parts(cfg.model.controls, set(phase.pose_parts))  # positive control: no hands
    pose = torch.from_numpy(draw_pose_maps(keypoints.flatten(0, 1).numpy(), parts, size, cfg.data.hand_map))
    pose = pose.view(b, f, 3, size, size)
    if phase.pose_drop_prob > 0:
        keep = torch.rand(b, generator=generator) >= phase.pose_drop_prob
        pose = pose * keep.view(b, 1, 1, 1, 1)
    # 3. APDH audio diffusion: the audio may write only inside the phase's region; HPA: the head.
    regions = ["head" if p else phase.audio_mask for p in portrait.tolist()]
    audio_mask = None if all(r == "full" for r in regions) else _region_masks(boxes, regions, size)
    audio = controlled_audio(cfg.model.controls, batch["audio"])  # positive control: zeroed audio
    return Conditions(frames, reference, audio, pose, audio_mask, loss_mask, keypoints, boxes[:, :, LIPS], latents,
                      reference_latents)


def _region_masks(boxes: torch.Tensor, regions: list[str], size: int) -> torch.Tensor:
    """(B, F, 4, 4) boxes + one region name per sample -> (B, F, 1, size, size) masks."""
    masks = [region_mask(boxes[i].numpy(), region, size) for i, region in enumerate(regions)]  # each (F, S, S)
    return torch.from_numpy(np.stack(masks)).unsqueeze(2).float()


def _scatter(full: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    out = full.clone()
    out[rows] = values.to(out.dtype)
    return out
