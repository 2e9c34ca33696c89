"""The release's ``pretrained_weights`` folder as its README lays it out, and file hashes.

    pretrained_weights/
        reference_unet.pth      2D reference UNet (diffusers names)
        denoising_unet.pth      the 3D denoiser's spatial layers (diffusers 2D names)
        motion_module.pth       the denoiser's motion modules (original AnimateDiff names)
        pose_encoder.pth        pose encoder (conv_in, blocks.0-5, conv_out)
        sd-vae-ft-mse/          stabilityai/sd-vae-ft-mse (a diffusers folder)
        audio_processor/tiny.pt OpenAI's Whisper-tiny (tiny.pt at the top is accepted too)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

STATE_FILES = ("reference_unet.pth", "denoising_unet.pth", "motion_module.pth", "pose_encoder.pth")
VAE_DIR = "sd-vae-ft-mse"
VAE_WEIGHT_FILES = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")
WHISPER_PLACES = ("audio_processor/tiny.pt", "tiny.pt")
# OpenAI publishes tiny.pt under its sha256 (the URL the release's README links names it).
OPENAI_TINY_SHA256 = "65147644a518d12f04e32d6f3b26facc3f8dd46e5390956a9424a650c0ce22b9"


@dataclass(frozen=True)
class ReleaseFolder:
    """The located files of one release folder (paths absolute)."""

    root: Path
    state_files: dict[str, Path]  # STATE_FILES name -> path
    vae_dir: Path
    whisper: Path

    def inputs(self) -> list[Path]:
        """Every input file, for hashing: the four state dicts, the VAE folder's files, tiny.pt."""
        vae_files = sorted(p for p in self.vae_dir.rglob("*") if p.is_file())
        return [*self.state_files.values(), *vae_files, self.whisper]


def locate(root: Path) -> ReleaseFolder:
    """Find every file of the layout under root; a missing one is one line naming it."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise HarnessError(f"{root}: no such folder (the release's pretrained_weights folder)")
    files = {}
    for name in STATE_FILES:
        path = root / name
        if not path.is_file():
            raise HarnessError(f"{path}: missing (an EchoMimicV2 pretrained_weights folder has {', '.join(STATE_FILES)}, "
                               f"{VAE_DIR}/ and audio_processor/tiny.pt)")
        files[name] = path
    return ReleaseFolder(root, files, _vae_dir(root), _whisper(root))


def _vae_dir(root: Path) -> Path:
    vae = root / VAE_DIR
    if not (vae / "config.json").is_file():
        raise HarnessError(f"{vae / 'config.json'}: missing (the release ships stabilityai/sd-vae-ft-mse as {VAE_DIR}/)")
    if not any((vae / name).is_file() for name in VAE_WEIGHT_FILES):
        raise HarnessError(f"{vae}: no {' or '.join(VAE_WEIGHT_FILES)} (the VAE's weights)")
    return vae


def _whisper(root: Path) -> Path:
    for place in WHISPER_PLACES:
        if (root / place).is_file():
            return root / place
    raise HarnessError(f"{root / WHISPER_PLACES[0]}: missing (OpenAI's Whisper-tiny tiny.pt; {WHISPER_PLACES[1]} at the top is accepted too)")


