"""DWPose (Yang et al. 2023) whole-body keypoints from the official ONNX files, for HKC/HKV.

Pipeline as in DWPose's ONNX demo (onnxdet.py / onnxpose.py), re-implemented:
  1. YOLOX-L person detector ``yolox_l.onnx``: letterbox into 640x640 (pad 114), decode the
     grid (strides 8/16/32), score = objectness x person class, score > 0.1, NMS 0.45, keep > 0.3.
  2. RTMPose-L wholebody ``dw-ll_ucoco_384.onnx``: each box -> centre/scale (x1.25), aspect
     fixed to 288:384, affine warp, (x - mean) / std, SimCC decode (argmax, split ratio 2,
     score = min of the x and y maxima), back to image coordinates.
  3. The most confident person's keypoints 91-111 (left hand) and 112-132 (right hand).
Frames are fed as RGB (what the DWPose annotator receives). When no person is found the
whole frame is used as the box, as DWPose does. A hand counts as present for HKV when its
mean keypoint score >= ``present_threshold`` (DWPose draws keypoints above 0.3).
"""

from __future__ import annotations

import cv2
import numpy as np

from metrics import weights as W
from metrics.hand_pose import HandKeypoints


def onnx_session(weight: W.Resolved):
    """An onnxruntime session on the GPU when onnxruntime offers CUDA, else on the CPU.

    The ONNX files have no published hash; a corrupt one fails here, as one line naming it.
    """
    import onnxruntime as ort

    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    try:
        return ort.InferenceSession(str(weight.path), providers=providers)
    except Exception as exc:  # noqa: BLE001  onnxruntime raises its own untyped errors for a bad file
        raise W.unloadable(weight, exc) from None


DET_SIZE, POSE_W, POSE_H, SPLIT = 640, 288, 384, 2.0
MEAN, STD = np.array([123.675, 116.28, 103.53]), np.array([58.395, 57.12, 57.375])


def nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[int]:
    """Greedy IoU NMS of (N, 4) xyxy boxes; indices kept, best first."""
    order, keep = list(np.argsort(-scores)), []
    while order:
        i, order = order[0], order[1:]
        keep.append(int(i))
        if not order:
            break
        rest = boxes[order]
        xx1, yy1 = np.maximum(boxes[i, 0], rest[:, 0]), np.maximum(boxes[i, 1], rest[:, 1])
        xx2, yy2 = np.minimum(boxes[i, 2], rest[:, 2]), np.minimum(boxes[i, 3], rest[:, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
        iou = inter / (area(boxes[i]) + area(rest) - inter + 1e-12)
        order = [o for o, v in zip(order, iou) if v <= thr]
    return keep


def yolox_decode(out: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Raw YOLOX output (A, 85) -> person boxes (N, 4) xyxy in image pixels and scores (N,)."""
    grids, strides = [], []
    for s in (8, 16, 32):
        n = DET_SIZE // s
        xv, yv = np.meshgrid(np.arange(n), np.arange(n))
        grids.append(np.stack((xv, yv), 2).reshape(-1, 2))
        strides.append(np.full((n * n, 1), s))
    grid, stride = np.concatenate(grids), np.concatenate(strides)
    xy = (out[:, :2] + grid) * stride
    wh = np.exp(out[:, 2:4]) * stride
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], 1) / ratio
    scores = out[:, 4] * out[:, 5]  # objectness x class 0 (person)
    ok = scores > 0.1
    boxes, scores = boxes[ok], scores[ok]
    keep = [i for i in nms(boxes, scores, 0.45) if scores[i] > 0.3]
    return boxes[keep], scores[keep]


def affine_for_box(box: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """xyxy box -> (2x3 warp into 288x384, centre (2,), scale (2,)) with 1.25 padding."""
    center = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    scale = np.array([box[2] - box[0], box[3] - box[1]]) * 1.25
    aspect = POSE_W / POSE_H
    scale = np.array([scale[0], scale[0] / aspect]) if scale[0] > scale[1] * aspect else np.array([scale[1] * aspect, scale[1]])
    src = np.stack([center, center + [0, -0.5 * scale[0]]])
    dst = np.array([[POSE_W / 2, POSE_H / 2], [POSE_W / 2, POSE_H / 2 - 0.5 * POSE_W]])
    third = lambda a, b: b + np.array([-(a - b)[1], (a - b)[0]])  # noqa: E731
    src = np.vstack([src, third(src[0], src[1])]).astype(np.float32)
    dst = np.vstack([dst, third(dst[0], dst[1])]).astype(np.float32)
    return cv2.getAffineTransform(src, dst), center, scale


def simcc_decode(sx: np.ndarray, sy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SimCC logits (N, K, 2W), (N, K, 2H) -> locations (N, K, 2) in input pixels and scores (N, K)."""
    locs = np.stack([sx.argmax(-1), sy.argmax(-1)], -1).astype(np.float64) / SPLIT
    scores = np.minimum(sx.max(-1), sy.max(-1))
    locs[scores <= 0] = -1
    return locs, scores


class DwposeHands:
    """Reference hand-keypoint backend (DWPose ONNX via onnxruntime)."""

    backend = "dwpose-onnx/reference"
    exact = True

    def __init__(self, weight_files: dict | None = None, weights_dir=None, present_threshold: float = 0.3) -> None:
        wf = weight_files or {}
        pose = W.resolve("dwpose", wf.get("dwpose"), weights_dir)
        det = W.resolve("dwpose_det", wf.get("dwpose_det"), weights_dir)
        self.det, self.pose = onnx_session(det), onnx_session(pose)
        self.sha256 = pose.sha256
        self.threshold = present_threshold
        self.parameters = {"detector_sha256": det.sha256, "present_threshold": present_threshold,
                           "weights_hash_published": False, "confidence": "SimCC keypoint score"}

    def persons(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> person boxes (N, 4); the whole frame when none is found."""
        h, w = image.shape[:2]
        r = min(DET_SIZE / h, DET_SIZE / w)
        canvas = np.full((DET_SIZE, DET_SIZE, 3), 114, np.uint8)
        canvas[: int(h * r), : int(w * r)] = cv2.resize(image, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
        blob = canvas.transpose(2, 0, 1)[None].astype(np.float32)  # (1, 3, 640, 640)
        out = self.det.run(None, {self.det.get_inputs()[0].name: blob})[0][0]
        boxes, _ = yolox_decode(out, r)
        return boxes if len(boxes) else np.array([[0, 0, w, h]], np.float64)

    def keypoints(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(H, W, 3) -> keypoints (N, 133, 2) in pixels and scores (N, 133), one row per person."""
        crops, frames = [], []
        for box in self.persons(image):
            warp, center, scale = affine_for_box(box)
            crop = cv2.warpAffine(image, warp, (POSE_W, POSE_H), flags=cv2.INTER_LINEAR)
            crops.append(((crop - MEAN) / STD).transpose(2, 0, 1))
            frames.append((center, scale))
        sx, sy = self.pose.run(None, {self.pose.get_inputs()[0].name: np.stack(crops).astype(np.float32)})
        locs, scores = simcc_decode(sx, sy)
        for i, (center, scale) in enumerate(frames):
            locs[i] = locs[i] / [POSE_W, POSE_H] * scale + center - scale / 2
        return locs, scores

    def hands(self, frames: np.ndarray) -> HandKeypoints:
        """uint8 (F, H, W, 3) RGB -> HandKeypoints of the most confident person per frame."""
        f, h, w = frames.shape[:3]
        xy, conf = np.full((f, 2, 21, 2), np.nan), np.full((f, 2, 21), np.nan)
        for i, frame in enumerate(frames):
            locs, scores = self.keypoints(np.ascontiguousarray(frame))
            best = int(np.argmax(scores[:, :23].mean(1)))  # body + feet decide the person
            for slot, start in ((0, 91), (1, 112)):
                conf[i, slot] = scores[best, start : start + 21]
                if conf[i, slot].mean() >= self.threshold:
                    xy[i, slot] = locs[best, start : start + 21]
        return HandKeypoints(xy=xy, conf=conf, size=(h, w))
