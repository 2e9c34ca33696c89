"""One square crop per clip (docs/method.md, "Data") and the semi-body / portrait decision.

Semi-body rule [code]: the vertical span runs from the top face landmark to the lowest
visible upper-body point over all frames; a margin of 0.25 of the span is added above and
below (side = 1.5 x span); the square is centred on the mean neck x. Portrait rule
[inferred]: the square is 2 x the face span (brows to chin), centred on the face and raised by
0.1 of the span for the hair. Parts of the square outside the picture are padded with black
and recorded as the clip's valid box.
"""

from __future__ import annotations

import cv2
import numpy as np

from harness.data import layout

VIS = 0.5


def is_semibody(keypoints: np.ndarray) -> bool:
    """Both shoulders in >= 50% of frames and an arm (elbow, wrist or hand) in >= 30% of them."""
    kp = keypoints
    shoulders = (kp[:, [layout.L_SHOULDER, layout.R_SHOULDER], 2] >= VIS).all(1)
    arm_pts = kp[:, [layout.L_ELBOW, layout.R_ELBOW, layout.L_WRIST, layout.R_WRIST], 2] >= VIS
    hands = kp[:, layout.HANDS, 2] >= VIS
    arms = arm_pts.any(1) | hands.any(1)
    return bool(shoulders.mean() >= 0.5 and arms.mean() >= 0.3)


def _visible(kp: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """(M, 2) pixel-space points of kp[:, idx] with confidence >= VIS, over all frames."""
    pts = kp[:, idx]
    return pts[pts[..., 2] >= VIS][:, :2]


def crop_box(keypoints: np.ndarray, width: int, height: int, kind: str) -> tuple[int, int, int]:
    """Square (x0, y0, side) in source pixels for a clip's keypoints (F, 133, 3), normalised to the frame."""
    kp = keypoints.copy()
    kp[..., 0] *= width
    kp[..., 1] *= height
    face = _visible(kp, layout.FACE)
    if kind == "semibody":
        body = _visible(kp, np.concatenate([layout.UPPER_BODY, layout.HANDS]))
        top, bottom = face[:, 1].min(), max(body[:, 1].max(), face[:, 1].max())
        shoulders = kp[:, [layout.L_SHOULDER, layout.R_SHOULDER]]
        ok = (shoulders[..., 2] >= VIS).all(1)
        cx = float(shoulders[ok, :, 0].mean()) if ok.any() else float(face[:, 0].mean())
        side, cy = 1.5 * (bottom - top), (top + bottom) / 2
    else:
        top, bottom = face[:, 1].min(), face[:, 1].max()
        side, cx = 2.0 * (bottom - top), float(face[:, 0].mean())
        cy = (top + bottom) / 2 - 0.1 * (bottom - top)
    side = max(int(round(side)), 8)
    return int(round(cx - side / 2)), int(round(cy - side / 2)), side


def apply_crop(frames: np.ndarray, box: tuple[int, int, int], size: int) -> tuple[np.ndarray, list[float]]:
    """Crop (padding with black) and resize frames uint8 (F, H, W, 3) -> ((F, size, size, 3), valid xyxy)."""
    x0, y0, side = box
    h, w = frames.shape[1:3]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    out = np.empty((len(frames), size, size, 3), np.uint8)
    square = np.zeros((side, side, 3), np.uint8)
    for i, frame in enumerate(frames):
        square[:] = 0
        square[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = frame[sy0:sy1, sx0:sx1]
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        out[i] = cv2.resize(square, (size, size), interpolation=interp)
    valid = [(sx0 - x0) / side, (sy0 - y0) / side, (sx1 - x0) / side, (sy1 - y0) / side]
    return out, [float(np.clip(v, 0.0, 1.0)) for v in valid]


def crop_keypoints(keypoints: np.ndarray, width: int, height: int, box: tuple[int, int, int]) -> np.ndarray:
    """Frame-normalised keypoints (F, 133, 3) -> normalised to the crop; points outside get confidence 0."""
    x0, y0, side = box
    out = keypoints.astype(np.float32).copy()
    out[..., 0] = (keypoints[..., 0] * width - x0) / side
    out[..., 1] = (keypoints[..., 1] * height - y0) / side
    inside = np.all((out[..., :2] >= 0) & (out[..., :2] <= 1), axis=-1)
    out[..., 2] = np.where(inside, out[..., 2], 0.0)
    out[..., :2] = np.where(out[..., 2:] > 0, out[..., :2], 0.0)
    return out
