"""``harness weights import-release DIR --out OUT``: the release's files -> one harness checkpoint.

OUT receives (docs/release.md):
    echomimicv2.pt          {"format", "model": harness state dict, "provenance": sha256 of every input, key account}
    sd-vae-ft-mse/          the release's VAE folder (hard links where possible, else copies)
    audio_processor/tiny.pt the release's Whisper-tiny
    release.json            the provenance, readable
    config.yaml             an experiment for `harness sample OUT/echomimicv2.pt ...` (the paper's sampling)
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from harness.errors import HarnessError
from harness.model.weights_file import is_tensor_dict, read_weights_file
from harness.model.release.init import INIT_FORMAT
from harness.model.release.keys import Mapped, map_release
from harness.file_hash import sha256_of
from harness.model.release.layout import OPENAI_TINY_SHA256, VAE_DIR, ReleaseFolder, locate

CHECKPOINT_NAME = "echomimicv2.pt"
WHISPER_NAME = "audio_processor/tiny.pt"
RELEASE_AUDIO_DIM = 384  # Whisper-tiny's width: the release denoiser's audio cross-attention input
RELEASE_SOURCE = "EchoMimicV2 release (github antgroup/echomimic_v2, weights BadToBest/EchoMimicV2)"


@dataclass
class ImportResult:
    out: Path
    checkpoint: Path
    config: Path
    provenance: dict[str, Any]
    warnings: list[str]


def import_release(src: Path, out: Path, say: Callable[[str], None] = lambda _: None) -> ImportResult:
    """Import the release folder src into out; strict (HarnessError naming the file on any mismatch)."""
    folder = locate(src)
    say(f"hashing {len(folder.inputs())} input files")
    hashes = {_relative(folder, p): sha256_of(p) for p in folder.inputs()}
    warnings = _whisper_warning(hashes[_relative(folder, folder.whisper)], folder.whisper)
    files = {name: read_state(path) for name, path in folder.state_files.items()}
    say("mapping release keys onto the harness sd15 network")
    mapped = map_release(files, expected_shapes())
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    provenance = _provenance(folder, hashes, mapped)
    checkpoint = out / CHECKPOINT_NAME
    _save_atomic({"format": INIT_FORMAT, "model": mapped.state, "provenance": provenance}, checkpoint)
    _link_tree(folder.vae_dir, out / VAE_DIR)
    _link_file(folder.whisper, out / WHISPER_NAME)
    (out / "release.json").write_text(json.dumps(provenance, indent=1) + "\n")
    config = out / "config.yaml"
    config.write_text(sample_config(checkpoint, out / WHISPER_NAME))
    return ImportResult(out, checkpoint, config, provenance, warnings)


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """A flat {name: tensor} state dict, memory-mapped when the file allows it."""
    state = read_weights_file(path, str(path))
    if not is_tensor_dict(state):
        raise HarnessError(f"{path}: not a flat state dict of tensors (name -> tensor)")
    return state


def expected_shapes() -> dict[str, torch.Size]:
    """Names and shapes of the harness sd15 network the release is mapped onto (built on meta)."""
    from harness.model.build import network_on_meta
    from harness.model.presets import SD15

    model = network_on_meta(SD15, 4, RELEASE_AUDIO_DIM, 96, motion_norm="per_frame")  # sizes do not change shapes
    return {k: v.shape for k, v in model.state_dict().items()}


def sample_config(checkpoint: Path, whisper: Path) -> str:
    """The import folder's experiment: sd15 from the import, Whisper levels, the paper's sampling."""
    from harness.config_load import load_dict

    raw = {
        "name": "echomimicv2_release",
        "description": "The imported EchoMimicV2 release with the paper's sampling (harness weights import-release).",
        "model": {"preset": "sd15", "audio_encoder": "whisper", "whisper_path": str(whisper), "init": str(checkpoint)},
        "data": {"size": 768, "fps": 24},
        "train": {"steps": 0},
        # release: infer.py defaults (30 steps, CFG 2.5, 12-frame windows, overlap 3) and the 3.0 audio scale
        "eval": {"sampling_steps": 30, "guidance_scale": 2.5, "context_frames": 12, "context_overlap": 3,
                 "audio_attn_scale": 3.0},
    }
    load_dict(raw, source="the import's config.yaml")  # it must validate
    return "# Written by `harness weights import-release`.\n" + yaml.safe_dump(raw, sort_keys=False)


def _provenance(folder: ReleaseFolder, hashes: dict[str, str], mapped: Mapped) -> dict[str, Any]:
    return {
        "source": RELEASE_SOURCE,
        "folder": str(folder.root),
        "sha256": hashes,
        "whisper_openai_sha256": OPENAI_TINY_SHA256,
        "tensors_from_release": len(mapped.origin),
        "filled": mapped.filled,
        "dropped": mapped.dropped,
    }


def _whisper_warning(digest: str, path: Path) -> list[str]:
    if digest == OPENAI_TINY_SHA256:
        return []
    return [f"warning: {path}: sha256 {digest} is not OpenAI's tiny.pt ({OPENAI_TINY_SHA256})"]


def _relative(folder: ReleaseFolder, path: Path) -> str:
    return path.relative_to(folder.root).as_posix()


def _save_atomic(payload: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".pt.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def _link_file(src: Path, dst: Path) -> None:
    """dst as a hard link to src (no copy of the bytes), else a copy; replaces an older dst."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() and dst.samefile(src):  # --out inside the release folder, or an earlier import's link
        return
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _link_tree(src: Path, dst: Path) -> None:
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        _link_file(path, dst / path.relative_to(src))
