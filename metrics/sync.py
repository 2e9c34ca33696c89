"""Sync-C / Sync-D (LSE-C / LSE-D, Chung & Zisserman 2016) with syncnet-python 0.2.3.

Two paths, both with the official SyncNet weights (``syncnet_v2.model``):
  * "pipeline": syncnet-python's ``SyncNetPipeline`` (ffmpeg -> 25 fps, S3FD face detection,
    scene cuts, tracking, 224x224 crops) on the generated video and its audio. Sync-C = best
    track confidence, Sync-D = its minimum distance (the field's protocol; needs ``sfd_face.pth``
    and an ``ffmpeg`` on PATH). No face track (clips under ~50 frames, or no face) is reported
    as missing, never as 0.
  * "precropped": the generated frames already are face crops; they are resized to 224x224 and
    scored directly (no S3FD, no ffmpeg), exactly as ``SyncNetInstance.evaluate`` does on a
    folder of crops. Frames are resampled to 25 fps by nearest index when needed.
Confidence/offset (re-derived here in numpy; equal to syncnet-python's): for offsets
k in [-vshift, vshift], mean over frames of ||v_i - a_{i+k} + 1e-6|| (zero-padded audio
features); offset = vshift - argmin, Sync-D = min, Sync-C = lower median - min.
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import torch

from metrics import weights as W
from metrics.device import pick_device
from metrics.result import MetricResult
from metrics.sample import Sample

FPS, SR, VSHIFT = 25, 16000, 15


def conf_offset(im_feat: np.ndarray, cc_feat: np.ndarray, vshift: int = VSHIFT) -> tuple[int, float, float]:
    """(offset, confidence, min distance) from video (T, D) and audio (T, D) features."""
    im, cc = np.asarray(im_feat, np.float64), np.asarray(cc_feat, np.float64)
    t = len(im)
    cc_pad = np.pad(cc, ((vshift, vshift), (0, 0)))  # (T + 2 vshift, D)
    win = 2 * vshift + 1
    idx = np.arange(t)[:, None] + np.arange(win)[None, :]  # (T, win)
    dists = np.linalg.norm(im[:, None, :] - cc_pad[idx] + 1e-6, axis=-1)  # (T, win)
    mdist = dists.mean(axis=0)  # (win,)
    minidx = int(np.argmin(mdist))
    lower_median = float(np.sort(mdist)[(win - 1) // 2])  # torch.median returns the lower middle
    return vshift - minidx, lower_median - float(mdist[minidx]), float(mdist[minidx])


def mfcc(audio_int16: np.ndarray) -> np.ndarray:
    """16 kHz int16 (S,) -> (13, M) MFCC at 100 frames/s, as syncnet-python computes it."""
    import python_speech_features

    return np.asarray(python_speech_features.mfcc(audio_int16, SR), dtype=np.float64).T


def to_int16(audio: np.ndarray) -> np.ndarray:
    """float [-1, 1] (S,) -> int16 (S,), what a 16-bit wav of it reads back as."""
    return np.round(np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)


@torch.inference_mode()
def syncnet_features(net: torch.nn.Module, crops_bgr: np.ndarray, audio_int16: np.ndarray, device: str = "cpu",
                     batch_size: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """SyncNet embeddings of 5-frame video windows and matching 0.2 s MFCC windows.

    crops_bgr: uint8 (F, 224, 224, 3) BGR face crops at 25 fps; audio_int16: (S,) at 16 kHz.
    Returns video (T, 1024) and audio (T, 1024) features, T = min(F, S // 640) - 5.
    """
    dev = pick_device(device)
    net = net.to(dev).eval()
    video = torch.from_numpy(crops_bgr.astype(np.float32)).permute(3, 0, 1, 2)[None]  # (1, 3, F, 224, 224)
    cc = torch.from_numpy(mfcc(audio_int16).astype(np.float32))[None, None]  # (1, 1, 13, M)
    last = min(len(crops_bgr), math.floor(len(audio_int16) / 640)) - 5
    im_out, cc_out = [], []
    for start in range(0, max(last, 0), batch_size):
        frames = range(start, min(last, start + batch_size))
        im_in = torch.cat([video[:, :, v : v + 5] for v in frames]).to(dev)  # (B, 3, 5, 224, 224)
        cc_in = torch.cat([cc[:, :, :, v * 4 : v * 4 + 20] for v in frames]).to(dev)  # (B, 1, 13, 20)
        im_out.append(net.forward_lip(im_in).cpu())
        cc_out.append(net.forward_aud(cc_in).cpu())
    if not im_out:
        return np.zeros((0, 1024)), np.zeros((0, 1024))
    return torch.cat(im_out).numpy(), torch.cat(cc_out).numpy()


@contextlib.contextmanager
def quiet_fds() -> Iterator[None]:
    """Silence fd 1 and 2 (ffmpeg and syncnet-python print a lot) for the duration."""
    saved = [os.dup(1), os.dup(2)]
    with open(os.devnull, "wb") as null:
        try:
            os.dup2(null.fileno(), 1)
            os.dup2(null.fileno(), 2)
            yield
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def resample_25(frames: np.ndarray, fps: float) -> np.ndarray:
    """Nearest-index resampling of (F, H, W, 3) frames from fps to 25 fps."""
    if abs(fps - FPS) < 1e-3:
        return frames
    n = max(1, int(round(len(frames) * FPS / fps)))
    return frames[np.minimum(np.round(np.arange(n) * fps / FPS).astype(int), len(frames) - 1)]


class SyncScorer:
    """SyncNet scoring of one clip: ``score(sample) -> (conf, dist) or None (no face track)``."""

    def __init__(self, syncnet_path: Path, s3fd_path: Path | None, mode: str = "pipeline", device: str = "auto") -> None:
        from syncnet_python import SyncNetModel

        self.mode, self.device = mode, str(pick_device(device))
        if mode == "pipeline":
            from syncnet_python import SyncNetPipeline

            if s3fd_path is None:
                raise ValueError("the pipeline mode needs the S3FD weights")
            self.pipeline = SyncNetPipeline({"s3fd_weights": str(s3fd_path), "syncnet_weights": str(syncnet_path)},
                                            device=self.device)
        else:
            self.net = SyncNetModel()
            self.net.load_state_dict(torch.load(syncnet_path, map_location="cpu", weights_only=True))

    def score(self, sample: Sample) -> tuple[float, float] | None:
        """(Sync-C, Sync-D) of one clip; None when nothing can be scored (no face track)."""
        if sample.audio is None:
            return None
        if self.mode == "pipeline":
            return self._score_pipeline(sample)
        frames = resample_25(sample.pred, sample.fps)
        crops = np.stack([cv2.resize(f, (224, 224))[:, :, ::-1] for f in frames])  # RGB -> BGR like cv2.imread
        im, cc = syncnet_features(self.net, crops, to_int16(sample.audio), self.device)
        if len(im) == 0:
            return None
        _, conf, dist = conf_offset(im, cc)
        return conf, dist

    def _score_pipeline(self, sample: Sample) -> tuple[float, float] | None:
        from harness.media import write_video, write_wav

        with tempfile.TemporaryDirectory(prefix="harness-sync-") as tmp:
            video, wav = Path(tmp) / "clip.mp4", Path(tmp) / "speech.wav"
            write_video(video, sample.pred, sample.fps)
            write_wav(wav, sample.audio, SR)
            with quiet_fds():
                out = self.pipeline.inference(str(video), str(wav), cache_dir=str(Path(tmp) / "work"))
        offsets, _, _, best_conf, min_dist, _, _ = out
        return (float(best_conf), float(min_dist)) if offsets else None


class SyncMetric:
    """Streaming Sync-C / Sync-D: mean over clips that have a face track."""

    def __init__(self, backend: str = "offline", device: str = "auto", mode: str = "pipeline",
                 weight_files: dict | None = None, weights_dir=None, scorer: SyncScorer | None = None) -> None:
        wf = weight_files or {}
        if scorer is None:
            net = W.resolve("syncnet", wf.get("syncnet"), weights_dir)
            s3fd = W.resolve("s3fd", wf.get("s3fd"), weights_dir) if mode == "pipeline" else None
            scorer = SyncScorer(net.path, s3fd.path if s3fd else None, mode, device)
            self.sha256 = net.sha256
        else:
            self.sha256 = None
        self.scorer, self.mode = scorer, mode
        self.conf: list[float] = []
        self.dist: list[float] = []
        self.clips = self.missing = 0

    def update(self, sample: Sample) -> None:
        self.clips += 1
        out = self.scorer.score(sample)
        if out is None:
            self.missing += 1
            return
        self.conf.append(out[0])
        self.dist.append(out[1])

    def results(self) -> list[MetricResult]:
        exact = self.mode == "pipeline" and self.sha256 is not None
        backend = "syncnet-python/" + ("reference" if exact else f"{self.mode}")
        params = {"mode": self.mode, "clips": self.clips, "clips_without_face_track": self.missing,
                  "fps": FPS, "sample_rate": SR, "vshift": VSHIFT}
        note = "" if self.conf else "no face track in any clip (missing, not 0)"
        return [
            MetricResult(key=k, value=float(np.mean(v)) if v else None, n=len(v), unit="clips", backend=backend,
                         weights_sha256=self.sha256, exact=exact, parameters=params, note=note)
            for k, v in (("sync_c", self.conf), ("sync_d", self.dist))
        ]
