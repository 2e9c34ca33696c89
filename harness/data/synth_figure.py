"""Procedural semi-body figures: identities, audio-driven motion and exact 133-point keypoints.

World coordinates are those of the semi-body canvas ([0, 1]^2, y down). The mouth opening
follows the audio envelope, head sway and breathing follow slow audio energy, and the hands
follow smooth random trajectories drawn from their own random stream, independent of audio.
The renderer (synth_render.py) draws the figure through these keypoints, so they are exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from harness.data import layout

SKIN = ((255, 219, 172), (241, 194, 125), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 58, 38))
HAIR = ((20, 20, 20), (70, 45, 25), (120, 80, 40), (215, 180, 100), (160, 60, 30), (150, 150, 150))
Color = tuple[int, int, int]


@dataclass
class Identity:
    """Appearance and body proportions of one synthetic person (semi-body canvas units)."""

    skin: Color
    hair: Color
    hair_long: bool
    clothes: Color
    trim: Color
    lips: Color
    bg_top: Color
    bg_bottom: Color
    bg_boxes: list[tuple[float, float, float, float, Color]] = field(default_factory=list)
    head_x: float = 0.5
    head_y: float = 0.28
    head_rx: float = 0.085
    head_ry: float = 0.11
    shoulder_half: float = 0.17
    upper_arm: float = 0.2
    forearm: float = 0.18
    hand_len: float = 0.075
    f0: float = 140.0


def _color(rng: np.random.Generator, base: Color | None = None, jitter: int = 15) -> Color:
    if base is None:
        return tuple(int(v) for v in rng.integers(0, 256, 3))
    return tuple(int(np.clip(c + rng.integers(-jitter, jitter + 1), 0, 255)) for c in base)


def _far_from(rng: np.random.Generator, avoid: list[Color], min_dist: float = 90.0) -> Color:
    """A random colour at least min_dist (RGB distance) from every colour in avoid."""
    for _ in range(200):
        c = _color(rng)
        if all(np.linalg.norm(np.subtract(c, a)) >= min_dist for a in avoid):
            return c
    return (30, 60, 200) if np.mean(avoid) > 128 else (200, 230, 250)


def sample_identity(rng: np.random.Generator) -> Identity:
    """A random person: skin, hair, clothes, background and proportions."""
    skin = _color(rng, SKIN[rng.integers(len(SKIN))])
    clothes = _far_from(rng, [skin], 110.0)
    bg_top, bg_bottom = _far_from(rng, [skin, clothes]), _far_from(rng, [skin, clothes])
    boxes = []
    for _ in range(rng.integers(0, 4)):  # static decor, kept off the figure's centre column
        x0 = rng.uniform(0.0, 0.2) if rng.random() < 0.5 else rng.uniform(0.7, 0.85)
        y0 = rng.uniform(0.0, 0.6)
        boxes.append((x0, y0, x0 + rng.uniform(0.05, 0.15), y0 + rng.uniform(0.05, 0.2), _far_from(rng, [skin])))
    return Identity(
        skin=skin, hair=_color(rng, HAIR[rng.integers(len(HAIR))]), hair_long=bool(rng.random() < 0.4),
        clothes=clothes, trim=_far_from(rng, [clothes, skin], 60.0), lips=_color(rng, (170, 70, 80), 25),
        bg_top=bg_top, bg_bottom=bg_bottom, bg_boxes=boxes,
        head_x=rng.uniform(0.46, 0.54), head_y=rng.uniform(0.26, 0.30), head_rx=rng.uniform(0.078, 0.092),
        head_ry=rng.uniform(0.10, 0.115), shoulder_half=rng.uniform(0.15, 0.19), upper_arm=rng.uniform(0.18, 0.21),
        forearm=rng.uniform(0.16, 0.19), hand_len=rng.uniform(0.065, 0.08), f0=rng.uniform(100.0, 240.0),
    )


@dataclass
class Motion:
    """Per-frame driving signals (F frames)."""

    mouth: np.ndarray  # (F,) opening in [0, 1], from the audio envelope
    sway: np.ndarray  # (F, 2) head offset (dx, dy), scaled by slow audio energy
    tilt: np.ndarray  # (F,) head roll in radians, scaled by slow audio energy
    breath: np.ndarray  # (F,) torso/shoulder vertical offset
    wrists: np.ndarray  # (F, 2, 2) world wrist positions (left, right), audio-independent
    hand_angle: np.ndarray  # (F, 2) hand rotation relative to the forearm
    curl: np.ndarray  # (F, 2) finger curl in [0, 1]


def _smooth_random(rng: np.random.Generator, n: int, fps: float, shape: tuple[int, ...]) -> np.ndarray:
    """Smooth zero-mean signals in [-1, 1]: sums of 3 slow sinusoids, (n, *shape)."""
    t = np.arange(n)[:, None] / fps
    out = np.zeros((n, int(np.prod(shape))))
    for _ in range(3):
        freq = rng.uniform(0.15, 0.9, out.shape[1])
        out += np.sin(2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi, out.shape[1])) / 3
    return out.reshape(n, *shape)


def sample_motion(envelope: np.ndarray, fps: float, hand_rng: np.random.Generator, head_rng: np.random.Generator) -> Motion:
    """Driving signals: mouth = normalised envelope; sway/breathing from slow energy; hands from hand_rng."""
    n = len(envelope)
    ref = max(float(np.percentile(envelope, 95)), 1e-6)
    mouth = np.clip(envelope / ref, 0.0, 1.0)
    slow = np.zeros(n)
    for i in range(n):  # causal exponential smoothing, ~0.4 s time constant
        slow[i] = mouth[i] if i == 0 else slow[i - 1] + (mouth[i] - slow[i - 1]) / (0.4 * fps)
    t = np.arange(n) / fps
    p = head_rng.uniform(0, 2 * np.pi, 3)
    sway = np.stack([0.015 * slow * np.sin(2 * np.pi * 0.8 * t + p[0]), 0.008 * slow], axis=1)
    tilt = np.deg2rad(7.0) * slow * np.sin(2 * np.pi * 0.5 * t + p[1])
    breath = 0.006 * (0.4 + slow) * np.sin(np.cumsum(2 * np.pi * (0.3 + 0.3 * slow) / fps) + p[2])
    base = np.array([[0.62, 0.75], [0.38, 0.75]])  # person's left hand is on the image right
    wrists = base[None] + _smooth_random(hand_rng, n, fps, (2, 2)) * np.array([0.11, 0.12])
    hand_angle = 0.5 * _smooth_random(hand_rng, n, fps, (2,))
    curl = 0.5 + 0.5 * _smooth_random(hand_rng, n, fps, (2,))
    return Motion(mouth, sway, tilt, breath, wrists, hand_angle, curl)


# Face points in head-local units (x over head_rx, y over head_ry; origin = head centre).
def _face_local(mouth_open: float) -> np.ndarray:
    """The 68 iBUG points for a mouth opening in [0, 1]: (68, 2)."""
    ang = np.linspace(np.pi + 0.25, -0.25, 17)
    jaw = np.stack([0.97 * np.cos(ang), 0.97 * np.sin(ang)], 1)
    bx = np.linspace(0.75, 0.15, 5)
    brow_r = np.stack([-bx, -0.42 - 0.06 * np.sin(np.pi * (bx - 0.15) / 0.6)], 1)
    brow_l = np.stack([bx[::-1], brow_r[::-1, 1]], 1)
    bridge = np.stack([np.zeros(4), np.linspace(-0.3, 0.12, 4)], 1)
    nostrils = np.array([[-0.18, 0.2], [-0.09, 0.23], [0.0, 0.25], [0.09, 0.23], [0.18, 0.2]])
    ex, ey = np.cos(np.deg2rad([180, 120, 60, 0, -60, -120])), np.sin(np.deg2rad([180, 120, 60, 0, -60, -120]))
    eye_r = np.stack([-0.4 + 0.17 * ex, -0.22 - 0.07 * ey], 1)  # 36 outer, 37-38 upper, 39 inner, 40-41 lower
    eye_l = np.stack([0.4 - 0.17 * ex, -0.22 - 0.07 * ey], 1)  # 42 inner, 43-44 upper, 45 outer, 46-47 lower
    gap, lip, w = 0.3 * mouth_open, 0.07, 0.3
    ux = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    upper = np.stack([ux, 0.5 - gap / 2 - lip - 0.02 * (np.abs(ux) > 0.05)], 1)
    lower = np.stack([ux[::-1], 0.5 + gap / 2 + lip * np.cos(ux[::-1] * 2.5)], 1)
    outer = np.concatenate([[[-w, 0.5]], upper, [[w, 0.5]], lower])  # 48..59
    ix = np.array([-0.12, 0.0, 0.12])
    inner = np.concatenate([[[-0.24, 0.5]], np.stack([ix, 0.5 - gap / 2 + 0 * ix], 1), [[0.24, 0.5]],
                            np.stack([ix[::-1], 0.5 + gap / 2 + 0 * ix], 1)])  # 60..67
    return np.concatenate([jaw, brow_r, brow_l, bridge, nostrils, eye_r, eye_l, outer, inner]).astype(np.float64)


def _rot(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def _elbow(shoulder: np.ndarray, wrist: np.ndarray, a: float, b: float, outward: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-link arm: elbow position bending outward; wrist pulled in when out of reach."""
    d = wrist - shoulder
    dist = float(np.clip(np.hypot(*d), abs(a - b) + 1e-3, a + b - 1e-3))
    u = d / max(np.hypot(*d), 1e-9)
    wrist = shoulder + u * dist
    along = (a * a - b * b + dist * dist) / (2 * dist)
    perp = np.sqrt(max(a * a - along * along, 0.0))
    normal = np.array([u[1], -u[0]])
    if normal[0] * outward < 0:  # bend the elbow away from the body
        normal = -normal
    return shoulder + u * along + normal * perp, wrist


def _hand(wrist: np.ndarray, direction: np.ndarray, length: float, curl: float, side: float) -> np.ndarray:
    """21 hand points (wrist, thumb, index, middle, ring, little; base to tip): (21, 2)."""
    pts = [wrist]
    for f, spread in enumerate((-0.9, -0.3, 0.0, 0.25, 0.5)):  # thumb .. little finger
        ang = spread * side
        d = _rot(ang) @ direction
        base = wrist + d * length * (0.25 if f == 0 else 0.45)
        seg = length * (0.17 if f == 0 else 0.16 - 0.015 * abs(f - 2))
        pos, heading = base, d
        pts.append(base)
        for _ in range(3):
            heading = _rot(-side * curl * 0.5) @ heading
            pos = pos + heading * seg
            pts.append(pos)
    return np.array(pts)


def figure_keypoints(ident: Identity, motion: Motion, i: int) -> tuple[np.ndarray, dict]:
    """World keypoints of frame i: float64 (133, 3) (invisible leg/foot points have conf 0) + head pose."""
    kp = np.zeros((layout.N_KEYPOINTS, 3))
    centre = np.array([ident.head_x, ident.head_y]) + motion.sway[i]
    neck = np.array([ident.head_x, ident.head_y + ident.head_ry]) + motion.sway[i]
    tilt = float(motion.tilt[i])
    scale = np.array([ident.head_rx, ident.head_ry])
    to_world = lambda local: (_rot(tilt) @ (local * scale + centre - neck).T).T + neck  # noqa: E731
    kp[layout.FACE, :2] = to_world(_face_local(float(motion.mouth[i])))
    f = layout.FACE[0]
    kp[layout.NOSE, :2] = kp[f + 30, :2]
    kp[layout.R_EYE, :2], kp[layout.L_EYE, :2] = kp[f + 36 : f + 42, :2].mean(0), kp[f + 42 : f + 48, :2].mean(0)
    kp[layout.R_EAR, :2], kp[layout.L_EAR, :2] = to_world(np.array([[-1.0, -0.1], [1.0, -0.1]]))
    sy = 0.48 + ident.head_y - 0.28 + motion.breath[i]
    shoulders = {layout.L_SHOULDER: (ident.head_x + ident.shoulder_half, 1.0), layout.R_SHOULDER: (ident.head_x - ident.shoulder_half, -1.0)}
    for (s_idx, (sx, side)), e_idx, w_idx, hand_idx, h in zip(
        shoulders.items(), (layout.L_ELBOW, layout.R_ELBOW), (layout.L_WRIST, layout.R_WRIST),
        (layout.LEFT_HAND, layout.RIGHT_HAND), (0, 1),
    ):
        shoulder = np.array([sx, sy])
        elbow, wrist = _elbow(shoulder, motion.wrists[i, h], ident.upper_arm, ident.forearm, side)
        kp[s_idx, :2], kp[e_idx, :2], kp[w_idx, :2] = shoulder, elbow, wrist
        fore = (wrist - elbow) / max(np.hypot(*(wrist - elbow)), 1e-9)
        direction = _rot(float(motion.hand_angle[i, h]) * side) @ fore
        kp[hand_idx, :2] = _hand(wrist, direction, ident.hand_len, float(motion.curl[i, h]), side)
    kp[layout.L_HIP, :2] = (ident.head_x + 0.11, 0.97)
    kp[layout.R_HIP, :2] = (ident.head_x - 0.11, 0.97)
    visible = np.concatenate([layout.BODY[:13], layout.FACE, layout.HANDS])
    kp[visible, 2] = 1.0
    return kp, {"centre": centre, "neck": neck, "tilt": tilt}
