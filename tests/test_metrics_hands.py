"""HKC/HKV definitions and the offline (mediapipe) hand backend on real frames."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.hands import HandKeypoints, HandMetric, MediaPipeHands, hkc_values, hkv_clip
from metrics.sample import Sample


def _keypoints() -> HandKeypoints:
    """3 frames, 100x200 (H, W): left hand in frames 0 and 2 (moves by 10 px in x), right absent."""
    xy = np.full((3, 2, 21, 2), np.nan)
    conf = np.full((3, 2, 21), np.nan)
    xy[0, 0], xy[2, 0] = [50.0, 20.0], [60.0, 20.0]
    conf[0, 0], conf[2, 0] = 0.8, 0.4
    return HandKeypoints(xy=xy, conf=conf, size=(100, 200))


def test_hkc_missing_hand_rules() -> None:
    k = _keypoints()
    assert hkc_values(k, "skip").mean() == pytest.approx(0.6)
    assert hkc_values(k, "zero").mean() == pytest.approx((0.8 + 0.4) * 21 / (3 * 2 * 21))


def test_hkv_units() -> None:
    k = _keypoints()
    # x: values 50, 60 -> population variance 25; y constant -> 0; mean over axes = 12.5
    assert hkv_clip(k, "pixels") == pytest.approx(12.5)
    assert hkv_clip(k, "normalized") == pytest.approx((25 / 200**2) / 2)
    k.xy[2] = np.nan  # one frame only -> no variance
    assert hkv_clip(k) is None


class _FakePose:
    backend, exact, sha256, parameters = "fake/test", False, None, {}

    def hands(self, frames: np.ndarray) -> HandKeypoints:
        return _keypoints()


def test_hand_metric_records() -> None:
    m = HandMetric(pose=_FakePose(), missing="skip", units="pixels")
    m.update(Sample(pred=np.zeros((3, 100, 200, 3), np.uint8)))
    hkc, hkv = m.results()
    assert (hkc.key, hkc.value, hkc.n) == ("hkc", pytest.approx(0.6), 3)
    assert (hkv.key, hkv.value, hkv.n, hkv.parameters["units"]) == ("hkv", pytest.approx(12.5), 1, "pixels")


@pytest.mark.slow
def test_mediapipe_stand_in_runs_on_real_frames(talking_head: dict) -> None:
    frames = talking_head["frames"][76:124:2]  # the guitar hand shows in this stretch
    pose = MediaPipeHands(min_detection_confidence=0.3)
    k = pose.hands(frames)
    assert k.xy.shape == (len(frames), 2, 21, 2) and k.conf.shape == (len(frames), 2, 21)
    present = ~np.isnan(k.conf)
    assert np.all((k.conf[present] > 0) & (k.conf[present] <= 1))
    m = HandMetric(pose=pose)
    m.update(Sample(pred=frames))
    hkc, hkv = m.results()
    assert hkc.backend == "mediapipe-hands/offline-stand-in" and hkc.exact is False
    assert hkc.n == len(frames) and hkc.weights_sha256
