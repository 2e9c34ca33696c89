"""HKC / HKV (CyberHost, reused by EchoMimicV2; no official code exists anywhere).

Definitions used here (settings recorded in every result):
  * HKC (hand keypoint confidence): mean confidence of the 2 x 21 hand keypoints over all
    generated frames. ``missing="skip"`` leaves absent hands out; ``missing="zero"`` counts
    every absent hand as 21 keypoints of confidence 0.
  * HKV (hand keypoint variance): per clip, for each hand slot (left, right) and keypoint,
    the population variance over the frames where the hand is present, of x and of y,
    averaged over the two axes, then over keypoints and slots (slots present in >= 2 frames);
    then the mean over clips. ``units="pixels"`` (values ~25 in the literature) or
    ``"normalized"`` (x / width, y / height; ~0.15).
Backends (the pose-backend interface, metrics/hand_pose.py, is ``hands(frames) -> HandKeypoints``):
  * "reference": DWPose whole-body ONNX (metrics/dwpose.py), keypoints 91-132.
  * "offline": mediapipe 0.10.21 legacy Hands, a STAND-IN: it has no per-keypoint confidence,
    so every keypoint of a hand carries that hand's handedness score.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from metrics.hand_pose import HandBackend, HandKeypoints
from metrics.result import MetricResult
from metrics.sample import Sample


def hkc_values(k: HandKeypoints, missing: str = "skip") -> np.ndarray:
    """Per-keypoint confidences counted by HKC: (M,) after the missing-hand rule."""
    conf = k.conf.reshape(-1)
    return np.nan_to_num(conf, nan=0.0) if missing == "zero" else conf[~np.isnan(conf)]


def hkv_clip(k: HandKeypoints, units: str = "pixels") -> float | None:
    """HKV of one clip (None when no hand is present in two frames)."""
    xy = k.xy.copy()  # (F, 2, 21, 2)
    if units == "normalized":
        xy /= np.array([k.size[1], k.size[0]], dtype=np.float64)
    per_slot = []
    for slot in range(xy.shape[1]):
        present = ~np.isnan(xy[:, slot, 0, 0])
        if present.sum() >= 2:
            per_slot.append(xy[present, slot].var(axis=0).mean())  # var over time, mean over (21, 2)
    return float(np.mean(per_slot)) if per_slot else None


class MediaPipeHands:
    """mediapipe legacy Hands as an offline stand-in pose backend (video mode, 2 hands)."""

    backend = "mediapipe-hands/offline-stand-in"
    exact = False

    def __init__(self, min_detection_confidence: float = 0.5, model_complexity: int = 1) -> None:
        from metrics import weights as W

        self.sha256 = W.resolve("mediapipe_hands").sha256
        self.parameters = {"min_detection_confidence": min_detection_confidence, "model_complexity": model_complexity,
                           "confidence": "handedness score (no per-keypoint confidence in mediapipe)"}

    def hands(self, frames: np.ndarray) -> HandKeypoints:
        """uint8 (F, H, W, 3) RGB -> HandKeypoints (tracking state reset per call = per clip)."""
        import mediapipe as mp

        f, h, w = frames.shape[:3]
        xy, conf = np.full((f, 2, 21, 2), np.nan), np.full((f, 2, 21), np.nan)
        p = self.parameters
        with mp.solutions.hands.Hands(static_image_mode=False, max_num_hands=2, model_complexity=p["model_complexity"],
                                      min_detection_confidence=p["min_detection_confidence"]) as model:
            for i, frame in enumerate(frames):
                res = model.process(np.ascontiguousarray(frame))
                for lms, handed in zip(res.multi_hand_landmarks or [], res.multi_handedness or []):
                    cls = handed.classification[0]
                    slot = 0 if cls.label == "Left" else 1
                    xy[i, slot] = [(lm.x * w, lm.y * h) for lm in lms.landmark]
                    conf[i, slot] = cls.score
        return HandKeypoints(xy=xy, conf=conf, size=(h, w))


def make_hand_backend(backend: str, weight_files: dict | None = None, weights_dir=None) -> HandBackend:
    """DWPose for "reference", mediapipe for "offline"."""
    if backend == "reference":
        from metrics.dwpose import DwposeHands

        return DwposeHands(weight_files, weights_dir)
    return MediaPipeHands()


@dataclass
class HandTally:
    """HKC pooled over keypoints and frames, HKV per clip: what every hand backend accumulates."""

    missing: str = "skip"
    units: str = "pixels"
    conf: list[np.ndarray] = field(default_factory=list)
    hkv: list[float] = field(default_factory=list)
    frames: int = 0
    clips: int = 0

    def add(self, k: HandKeypoints) -> None:
        """One clip's keypoints."""
        self.frames += len(k.xy)
        self.clips += 1
        self.conf.append(hkc_values(k, self.missing))
        v = hkv_clip(k, self.units)
        if v is not None:
            self.hkv.append(v)

    def results(self, provenance: dict, parameters: dict, hkv_parameters: dict, hkc_note: str,
                hkv_note: str) -> list[MetricResult]:
        """[hkc, hkv] MetricResults; provenance: backend, weights_sha256, exact; notes used when missing."""
        conf = np.concatenate(self.conf) if self.conf else np.zeros(0)
        common = {**parameters, "missing_hands": self.missing, "frames": self.frames, "clips": self.clips}
        return [
            MetricResult(key="hkc", value=float(conf.mean()) if conf.size else None, n=self.frames, unit="frames",
                         **provenance, parameters={**common, "keypoints_counted": int(conf.size)},
                         note="" if conf.size else hkc_note),
            MetricResult(key="hkv", value=float(np.mean(self.hkv)) if self.hkv else None, n=len(self.hkv),
                         unit="clips", **provenance, parameters={**common, "units": self.units, **hkv_parameters},
                         note="" if self.hkv else hkv_note),
        ]


class HandMetric:
    """Streaming HKC (pooled over frames) and HKV (mean over clips) with a pose backend."""

    def __init__(self, backend: str = "offline", missing: str = "skip", units: str = "pixels",
                 weight_files: dict | None = None, weights_dir=None, pose: HandBackend | None = None) -> None:
        self.pose = pose or make_hand_backend(backend, weight_files, weights_dir)
        self.tally = HandTally(missing, units)

    def update(self, sample: Sample) -> None:
        self.tally.add(self.pose.hands(sample.pred))

    def results(self) -> list[MetricResult]:
        p = self.pose
        return self.tally.results({"backend": p.backend, "weights_sha256": p.sha256, "exact": p.exact},
                                  dict(p.parameters), {}, "no hands detected",
                                  "no hand present in two frames of any clip")
