"""Synthetic Sync-C / Sync-D: the mouth opening seen in the generated frames against the audio envelope.

Video feature (per frame): how much darker the ground-truth mouth region is than the whole
face in the generated frame (area-weighted mean luma of the face box minus that of a mouth
box; the synthetic mouth's inside is drawn darker than lips and skin, so the mouth box darkens
as the mouth opens, and the face's own mean cancels frame-wide brightness flicker). The mouth
box is centred on the midpoint of the ground-truth mouth corners (which do not move with the
opening) and has the clip's largest lips-box size, so its placement carries no opening
information.
Audio feature (per frame): the RMS envelope of the clip's audio in a 1/fps window centred on
each frame (harness/data/synth_audio.py frame_envelope, the signal the generator drove the
mouth with). Both are standardised per clip (zero mean, unit variance), so the distances have
the same scale for every clip and model, and cut into SyncNet's 5-frame windows.

SyncNet's definitions on these windows (metrics/sync.py conf_offset, shared with the real
backend): for offsets k in [-15, 15] frames, the mean Euclidean distance between video window
t and audio window t + k (audio zero-padded); Sync-D = the minimum over k, Sync-C = the
(lower) median minus the minimum, offset = 15 - argmin. Sign convention (pinned by a test):
the offset is +k when the audio runs k frames ahead of the video (the sound that belongs to
frame i is heard at frame i - k); equivalently a video delayed by k frames gives +k.
"""

from __future__ import annotations

import numpy as np

from harness.data import layout
from harness.data.synth_audio import frame_envelope
from metrics.result import MetricResult
from metrics.sample import ClipTruth, Sample
from metrics.sync import SR, VSHIFT, conf_offset
from metrics.synthetic import BACKEND
from metrics.synthetic.pixels import box_mean, luma
from metrics.synthetic.truth import require_truth

WINDOW = 5  # frames per feature window, as SyncNet's 5-frame video / 0.2 s audio inputs
MOUTH_CORNERS = layout.FACE[[48, 54]]
LIPS_BOX, FACE_BOX = 0, 1  # indices in boxes.npy (harness/data/regions.py: lips, face, head, body)


def mouth_boxes(truth: ClipTruth, n: int) -> np.ndarray:
    """Fixed-size mouth boxes of the first n frames: float64 (n, 4) normalised xyxy."""
    kp = truth.keypoints[:n].astype(np.float64)
    centre = kp[:, MOUTH_CORNERS, :2].mean(axis=1)  # (n, 2)
    lips = truth.boxes[:n, LIPS_BOX].astype(np.float64)  # (n, 4)
    half = np.array([(lips[:, 2] - lips[:, 0]).max(), (lips[:, 3] - lips[:, 1]).max()]) / 2  # (2,)
    return np.concatenate([centre - half, centre + half], axis=1)


def mouth_opening(frames: np.ndarray, mouth: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Mouth darkness per frame: float64 (F,) = mean luma of frames (F, H, W, 3) in the face boxes
    (F, 4) minus that in the mouth boxes (F, 4)."""
    out = []
    for frame, m, f in zip(frames, mouth, face):
        y = luma(frame)
        out.append(box_mean(y, f) - box_mean(y, m))
    return np.array(out)


def standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance over the clip; a constant signal becomes zeros (float64 (F,))."""
    x = np.asarray(x, np.float64)
    std = x.std()
    return (x - x.mean()) / std if std > 1e-9 else np.zeros_like(x)


def windows(x: np.ndarray, width: int = WINDOW) -> np.ndarray:
    """Sliding windows of a (F,) signal: (F - width + 1, width)."""
    return np.lib.stride_tricks.sliding_window_view(x, width)


def clip_sync(frames: np.ndarray, truth: ClipTruth, audio: np.ndarray, fps: float,
              vshift: int = VSHIFT) -> tuple[int, float, float] | None:
    """(offset, Sync-C, Sync-D) of one clip; None when it is shorter than one window."""
    n = min(len(frames), len(truth.keypoints))
    if n < WINDOW:
        return None
    video = standardise(mouth_opening(frames[:n], mouth_boxes(truth, n), truth.boxes[:n, FACE_BOX]))
    sound = standardise(frame_envelope(np.asarray(audio, np.float32), SR, fps, n))
    return conf_offset(windows(video), windows(sound), vshift)


class SyntheticSyncMetric:
    """Streaming synthetic Sync-C / Sync-D: means over clips; offsets kept per clip."""

    def __init__(self) -> None:
        self.conf: list[float] = []
        self.dist: list[float] = []
        self.offsets: list[int] = []
        self.clips = self.skipped = 0

    def update(self, sample: Sample) -> None:
        truth = require_truth(sample, "Sync")
        self.clips += 1
        out = None if sample.audio is None else clip_sync(sample.pred, truth, sample.audio, sample.fps)
        if out is None:
            self.skipped += 1
            return
        self.offsets.append(out[0])
        self.conf.append(out[1])
        self.dist.append(out[2])

    def results(self) -> list[MetricResult]:
        params = {"video_feature": "face-box minus mouth-box mean luma, per-clip standardised",
                  "audio_feature": "RMS envelope at video fps, per-clip standardised", "window": WINDOW,
                  "vshift": VSHIFT, "clips": self.clips, "clips_skipped": self.skipped, "offsets": self.offsets}
        note = "" if self.conf else "no clip with audio and at least 5 frames"
        return [MetricResult(key=k, value=float(np.mean(v)) if v else None, n=len(v), unit="clips", backend=BACKEND,
                             weights_sha256=None, exact=False, parameters=params, note=note)
                for k, v in (("sync_c", self.conf), ("sync_d", self.dist))]
