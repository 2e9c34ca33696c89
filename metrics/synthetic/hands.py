"""Synthetic HKC / HKV: are the hands drawn where the hand pose says, and how much do they move.

The synthetic figures draw both hands (palm and fingers) in the figure's skin colour through
their 21 keypoints each (harness/data/synth_render.py). Everything but the places is read from
the generated clip itself, so the score judges the hands and not the identity (CSIM does that):
the skin colour (median over frames at the face's skin probes) and a hand-free plate (per
pixel, the median generated colour over the frames in which no ground-truth hand covers it:
what the clip shows behind the hands). Each generated pixel is then read as a mix
plate + t (skin - plate): its hand evidence is t in [0, 1], discounted for colours no such mix
explains (noise), so a blurred hand reads its coverage instead of dropping to zero.
  * HKC: per ground-truth hand keypoint, the most hand evidence within `radius` pixels of it
    (a keypoint "detected" with that confidence); in [0, 1], 1 = pure hand colour right there;
    pooled over keypoints and frames like the real HKC.
  * HKV: per hand, the centroid of the strong hand evidence within a fixed search box (the
    clip's whole ground-truth range of that hand, grown by `radius`); its variance over the
    frames where the hand is found (x and y averaged, pixels), then the mean over hands and
    clips, as metrics/hands.py hkv_clip computes it. The box is the same in every frame, so the
    centroid moves only when the generated hand moves. This measures the hand's translation;
    the real HKV also counts finger articulation.
"""

from __future__ import annotations

import warnings

import cv2
import numpy as np

from harness.data import layout
from metrics.hands import HandKeypoints, HandTally
from metrics.result import MetricResult
from metrics.sample import ClipTruth, Sample
from metrics.synthetic import BACKEND
from metrics.synthetic.pixels import PROBES, bilinear, face_points
from metrics.synthetic.truth import require_truth

SIGMA = 30.0  # RGB distance off the plate-skin mixing axis at which evidence is discounted to exp(-1/2)
MIN_CONTRAST = 45.0  # floor of |skin - plate| in RGB: where the plate itself is skin-like, evidence stays low
MIN_EVIDENCE = 0.1  # a hand whose search box holds no pixel with more evidence counts as not found
HAND_SLOTS = (layout.LEFT_HAND, layout.RIGHT_HAND)  # slot 0 = left, 1 = right (metrics/hands.py)


def search_radius(size: int) -> int:
    """Neighbourhood radius in pixels: one pixel at the tiny sizes, growing with resolution."""
    return max(1, int(round(size / 64)))


def skin_colour(frames: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """The skin colour the frames (F, H, W, 3) give their figure: float64 (3,), the median over frames
    and the face's skin probes (placed with keypoints (F, 133, 3)); the hands are drawn in it."""
    samples = [bilinear(f, face_points(k, PROBES["skin"])) for f, k in zip(frames, keypoints)]  # each (4, 3)
    return np.median(np.concatenate(samples), axis=0)


def hand_masks(keypoints: np.ndarray, h: int, w: int) -> np.ndarray:
    """bool (F, H, W): pixels within the hand drawing's reach of a visible hand keypoint."""
    hands = keypoints[:, layout.HANDS].reshape(len(keypoints), 2, 21, 3)  # (F, 2, 21, 3)
    vis = (hands[:, :, 0, 2] > 0) & (hands[:, :, 12, 2] > 0)  # wrist and middle fingertip seen
    span = np.hypot((hands[..., 0, 0] - hands[..., 12, 0]) * w, (hands[..., 0, 1] - hands[..., 12, 1]) * h)[vis]
    # px: finger half-width plus anti-aliasing (1.5 px at 64 px), or a quarter of the hand where hands are big
    r = max(1.5, 1.5 * max(h, w) / 64, 0.25 * float(np.median(span)) if span.size else 0.0)
    yy, xx = np.mgrid[0:h, 0:w] + 0.5  # pixel centres
    out = np.zeros((len(keypoints), h, w), bool)
    for i, kp in enumerate(keypoints[:, layout.HANDS]):
        for x, y, c in kp:
            if c > 0:
                out[i] |= (xx - x * w) ** 2 + (yy - y * h) ** 2 <= r * r
    return out


def hand_free_plate(frames: np.ndarray, keypoints: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3): per pixel, the median colour of frames (F, H, W, 3) over those in which no
    ground-truth hand (keypoints (F, 133, 3)) covers it: what lies behind the hands; the plain
    median where a hand always does."""
    n = min(len(frames), len(keypoints))
    pixels = frames[:n].astype(np.float32)
    masked = np.where(hand_masks(keypoints[:n], *frames.shape[1:3])[..., None], np.nan, pixels)
    with warnings.catch_warnings():  # pixels a hand covers in every frame are all-NaN: filled below
        warnings.simplefilter("ignore", RuntimeWarning)
        plate = np.nanmedian(masked, axis=0)
    holes = np.isnan(plate)
    plate[holes] = np.median(pixels, axis=0)[holes]
    return plate


def skin_fraction(frame: np.ndarray, colour: np.ndarray, plate: np.ndarray, sigma: float = SIGMA) -> np.ndarray:
    """float32 (H, W) in [0, 1]: how much skin colour is mixed into the hand-free plate at each pixel.

    A pixel is read as a mix plate + t (skin - plate): t is its projection on that axis
    (clipped to [0, 1]), discounted by exp(-r^2 / (2 sigma^2)) for its distance r off the axis, so a
    blurred hand reads its coverage while colours that no mix explains (noise, other objects) do not."""
    axis = colour.astype(np.float32) - plate  # (H, W, 3)
    denom = np.maximum((axis**2).sum(-1), MIN_CONTRAST**2)  # (H, W)
    diff = frame.astype(np.float32) - plate
    t = np.clip((diff * axis).sum(-1) / denom, 0.0, 1.0)
    off = ((diff - t[..., None] * axis) ** 2).sum(-1)  # squared distance to the nearest mix
    return (t * np.exp(-off / (2 * sigma**2))).astype(np.float32)


def search_boxes(truth: ClipTruth, n: int, h: int, w: int, radius: int) -> list[tuple[int, int, int, int] | None]:
    """Per hand slot, the pixel box (x0, y0, x1, y1) covering its visible keypoints over the clip."""
    out = []
    for hand in HAND_SLOTS:
        kp = truth.keypoints[:n, hand]  # (n, 21, 3)
        vis = kp[..., 2] > 0
        if not vis.any():
            out.append(None)
            continue
        x, y = kp[..., 0][vis] * w, kp[..., 1][vis] * h
        out.append((max(0, int(x.min()) - radius), max(0, int(y.min()) - radius),
                    min(w, int(x.max()) + radius + 1), min(h, int(y.max()) + radius + 1)))
    return out


def detect_hands(frames: np.ndarray, truth: ClipTruth, colour: np.ndarray, plate: np.ndarray,
                 sigma: float = SIGMA) -> HandKeypoints:
    """Hands of the generated frames (F, H, W, 3) at the ground-truth places, given the hand colour (3,)
    and the hand-free plate (H, W, 3): HandKeypoints with per-keypoint confidence and the hand's
    centroid (pixels) repeated on its 21 points."""
    n, h, w = min(len(frames), len(truth.keypoints)), frames.shape[1], frames.shape[2]
    r = search_radius(max(h, w))
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    boxes = search_boxes(truth, n, h, w, r)
    xy, conf = np.full((n, 2, 21, 2), np.nan), np.full((n, 2, 21), np.nan)
    for i in range(n):
        like = skin_fraction(frames[i], colour, plate, sigma)  # (H, W)
        best = cv2.dilate(like, kernel)  # (H, W): max within the radius
        for slot, hand in enumerate(HAND_SLOTS):
            kp = truth.keypoints[i, hand]  # (21, 3)
            vis = kp[:, 2] > 0
            cols = np.clip((kp[vis, 0] * w).astype(int), 0, w - 1)
            rows = np.clip((kp[vis, 1] * h).astype(int), 0, h - 1)
            conf[i, slot, vis] = best[rows, cols]
            if boxes[slot] is not None:
                xy[i, slot] = _centroid(like, boxes[slot])
    return HandKeypoints(xy=xy, conf=conf, size=(h, w))


def strongest_evidence(frames: np.ndarray, truth: ClipTruth, colour: np.ndarray, plate: np.ndarray,
                       sigma: float = SIGMA) -> float:
    """The most hand evidence any hand's search box holds in any of the frames (F, H, W, 3): what the
    found test (>= MIN_EVIDENCE) saw. Reported with HKV, so a missing HKV says how far off a hand was."""
    n, h, w = min(len(frames), len(truth.keypoints)), frames.shape[1], frames.shape[2]
    boxes = [b for b in search_boxes(truth, n, h, w, search_radius(max(h, w))) if b is not None]
    peak = 0.0
    for i in range(n):
        like = skin_fraction(frames[i], colour, plate, sigma)  # (H, W)
        peak = max([peak] + [float(like[y0:y1, x0:x1].max(initial=0.0)) for x0, y0, x1, y1 in boxes])
    return peak


def _centroid(evidence: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Centroid (x, y) in pixels (pixel centres at +0.5) of the hand evidence (H, W) inside box, counting
    only evidence above half the box's maximum (so weak, scattered evidence does not pull it towards
    the box centre); NaN when the box holds no evidence of a hand."""
    x0, y0, x1, y1 = box
    ev = evidence[y0:y1, x0:x1].astype(np.float64)
    peak = ev.max(initial=0.0)
    if peak < MIN_EVIDENCE:
        return np.full(2, np.nan)
    weights = np.clip(ev - 0.5 * peak, 0, None)
    ys, xs = np.mgrid[y0:y1, x0:x1] + 0.5
    return np.array([(weights * xs).sum() / weights.sum(), (weights * ys).sum() / weights.sum()])


class SyntheticHandMetric:
    """Streaming synthetic HKC (pooled over keypoints and frames) and HKV (mean over clips)."""

    def __init__(self, missing: str = "skip", units: str = "pixels", sigma: float = SIGMA) -> None:
        self.sigma = sigma
        self.tally = HandTally(missing, units)
        self.peak = 0.0  # strongest hand evidence in any search box (reported with HKV)

    def update(self, sample: Sample) -> None:
        truth = require_truth(sample, "HKC")
        n = min(len(sample.pred), len(truth.keypoints))
        frames = sample.pred[:n]
        # colour and plate come from the generated clip itself: HKC judges the hands, not the identity
        plate = hand_free_plate(frames, truth.keypoints[:n])
        colour = skin_colour(frames, truth.keypoints[:n])
        self.tally.add(detect_hands(frames, truth, colour, plate, self.sigma))
        self.peak = max(self.peak, strongest_evidence(frames, truth, colour, plate, self.sigma))

    def results(self) -> list[MetricResult]:
        parameters = {"confidence": "max skin fraction within the radius of each ground-truth hand keypoint",
                      "sigma_rgb": self.sigma}
        hkv_parameters = {"position": "hand centroid in a fixed search box", "found_at_evidence": MIN_EVIDENCE,
                          "strongest_evidence": round(self.peak, 4)}
        return self.tally.results({"backend": BACKEND, "weights_sha256": None, "exact": False}, parameters,
                                  hkv_parameters, "no visible ground-truth hand keypoint",
                                  f"no hand found in two frames of any clip (strongest hand evidence "
                                  f"{self.peak:.3f}, found needs {MIN_EVIDENCE})")
