"""What a trial scores is what it logs: a tiny sweep into a real `mlflow server`, the scored frames
downloaded from MLflow's artifact store and re-scored by `harness eval` give the logged values (to 1e-6);
the side-by-side video is a browser-playable H.264 mp4 with the prediction in its right column."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from harness.runs.schema import Artifacts
from tests.chromium import FLAGS, chromium  # noqa: F401  (chromium is a fixture)
from tests.mlflow_server import migrated_store, mlflow_server
from tests.test_media import top_level_boxes
from tests.test_sweep import split_runs, tiny_args

# every metric the synthetic backend measures on CPU without downloads; FVD needs 16-frame clips
METRICS = "fid,ssim,psnr,sync,hkc,csim"


def decoded(path: Path) -> tuple[np.ndarray, dict]:
    """Frames of an mp4 and what a browser needs of it: codec, pixel format, size, audio codec."""
    import av

    with av.open(str(path)) as container:
        video = container.streams.video[0].codec_context
        info = {"codec": video.name, "pix_fmt": video.pix_fmt, "size": (video.width, video.height),
                "audio": [s.codec_context.name for s in container.streams.audio]}
    from harness.media import read_video

    return read_video(path)[0], info


def test_scored_folder_is_a_clip_that_harness_eval_reads_bit_for_bit(tmp_path: Path) -> None:
    """write_scored's layout is a clip folder: metrics/clips.py finds it by id, with its fps and exact frames;
    evaluate() records the stored paths in every result."""
    from types import SimpleNamespace

    from harness.trial_pipeline import scored_name, write_scored
    from metrics.clips import find_clips
    from metrics.evaluate import evaluate

    rng = np.random.default_rng(3)
    clips = {f"c{i}": SimpleNamespace(frames=rng.integers(0, 256, (6, 16, 16, 3), dtype=np.uint8), fps=12.5)
             for i in range(2)}
    folders = write_scored(tmp_path / Artifacts.SCORED, clips)
    assert [f.name for f in folders] == ["c0", "c1"]
    found = find_clips(tmp_path / Artifacts.SCORED)
    for cid, g in clips.items():
        frames, fps = found[cid].load_frames()
        np.testing.assert_array_equal(frames, g.frames)
        assert fps == 12.5 and found[cid].load_audio() is None  # audio comes from the ground truth
    names = [scored_name(c) for c in clips]
    assert names == ["scored/c0/frames", "scored/c1/frames"]
    results = evaluate([g.frames for g in clips.values()], [g.frames for g in clips.values()], wanted=["ssim", "psnr"],
                       clip_ids=list(clips), scored_frames=names)
    assert [r.parameters["scored_frames"] for r in results] == [names, names]
    from harness.runs.record import provenance

    assert provenance([r.to_dict() for r in results])["ssim"]["scored_frames"] == names  # the run's provenance.json
    assert results[0].value == pytest.approx(1.0)
    with pytest.raises(ValueError, match="scored_frames has 1 entries"):
        evaluate([g.frames for g in clips.values()], wanted=["ssim"], scored_frames=names[:1])


def test_side_by_side_video_plays_in_chromium(tmp_path: Path, chromium: str) -> None:  # noqa: F811
    """The trial's side-by-side writer: Chromium's <video> loads it at its size and length (MLflow's artifact view)."""
    from types import SimpleNamespace

    from harness.trial_pipeline import _write_side_by_side

    rng = np.random.default_rng(4)
    clip = SimpleNamespace(frames=rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8),
                           target=rng.integers(0, 256, (24, 32, 32, 3), dtype=np.uint8),
                           audio=np.zeros(16000, np.float32), sample_rate=16000, fps=24.0)
    (video,) = _write_side_by_side(tmp_path / Artifacts.SIDE_BY_SIDE, {"c0": clip})
    page = tmp_path / "play.html"
    page.write_text(f'<!DOCTYPE html><html><body><video id="v" src="{video.as_uri()}" muted preload="auto"></video>'
                    '<p id="s">waiting</p><script>const v = document.getElementById("v"), s = document.getElementById("s");'
                    'v.addEventListener("loadeddata", () => { s.textContent = `loaded ${v.videoWidth}x${v.videoHeight} '
                    '${v.duration.toFixed(1)}`; });'
                    'v.addEventListener("error", () => { s.textContent = `error ${v.error && v.error.code}`; });'
                    '</script></body></html>')
    done = subprocess.run([chromium, *FLAGS, "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert '<p id="s">loaded 384x148 1.0</p>' in done.stdout, done.stdout[-500:]  # 3 x 32 px x4, 20 px labels + 128


@pytest.mark.slow
def test_stored_frames_reproduce_the_logged_metrics(tmp_path: Path, run_cli) -> None:
    runs = tmp_path / "runs"
    template = migrated_store(tmp_path)
    with mlflow_server(tmp_path, template) as uri:
        args = tiny_args(runs, "train.steps=2", "sweep.variants={full: {}}", f"eval.metrics=[{METRICS}]",
                         f"tracking.uri={uri}", "tracking.experiment=scored")
        proc = run_cli("sweep", *args, "--json", timeout=500)
        assert proc.returncode == 0, proc.stderr[-3000:]
        from mlflow.tracking import MlflowClient

        client = MlflowClient(uri)
        exp = client.get_experiment_by_name("scored")
        _, children = split_runs(client.search_runs([exp.experiment_id]))
        run = children["full-s0"][0]
        store = tmp_path / "downloaded"
        store.mkdir()
        for path in (Artifacts.SCORED, Artifacts.SIDE_BY_SIDE, Artifacts.METRICS, Artifacts.PROVENANCE):
            client.download_artifacts(run.info.run_id, path, str(store))
    assert list((tmp_path / "server_artifacts").rglob("*.png"))  # the frames went to the server's store

    clips = sorted(p.name for p in (store / Artifacts.SCORED).iterdir())
    assert len(clips) == 1
    records = json.loads((store / Artifacts.METRICS).read_text())
    scored = [f"{Artifacts.SCORED}/{clips[0]}/frames"]
    for record in records:  # provenance: every result names the stored frames it scored
        assert record["parameters"]["scored_frames"] == scored
    logged_provenance = json.loads((store / Artifacts.PROVENANCE).read_text())
    assert {key: item["scored_frames"] for key, item in logged_provenance.items()} == {r["key"]: scored for r in records}

    # one torch thread, as Ray gives the trial (num_cpus=1): with another thread count the float sums of the
    # Inception features differ in the last bits (FID 442.46651 vs 442.46656 with 2 threads in a CI run)
    rescore = run_cli("eval", "--pred", store / Artifacts.SCORED, "--gt", runs / "data" / "synthetic",
                      "--metrics", METRICS, "--backend", "synthetic", "--device", "cpu", "--json", timeout=400,
                      env={"OMP_NUM_THREADS": "1"})
    assert rescore.returncode == 0, rescore.stderr[-3000:]
    again = {r["key"]: r["value"] for r in json.loads(rescore.stdout)["results"]}
    logged = run.data.metrics
    measured = [r["key"] for r in records if r["value"] is not None]
    assert {"fid", "ssim", "psnr"} <= set(measured)
    for key in measured:
        assert again[key] == pytest.approx(logged[key], abs=1e-6), key
    assert {k for k, v in again.items() if v is not None} == set(measured)

    # the side-by-side viewing copy: plays in a browser, reference | ground truth | prediction
    frames, info = decoded(store / Artifacts.SIDE_BY_SIDE / f"{clips[0]}.mp4")
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and info["audio"] == ["aac"]
    assert info["size"][0] % 2 == 0 and info["size"][1] % 2 == 0
    boxes = top_level_boxes(store / Artifacts.SIDE_BY_SIDE / f"{clips[0]}.mp4")
    assert boxes.index("moov") < boxes.index("mdat")  # faststart
    from harness.data.clip_format import read_frames

    pred = read_frames(store / Artifacts.SCORED / clips[0])
    gt = read_frames(runs / "data" / "synthetic" / "clips" / clips[0])
    n, h, w, _ = pred.shape
    factor = (frames.shape[2] // 3) // w
    body = frames[:n, -h * factor:]  # below the label strip
    columns = [body[:, :, i * w * factor:(i + 1) * w * factor, :].astype(float) for i in range(3)]

    def gap(column: np.ndarray, clip: np.ndarray) -> float:
        return float(np.abs(column - clip.repeat(factor, 1).repeat(factor, 2)).mean())

    assert gap(columns[2], pred) < gap(columns[2], gt) and gap(columns[1], gt) < gap(columns[1], pred)
    assert gap(columns[0], np.broadcast_to(gt[:1], gt.shape)) < gap(columns[0], pred)
