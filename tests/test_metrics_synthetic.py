"""Controls of the synthetic metric backends, without training (issue 13).

Ground-truth clips of the synthetic generator are the best a model could do, so each synthetic
metric must give its best value on them; each control removes exactly one thing the metric is
meant to see (lip sync, hands, identity) and must move that metric the designed way.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.data import layout
from harness.errors import HarnessError
from metrics.evaluate import evaluate
from metrics.sample import ClipTruth, Sample

SIZE, FPS, FRAMES, SR = 64, 24, 48, 16000  # 2 s clips: SyncNet's +-15 frame search fits
SHIFT = 3  # frames the audio is moved in the sync control


@pytest.fixture(scope="module")
def clips() -> list[dict]:
    """Three ground-truth semi-body clips of three identities (harness/data/synth.py)."""
    from harness.data.synth import render_clip

    return [render_clip(0, "semibody", k, SIZE, FRAMES, FPS, SR) for k in range(3)]


def _truth(clip: dict, source: str = "synthetic-v1:seed=0:semibody:0") -> ClipTruth:
    return ClipTruth(keypoints=clip["keypoints"], boxes=clip["boxes"], source=source)


def _eval(clips: list[dict], pred: list[np.ndarray] | None = None, audio: list[np.ndarray] | None = None,
          references: list | None = None, truth: list[ClipTruth] | None = None) -> dict[str, dict]:
    """evaluate() with the synthetic backend on (pred or the ground truth) of each clip: {key: result dict}."""
    results = evaluate(pred or [c["frames"] for c in clips], [c["frames"] for c in clips], references=references,
                       audio=audio or [c["audio"] for c in clips], wanted=["sync", "hkc", "csim"],
                       backend="synthetic", fps=FPS, truth=truth or [_truth(c) for c in clips])
    return {r.key: r.to_dict() for r in results}


def _advance_audio(audio: np.ndarray, frames: int) -> np.ndarray:
    """The audio moved `frames` video frames earlier (it runs ahead of the video), zero-padded at the end."""
    cut = int(round(frames * SR / FPS))
    return np.concatenate([audio[cut:], np.zeros(cut, audio.dtype)])


def _hand_mask(keypoints: np.ndarray, radius: int = 2) -> np.ndarray:
    """uint8 (H, W) mask of discs around one frame's visible hand keypoints (133, 3)."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    for x, y, c in keypoints[layout.HANDS]:
        if c > 0:
            cv2.circle(mask, (int(x * SIZE), int(y * SIZE)), radius, 255, -1)
    return mask


def _erase_hands(clip: dict) -> np.ndarray:
    """Every frame with its hands painted over from their surroundings (OpenCV inpainting)."""
    return np.stack([cv2.inpaint(f, _hand_mask(k), 3, cv2.INPAINT_TELEA) for f, k in zip(clip["frames"], clip["keypoints"])])


def _scramble_hands(clip: dict) -> np.ndarray:
    """Every frame with its own hands erased and the hands of a frame half a clip away pasted in."""
    erased = _erase_hands(clip)
    out = erased.copy()
    for i in range(FRAMES):
        j = (i + FRAMES // 2) % FRAMES
        mask = _hand_mask(clip["keypoints"][j]) > 0
        out[i][mask] = clip["frames"][j][mask]
    return out


def _blur(frames: np.ndarray, sigma: float) -> np.ndarray:
    return np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in frames])


def _noise(frames: np.ndarray, std: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(frames + rng.normal(0, std, frames.shape), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------- ground truth


def test_ground_truth_gives_the_best_values(clips) -> None:
    gt = _eval(clips)
    static = _eval(clips, pred=[np.repeat(c["frames"][:1], FRAMES, axis=0) for c in clips])  # nothing moves
    assert {r["backend"] for r in gt.values()} == {"synthetic"}
    assert not any(r["exact"] for r in gt.values())
    assert gt["sync_c"]["parameters"]["offsets"] == [0, 0, 0]
    assert gt["sync_c"]["value"] > 2 * static["sync_c"]["value"]  # a frozen mouth has no lip sync
    assert gt["sync_d"]["value"] < static["sync_d"]["value"]
    assert gt["hkc"]["value"] > 0.95 and gt["hkc"]["value"] > static["hkc"]["value"] + 0.5
    assert gt["hkv"]["value"] > 1.0
    assert static["hkv"]["value"] is None and static["hkv"]["note"]  # a hand that never moves is never told apart
    # a missing HKV says how far off a hand was: the frozen hand is part of the plate, so no evidence stands out
    assert static["hkv"]["parameters"]["strongest_evidence"] < static["hkv"]["parameters"]["found_at_evidence"]
    assert f"{static['hkv']['parameters']['strongest_evidence']:.3f}" in static["hkv"]["note"]
    assert gt["hkv"]["parameters"]["strongest_evidence"] > 0.9
    assert gt["csim"]["value"] > 0.98


# --------------------------------------------------------------------------- controls


@pytest.mark.parametrize("k", [SHIFT, -SHIFT])
def test_audio_shifted_by_k_frames_moves_the_offset_to_k_and_lowers_sync_c(clips, k: int) -> None:
    """Pinned sign: audio running k frames ahead of the video (advanced) -> offset +k."""
    gt = _eval(clips)
    if k > 0:
        audio = [_advance_audio(c["audio"], k) for c in clips]
    else:  # audio delayed by |k| frames: zeros in front
        audio = [np.concatenate([np.zeros(int(round(-k * SR / FPS)), np.float32), c["audio"]])[: len(c["audio"])]
                 for c in clips]
    shifted = _eval(clips, audio=audio)
    assert shifted["sync_c"]["parameters"]["offsets"] == [k, k, k]
    assert shifted["sync_c"]["value"] < gt["sync_c"]["value"]
    assert shifted["sync_d"]["value"] > gt["sync_d"]["value"]


def test_audio_of_another_clip_destroys_sync(clips) -> None:
    gt = _eval(clips)
    other = _eval(clips, audio=[clips[(i + 1) % 3]["audio"] for i in range(3)])
    assert other["sync_c"]["value"] < 0.5 * gt["sync_c"]["value"]


def test_erased_hands_lower_hkc(clips) -> None:
    gt, erased = _eval(clips), _eval(clips, pred=[_erase_hands(c) for c in clips])
    assert erased["hkc"]["value"] < 0.3 < gt["hkc"]["value"] - 0.5
    assert erased["sync_c"]["value"] == pytest.approx(gt["sync_c"]["value"])  # the mouth is untouched


def test_scrambled_hands_lower_hkc(clips) -> None:
    gt, scrambled = _eval(clips), _eval(clips, pred=[_scramble_hands(c) for c in clips])
    assert scrambled["hkc"]["value"] < gt["hkc"]["value"] - 0.5
    assert scrambled["hkv"]["value"] > 1.0  # the hands still move, only in the wrong places


def test_reference_of_another_identity_lowers_csim(clips) -> None:
    gt = _eval(clips)
    truth = [ClipTruth(c["keypoints"], c["boxes"], "synthetic-v1:x", clips[(i + 1) % 3]["keypoints"][0])
             for i, c in enumerate(clips)]
    other = _eval(clips, references=[clips[(i + 1) % 3]["frames"][0] for i in range(3)], truth=truth)
    assert other["csim"]["value"] < gt["csim"]["value"] - 0.4


def test_hkc_judges_the_hands_not_the_identity(clips) -> None:
    """HKC reads colours from the generated clip itself: a reference of another identity leaves it alone."""
    truth = [ClipTruth(c["keypoints"], c["boxes"], "synthetic-v1:x", clips[(i + 1) % 3]["keypoints"][0])
             for i, c in enumerate(clips)]
    other = _eval(clips, references=[clips[(i + 1) % 3]["frames"][0] for i in range(3)], truth=truth)
    assert other["hkc"]["value"] == pytest.approx(_eval(clips)["hkc"]["value"])


def test_identity_embedding_ignores_the_mouth_and_pose(clips) -> None:
    """CSIM of a clip against its own first frame stays near 1 in every frame (like ArcFace's)."""
    from metrics.synthetic.identity import clip_csim

    c = clips[0]
    cos = clip_csim(c["frames"], c["keypoints"], c["frames"][0], c["keypoints"][0])
    assert min(cos) > 0.97


# --------------------------------------------------------------------------- sensitivity at tiny sizes


def _part_colours(n: int, seed: int) -> np.ndarray:
    """(n, 9) raw mean colours of the identity embedding's parts, one 64 px frame of n random identities."""
    from harness.data.synth import render_clip
    from metrics.synthetic.identity import part_colours

    clips = (render_clip(seed, "semibody", k, SIZE, 1, FPS, SR) for k in range(n))
    return np.array([part_colours(c["frames"][0].astype(np.float64), c["keypoints"][0]) for c in clips])


def test_unrelated_identities_score_about_zero_csim() -> None:
    """Like ArcFace's, the embedding is centred on the population: two random identities have a mean
    cosine near 0 (centred at mid-grey it was 0.31, and an identity-agnostic average person read 0.55),
    and the pinned POPULATION_MEAN is what the generator draws (within 4 standard errors)."""
    from metrics.synthetic.identity import POPULATION_MEAN

    colours = _part_colours(300, seed=4242)
    standard_error = colours.std(axis=0) / np.sqrt(len(colours))
    assert np.all(np.abs(colours.mean(axis=0) - POPULATION_MEAN) < 4 * standard_error + 1.0)
    e = (colours - POPULATION_MEAN) / 127.5
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    cos = (e @ e.T)[~np.eye(len(e), dtype=bool)]
    assert abs(cos.mean()) < 0.05


def test_blur_and_noise_degrade_gracefully(clips) -> None:
    """A blurry or noisy generation that gets things right reads between the truth and the controls
    (each metric's floor: a frozen mouth for Sync, erased hands for HKC, another identity for CSIM)."""
    gt = _eval(clips)
    static = _eval(clips, pred=[np.repeat(c["frames"][:1], FRAMES, axis=0) for c in clips])
    erased = _eval(clips, pred=[_erase_hands(c) for c in clips])
    for pred in ([_blur(c["frames"], 1.5) for c in clips], [_noise(c["frames"], 25.0) for c in clips]):
        r = _eval(clips, pred=pred)
        assert r["sync_c"]["parameters"]["offsets"] == [0, 0, 0]
        assert 1.5 * static["sync_c"]["value"] < r["sync_c"]["value"] < gt["sync_c"]["value"]
        assert erased["hkc"]["value"] + 0.25 < r["hkc"]["value"] < gt["hkc"]["value"]
        assert 0.9 < r["csim"]["value"] < gt["csim"]["value"]


# --------------------------------------------------------------------------- refusals


def test_refuses_clips_that_are_not_synthetic(clips) -> None:
    c = clips[0]
    prepared = Sample(pred=c["frames"], gt=c["frames"], audio=c["audio"], fps=FPS, clip_id="talk",
                      truth=_truth(c, source="prepared:talk.mp4"))
    bare = Sample(pred=c["frames"], gt=c["frames"], audio=c["audio"], fps=FPS, clip_id="bare")
    from metrics.evaluate import evaluate_samples

    for metric in ("sync", "hkc", "csim"):
        for sample, words in ((prepared, "prepared:talk.mp4"), (bare, "ground truth")):
            with pytest.raises(HarnessError) as err:
                evaluate_samples([sample], [metric], backend="synthetic")
            assert words in str(err.value) and "\n" not in str(err.value)


def test_real_backends_ignore_the_ground_truth(clips) -> None:
    """The offline backend of SSIM gives the same number with and without ground truth attached."""
    c = clips[0]
    plain = evaluate([c["frames"]], [c["frames"]], wanted=["ssim"], backend="offline")
    with_truth = evaluate([c["frames"]], [c["frames"]], wanted=["ssim"], backend="offline", truth=[_truth(c)])
    assert plain[0].value == with_truth[0].value and plain[0].backend == with_truth[0].backend != "synthetic"


def test_config_refuses_the_synthetic_backend_on_prepared_data(tmp_path: Path) -> None:
    from harness.config_load import load
    from harness.errors import ConfigError

    path = tmp_path / "exp.yaml"
    path.write_text("eval: {backend: synthetic}\ndata: {source: prepared}\n")
    with pytest.raises(ConfigError) as err:
        load(path)
    assert "eval.backend" in str(err.value) and "\n" not in str(err.value)
    load(path, ["data.source=synthetic"])  # the same backend on synthetic data is fine


# --------------------------------------------------------------------------- harness eval


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    from harness.data.synth import generate_dataset

    root = tmp_path_factory.mktemp("synthetic_metric_clips")
    return generate_dataset(root, clips=2, portrait_clips=0, size=SIZE, seconds=FRAMES / FPS, fps=FPS,
                            sample_rate=SR, seed=0, test_fraction=0.5, progress=False)


def test_harness_eval_synthetic_backend(run_cli, dataset: Path) -> None:
    """Ground-truth clips as predictions (clip folders): every synthetic metric measured and labelled."""
    proc = run_cli("eval", "--pred", dataset, "--gt", dataset, "--metrics", "ssim,sync,hkc,csim",
                   "--backend", "synthetic", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {r["key"]: r for r in json.loads(proc.stdout)["results"]}
    assert set(rows) == {"ssim", "sync_c", "sync_d", "hkc", "hkv", "csim"}
    assert all(rows[k]["backend"] == "synthetic" and not rows[k]["exact"] for k in ("sync_c", "hkc", "hkv", "csim"))
    assert rows["ssim"]["backend"] != "synthetic"
    assert rows["sync_c"]["parameters"]["offsets"] == [0, 0]
    assert rows["hkc"]["value"] > 0.95 and rows["csim"]["value"] > 0.98


def test_harness_eval_refuses_non_synthetic_data_in_one_line(run_cli, dataset: Path, tmp_path: Path) -> None:
    other = tmp_path / "prepared"
    shutil.copytree(dataset, other)
    for meta_path in (other / "clips").glob("*/meta.json"):
        meta = json.loads(meta_path.read_text())
        meta_path.write_text(json.dumps({**meta, "source": "prepared:interview.mp4"}))
    proc = run_cli("eval", "--pred", other, "--gt", other, "--metrics", "csim", "--backend", "synthetic")
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "Traceback" not in line
    assert "prepared:interview.mp4" in line and "synthetic" in line


# --------------------------------------------------------------------------- the known layout


@pytest.mark.parametrize("seed", [1, 2, 8])  # 8 has long hair, 1 and 2 short
def test_face_probes_land_on_the_parts_they_name(seed: int) -> None:
    """At a high resolution, the skin and hair probes read the identity's drawn skin and hair colours,
    in a frame with the mouth wide open and the head tilted (the probes follow the head pose)."""
    from harness.data.synth_figure import figure_keypoints, sample_identity, sample_motion
    from harness.data.synth_render import Camera, image_keypoints, render_frame
    from metrics.synthetic.pixels import PROBES, bilinear, face_points

    ident = sample_identity(np.random.default_rng(seed))
    envelope = np.linspace(0.0, 1.0, 10).astype(np.float32)  # the mouth opens fully by the last frame
    motion = sample_motion(envelope, FPS, np.random.default_rng(seed + 100), np.random.default_rng(seed + 200))
    motion.tilt[:] = np.deg2rad(3.0)  # the face turns about the neck, the drawn head about its centre: keep it small
    kp, head = figure_keypoints(ident, motion, 9)
    frame = render_frame(ident, kp, head, Camera(), 256, 4)
    image_kp = image_keypoints(kp, Camera())
    for part, colour in (("skin", ident.skin), ("hair", ident.hair)):
        seen = bilinear(frame, face_points(image_kp, PROBES[part]))  # (N, 3)
        assert np.abs(seen - np.array(colour)).max() <= 3, part
    beside = bilinear(frame, face_points(image_kp, PROBES["beside"]))
    assert (np.abs(beside - np.array(ident.hair)).max() <= 3) == ident.hair_long


def test_trial_evaluation_passes_each_clips_ground_truth(dataset: Path) -> None:
    """harness/trial_pipeline.py hands every test clip's keypoints, boxes and source to the synthetic backend."""
    from types import SimpleNamespace

    from harness.config import ExperimentConfig
    from harness.data.clip_format import clip_dir, load_clip
    from harness.trial_pipeline import _evaluate

    cfg = ExperimentConfig.model_validate({"eval": {"backend": "synthetic", "metrics": ["sync", "hkc", "csim"]},
                                           "train": {"device": "cpu"}})
    ids = ["synth-0000", "synth-0001"]
    clips = {cid: load_clip(clip_dir(dataset, cid)) for cid in ids}
    generated = {cid: SimpleNamespace(frames=c["frames"], target=c["frames"], audio=c["audio"], fps=float(FPS))
                 for cid, c in clips.items()}
    rows = {r["key"]: r for r in _evaluate(cfg, generated, dataset)}
    assert rows["sync_c"]["parameters"]["offsets"] == [0, 0] and rows["hkc"]["value"] > 0.95
    assert all(r["backend"] == "synthetic" for r in rows.values())
