"""Reading generated frames at ground-truth places: bilinear samples, box means, the face frame.

Coordinates are normalised image coordinates ([0, 1], x right, y down) as stored in a clip's
keypoints.npy; pixel i covers [i, i + 1) / size, so its centre is at (i + 0.5) / size (the
renderer's convention, harness/data/synth_render.py).
"""

from __future__ import annotations

import numpy as np

from harness.data import layout

# Face-local anchors of the synthetic face template (harness/data/synth_figure.py, _face_local;
# x in head half-widths, y in head half-heights, origin at the head centre, y down): the outer
# eye corners (iBUG 36, 42) and the nostril centre (33). None of them moves with the mouth, so
# the affine map they define is the head's pose (position, size, roll) in every frame.
FACE_ANCHORS = np.array([[-0.57, -0.22], [0.57, -0.22], [0.0, 0.25]])
ANCHOR_IDS = layout.FACE[[36, 42, 33]]
RGB_TO_LUMA = np.array([0.299, 0.587, 0.114])


def bilinear(frame: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Colours of (H, W, 3) frame at normalised points (N, 2): float64 (N, 3), clamped at the border."""
    h, w = frame.shape[:2]
    u = np.clip(pts[:, 0] * w - 0.5, 0, w - 1)  # (N,) continuous column, pixel centres at integers
    v = np.clip(pts[:, 1] * h - 0.5, 0, h - 1)
    u0, v0 = np.minimum(u.astype(int), w - 2).clip(0), np.minimum(v.astype(int), h - 2).clip(0)
    u1, v1 = np.minimum(u0 + 1, w - 1), np.minimum(v0 + 1, h - 1)
    fu, fv = (u - u0)[:, None], (v - v0)[:, None]
    f = frame.astype(np.float64)
    top = f[v0, u0] * (1 - fu) + f[v0, u1] * fu
    bottom = f[v1, u0] * (1 - fu) + f[v1, u1] * fu
    return top * (1 - fv) + bottom * fv


def coverage(lo: float, hi: float, n: int) -> np.ndarray:
    """How much of each of n pixels the normalised interval [lo, hi] covers: float64 (n,) in [0, 1]."""
    edges = np.arange(n + 1) / n
    return np.clip(np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo), 0, None) * n


def box_mean(values: np.ndarray, box: np.ndarray) -> float:
    """Area-weighted mean of a per-pixel map (H, W) over a normalised xyxy box (fractional pixels
    count by the share the box covers, so the mean moves smoothly with the box)."""
    h, w = values.shape
    weights = coverage(box[1], box[3], h)[:, None] * coverage(box[0], box[2], w)[None, :]  # (H, W)
    total = weights.sum()
    return float((weights * values).sum() / total) if total > 0 else float("nan")


def luma(frame: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an RGB frame (H, W, 3): float64 (H, W) in [0, 255]."""
    return frame.astype(np.float64) @ RGB_TO_LUMA


def face_affine(keypoints: np.ndarray) -> np.ndarray:
    """(2, 3) affine map face-local -> normalised image coordinates, from one frame's (133, 3) keypoints."""
    src = np.concatenate([FACE_ANCHORS, np.ones((3, 1))], axis=1)  # (3, 3)
    dst = keypoints[ANCHOR_IDS, :2].astype(np.float64)  # (3, 2)
    return np.linalg.solve(src, dst).T


def face_points(keypoints: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Face-local points (N, 2) placed in one frame: normalised image coordinates (N, 2)."""
    a = face_affine(keypoints)
    return local @ a[:, :2].T + a[:, 2]


# Face-local probe points of the synthetic figure's parts (same template as FACE_ANCHORS):
# skin = cheeks (between outer eye corner and mouth corner) and beside the nose bridge;
# hair = the hair cap above the brows; beside = just outside the head below the ears
# (long hair, else background).
PROBES = {
    "skin": np.array([[-0.435, 0.14], [0.435, 0.14], [-0.2, -0.01], [0.2, -0.01]]),
    "hair": np.array([[0.0, -0.8], [-0.4, -0.8], [0.4, -0.8]]),
    "beside": np.array([[-1.06, 0.5], [1.06, 0.5]]),
}
