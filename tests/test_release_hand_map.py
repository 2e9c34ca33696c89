"""Hand maps in the release's colours (src/utils/dwpose_util.py as the pose encoder receives them).

The release draws bone i of 20 in HSV hue i/20 (full saturation and value) times the truncated
confidence int(c_a c_b 255), on a canvas OpenCV treats as BGR, then converts BGR -> RGB; the
joints are drawn (0, 0, int(c 255)). The palette below is the drawing colours written out by hand.
"""

from __future__ import annotations

import numpy as np

from harness.data import layout
from harness.data.pose_maps import draw_pose_map

SIZE = 768
# hsv_to_rgb(i / 20, 1, 1) for the 20 hand bones, in the drawing's channel order (R, G, B).
DRAWING_PALETTE = [
    (1, 0, 0), (1, .3, 0), (1, .6, 0), (1, .9, 0), (.8, 1, 0), (.5, 1, 0), (.2, 1, 0), (0, 1, .1), (0, 1, .4),
    (0, 1, .7), (0, 1, 1), (0, .7, 1), (0, .4, 1), (0, .1, 1), (.2, 0, 1), (.5, 0, 1), (.8, 0, 1), (1, 0, .9),
    (1, 0, .6), (1, 0, .3),
]
WRIST = np.array([0.5, 0.55])


def _fan_hand(conf: float) -> np.ndarray:
    """A left hand whose five fingers fan out from the wrist, joints 0.08 apart: (133, 3)."""
    kp = np.zeros((133, 3), np.float32)
    hand = np.zeros((21, 3), np.float32)
    hand[0] = (*WRIST, conf)
    for finger in range(5):
        angle = np.deg2rad(-90 + (finger - 2) * 36)
        direction = np.array([np.cos(angle), np.sin(angle)])
        for joint in range(4):
            hand[1 + 4 * finger + joint] = (*(WRIST + 0.08 * (joint + 1) * direction), conf)
    kp[layout.LEFT_HAND] = hand
    return kp  # the right hand stays at (0, 0): not detected


def _pixel(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """The brightest pixel (as 0..255 RGB) within 1 pixel of a normalised point."""
    col, row = (int(round(v * SIZE - 0.5)) for v in xy)
    patch = (image[:, row - 1 : row + 2, col - 1 : col + 2] * 255).round().reshape(3, -1)
    return patch[:, patch.sum(0).argmax()]


def _bone_midpoint(kp: np.ndarray, bone: int) -> np.ndarray:
    i, j = layout.HAND_EDGES[bone]
    hand = kp[layout.LEFT_HAND]
    return (hand[i, :2] + hand[j, :2]) / 2


def test_release_hand_colours_are_the_drawing_palette_with_red_and_blue_swapped() -> None:
    kp = _fan_hand(1.0)
    image = draw_pose_map(kp, ["hands"], SIZE, "release")
    for bone, (r, g, b) in enumerate(DRAWING_PALETTE):
        expected = np.array([b, g, r]) * 255  # BGR canvas read back as RGB
        np.testing.assert_allclose(_pixel(image, _bone_midpoint(kp, bone)), expected, atol=1, err_msg=f"bone {bone}")
    np.testing.assert_allclose(_pixel(image, kp[layout.LEFT_HAND][8, :2]), [255, 0, 0], atol=1)  # red joints
    harness = draw_pose_map(kp, ["hands"], SIZE, "harness")
    np.testing.assert_allclose(_pixel(harness, _bone_midpoint(kp, 1)), np.array(DRAWING_PALETTE[1]) * 255, atol=1)
    np.testing.assert_allclose(_pixel(harness, kp[layout.LEFT_HAND][8, :2]), [0, 0, 255], atol=1)


def test_release_hand_map_has_no_confidence_cut() -> None:
    kp = _fan_hand(0.2)  # below the harness's 0.3 cut
    assert draw_pose_map(kp, ["hands"], SIZE, "harness").max() == 0
    image = draw_pose_map(kp, ["hands"], SIZE, "release")
    score = int(0.2 * 0.2 * 255)  # 10: the release truncates the confidence product to 8 bits
    for bone in (0, 9, 17):
        r, g, b = DRAWING_PALETTE[bone]
        np.testing.assert_allclose(_pixel(image, _bone_midpoint(kp, bone)), np.array([b, g, r]) * score, atol=1)
    np.testing.assert_allclose(_pixel(image, kp[layout.LEFT_HAND][4, :2]), [int(0.2 * 255), 0, 0], atol=1)


def test_release_skips_undetected_points_only() -> None:
    kp = _fan_hand(1.0)
    tip = layout.LEFT_HAND[20]
    kp[tip] = (0.0, 0.0, 1.0)  # the release's "missing" point: at the canvas corner
    image = draw_pose_map(kp, ["hands"], SIZE, "release")
    assert image[:, :4, :4].max() == 0  # nothing at the corner: neither the joint nor the right hand
    assert _pixel(image, _bone_midpoint(kp, 19)).max() == 0  # no bone from joint 19 to the corner
    np.testing.assert_allclose(_pixel(image, _bone_midpoint(kp, 18)), np.array([.6, 0, 1]) * 255, atol=1)
