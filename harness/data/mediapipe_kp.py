"""Keypoints from mediapipe 0.10.21's bundled models, mapped into the 133-point layout.

Three graphs run per frame in tracking mode: Pose (model_complexity 1: complexity 0 and 2 try to
download their model), FaceMesh (468 points; its own face detector finds tilted and partly
covered faces that the pose-driven Holistic face crop misses) and Hands (model_complexity 1).
Mapping (the paper's DWPose layout; docs/method.md, "Data"):
- body/feet: pose landmarks by name; confidence = landmark visibility;
- face: the 68 iBUG points picked from the FaceMesh contours (jaw from the face oval, brows'
  upper edges, nose ridge and nostrils, eye and lip rings at their corners and thirds);
  confidence 1 where a face was found (FaceMesh gives no per-point score);
- hands: each detected hand goes to the pose wrist nearest to its wrist point; confidence =
  the hand's detection score.
Points outside the frame get confidence 0.
"""

from __future__ import annotations

import os

import numpy as np

from harness.data import layout

# COCO body/feet index <- mediapipe pose index.
POSE_TO_COCO = {0: 0, 1: 2, 2: 5, 3: 7, 4: 8, 5: 11, 6: 12, 7: 13, 8: 14, 9: 15, 10: 16, 11: 23, 12: 24,
                13: 25, 14: 26, 15: 27, 16: 28, 17: 31, 19: 29, 20: 32, 22: 30}
# iBUG-68 order <- FaceMesh index (derived from mediapipe's FACEMESH_* contour connections).
FACEMESH_TO_IBUG = np.array([
    234, 93, 132, 58, 172, 136, 150, 176, 152, 400, 379, 365, 397, 288, 361, 323, 454,  # jaw 0-16
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,  # brows 17-26 (upper edges)
    168, 197, 5, 4, 98, 97, 2, 326, 327,  # nose ridge 27-30, nostrils 31-35
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,  # eyes 36-47
    61, 40, 37, 0, 267, 270, 291, 321, 314, 17, 84, 91,  # outer lips 48-59
    78, 81, 13, 311, 308, 402, 14, 178,  # inner lips 60-67
])
MAX_DETECT_SIDE = 960  # frames are downscaled to this before detection (coordinates are normalised)


class Detector:
    """Per-video keypoint detector (tracking state is per instance: one per video)."""

    def __init__(self) -> None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        from mediapipe.python.solutions import face_mesh, hands, pose

        self.pose = pose.Pose(static_image_mode=False, model_complexity=1)
        self.face = face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1)
        self.hands = hands.Hands(static_image_mode=False, model_complexity=1, max_num_hands=2)

    def close(self) -> None:
        """Release the mediapipe graphs."""
        for graph in (self.pose, self.face, self.hands):
            graph.close()

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, bool]:
        """RGB uint8 (H, W, 3) -> (keypoints float32 (133, 3) normalised to the frame, face found)."""
        frame = _downscale(frame)
        kp = np.zeros((layout.N_KEYPOINTS, 3), np.float32)
        pose_res = self.pose.process(frame)
        if pose_res.pose_landmarks is not None:
            lm = pose_res.pose_landmarks.landmark
            for coco, mp_idx in POSE_TO_COCO.items():
                kp[coco] = (lm[mp_idx].x, lm[mp_idx].y, lm[mp_idx].visibility)
        face_res = self.face.process(frame)
        found = bool(face_res.multi_face_landmarks)
        if found:
            lm = face_res.multi_face_landmarks[0].landmark
            kp[layout.FACE] = [(lm[i].x, lm[i].y, 1.0) for i in FACEMESH_TO_IBUG]
        hand_res = self.hands.process(frame)
        used: set[int] = set()
        for hand, score in zip(hand_res.multi_hand_landmarks or [], hand_res.multi_handedness or []):
            pts = np.array([(p.x, p.y) for p in hand.landmark], np.float32)  # (21, 2)
            target = _nearest_side(pts[0], kp, score.classification[0].label)
            if int(target[0]) in used:  # two hands never share a side
                target = layout.RIGHT_HAND if target[0] == layout.LEFT_HAND[0] else layout.LEFT_HAND
            used.add(int(target[0]))
            kp[target] = np.concatenate([pts, np.full((21, 1), score.classification[0].score, np.float32)], 1)
        inside = np.all((kp[:, :2] >= 0) & (kp[:, :2] <= 1), axis=1)
        kp[~inside, 2] = 0.0
        return kp, found


def _downscale(frame: np.ndarray) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    scale = MAX_DETECT_SIDE / max(h, w)
    if scale >= 1:
        return np.ascontiguousarray(frame)
    return cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def _nearest_side(wrist: np.ndarray, kp: np.ndarray, label: str) -> np.ndarray:
    """Whole-body indices of the hand whose pose wrist is nearest; without pose wrists, the
    handedness label (mediapipe labels assume a mirrored image, so 'Left' = the person's right)."""
    lw, rw = kp[layout.L_WRIST], kp[layout.R_WRIST]
    if lw[2] > 0.1 or rw[2] > 0.1:
        d_left = np.hypot(*(wrist - lw[:2])) if lw[2] > 0.1 else np.inf
        d_right = np.hypot(*(wrist - rw[:2])) if rw[2] > 0.1 else np.inf
        return layout.LEFT_HAND if d_left <= d_right else layout.RIGHT_HAND
    return layout.RIGHT_HAND if label == "Left" else layout.LEFT_HAND
