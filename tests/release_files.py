"""A random EchoMimicV2 release folder in the release's layout, names and shapes (for import tests).

Names and shapes come from tests/data/echomimicv2_release_keys.json (read from the
release's classes; docs/release.md). Every tensor of the big state dicts is one value
expanded to its shape: torch.save stores one element, so the files stay tiny, and the value
(a hash of file and key) tells which release tensor ended up where. Position tables are the
true sinusoids; the pose encoder and Whisper get real random tensors.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pytest
import torch

KEYS_JSON = Path(__file__).parent / "data" / "echomimicv2_release_keys.json"
WHISPER_TINY_DIMS = {"n_mels": 80, "n_vocab": 51865, "n_audio_ctx": 1500, "n_audio_state": 384, "n_audio_head": 6,
                     "n_audio_layer": 4, "n_text_ctx": 448, "n_text_state": 384, "n_text_head": 6, "n_text_layer": 4}


def release_keys() -> dict[str, dict[str, list[int]]]:
    """{'reference_unet': {key: shape}, 'denoising_unet': ..., 'pose_encoder': ...}, or skip the test."""
    if not KEYS_JSON.is_file():
        pytest.skip(f"{KEYS_JSON} is absent")
    data = json.loads(KEYS_JSON.read_text())
    return {part: data[part] for part in ("reference_unet", "denoising_unet", "pose_encoder")}


def key_value(file: str, key: str, shape: list[int] | tuple[int, ...]) -> float:
    """The constant a file's key is filled with, distinct per (file, key): u in [-1, 1) from a hash,
    divided by the fan-in for weights (so activations stay finite through 2.2 B constant weights),
    0.1 u for vectors (biases, norms)."""
    digest = int.from_bytes(hashlib.blake2b(f"{file}:{key}".encode(), digest_size=8).digest(), "big")
    u = 2 * digest / 2**64 - 1
    return u / math.prod(shape[1:]) if len(shape) > 1 else 0.1 * u


def sinusoid_table(length: int, dim: int) -> torch.Tensor:
    """AnimateDiff's position table (1, length, dim), written out here independently."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(1, length, dim)
    table[0, :, 0::2] = torch.sin(position * freq)
    table[0, :, 1::2] = torch.cos(position * freq)
    return table


def constant_state(file: str, shapes: dict[str, list[int]]) -> dict[str, torch.Tensor]:
    """Each key: its key_value expanded to its shape (position tables: the true sinusoid)."""
    state = {}
    for key, shape in shapes.items():
        if key.endswith("pos_encoder.pe"):
            state[key] = sinusoid_table(shape[1], shape[2])
        else:
            state[key] = torch.tensor(key_value(file, key, shape)).expand(*shape)
    return state


def write_release(root: Path, motion_in_denoiser: bool = False, seed: int = 0) -> Path:
    """The release folder: the four .pth files, a small sd-vae-ft-mse folder, audio_processor/tiny.pt.

    motion_in_denoiser: denoising_unet.pth also holds the motion modules (the import must accept
    either split; by default the motion modules are only in motion_module.pth).
    """
    keys = release_keys()
    root.mkdir(parents=True, exist_ok=True)
    torch.save(constant_state("reference_unet.pth", keys["reference_unet"]), root / "reference_unet.pth")
    motion = {k: s for k, s in keys["denoising_unet"].items() if ".motion_modules." in k}
    spatial = {k: s for k, s in keys["denoising_unet"].items() if k not in motion}
    torch.save(constant_state("motion_module.pth", motion), root / "motion_module.pth")
    denoiser = {**spatial, **motion} if motion_in_denoiser else spatial
    torch.save(constant_state("denoising_unet.pth", denoiser), root / "denoising_unet.pth")
    g = torch.Generator().manual_seed(seed)
    pose = {k: torch.randn(*s, generator=g) * 0.05 for k, s in keys["pose_encoder"].items()}
    torch.save(pose, root / "pose_encoder.pth")
    write_small_vae(root / "sd-vae-ft-mse")
    write_whisper_tiny(root / "audio_processor" / "tiny.pt", seed)
    return root


def write_small_vae(folder: Path) -> None:
    """A diffusers AutoencoderKL folder with sd-vae-ft-mse's structure (8x, 4 latent channels), narrow widths."""
    from diffusers import AutoencoderKL

    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=(32, 32, 32, 32), down_block_types=("DownEncoderBlock2D",) * 4,
                        up_block_types=("UpDecoderBlock2D",) * 4, layers_per_block=1, latent_channels=4, norm_num_groups=32)
    vae.save_pretrained(folder)


def write_whisper_tiny(path: Path, seed: int = 0) -> None:
    """OpenAI's tiny.pt format ({'dims', 'model_state_dict'}), random encoder weights (no decoder)."""
    d, n = WHISPER_TINY_DIMS["n_audio_state"], WHISPER_TINY_DIMS["n_audio_layer"]
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * 0.02

    state = {"encoder.conv1.weight": rand(d, 80, 3), "encoder.conv1.bias": rand(d),
             "encoder.conv2.weight": rand(d, d, 3), "encoder.conv2.bias": rand(d),
             "encoder.positional_embedding": rand(1500, d),
             "encoder.ln_post.weight": torch.ones(d), "encoder.ln_post.bias": torch.zeros(d)}
    for i in range(n):
        block = f"encoder.blocks.{i}"
        for name in ("query", "value", "out"):
            state |= {f"{block}.attn.{name}.weight": rand(d, d), f"{block}.attn.{name}.bias": rand(d)}
        state[f"{block}.attn.key.weight"] = rand(d, d)
        state |= {f"{block}.mlp.0.weight": rand(4 * d, d), f"{block}.mlp.0.bias": rand(4 * d),
                  f"{block}.mlp.2.weight": rand(d, 4 * d), f"{block}.mlp.2.bias": rand(d)}
        for ln in ("attn_ln", "mlp_ln"):
            state |= {f"{block}.{ln}.weight": torch.ones(d), f"{block}.{ln}.bias": torch.zeros(d)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"dims": dict(WHISPER_TINY_DIMS), "model_state_dict": state}, path)


@pytest.fixture(scope="session")
def release_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random release folder, written once per session (skips without the keys JSON)."""
    release_keys()
    return write_release(tmp_path_factory.mktemp("release") / "pretrained_weights")


@pytest.fixture(scope="session")
def imported_release(release_folder: Path, tmp_path_factory: pytest.TempPathFactory):
    """The random release imported once per session (an ImportResult)."""
    from harness.model.release.importer import import_release

    return import_release(release_folder, tmp_path_factory.mktemp("imported") / "echomimicv2")
