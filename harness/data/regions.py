"""Region boxes (lips, face, head, body) from keypoints, for the APDH/HPA audio masks.

Boxes are normalised xyxy in layout.REGIONS order. Margins are our choice [inferred]:
lips +25% of their size, face +10%, head = face box grown upward by 60% of its height (the
68 face points stop at the brows; hair and forehead are above) and sideways by 20%, body =
all visible body, hand and head points +5%. Frames where a region is not visible take the
box of the nearest frame where it is; a region never visible in the clip is an empty box.
"""

from __future__ import annotations

import numpy as np

from harness.data import layout
from harness.data.pose_maps import CONF_THRESHOLD


def _bbox(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """points (F, K, 3) -> boxes (F, 4) of points with conf >= threshold, and valid (F,)."""
    vis = points[..., 2] >= CONF_THRESHOLD  # (F, K)
    big = np.float32(1e9)
    x, y = points[..., 0], points[..., 1]
    box = np.stack([np.where(vis, x, big).min(1), np.where(vis, y, big).min(1),
                    np.where(vis, x, -big).max(1), np.where(vis, y, -big).max(1)], axis=1)
    valid = vis.sum(1) >= 2
    return np.where(valid[:, None], box, 0.0).astype(np.float32), valid


def _grow(box: np.ndarray, left: float, top: float, right: float, bottom: float) -> np.ndarray:
    """Grow boxes (F, 4) by fractions of their own width/height on each side."""
    w, h = box[:, 2] - box[:, 0], box[:, 3] - box[:, 1]
    return np.stack([box[:, 0] - left * w, box[:, 1] - top * h, box[:, 2] + right * w, box[:, 3] + bottom * h], 1)


def _fill_nearest(box: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Replace boxes of invalid frames by the nearest valid frame's box (empty if none)."""
    if valid.all() or not valid.any():
        return box
    idx = np.flatnonzero(valid)
    frames = np.arange(len(box))
    nearest = idx[np.abs(frames[:, None] - idx[None, :]).argmin(1)]
    return box[nearest]


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([np.minimum(a[:, :2], b[:, :2]), np.maximum(a[:, 2:], b[:, 2:])], 1)


def boxes_from_keypoints(keypoints: np.ndarray) -> np.ndarray:
    """Keypoints (F, 133, 3) -> region boxes float32 (F, 4, 4): lips, face, head, body (xyxy in [0, 1])."""
    kp = np.asarray(keypoints, dtype=np.float32)
    lips, lips_ok = _bbox(kp[:, layout.LIPS])
    face, face_ok = _bbox(kp[:, layout.FACE])
    lips = _fill_nearest(_grow(lips, 0.25, 0.25, 0.25, 0.25), lips_ok)
    face_box = _fill_nearest(_grow(face, 0.1, 0.1, 0.1, 0.1), face_ok)
    head = _fill_nearest(_grow(face, 0.2, 0.6, 0.2, 0.1), face_ok)
    body_pts = kp[:, np.concatenate([layout.BODY[:13], layout.HANDS])]
    body, body_ok = _bbox(body_pts)
    body = _fill_nearest(_grow(body, 0.05, 0.05, 0.05, 0.05), body_ok)
    if face_ok.any():
        body = _union(body, head) if body_ok.any() else head
    out = np.stack([lips, face_box, head, body], axis=1)  # (F, 4, 4)
    return np.clip(out, 0.0, 1.0).astype(np.float32)
