"""Draw a synthetic figure from its keypoints (synth_figure.py) into an RGB frame.

Every feature is drawn through the keypoints (mouth polygons through the lip points, eyes
through the eye points, arms through shoulder-elbow-wrist, hands through the 21 hand points),
so the stored keypoints are exact. Drawn at `ss` x supersampling, then area-downsampled.
A camera (centre, zoom) maps world coordinates to the image: zoom 1 = semi-body canvas,
zoom > 1 around the head = the portrait (headshot) subset.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from harness.data import layout
from harness.data.synth_figure import Identity

_SHIFT = 3
MOUTH_INSIDE = (60, 15, 25)
PUPIL = (25, 25, 35)


@dataclass(frozen=True)
class Camera:
    """World -> image: p_img = (p_world - centre) * zoom + 0.5 (normalised image coordinates)."""

    centre: tuple[float, float] = (0.5, 0.5)
    zoom: float = 1.0

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """World (..., 2) -> normalised image (..., 2)."""
        return (np.asarray(pts, dtype=np.float64) - np.asarray(self.centre)) * self.zoom + 0.5


class _Canvas:
    """A supersampled canvas drawing in world coordinates through a camera."""

    def __init__(self, size: int, ss: int, camera: Camera):
        self.side, self.camera = size * ss, camera
        self.img = np.zeros((self.side, self.side, 3), np.uint8)

    def px(self, pts: np.ndarray) -> np.ndarray:
        """World points (..., 2) -> fixed-point pixel coordinates (pixel centres at integers)."""
        return np.round((self.camera.apply(pts) * self.side - 0.5) * (1 << _SHIFT)).astype(np.int32)

    def length(self, world_len: float) -> int:
        return max(1, int(round(world_len * self.camera.zoom * self.side)))

    def poly(self, pts: np.ndarray, color: tuple) -> None:
        cv2.fillPoly(self.img, [self.px(pts).reshape(-1, 1, 2)], color, cv2.LINE_8, _SHIFT)

    def circle(self, c: np.ndarray, r: float, color: tuple) -> None:
        cv2.circle(self.img, tuple(self.px(c)), self.length(r) << _SHIFT, color, -1, cv2.LINE_8, _SHIFT)

    def ellipse(self, c: np.ndarray, axes: tuple[float, float], angle: float, color: tuple, arc=(0, 360)) -> None:
        a = (self.length(axes[0]) << _SHIFT, self.length(axes[1]) << _SHIFT)
        cv2.ellipse(self.img, tuple(self.px(c)), a, float(np.rad2deg(angle)), arc[0], arc[1], color, -1, cv2.LINE_8, _SHIFT)

    def line(self, pts: np.ndarray, width: float, color: tuple, caps: bool = False) -> None:
        p = self.px(pts)
        t = self.length(width)
        for a, b in zip(p[:-1], p[1:]):
            cv2.line(self.img, tuple(a), tuple(b), color, t, cv2.LINE_8, _SHIFT)
        if caps:
            for q in p:
                cv2.circle(self.img, tuple(q), (t // 2) << _SHIFT, color, -1, cv2.LINE_8, _SHIFT)


def _shade(color: tuple, f: float) -> tuple[int, int, int]:
    return tuple(int(np.clip(c * f, 0, 255)) for c in color)


def _background(cv: _Canvas, ident: Identity) -> None:
    ramp = np.linspace(0.0, 1.0, cv.side)[:, None, None]
    top, bottom = np.array(ident.bg_top, float), np.array(ident.bg_bottom, float)
    cv.img[:] = np.round(top * (1 - ramp) + bottom * ramp).astype(np.uint8)
    for x0, y0, x1, y1, color in ident.bg_boxes:
        cv.poly(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]), color)


def _torso(cv: _Canvas, ident: Identity, kp: np.ndarray, head: dict) -> None:
    if ident.hair_long:  # behind the neck and shoulders
        c, tilt = head["centre"], head["tilt"]
        down = np.array([-np.sin(tilt), np.cos(tilt)])
        cv.ellipse(c + down * 0.5 * ident.head_ry, (1.25 * ident.head_rx, 1.5 * ident.head_ry), tilt, ident.hair)
    ls, rs = kp[layout.L_SHOULDER, :2], kp[layout.R_SHOULDER, :2]
    lh, rh = kp[layout.L_HIP, :2], kp[layout.R_HIP, :2]
    neck_w = 0.45 * ident.head_rx
    neck_base = (ls + rs) / 2
    cv.poly(np.array([head["centre"] + [-neck_w, 0], head["centre"] + [neck_w, 0],
                      neck_base + [neck_w, 0], neck_base + [-neck_w, 0]]), _shade(ident.skin, 0.85))
    cv.poly(np.array([rs + [-0.03, 0.03], rs + [0.02, -0.02], ls + [-0.02, -0.02], ls + [0.03, 0.03],
                      lh + [0.05, 0.1], rh + [-0.05, 0.1]]), ident.clothes)
    for s in (ls, rs):
        cv.circle(s, 0.035, ident.clothes)
    cv.poly(np.array([neck_base + [-neck_w * 1.6, -0.012], neck_base + [neck_w * 1.6, -0.012], neck_base + [0, 0.05]]), ident.trim)
    cv.poly(np.array([neck_base + [-neck_w, -0.02], neck_base + [neck_w, -0.02], neck_base + [0, 0.03]]), _shade(ident.skin, 0.85))


def _head(cv: _Canvas, ident: Identity, kp: np.ndarray, head: dict) -> None:
    c, tilt = head["centre"], head["tilt"]
    rot = np.array([[np.cos(tilt), -np.sin(tilt)], [np.sin(tilt), np.cos(tilt)]])
    for ear in (layout.L_EAR, layout.R_EAR):
        cv.ellipse(kp[ear, :2], (0.18 * ident.head_rx, 0.25 * ident.head_ry), tilt, _shade(ident.skin, 0.92))
    cv.ellipse(c, (ident.head_rx, ident.head_ry), tilt, ident.skin)
    cv.ellipse(c + rot @ [0, -0.55 * ident.head_ry], (1.06 * ident.head_rx, 0.55 * ident.head_ry), tilt, ident.hair, (180, 360))
    f = layout.FACE[0]
    for eye in (slice(f + 36, f + 42), slice(f + 42, f + 48)):
        cv.poly(kp[eye, :2], (235, 235, 235))
        cv.circle(kp[eye, :2].mean(0), 0.06 * ident.head_ry, PUPIL)
    for brow in (slice(f + 17, f + 22), slice(f + 22, f + 27)):
        cv.line(kp[brow, :2], 0.05 * ident.head_ry, ident.hair)
    cv.line(kp[f + 27 : f + 31, :2], 0.03 * ident.head_ry, _shade(ident.skin, 0.8))
    cv.line(kp[f + 31 : f + 36, :2], 0.03 * ident.head_ry, _shade(ident.skin, 0.75))
    cv.poly(kp[f + 48 : f + 60, :2], ident.lips)  # outer lip contour
    cv.poly(kp[f + 60 : f + 68, :2], MOUTH_INSIDE)  # inner contour: the open mouth


def _arms_and_hands(cv: _Canvas, ident: Identity, kp: np.ndarray) -> None:
    sleeve = _shade(ident.clothes, 0.7)
    for s, e, w, hand in ((layout.L_SHOULDER, layout.L_ELBOW, layout.L_WRIST, layout.LEFT_HAND),
                          (layout.R_SHOULDER, layout.R_ELBOW, layout.R_WRIST, layout.RIGHT_HAND)):
        cv.line(kp[[s, e], :2], 0.06, sleeve, caps=True)
        cv.line(kp[[e, w], :2], 0.05, sleeve, caps=True)
        pts = kp[hand, :2]  # (21, 2)
        palm = pts[[0, 1, 5, 9, 13, 17]]
        hull = cv2.convexHull(cv.px(palm).reshape(-1, 1, 2))
        cv2.fillConvexPoly(cv.img, hull, ident.skin, cv2.LINE_8, _SHIFT)
        for finger in range(5):
            chain = pts[[0 if finger else 1] + list(range(1 + 4 * finger, 5 + 4 * finger))]
            cv.line(chain[1:] if finger else chain, 0.16 * ident.hand_len, ident.skin, caps=True)


def render_frame(ident: Identity, kp: np.ndarray, head: dict, camera: Camera, size: int, ss: int = 4) -> np.ndarray:
    """One frame: uint8 (size, size, 3) RGB of the figure whose world keypoints are kp (133, 3)."""
    cv = _Canvas(size, ss, camera)
    _background(cv, ident)
    _torso(cv, ident, kp, head)
    _head(cv, ident, kp, head)
    _arms_and_hands(cv, ident, kp)
    if ss == 1:
        return cv.img
    return cv2.resize(cv.img, (size, size), interpolation=cv2.INTER_AREA)


def image_keypoints(kp: np.ndarray, camera: Camera) -> np.ndarray:
    """World keypoints (133, 3) -> image keypoints float32 (133, 3); out-of-frame points get conf 0."""
    out = kp.copy()
    out[:, :2] = camera.apply(kp[:, :2])
    inside = np.all((out[:, :2] >= 0.0) & (out[:, :2] <= 1.0), axis=1)
    out[:, 2] = np.where(inside, kp[:, 2], 0.0)
    out[:, :2] = np.where(out[:, 2:] > 0, out[:, :2], 0.0)
    return out.astype(np.float32)
