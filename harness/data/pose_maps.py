"""Part-wise pose images and region masks (APDH pose sampling and audio masks; docs/method.md, "Pose maps").

The drawing follows the style of the official DWPose drawing used by EchoMimicV2 (Data):
OpenPose-style coloured limbs and joints for the body, HSV-coloured bone lines and blue
joints for the hands, white dots for the face; every colour is scaled by the keypoint
confidence and points below CONF_THRESHOLD are not drawn. Sizes are those of the 768-pixel
drawing scaled to the requested size (at least one pixel).

Hands have two styles (config ``data.hand_map``):
- "harness": the drawing colours above as RGB, blue joints, the confidence cut.
- "release": the hand map as the release hands it to its pose encoder (release:
  src/utils/dwpose_util.py, draw_handpose + draw_pose_select_v2). It draws on a canvas that
  OpenCV treats as BGR and converts to RGB at the end, so in the RGB image every bone has the
  HSV colour with red and blue exchanged and the joints are red. Colours are scaled by the
  truncated 8-bit confidence, int(c_a c_b 255) for a bone and int(c 255) for a joint; there is
  no confidence cut (a zero-confidence bone is drawn black); a point is skipped only when it
  lies in the first pixel row or column of the release's 800-pixel canvas (its "missing" test).
"""

from __future__ import annotations

import colorsys
from collections.abc import Iterable

import cv2
import numpy as np

from harness.data import layout
from harness.vocabulary import MASK_REGIONS, POSE_PARTS

CONF_THRESHOLD = 0.3
HAND_MAPS = ("release", "harness")
RELEASE_CANVAS = 800  # release: draw_pose_select_v2(ref_w=800) as infer.py calls it
_SHIFT = 4  # cv2 fixed-point bits: sub-pixel positions
_ONE = 1 << _SHIFT
_HAND_HSV = [colorsys.hsv_to_rgb(i / len(layout.HAND_EDGES), 1.0, 1.0) for i in range(len(layout.HAND_EDGES))]
_HAND_COLORS = [tuple(int(round(255 * c)) for c in rgb) for rgb in _HAND_HSV]


def _check_parts(parts: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(parts)
    unknown = chosen - set(POSE_PARTS)
    if unknown:
        raise ValueError(f"unknown pose parts {sorted(unknown)}; choose from {POSE_PARTS}")
    return chosen


def _pt(xy: np.ndarray, size: int) -> tuple[int, int]:
    """Normalised (x, y) -> fixed-point pixel coordinates (pixel centres at integer + 0.5)."""
    return int(round((xy[0] * size - 0.5) * _ONE)), int(round((xy[1] * size - 0.5) * _ONE))


def _scaled(color: tuple[int, int, int], weight: float) -> tuple[int, int, int]:
    return tuple(int(round(c * weight)) for c in color)


def _radius(px_at_768: float, size: int) -> int:
    return max(1, int(round(px_at_768 * size / 768)))


def _dots(canvas: np.ndarray, kp: np.ndarray, color: tuple[int, int, int], radius: int) -> None:
    """Filled dots at the points (N, 3) with confidence >= CONF_THRESHOLD, colour scaled by it.

    Positions and colours are computed for all points at once, in float64 as _pt and _scaled
    compute them per point (NumPy 1.x scalars): per-point Python was ~20% of a tiny training step."""
    kp = np.asarray(kp, dtype=np.float64)
    kp = kp[kp[:, 2] >= CONF_THRESHOLD]
    if not len(kp):
        return
    pts = np.round((kp[:, :2] * canvas.shape[0] - 0.5) * _ONE).astype(np.int64)  # (N, 2) fixed point
    colors = np.round(np.asarray(color, np.float64)[None] * kp[:, 2:3]).astype(np.int64)  # (N, 3)
    for pt, col in zip(pts.tolist(), colors.tolist()):
        cv2.circle(canvas, pt, radius * _ONE, col, -1, cv2.LINE_8, _SHIFT)


def _limb_polygon(a: np.ndarray, b: np.ndarray, half_width: float, size: int) -> np.ndarray:
    """An ellipse from pixel a to pixel b (OpenPose 'stick'), as a fixed-point polygon (K, 2)."""
    pa, pb = a * size - 0.5, b * size - 0.5
    centre, delta = (pa + pb) / 2, pb - pa
    half_len = max(float(np.hypot(*delta)) / 2, half_width)
    angle = np.arctan2(delta[1], delta[0])
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    local = np.stack([half_len * np.cos(t), half_width * np.sin(t)], axis=1)  # (24, 2)
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return np.round((local @ rot.T + centre) * _ONE).astype(np.int32)


def _draw_body(canvas: np.ndarray, keypoints: np.ndarray) -> None:
    size = canvas.shape[0]
    body = layout.openpose18(keypoints)  # (18, 3)
    half_width = max(0.75, 4.0 * size / 768)
    for (i, j), color in zip(layout.OPENPOSE_LIMBS, layout.OPENPOSE_COLORS):
        ci, cj = body[i, 2], body[j, 2]
        if min(ci, cj) < CONF_THRESHOLD:
            continue
        poly = _limb_polygon(body[i, :2], body[j, :2], half_width, size)
        cv2.fillConvexPoly(canvas, poly, _scaled(color, ci * cj), cv2.LINE_8, _SHIFT)
    radius = _radius(4, size)
    for k, color in enumerate(layout.OPENPOSE_COLORS):
        _dots(canvas, body[k : k + 1], color, radius)


def _draw_hand(canvas: np.ndarray, hand: np.ndarray) -> None:
    """One hand (21, 3): HSV bones between confident joints, then blue joints (arithmetic as _dots)."""
    size = canvas.shape[0]
    thickness = _radius(2, size)
    pts = np.round((hand[:, :2].astype(np.float64) * size - 0.5) * _ONE).astype(np.int64).tolist()  # (21, 2)
    conf = hand[:, 2]
    for (i, j), color in zip(layout.HAND_EDGES, _HAND_COLORS):
        if min(conf[i], conf[j]) < CONF_THRESHOLD:
            continue
        weight = float(conf[i] * conf[j])  # the product in the keypoints' dtype, as _scaled receives it
        cv2.line(canvas, pts[i], pts[j], _scaled(color, weight), thickness, cv2.LINE_8, _SHIFT)
    _dots(canvas, hand, (0, 0, 255), _radius(4, size))


def _release_present(xy: np.ndarray) -> bool:
    """The release's test for a detected point: int(coordinate * 800) > 0.01 on both axes."""
    return bool(xy[0] * RELEASE_CANVAS >= 1.0 and xy[1] * RELEASE_CANVAS >= 1.0)


def _draw_hand_release(canvas: np.ndarray, hand: np.ndarray) -> None:
    """One hand (21, 3) in the release's final RGB colours (see the module docstring)."""
    size = canvas.shape[0]
    thickness = _radius(2, size)
    for (i, j), (r, g, b) in zip(layout.HAND_EDGES, _HAND_HSV):
        if not (_release_present(hand[i]) and _release_present(hand[j])):
            continue
        score = int(hand[i, 2] * hand[j, 2] * 255)
        color = (int(round(b * score)), int(round(g * score)), int(round(r * score)))  # BGR drawing read as RGB
        cv2.line(canvas, _pt(hand[i], size), _pt(hand[j], size), color, thickness, cv2.LINE_8, _SHIFT)
    for x, y, c in hand:
        if _release_present((x, y)):  # drawn (0, 0, score) in BGR: red in RGB
            cv2.circle(canvas, _pt((x, y), size), _radius(4, size) * _ONE, (int(c * 255), 0, 0), -1, cv2.LINE_8, _SHIFT)


def draw_pose_map(keypoints: np.ndarray, parts: Iterable[str], size: int, hand_map: str = "harness") -> np.ndarray:
    """Draw one frame's keypoints (133, 3) -> RGB pose image float32 (3, size, size) in [0, 1].

    ``parts`` is any subset of {"lips", "face", "body", "hands"}: "face" draws the 48
    non-lip face points, "lips" the 20 lip points (face 48-67), so APDH can remove the lips
    before the rest of the face (the paper's APDH pose sampling). ``hand_map`` is "harness" or "release".
    """
    chosen = _check_parts(parts)
    if hand_map not in HAND_MAPS:
        raise ValueError(f"unknown hand map style {hand_map!r}; choose from {HAND_MAPS}")
    draw_hand = _draw_hand_release if hand_map == "release" else _draw_hand
    kp = np.asarray(keypoints, dtype=np.float32)
    if kp.shape != (layout.N_KEYPOINTS, 3):
        raise ValueError(f"keypoints must be ({layout.N_KEYPOINTS}, 3), got {kp.shape}")
    canvas = np.zeros((size, size, 3), np.uint8)  # (H, W, RGB)
    if "body" in chosen:
        _draw_body(canvas, kp)
    if "hands" in chosen:
        draw_hand(canvas, kp[layout.LEFT_HAND])
        draw_hand(canvas, kp[layout.RIGHT_HAND])
    if "face" in chosen:
        _dots(canvas, kp[layout.FACE_NO_LIPS], (255, 255, 255), _radius(3, size))
    if "lips" in chosen:
        _dots(canvas, kp[layout.LIPS], (255, 255, 255), _radius(3, size))
    return canvas.transpose(2, 0, 1).astype(np.float32) / 255.0


def draw_pose_maps(keypoints: np.ndarray, parts: Iterable[str], size: int, hand_map: str = "harness") -> np.ndarray:
    """Batched draw_pose_map: (N, 133, 3) -> float32 (N, 3, size, size) in [0, 1]."""
    kp = np.asarray(keypoints, dtype=np.float32)
    chosen = _check_parts(parts)
    out = np.empty((len(kp), 3, size, size), np.float32)
    for i, frame in enumerate(kp):
        out[i] = draw_pose_map(frame, chosen, size, hand_map)
    return out


def region_mask(boxes: np.ndarray, region: str, size: int) -> np.ndarray:
    """Binary mask of one region from boxes (..., 4, 4) -> float32 (..., size, size).

    ``region`` in {"lips", "face", "head", "full"}; "full" is all ones. A pixel is inside
    when its centre lies in the normalised xyxy box (any resolution: the audio mask is
    drawn at each attention block's size; docs/method.md, "APDH").
    """
    b = np.asarray(boxes, dtype=np.float32)
    if b.shape[-2:] != (len(layout.REGIONS), 4):
        raise ValueError(f"boxes must be (..., {len(layout.REGIONS)}, 4), got {b.shape}")
    lead = b.shape[:-2]
    if region == "full":
        return np.ones((*lead, size, size), np.float32)
    if region not in MASK_REGIONS:
        raise ValueError(f"unknown mask region {region!r}; choose from {MASK_REGIONS}")
    box = b[..., layout.REGION_INDEX[region], :]  # (..., 4)
    centres = (np.arange(size, dtype=np.float32) + 0.5) / size  # (size,)
    x0, y0, x1, y1 = (box[..., k, None] for k in range(4))  # each (..., 1)
    inside_x = (centres >= x0) & (centres <= x1)  # (..., size) over columns
    inside_y = (centres >= y0) & (centres <= y1)  # (..., size) over rows
    return (inside_y[..., :, None] & inside_x[..., None, :]).astype(np.float32)
