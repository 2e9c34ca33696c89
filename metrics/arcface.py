"""ArcFace (Deng et al. 2019) identity embeddings from insightface's buffalo_l ONNX files (CSIM
reference), re-implementing insightface's FaceAnalysis path:
  1. SCRFD ``det_10g.onnx``: image resized into 640x640 keeping aspect (zero pad right/bottom),
     (x - 127.5) / 128; per stride 8/16/32 with 2 anchors per cell: score >= 0.5, boxes and 5
     keypoints from distances to the anchor centre; NMS 0.4; the most confident face is used.
  2. Alignment: similarity transform of the 5 keypoints onto insightface's 112x112 ArcFace
     template (``norm_crop``).
  3. ``w600k_r50.onnx``: (x - 127.5) / 127.5 -> 512-d, L2-normalised.
insightface feeds BGR images and swaps to RGB inside; frames here are RGB already.
"""

from __future__ import annotations

import cv2
import numpy as np
from skimage.transform import SimilarityTransform

from metrics import weights as W
from metrics.dwpose import nms, onnx_session

ARCFACE_DST = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                        [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
DET = 640


def scrfd_decode(outs: list[np.ndarray], scale: float, thresh: float = 0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SCRFD outputs (3 scores, 3 boxes, 3 keypoint maps) -> boxes (N, 4), scores (N,), kps (N, 5, 2)."""
    all_b, all_s, all_k = [], [], []
    for i, stride in enumerate((8, 16, 32)):
        n = DET // stride
        centers = np.stack(np.mgrid[:n, :n][::-1], -1).reshape(-1, 2).astype(np.float32) * stride
        centers = np.repeat(centers, 2, axis=0)  # 2 anchors per cell, (n*n*2, 2)
        scores = outs[i].reshape(-1)
        dist = outs[i + 3].reshape(-1, 4) * stride
        kps = outs[i + 6].reshape(-1, 10) * stride
        ok = scores >= thresh
        boxes = np.concatenate([centers - dist[:, :2], centers + dist[:, 2:]], 1)
        all_b.append(boxes[ok])
        all_s.append(scores[ok])
        all_k.append((centers[:, None, :] + kps.reshape(-1, 5, 2))[ok])
    b, s, k = np.concatenate(all_b) / scale, np.concatenate(all_s), np.concatenate(all_k) / scale
    keep = nms(b, s, 0.4)
    return b[keep], s[keep], k[keep]


def norm_crop(image: np.ndarray, kps: np.ndarray) -> np.ndarray:
    """Align (H, W, 3) by 5 keypoints (5, 2) onto the 112x112 ArcFace template."""
    tform = SimilarityTransform.from_estimate(kps.astype(np.float32), ARCFACE_DST) if hasattr(
        SimilarityTransform, "from_estimate") else _estimate(kps)
    return cv2.warpAffine(image, tform.params[:2], (112, 112), borderValue=0.0)


def _estimate(kps: np.ndarray) -> SimilarityTransform:
    t = SimilarityTransform()
    t.estimate(kps.astype(np.float32), ARCFACE_DST)
    return t


class ArcFaceEmbedder:
    """Reference face embedder (insightface buffalo_l via onnxruntime)."""

    backend = "arcface-buffalo_l-onnx/reference"
    exact = True

    def __init__(self, weight_files: dict | None = None, weights_dir=None) -> None:
        wf = weight_files or {}
        rec = W.resolve("arcface", wf.get("arcface"), weights_dir)
        det = W.resolve("arcface_det", wf.get("arcface_det"), weights_dir)
        self.det, self.rec = onnx_session(det), onnx_session(rec)
        self.sha256 = rec.sha256

    def detect(self, image: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) RGB -> 5 keypoints (5, 2) of the most confident face, or None."""
        h, w = image.shape[:2]
        new_h, new_w = (DET, int(DET * w / h)) if h > w else (int(DET * h / w), DET)
        canvas = np.zeros((DET, DET, 3), np.float32)
        canvas[:new_h, :new_w] = cv2.resize(image, (new_w, new_h))
        blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None].astype(np.float32)  # (1, 3, 640, 640)
        outs = self.det.run(None, {self.det.get_inputs()[0].name: blob})
        _, scores, kps = scrfd_decode(outs, new_h / h)
        return kps[int(np.argmax(scores))] if len(scores) else None

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB -> (512,) unit embedding, or None when no face is found."""
        kps = self.detect(image)
        if kps is None:
            return None
        crop = norm_crop(np.ascontiguousarray(image), kps).astype(np.float32)
        blob = ((crop - 127.5) / 127.5).transpose(2, 0, 1)[None]  # (1, 3, 112, 112)
        e = self.rec.run(None, {self.rec.get_inputs()[0].name: blob})[0].reshape(-1).astype(np.float64)
        return e / max(np.linalg.norm(e), 1e-12)
