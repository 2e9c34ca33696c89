"""The frozen codec's latents of every clip frame, encoded once and kept beside the clip (train.latent_cache).

The codec never trains and its latents are deterministic (VaeCodec takes the posterior mean), so a frame
always encodes to the same latents. Encoding them in every step is the largest piece of work the plain
diffusers step does not do: at 768 px the sd15 VAE spends 2.61 TFLOP a frame, 33.9 of a 12-frame step's
211.8 (docs/benchmarks.md, "On a GPU"). With the cache a clip is encoded the first time one of its windows
is drawn, and every later window reads its latents from disk.

    <clip folder>/latents_<fingerprint>.pt   tensor (n_frames, C, h, w) in the dtype the encoder returned

The fingerprint names the codec's weights, the frame size and the precision policy, so another VAE, size or
train.mixed_precision never reads these latents. HPA portraits are placed into the semi-body canvas in pixel
space after loading (harness/train/hpa.py), so a batch with a portrait encodes on the fly
(harness/train/conditions.py).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import torch

from harness.data.clip_format import clip_dir, read_meta
from harness.data.dataset import load_images
from harness.errors import HarnessError
from harness.writable import require_writable


def codec_fingerprint(codec: torch.nn.Module, size: int, mixed_precision: str) -> str:
    """16 hex digits naming what a cached latent depends on: codec class and weights, frame size, precision."""
    digest = hashlib.sha256(f"{type(codec).__name__}|{getattr(codec, 'factor', '')}|{size}|{mixed_precision}".encode())
    for name, tensor in sorted(codec.state_dict().items()):
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())  # 0-dim too
    return digest.hexdigest()[:16]


class LatentCache:
    """Latents of the clips under `root` at `size` px, encoded by `codec` on `device` and stored per clip."""

    def __init__(self, codec: torch.nn.Module, root: Path, size: int, mixed_precision: str, frames_per_call: int,
                 device: torch.device):
        self.codec, self.root, self.size, self.device = codec, Path(root), size, device
        self.mixed_precision = mixed_precision
        self.frames_per_call = frames_per_call  # train.encode_frames_per_call (0: the default chunk)
        self.file_name = f"latents_{codec_fingerprint(codec, size, mixed_precision)}.pt"
        try:  # before the first step, not at a clip's first window minutes later
            require_writable(self.root / "clips", "train.latent_cache: the clip folders")
        except HarnessError as error:
            raise HarnessError(f"{error}; set train.latent_cache=false to encode in every step instead") from None
        self._loaded: dict[str, torch.Tensor] = {}  # clip id -> memory-mapped (n_frames, C, h, w)

    def clip_latents(self, clip_id: str) -> torch.Tensor:
        """(n_frames, C, h, w) latents of one clip: read (memory-mapped) when cached, else encoded and saved."""
        if clip_id not in self._loaded:
            path = clip_dir(self.root, clip_id) / self.file_name
            n_frames = int(read_meta(path.parent)["n_frames"])
            latents = self._read(path, n_frames)
            if latents is None:
                latents = self._encode(path.parent, n_frames)
                _save_atomically(latents, path)
            self._loaded[clip_id] = latents
        return self._loaded[clip_id]

    def attach(self, batch: dict) -> dict:
        """Add the batch's cached latents: "latents" (B, F, C, h, w) of its windows, "reference_latents" (B, C, h, w)."""
        frames = batch["frames"].shape[1]
        windows, references = [], []
        for clip_id, start, ref in zip(batch["clip_id"], batch["start"].tolist(), batch["reference_index"].tolist()):
            latents = self.clip_latents(clip_id)
            windows.append(latents[start: start + frames])
            references.append(latents[ref])
        return {**batch, "latents": torch.stack(windows), "reference_latents": torch.stack(references)}

    def _read(self, path: Path, n_frames: int) -> torch.Tensor | None:
        """The cached latents, or None when absent or unreadable or of another clip length (then re-encoded)."""
        if not path.is_file():
            return None
        try:
            latents = torch.load(path, mmap=True, weights_only=True)
        except Exception as error:  # a torn or foreign file: encode again rather than train on it
            _warn(f"{path}: unreadable latent cache ({type(error).__name__}); encoding the clip again")
            return None
        if not isinstance(latents, torch.Tensor) or latents.ndim != 4 or latents.shape[0] != n_frames:
            _warn(f"{path}: cached latents do not match the clip's {n_frames} frames; encoding the clip again")
            return None
        return latents

    @torch.no_grad()
    def _encode(self, folder: Path, n_frames: int) -> torch.Tensor:
        """Every frame of the clip, through the codec under the step's precision policy, `frames_per_call` at a time."""
        chunk = self.frames_per_call or 16  # a whole clip in one call would hold every frame's activations
        bf16 = self.mixed_precision == "bf16"
        parts = []
        for first in range(0, n_frames, chunk):
            pixels = torch.from_numpy(load_images(folder, list(range(first, min(first + chunk, n_frames))), self.size))
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=bf16):
                parts.append(self.codec.encode(pixels.to(self.device)).cpu())  # (k, C, h, w)
        return torch.cat(parts).contiguous()  # as torch.load gives it back (the encoder may answer channels-last)


def _save_atomically(latents: torch.Tensor, path: Path) -> None:
    """Write to a private temporary name, then rename: a reader (another rank or trial) sees all or nothing."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save(latents, tmp)
    os.replace(tmp, path)


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)
