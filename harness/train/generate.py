"""Load a trained checkpoint and generate a clip from a clip folder (reference frame 0, the
clip's audio and its hand poses: the paper's inference condition, docs/method.md, "Objective and sampling")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.config import ExperimentConfig
from harness.config_load import load
from harness.data.audio_features import audio_feature_shape, clip_audio_features
from harness.data.clip_format import load_clip
from harness.data.pose_maps import draw_pose_maps
from harness.errors import HarnessError
from harness.model.build import build_model
from harness.model.echomimic import EchoMimicV2
from harness.train.checkpoint import load_checkpoint
from harness.train.controls import controlled_audio, controlled_pose_parts
from harness.train.objective import make_scheduler
from harness.train.sampler import sample_clip

INFERENCE_POSE_PARTS = {"hands"}  # only the hands are drawn at inference [code]


@dataclass
class Generated:
    frames: np.ndarray  # uint8 (F, H, W, 3)
    target: np.ndarray  # uint8 (F, H, W, 3): the clip's own frames
    audio: np.ndarray  # float32 mono
    sample_rate: int
    fps: float


def load_trained(checkpoint: Path, device: torch.device, overrides: list[str] | None = None
                 ) -> tuple[ExperimentConfig, EchoMimicV2, torch.nn.Module]:
    """(config, network, codec) of a checkpoint, its config with `overrides` (a.b=c) applied.

    A run's checkpoints/step_*.pt: the run's config.yaml two folders up. An imported release
    (harness weights import-release): the import folder's config.yaml beside it.
    """
    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise HarnessError(f"{checkpoint}: no such checkpoint file")
    folder = checkpoint.parent.parent if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    config_path = folder / "config.yaml"
    if not config_path.is_file():
        raise HarnessError(f"{checkpoint}: no config.yaml in its run or import folder {folder}")
    cfg = load(config_path, overrides or [])
    torch.manual_seed(cfg.train.seed)  # as the trainer: a weightless (train.steps 0) checkpoint rebuilds the same network
    model, codec = build_model(cfg, audio_dim=audio_feature_shape(cfg.model.audio_encoder)[1])
    built_from_it = cfg.model.init is not None and Path(cfg.model.init).resolve() == checkpoint.resolve()
    if not built_from_it:  # build_model has already taken model.init's weights
        weights = load_checkpoint(checkpoint)["model"]
        if weights is not None:  # None: a train.steps=0 run, the network as its config builds it
            model.load_state_dict(weights)
    return cfg, model.to(device).eval(), codec.to(device)


def generate_for_clip(
    cfg: ExperimentConfig, model: EchoMimicV2, codec: torch.nn.Module, clip: Path, seed: int = 0, progress: bool = False
) -> Generated:
    """Sample the whole clip (sliding context windows) at the config's size."""
    data = load_clip(clip)
    frames = data["frames"]  # uint8 (F, H, W, 3)
    size = cfg.data.size
    if frames.shape[1:3] != (size, size):
        raise HarnessError(f"{clip}: frames are {frames.shape[2]}x{frames.shape[1]}, the model was trained at {size}x{size}")
    features = clip_audio_features(clip, cfg.model.audio_encoder, cfg.model.whisper_path, whisper_levels=cfg.model.whisper_levels)
    audio = torch.from_numpy(np.array(features))  # (F, L, D), writable copy
    audio = controlled_audio(cfg.model.controls, audio)  # positive controls act in sampling too
    parts = controlled_pose_parts(cfg.model.controls, INFERENCE_POSE_PARTS)
    pose = torch.from_numpy(draw_pose_maps(data["keypoints"], parts, size, cfg.data.hand_map))  # (F, 3, H, W)
    reference = torch.from_numpy(frames[0].transpose(2, 0, 1).astype(np.float32, order="C") / 127.5 - 1.0)
    generator = torch.Generator().manual_seed(seed)
    out = sample_clip(model, codec, make_scheduler(), reference, audio, pose, cfg.eval, generator, progress,
                      use_reference=not cfg.model.controls.no_reference)
    pixels = ((out.permute(0, 2, 3, 1).numpy() + 1.0) * 127.5).round().clip(0, 255).astype(np.uint8)
    meta = data["meta"]
    return Generated(pixels, frames, data["audio"], int(meta.get("sample_rate", cfg.data.sample_rate)), float(meta["fps"]))
