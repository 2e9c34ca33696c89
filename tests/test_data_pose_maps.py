"""Pose maps by part (APDH pose sampling) and region masks: pixel tests."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from harness.data import layout
from harness.data.pose_maps import draw_pose_map, draw_pose_maps, region_mask
from harness.vocabulary import POSE_PARTS

SIZE = 64
# Each part lives in its own quadrant: (x0, y0) of a 0.5 x 0.5 square, points kept well inside.
QUADRANT = {"face": (0.0, 0.0), "lips": (0.5, 0.0), "body": (0.0, 0.5), "hands": (0.5, 0.5)}


def _quadrant_keypoints(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kp = np.zeros((133, 3), np.float32)
    groups = {"face": layout.FACE_NO_LIPS, "lips": layout.LIPS, "body": layout.BODY[:13], "hands": layout.HANDS}
    for part, idx in groups.items():
        x0, y0 = QUADRANT[part]
        kp[idx, 0] = x0 + rng.uniform(0.12, 0.38, len(idx))
        kp[idx, 1] = y0 + rng.uniform(0.12, 0.38, len(idx))
        kp[idx, 2] = 1.0
    return kp


def _quadrant_mask(part: str) -> np.ndarray:
    x0, y0 = (int(v * SIZE) for v in QUADRANT[part])
    mask = np.zeros((SIZE, SIZE), bool)
    mask[y0 : y0 + SIZE // 2, x0 : x0 + SIZE // 2] = True
    return mask


@pytest.mark.parametrize("n_parts", [0, 1, 2, 3, 4])
def test_each_part_toggle_draws_exactly_that_part(n_parts: int) -> None:
    kp = _quadrant_keypoints()
    for parts in itertools.combinations(POSE_PARTS, n_parts):
        drawn = draw_pose_map(kp, parts, SIZE).max(0) > 0  # (H, W)
        allowed = np.zeros((SIZE, SIZE), bool)
        for part in parts:
            allowed |= _quadrant_mask(part)
            assert drawn[_quadrant_mask(part)].sum() >= 10, f"{part} not drawn for {parts}"
        assert not (drawn & ~allowed).any(), f"pixels outside the parts {parts}"


def test_face_without_lips_and_lips_alone() -> None:
    kp = _quadrant_keypoints()
    face = draw_pose_map(kp, ["face"], SIZE)
    lips = draw_pose_map(kp, ["lips"], SIZE)
    both = draw_pose_map(kp, ["face", "lips"], SIZE)
    np.testing.assert_array_equal(both, np.maximum(face, lips))  # disjoint quadrants: union
    assert face[:, _quadrant_mask("lips")].max() == 0 and lips[:, _quadrant_mask("face")].max() == 0


def test_confidence_weighting_and_threshold() -> None:
    kp = _quadrant_keypoints()
    full = draw_pose_map(kp, ["hands"], SIZE)
    half = kp.copy()
    half[layout.HANDS, 2] = 0.5
    dim = draw_pose_map(half, ["hands"], SIZE)
    assert 0.45 <= dim.max() <= 0.55 and full.max() == pytest.approx(1.0)
    low = kp.copy()
    low[layout.HANDS, 2] = 0.2  # below the 0.3 drawing threshold
    assert draw_pose_map(low, ["hands"], SIZE).max() == 0


def test_dots_land_on_keypoints() -> None:
    kp = np.zeros((133, 3), np.float32)
    kp[layout.LIPS[0]] = (15.5 / SIZE, 47.5 / SIZE, 1.0)  # the centre of pixel (row 47, column 15)
    image = draw_pose_map(kp, ["lips"], SIZE)
    ys, xs = np.nonzero(image.max(0))
    assert xs.mean() == pytest.approx(15.0) and ys.mean() == pytest.approx(47.0)  # a symmetric dot
    assert np.allclose(image[:, 47, 15], 1.0)  # white face dots


def test_batched_equals_single_and_shapes() -> None:
    kps = np.stack([_quadrant_keypoints(s) for s in range(3)])
    batch = draw_pose_maps(kps, ["body", "hands"], 32)
    assert batch.shape == (3, 3, 32, 32) and batch.dtype == np.float32
    for i in range(3):
        np.testing.assert_array_equal(batch[i], draw_pose_map(kps[i], ["body", "hands"], 32))
    with pytest.raises(ValueError):
        draw_pose_map(kps[0], ["tail"], 32)


def test_region_masks_any_resolution() -> None:
    boxes = np.zeros((2, 5, 4, 4), np.float32)  # (batch, frames, regions, xyxy)
    boxes[..., 0, :] = (0.25, 0.5, 0.5, 0.75)  # lips
    boxes[..., 1, :] = (0.0, 0.0, 0.5, 0.5)  # face
    for size in (8, 16, 40):
        lips = region_mask(boxes, "lips", size)
        assert lips.shape == (2, 5, size, size)
        assert lips[0, 0].sum() == (size // 4) ** 2
        assert lips[0, 0, size // 2, size // 4] == 1 and lips[0, 0, 0, 0] == 0
        assert region_mask(boxes, "face", size)[1, 4].sum() == (size // 2) ** 2
        assert region_mask(boxes, "full", size).min() == 1.0
    with pytest.raises(ValueError):
        region_mask(boxes, "body_parts", 8)


# sha256 (first 16 hex) of every part drawn for 8 frames of synthetic clip 0, from the per-point
# drawing code before it was vectorised: the faster code must draw the same bytes.
PINNED_MAPS = {(32, "harness"): "ed8e4a0bf93196a5", (32, "release"): "a3874d4328e89931",
               (64, "harness"): "a8c1bc546771e875", (64, "release"): "1a5ea853eee81f0d"}


@pytest.mark.parametrize("size,hand_map", sorted(PINNED_MAPS))
def test_drawn_maps_are_pinned(size: int, hand_map: str) -> None:
    import hashlib

    from harness.data.synth import render_clip

    kp = render_clip(0, "semibody", 0, 32, 8, 24, 16000)["keypoints"]
    maps = draw_pose_maps(kp, set(POSE_PARTS), size, hand_map)
    assert hashlib.sha256(maps.tobytes()).hexdigest()[:16] == PINNED_MAPS[(size, hand_map)]
