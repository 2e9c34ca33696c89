"""Deterministic training batches: batch(step) depends only on (seed, step), so resuming a
run reproduces the batches it would have seen, with no sampler state to checkpoint."""

from __future__ import annotations

import numpy as np
from torch.utils.data import default_collate

from harness.config import ExperimentConfig
from harness.data.dataset import ClipDataset
from harness.data.synth import ensure_dataset
from harness.errors import HarnessError
from harness.train.distributed import rank_seed


class TrainingBatches:
    """Semi-body windows, mixed with portrait windows at data.hpa.portrait_ratio when HPA is on."""

    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        self.root = root = ensure_dataset(cfg)
        common = dict(split="train", frames=cfg.data.frames, audio_encoder=cfg.model.audio_encoder, seed=cfg.train.seed, size=cfg.data.size,
                      whisper_levels=cfg.model.whisper_levels, whisper_dir=cfg.model.whisper_path)
        self.semibody = ClipDataset(root, kinds=("semibody",), **common)
        self.portrait: ClipDataset | None = None
        # HPA (paper Sec. 3.3): off -> portrait clips are not used at all.
        if cfg.data.hpa.enabled and cfg.data.hpa.portrait_ratio > 0:
            try:
                self.portrait = ClipDataset(root, kinds=("portrait",), **common)
            except HarnessError:
                self.portrait = None  # a dataset without portraits: HPA has nothing to add

    def batch(self, step: int, rank: int = 0) -> dict:
        """The collated batch of training step `step` (B = train.batch_size) for data-parallel rank `rank`."""
        rng = np.random.default_rng(rank_seed(self.cfg.train.seed, step, rank))
        items = []
        for _ in range(self.cfg.train.batch_size):
            use_portrait = self.portrait is not None and rng.random() < self.cfg.data.hpa.portrait_ratio
            dataset = self.portrait if use_portrait else self.semibody
            dataset.set_epoch(step)  # window start and reference frame drawn from (seed, step, index)
            items.append(dataset[int(rng.integers(len(dataset)))])
        return default_collate(items)
