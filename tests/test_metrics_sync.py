"""Sync-C/D: numpy conf/offset equals syncnet-python's; the full pipeline runs on the real clip.

No SyncNet/S3FD weights exist offline, so these tests use random-weight state dicts: they
check the plumbing and the math, not the numbers of the real protocol.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from scipy.io import wavfile

from metrics.sample import Sample
from metrics.sync import SyncMetric, SyncScorer, conf_offset, syncnet_features


def _random_syncnet(path: Path, seed: int = 0) -> torch.nn.Module:
    from syncnet_python import SyncNetModel

    torch.manual_seed(seed)
    net = SyncNetModel()
    torch.save(net.state_dict(), path)
    return net


def _face_crops(frames: np.ndarray) -> np.ndarray:
    """uint8 (F, 224, 224, 3) RGB crops around the speaker's face in the real clip."""
    return np.stack([cv2.resize(f[120:440, 420:740], (224, 224)) for f in frames])


def test_conf_offset_picks_the_shift() -> None:
    rng = np.random.default_rng(0)
    audio = rng.normal(size=(40, 8))
    video = np.roll(audio, 3, axis=0)  # video frame i matches audio frame i - 3
    offset, conf, dist = conf_offset(video, audio, vshift=5)
    assert offset == 5 - (5 - 3) and conf > 0 and dist >= 0


@pytest.mark.slow
def test_numpy_conf_offset_equals_syncnet_python(talking_head: dict, tmp_path: Path) -> None:
    from syncnet_python import SyncNetInstance

    net = _random_syncnet(tmp_path / "syncnet.pth")
    crops = _face_crops(talking_head["frames"][:24])
    audio = talking_head["audio"][: 24 * 640]
    folder = tmp_path / "crops"
    folder.mkdir()
    for i, c in enumerate(crops):
        cv2.imwrite(str(folder / f"{i:06d}.jpg"), c[:, :, ::-1])
    wavfile.write(folder / "audio.wav", 16000, np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16))

    class Opt:
        tmp_dir, batch_size, vshift = str(folder), 20, 15

    theirs = SyncNetInstance(net, device="cpu").evaluate(Opt())  # (offset, conf, min_dist)
    jpgs = np.stack([cv2.imread(str(p)) for p in sorted(folder.glob("*.jpg"))])  # BGR, as they read it
    _, pcm = wavfile.read(folder / "audio.wav")
    im, cc = syncnet_features(net, jpgs, pcm, device="cpu", batch_size=7)
    ours = conf_offset(im, cc)
    assert ours[0] == theirs[0]
    assert ours[1] == pytest.approx(theirs[1], rel=1e-4, abs=1e-5)
    assert ours[2] == pytest.approx(theirs[2], rel=1e-5)


@pytest.mark.slow
def test_precropped_metric_runs(talking_head: dict, tmp_path: Path) -> None:
    _random_syncnet(tmp_path / "syncnet.pth")
    scorer = SyncScorer(tmp_path / "syncnet.pth", None, mode="precropped", device="cpu")
    metric = SyncMetric(mode="precropped", scorer=scorer)
    crops = _face_crops(talking_head["frames"][:20])
    metric.update(Sample(pred=crops, audio=talking_head["audio"][: 20 * 640], fps=25))
    metric.update(Sample(pred=crops[:3], audio=talking_head["audio"][:1920], fps=25))  # too short: missing
    c, d = metric.results()
    assert (c.key, d.key) == ("sync_c", "sync_d")
    assert c.n == 1 and c.parameters["clips_without_face_track"] == 1
    assert c.value is not None and c.exact is False


@pytest.mark.slow
def test_pipeline_end_to_end_on_real_clip_with_random_weights(talking_head: dict, tmp_path: Path) -> None:
    """Real video through syncnet-python's whole pipeline (ffmpeg, scene cut, tracking, crops,
    SyncNet). S3FD with random weights finds nothing useful and costs ~1 s a frame here, so its
    detector is replaced by the face box of this clip after loading the random weights."""
    from syncnet_python.detectors.s3fd.nets import S3FDNet

    torch.manual_seed(1)
    torch.save(S3FDNet(device="cpu").state_dict(), tmp_path / "sfd.pth")
    _random_syncnet(tmp_path / "syncnet.pth")
    scorer = SyncScorer(tmp_path / "syncnet.pth", tmp_path / "sfd.pth", mode="pipeline", device="cpu")
    scorer.pipeline.s3fd.detect_faces = lambda image, **kw: np.array([[440.0, 140.0, 720.0, 420.0, 0.99]])
    metric = SyncMetric(mode="pipeline", scorer=scorer)
    frames = talking_head["frames"][:60]
    metric.update(Sample(pred=frames, audio=talking_head["audio"][: 60 * 640], fps=talking_head["fps"]))
    metric.update(Sample(pred=frames[:20], audio=talking_head["audio"][: 20 * 640], fps=25.0))  # < 50 frames
    c, d = metric.results()
    assert c.n == 1 and c.parameters["clips_without_face_track"] == 1  # the short clip is missing, not 0
    assert np.isfinite(c.value) and np.isfinite(d.value) and d.value > 0
    assert c.backend == "syncnet-python/pipeline" and c.exact is False  # test weights, not the manifest's
