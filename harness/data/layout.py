"""The clip keypoint layout: COCO-WholeBody 133 points (the paper's DWPose layout; docs/method.md, "Data").

Indices (0-based), "left"/"right" are the person's own sides:
    0..16    body (COCO 17: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles)
    17..22   feet (left big toe, left small toe, left heel, right big toe, right small toe, right heel)
    23..90   face, the 68 iBUG points (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47, mouth 48-67)
    91..111  left hand (21 points: wrist, then thumb, index, middle, ring, little; 4 each, base to tip)
    112..132 right hand (same order)
Each point is (x, y, confidence): x, y normalised to [0, 1] of the frame, confidence in [0, 1].
Region boxes are stored in REGIONS order as normalised xyxy.
"""

from __future__ import annotations

import numpy as np

from harness.vocabulary import REGIONS

N_KEYPOINTS = 133
BODY = np.arange(0, 17)
FEET = np.arange(17, 23)
FACE = np.arange(23, 91)  # 68 iBUG points
LIPS = np.arange(23 + 48, 23 + 68)  # face points 48-67 = whole-body 71..90 (docs/method.md, "Data")
FACE_NO_LIPS = np.arange(23, 23 + 48)
LEFT_HAND = np.arange(91, 112)
RIGHT_HAND = np.arange(112, 133)
HANDS = np.concatenate([LEFT_HAND, RIGHT_HAND])

REGION_INDEX = {name: i for i, name in enumerate(REGIONS)}

# COCO body indices by name.
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 1, 2, 3, 4
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 5, 6, 7, 8, 9, 10
L_HIP, R_HIP = 11, 12
UPPER_BODY = np.array([L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST, L_HIP, R_HIP])

# OpenPose-18 body order (as the official DWPose drawing uses) built from COCO indices;
# index 1 (neck) is the shoulder midpoint and is marked -1 here.
OPENPOSE_FROM_COCO = np.array([0, -1, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3])
# OpenPose limbs (pairs of OpenPose-18 indices) and their colours (RGB), the classic palette.
OPENPOSE_LIMBS = [
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
]
OPENPOSE_COLORS = [
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
]
# Hand skeleton over the 21 hand points: 5 fingers x 4 bones from the wrist.
HAND_EDGES = [(0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10),
              (10, 11), (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18),
              (18, 19), (19, 20)]


def openpose18(keypoints: np.ndarray) -> np.ndarray:
    """(..., 133, 3) whole-body -> (..., 18, 3) OpenPose body with neck = shoulder midpoint."""
    kp = np.asarray(keypoints, dtype=np.float32)
    out = kp[..., np.maximum(OPENPOSE_FROM_COCO, 0), :].copy()
    ls, rs = kp[..., L_SHOULDER, :], kp[..., R_SHOULDER, :]
    out[..., 1, :2] = (ls[..., :2] + rs[..., :2]) / 2
    out[..., 1, 2] = np.minimum(ls[..., 2], rs[..., 2])
    return out
