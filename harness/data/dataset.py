"""ClipDataset: fixed-length training windows from a clip folder (clip_format.py).

Item (a dict that the default torch collate batches; strings become lists):
    frames     float32 (F, 3, H, W) in [-1, 1]
    reference  float32 (3, H, W) in [-1, 1], a frame of the same clip (docs/method.md, "Data")
    audio      float32 (F, tokens, dim) features of each frame (audio_features.py)
    keypoints  float32 (F, 133, 3) COCO-WholeBody, normalised x, y, confidence
    boxes      float32 (F, 4, 4) lips, face, head, body (normalised xyxy)
    valid_box  float32 (4,) the part of the frame that is picture, not padding (normalised xyxy)
    kind       str "semibody" | "portrait";  clip_id  str;  start  int (first frame of the window)
    reference_index  int (the clip frame the reference is)
Train windows start at a random frame and take a random reference frame, drawn from
(seed, epoch, index); test windows tile each clip from frame 0 with reference frame 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from harness.data.audio_features import audio_cache_name, clip_audio_features
from harness.data.clip_format import KINDS, SPLITS, clip_dir, read_frames, read_index, read_meta
from harness.data.progress import progress_bar
from harness.errors import HarnessError


class ClipDataset(Dataset):
    """Windows of `frames` consecutive frames from the clips of one split and the given kinds."""

    def __init__(
        self,
        root: str | Path,
        split: str,
        frames: int,
        kinds: Sequence[str] = ("semibody", "portrait"),
        audio_encoder: str = "mel",
        seed: int = 0,
        size: int | None = None,
        whisper_dir: str | Path | None = None,
        whisper_levels: str = "transformers",
    ):
        if split not in SPLITS:
            raise HarnessError(f"split must be one of {SPLITS}, got {split!r}")
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise HarnessError(f"unknown clip kinds {sorted(unknown)}; choose from {KINDS}")
        self.root, self.split, self.frames = Path(root), split, int(frames)
        self.audio_encoder, self.seed, self.size, self.epoch = audio_encoder, int(seed), size, 0
        self.audio_cache = audio_cache_name(audio_encoder, whisper_levels)  # model.whisper_levels picks the file
        entries = [c for c in read_index(self.root)["clips"] if c["split"] == split and c["kind"] in kinds]
        entries = [c for c in entries if int(c["n_frames"]) >= self.frames]
        if not entries:
            raise HarnessError(f"{self.root}: no {split} clips of kind {'/'.join(kinds)} with >= {frames} frames")
        self.clip_ids = [c["id"] for c in entries]
        self.metas = [read_meta(clip_dir(self.root, cid)) for cid in self.clip_ids]
        for cid in progress_bar(self.clip_ids, f"audio features ({audio_encoder})", enabled=len(self.clip_ids) > 20):
            clip_audio_features(clip_dir(self.root, cid), audio_encoder, whisper_dir, whisper_levels)  # fills the cache
        self.windows = [(ci, w * self.frames) for ci, m in enumerate(self.metas) for w in range(int(m["n_frames"]) // self.frames)]

    def set_epoch(self, epoch: int) -> None:
        """Draw different train windows and references for another epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.windows)

    def _pick(self, idx: int) -> tuple[int, int, int]:
        """(clip index, window start, reference frame) of item idx."""
        ci, start = self.windows[idx]
        if self.split != "train":
            return ci, start, 0
        n = int(self.metas[ci]["n_frames"])
        rng = np.random.default_rng([self.seed, self.epoch, idx])
        return ci, int(rng.integers(0, n - self.frames + 1)), int(rng.integers(0, n))

    def __getitem__(self, idx: int) -> dict[str, Any]:
        ci, start, ref = self._pick(idx)
        path, meta = clip_dir(self.root, self.clip_ids[ci]), self.metas[ci]
        window = list(range(start, start + self.frames))
        images = load_images(path, window + [ref], self.size)  # (F + 1, 3, H, W)
        audio = np.load(path / self.audio_cache, mmap_mode="r")[start : start + self.frames]
        keypoints = np.load(path / "keypoints.npy", mmap_mode="r")[start : start + self.frames]
        boxes = np.load(path / "boxes.npy", mmap_mode="r")[start : start + self.frames]
        return {
            "frames": torch.from_numpy(images[:-1]),
            "reference": torch.from_numpy(images[-1]),
            "audio": torch.from_numpy(np.array(audio, dtype=np.float32)),
            "keypoints": torch.from_numpy(np.array(keypoints, dtype=np.float32)),
            "boxes": torch.from_numpy(np.array(boxes, dtype=np.float32)),
            "valid_box": torch.tensor(meta.get("valid_box", [0.0, 0.0, 1.0, 1.0]), dtype=torch.float32),
            "kind": meta["kind"],
            "clip_id": self.clip_ids[ci],
            "start": start,
            "reference_index": ref,
        }


def load_images(path: Path, indices: list[int], size: int | None) -> np.ndarray:
    """uint8 frames of a clip folder -> C-contiguous float32 (k, 3, H, W) in [-1, 1], resized to size x size if
    set (the training pixels; train.latent_cache encodes the same ones). Contiguous because bf16 convolutions
    pick another kernel on the channels-last strides a transpose leaves: 7e-3 relative apart on the CPU."""
    images = read_frames(path, indices)  # (k, H, W, 3)
    if size and images.shape[1:3] != (size, size):
        images = np.stack([cv2.resize(im, (size, size), interpolation=cv2.INTER_AREA) for im in images])
    return images.transpose(0, 3, 1, 2).astype(np.float32, order="C") / 127.5 - 1.0
