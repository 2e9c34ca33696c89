"""`harness weights import-release`: random tensors in the release's names, shapes and file layout
-> import -> the sd15 network loads strictly, every tensor where the release's names say it
belongs (the mapping written out independently here); mistakes are one line, exit 2."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import time
from pathlib import Path

import pytest
import torch

from harness.config_load import load_dict
from harness.errors import HarnessError
from tests.release_files import imported_release, key_value, release_keys, release_folder, sinusoid_table  # noqa: F401

pytestmark = pytest.mark.slow  # the release's 2.2 B-parameter names and shapes (files stay small: expanded tensors)

POSE_ORDER = ["conv_in", "blocks.0", "blocks.1", "blocks.2", "blocks.3", "blocks.4", "blocks.5", "conv_out"]
HARNESS_POSE_ORDER = ["body.0", "body.2", "body.4", "body.6", "body.8", "body.10", "body.12", "out"]
MOTION_NAMES = ((".temporal_transformer.", "."), (".attention_blocks.0.", ".attn1."), (".attention_blocks.1.", ".attn2."),
                (".norms.0.", ".norm1."), (".norms.1.", ".norm2."), (".ff_norm.", ".norm3."))


def _expected_sources() -> dict[str, tuple[str, str, list[int]]]:
    """harness key -> (release file, release key, shape), from the release's names alone."""
    keys = release_keys()
    out = {f"reference_unet.{k}": ("reference_unet.pth", k, s) for k, s in keys["reference_unet"].items()}
    for key, shape in keys["denoising_unet"].items():
        if "pos_encoder" in key:
            continue
        target = key
        if ".motion_modules." in key:
            for old, new in MOTION_NAMES:
                target = target.replace(old, new)
        elif key.startswith("conv_in."):
            target = "conv_in.conv." + key.removeprefix("conv_in.")
        file = "motion_module.pth" if ".motion_modules." in key else "denoising_unet.pth"
        out[f"denoising_unet.{target}"] = (file, key, shape)
    for theirs, ours in zip(POSE_ORDER, HARNESS_POSE_ORDER):
        for kind in ("weight", "bias"):
            out[f"pose_encoder.{ours}.{kind}"] = ("pose_encoder.pth", f"{theirs}.{kind}", keys["pose_encoder"][f"{theirs}.{kind}"])
    return out


def test_import_then_sd15_network_loads_strictly_with_every_tensor_in_place(release_folder, imported_release):
    from harness.model.build import build_model

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    cfg = load_dict({"model": {"preset": "sd15", "audio_encoder": "whisper", "init": str(imported_release.checkpoint)},
                     "data": {"size": 64}})
    model, codec = build_model(cfg, audio_dim=384)
    seconds = time.perf_counter() - start
    state = model.state_dict()
    sources = _expected_sources()
    pose = torch.load(release_folder / "pose_encoder.pth", weights_only=True)
    for key, (file, release_key, shape) in sources.items():
        value = state[key]
        assert list(value.shape) == shape, key
        if file == "pose_encoder.pth":
            assert torch.equal(value, pose[release_key]), key
        else:  # one constant per release tensor: the first and last element name its source
            want = key_value(file, release_key, shape)
            ends = [value[(0,) * value.dim()].item(), value[(-1,) * value.dim()].item()]
            assert ends == pytest.approx([want, want], abs=0, rel=1e-6), key
    rest = set(state) - set(sources)
    tables = {k for k in rest if k.endswith(".pos_embed.pe")}
    assert len(tables) == 21
    for key in tables:
        assert torch.allclose(state[key], sinusoid_table(*state[key].shape[1:]), atol=1e-6)
    unused = rest - tables  # the reference net's cross-attention and output conv: never used, zero
    assert unused and all(".attn2." in k or ".norm2." in k or k.startswith("reference_unet.conv_") for k in unused)
    assert all(k.startswith("reference_unet.") and state[k].abs().max() == 0 for k in unused)
    assert not any(t.is_meta for t in state.values())
    assert codec.vae.config.block_out_channels == [32, 32, 32, 32]  # the folder's VAE, not a random sd15 one
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nbuild from init: {seconds:.1f} s; peak RSS {rss / 1e6:.2f} GB (before {rss_before / 1e6:.2f} GB)")


def test_provenance_records_every_input_and_every_dropped_key(release_folder, imported_release):
    provenance = imported_release.provenance
    files = sorted(p for p in release_folder.rglob("*") if p.is_file())
    assert set(provenance["sha256"]) == {p.relative_to(release_folder).as_posix() for p in files}
    for path in files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert provenance["sha256"][path.relative_to(release_folder).as_posix()] == digest
    payload = torch.load(imported_release.checkpoint, weights_only=True, mmap=True)
    assert payload["provenance"] == provenance == json.loads((imported_release.out / "release.json").read_text())
    tables = [k for k in release_keys()["denoising_unet"] if k.endswith("pos_encoder.pe")]
    assert sorted(provenance["dropped"]) == sorted(f"motion_module.pth:{k}" for k in tables)
    keys = release_keys()
    assert provenance["tensors_from_release"] == sum(len(keys[p]) for p in keys) - len(tables)
    assert imported_release.warnings and "is not OpenAI's tiny.pt" in imported_release.warnings[0]
    assert (imported_release.out / "audio_processor" / "tiny.pt").read_bytes() == (release_folder / "audio_processor" / "tiny.pt").read_bytes()
    assert (imported_release.out / "sd-vae-ft-mse" / "config.json").is_file()


def test_import_config_and_mlflow_tags_name_the_inputs(imported_release, tmp_path):
    from harness.config_load import load
    from harness.runs.record import init_tags
    from harness.runs.tracker import Tracker

    cfg = load(imported_release.config)
    assert cfg.model.init == imported_release.checkpoint and cfg.train.steps == 0
    assert cfg.model.whisper_path == imported_release.out / "audio_processor" / "tiny.pt"
    assert (cfg.data.size, cfg.eval.sampling_steps, cfg.eval.guidance_scale, cfg.eval.audio_attn_scale) == (768, 30, 2.5, 3.0)
    tags = init_tags(cfg)
    for name, digest in imported_release.provenance["sha256"].items():
        assert tags[f"init_sha256.{name}"] == digest
    cfg.paths.runs = tmp_path
    tracker = Tracker(cfg)
    run_id = tracker.trial_run(tracker.parent_run("s1", "sweep"), "release-s0", cfg)
    logged = tracker.client.get_run(run_id).data.tags
    assert logged["init_sha256.reference_unet.pth"] == imported_release.provenance["sha256"]["reference_unet.pth"]
    assert logged["init"] == str(imported_release.checkpoint)


def _variant(release: Path, folder: Path) -> Path:
    """A copy of the release folder made of hard links (edit files only through _replace)."""
    shutil.copytree(release, folder, copy_function=os.link)
    return folder


def _replace(path: Path, state: dict[str, torch.Tensor]) -> None:
    path.unlink()  # a hard link: never write through it into the shared file
    torch.save(state, path)


def test_denoising_file_may_hold_the_motion_modules_too(release_folder, imported_release, tmp_path):
    from harness.model.release.importer import import_release

    folder = _variant(release_folder, tmp_path / "release")
    motion = torch.load(folder / "motion_module.pth", weights_only=True)
    spatial = torch.load(folder / "denoising_unet.pth", weights_only=True)
    # v[0, ..., 0] * 2 expanded again: doubling the expanded tensors themselves would allocate 1.8 GB
    doubled = {k: v if k.endswith("pos_encoder.pe") else (v[(0,) * v.dim()] * 2).expand(v.shape) for k, v in motion.items()}
    _replace(folder / "denoising_unet.pth", {**spatial, **doubled})
    result = import_release(folder, tmp_path / "out")
    payload = torch.load(result.checkpoint, weights_only=True, mmap=True)
    key = "down_blocks.1.motion_modules.0.temporal_transformer.proj_in.weight"
    ours = payload["model"]["denoising_unet.down_blocks.1.motion_modules.0.proj_in.weight"]
    assert ours[0, 0] == motion[key][0, 0] * 2 and ours.stride() == (0, 0)  # denoising_unet.pth wins (loaded last)
    assert f"motion_module.pth:{key}" in result.provenance["dropped"]


def _pose_with(folder: Path, **changes) -> None:
    pose = torch.load(folder / "pose_encoder.pth", weights_only=True)
    _replace(folder / "pose_encoder.pth", {**pose, **changes})


def _make_mistake(folder: Path, mistake: str) -> None:
    if mistake == "missing":
        (folder / "pose_encoder.pth").unlink()
    elif mistake == "shape":
        _pose_with(folder, **{"blocks.1.weight": torch.zeros(32, 8, 3, 3)})
    elif mistake == "foreign":
        motion = torch.load(folder / "motion_module.pth", weights_only=True)
        _replace(folder / "motion_module.pth", {**motion, "first_stage_model.encoder.conv_in.weight": torch.zeros(1)})
    elif mistake == "reference_shape":
        reference = torch.load(folder / "reference_unet.pth", weights_only=True)
        _replace(folder / "reference_unet.pth", {**reference, "conv_in.weight": torch.zeros(320, 9, 3, 3)})
    elif mistake == "not_a_state_dict":
        (folder / "reference_unet.pth").unlink()
        (folder / "reference_unet.pth").write_text("<html>a download error page</html>")
    elif mistake == "no_whisper":
        (folder / "audio_processor" / "tiny.pt").unlink()


@pytest.mark.parametrize("mistake, expected", [
    ("missing", "pose_encoder.pth: missing"),
    ("shape", "pose_encoder.pth: key 'blocks.1.weight' has shape [32, 8, 3, 3]"),
    ("foreign", "motion_module.pth: unexpected key 'first_stage_model.encoder.conv_in.weight'"),
])
def test_mistakes_end_as_one_line_exit_2(release_folder, tmp_path, run_cli, mistake, expected):
    folder = _variant(release_folder, tmp_path / "release")
    _make_mistake(folder, mistake)
    proc = run_cli("weights", "import-release", folder, "--out", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "echomimicv2.pt").exists()


@pytest.mark.parametrize("mistake, expected", [
    ("reference_shape", "reference_unet.pth: key 'conv_in.weight' has shape [320, 9, 3, 3]"),
    ("not_a_state_dict", "reference_unet.pth: not a PyTorch checkpoint"),
    ("no_whisper", "audio_processor/tiny.pt: missing"),
])
def test_more_mistakes_name_the_file(release_folder, tmp_path, mistake, expected):
    from harness.model.release.importer import import_release

    folder = _variant(release_folder, tmp_path / "release")
    _make_mistake(folder, mistake)
    with pytest.raises(HarnessError) as info:
        import_release(folder, tmp_path / "out")
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_tiny_pt_at_the_top_and_the_command_line(release_folder, tmp_path, run_cli):
    folder = _variant(release_folder, tmp_path / "release")
    os.replace(folder / "audio_processor" / "tiny.pt", folder / "tiny.pt")
    proc = run_cli("weights", "import-release", folder, "--out", tmp_path / "out", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert Path(result["checkpoint"]) == tmp_path / "out" / "echomimicv2.pt"
    assert "tiny.pt" in result["sha256"] and result["warnings"]  # a random tiny.pt: a warning, not an error
    assert "warning:" in proc.stderr and (tmp_path / "out" / "audio_processor" / "tiny.pt").is_file()


def test_init_that_does_not_fit_the_preset_is_one_line(imported_release):
    from harness.model.build import build_model

    cfg = load_dict({"model": {"init": str(imported_release.checkpoint)}})  # tiny preset
    with pytest.raises(HarnessError, match=r"model.init: .*does not fit model.preset"):
        build_model(cfg, audio_dim=80)
