"""The release in the harness: release_eval.yaml / release_finetune.yaml validate with the paper's
settings; `harness sample` runs an imported random-weight release; release_eval runs end to end
(`harness sweep` then `harness report --paper-csv`) on CPU at a tiny size from a random import."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config_load import load
from tests.conftest import EXPERIMENTS
from tests.release_files import imported_release, release_folder  # noqa: F401  (session fixtures)
from tests.report_store import paper_csv

EVAL, FINETUNE = EXPERIMENTS / "release_eval.yaml", EXPERIMENTS / "release_finetune.yaml"


def test_release_eval_is_the_papers_sampling_without_training():
    from harness.train.objective import make_scheduler

    cfg = load(EVAL)
    assert cfg.train.steps == 0 and cfg.model.preset == "sd15" and cfg.model.audio_encoder == "whisper"
    assert cfg.model.init == Path("weights/echomimicv2/echomimicv2.pt")
    assert (cfg.data.size, cfg.data.fps) == (768, 24)
    e = cfg.eval
    assert (e.sampling_steps, e.guidance_scale, e.audio_attn_scale, e.context_frames, e.context_overlap) == (30, 2.5, 3.0, 12, 3)
    assert make_scheduler().config.timestep_spacing == "trailing"
    assert list(cfg.sweep.variants) == ["release"] and cfg.sweep.baseline == "release"
    assert (cfg.model.whisper_levels, cfg.eval.context_windows) == ("release", "closed_loop_shifted")  # sd15 = release's


def test_release_finetune_runs_the_paper_ablation_from_the_release():
    cfg, paper = load(FINETUNE), load(EXPERIMENTS / "paper_ablation.yaml")
    assert cfg.sweep.variants == paper.sweep.variants and cfg.sweep.seeds == paper.sweep.seeds
    paper_rows = {"full", "wo_apdh", "wo_hpa", "wo_l_pose", "wo_l_detail", "wo_l_low", "wo_initial_pose", "wo_audio_lips",
                  "wo_audio_face", "wo_audio_body"}
    assert paper_rows <= set(cfg.sweep.variants)
    assert cfg.model.init == Path("weights/echomimicv2/echomimicv2.pt") and cfg.model.pretrained_dir is None
    assert cfg.train.steps > 0 and cfg.train.min_timestep == 0 and cfg.train.lr <= 1e-4
    e = cfg.eval
    assert (e.sampling_steps, e.guidance_scale, e.audio_attn_scale, cfg.data.size) == (30, 2.5, 3.0, 768)


def test_zero_steps_is_legal_and_negative_is_not():
    from harness.config_load import load_dict
    from harness.errors import ConfigError

    assert load_dict({"train": {"steps": 0}}).train.steps == 0
    with pytest.raises(ConfigError, match="train.steps"):
        load_dict({"train": {"steps": -1}})


def test_zero_steps_writes_a_weightless_checkpoint_that_samples_the_built_network(tmp_path):
    import torch

    from harness.config_load import load_dict
    from harness.model.build import build_model
    from harness.train.generate import load_trained
    from harness.train.trainer import train

    cfg = load_dict({"train": {"steps": 0, "seed": 3}, "paths": {"runs": str(tmp_path)}})
    result = train(cfg, tmp_path / "run", progress=False)
    assert result.steps == 0 and result.checkpoint.name == "step_0000000.pt"
    assert torch.load(result.checkpoint, weights_only=True)["model"] is None
    _, model, _ = load_trained(result.checkpoint, torch.device("cpu"))
    torch.manual_seed(3)  # the trainer seeds the initialisation with train.seed
    built, _ = build_model(cfg, audio_dim=80)
    for key, value in built.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    assert train(cfg, tmp_path / "run", progress=False).checkpoint == result.checkpoint  # a rerun keeps it


def test_sweep_without_the_import_is_one_line(tmp_path, run_cli):
    proc = run_cli("sweep", EVAL, f"paths.runs={tmp_path}", f"model.init={tmp_path}/echomimicv2.pt")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: model.init: {tmp_path}/echomimicv2.pt: no such file (import the release with "
        "`harness weights import-release`, docs/release.md)"]


def _clip(tmp_path: Path) -> Path:
    from harness.data.synth import generate_dataset

    root = generate_dataset(tmp_path / "clips_64", clips=1, portrait_clips=0, size=64, seconds=2 / 24, fps=24,
                            sample_rate=16000, seed=0, progress=False)
    return root / "clips" / "synth-0000"


@pytest.mark.slow
def test_harness_sample_runs_an_imported_release(imported_release, tmp_path, run_cli):
    from harness.media import read_video

    out = tmp_path / "out.mp4"
    proc = run_cli("sample", imported_release.checkpoint, _clip(tmp_path), "data.size=64", "--out", out, "--steps", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    frames, fps = read_video(out)
    assert frames.shape == (2, 64, 64, 3) and fps == 24


@pytest.mark.slow
def test_release_eval_runs_end_to_end_and_reports_beside_the_paper(imported_release, tmp_path, run_cli):
    runs = tmp_path / "runs"
    overrides = [f"paths.runs={runs}", f"model.init={imported_release.checkpoint}",
                 f"model.whisper_path={imported_release.out / 'audio_processor' / 'tiny.pt'}",
                 "data.source=synthetic", "data.root=null", "data.size=64", "data.synthetic.clips=2",
                 "data.synthetic.portrait_clips=0", f"data.synthetic.seconds={2 / 24}", "eval.test_clips=1",
                 "eval.sampling_steps=1", "eval.metrics=[ssim,psnr]", "eval.backend=offline",
                 "sweep.cpus_per_trial=1", "sweep.gpus_per_trial=0"]
    proc = run_cli("sweep", EVAL, *overrides, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [trial] = list((runs / "sweeps").glob("*/trials/release-s0"))
    metrics = {r["key"]: r["value"] for r in json.loads((trial / "metrics.json").read_text())}
    assert {"ssim", "psnr"} <= set(metrics)
    assert sorted(p.name for p in (trial / "checkpoints").iterdir()) == ["step_0000000.pt", "step_0000000.pt.json"]  # no training step
    out = tmp_path / "report"
    proc = run_cli("report", EVAL, *overrides, "--out", out, "--paper-csv", paper_csv(tmp_path), "--format", "md,csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = (out / "ablation.md").read_text()
    assert "EchoMimicV2 release" in table and "EchoMimicV2 (paper)" in table and "0.738" in table  # the paper's SSIM
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{runs / 'mlflow.db'}")
    [run] = [r for r in client.search_runs([e.experiment_id for e in client.search_experiments()])
             if r.data.tags.get("harness.role") == "trial"]
    assert run.data.tags["init_sha256.motion_module.pth"] == imported_release.provenance["sha256"]["motion_module.pth"]
