"""Face-identity embedders for CSIM.

Interface: ``embed(image uint8 (H, W, 3) RGB) -> float64 (D,) unit vector of the most
confident face, or None when no face is found``.
  * ``DlibEmbedder`` (offline stand-in): dlib's 128-d ResNet (face-recognition-models files),
    aligned by dlib's 5-point shape predictor. Faces come from dlib's HOG detector, and from its
    CNN (MMOD) detector on a <= 500 px copy when HOG finds none (dark or tilted faces). Its
    cosines are NOT comparable with ArcFace values.
  * ``ArcFaceEmbedder`` (reference, metrics/arcface.py): insightface buffalo_l ONNX files.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from metrics import weights as W


class FaceEmbedder(Protocol):
    backend: str
    exact: bool
    sha256: str | None

    def embed(self, image: np.ndarray) -> np.ndarray | None: ...


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    return v / max(np.linalg.norm(v), 1e-12)


class DlibEmbedder:
    """dlib ResNet face descriptor (offline stand-in for ArcFace)."""

    backend = "dlib-resnet128/offline-stand-in"
    exact = False
    cnn_max_width = 500

    def __init__(self, weight_files: dict | None = None, weights_dir=None) -> None:
        import dlib  # dlib-bin

        wf = weight_files or {}
        rec = W.resolve("dlib_face", wf.get("dlib_face"), weights_dir)
        lm = W.resolve("dlib_landmarks5", wf.get("dlib_landmarks5"), weights_dir)
        self.sha256 = rec.sha256
        self._dlib = dlib
        self._hog = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(lm.path))
        self._rec = dlib.face_recognition_model_v1(str(rec.path))
        cnn_path = rec.path.parent / "mmod_human_face_detector.dat"  # ships beside it in the package
        self._cnn = dlib.cnn_face_detection_model_v1(str(cnn_path)) if cnn_path.is_file() else None

    def detect(self, image: np.ndarray):
        """The most confident face rectangle (dlib.rectangle) in full-image coordinates, or None."""
        rects, scores, _ = self._hog.run(image, 1, 0.0)
        if len(rects):
            return rects[int(np.argmax(scores))]
        if self._cnn is None:
            return None
        s = min(1.0, self.cnn_max_width / image.shape[1])
        small = cv2.resize(image, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else image
        dets = self._cnn(np.ascontiguousarray(small), 0)
        if not len(dets):
            return None
        r = max(dets, key=lambda d: d.confidence).rect
        return self._dlib.rectangle(int(r.left() / s), int(r.top() / s), int(r.right() / s), int(r.bottom() / s))

    def embed(self, image: np.ndarray) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB -> (128,) unit descriptor of the most confident face, or None."""
        image = np.ascontiguousarray(image)
        rect = self.detect(image)
        if rect is None:
            return None
        return _unit(self._rec.compute_face_descriptor(image, self._shape(image, rect)))


def make_embedder(backend: str, weight_files: dict | None = None, weights_dir=None) -> FaceEmbedder:
    """ArcFace for "reference", dlib for "offline"."""
    if backend == "reference":
        from metrics.arcface import ArcFaceEmbedder

        return ArcFaceEmbedder(weight_files, weights_dir)
    return DlibEmbedder(weight_files, weights_dir)
