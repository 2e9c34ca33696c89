"""Whisper-tiny encoder for the audio features: find and load it, read its levels at 50 Hz.

Weights, never downloaded: a Hugging Face folder (config.json + model.safetensors of
openai/whisper-tiny) or OpenAI's own checkpoint ``tiny.pt`` (a dict with ``dims`` and
``model_state_dict``, the file the release ships as audio_processor/tiny.pt), loaded with
torch.load(weights_only=True) into transformers' WhisperEncoder by a fixed name map.

Levels: the encoder's input embedding and every block's output: 5 x 384 for tiny. Two ways
(config ``model.whisper_levels``):
- "release" (release: src/models/whisper/audio2feature.py, whisper/transcribe.py, whisper/model.py):
  one log-mel over the whole clip (torch STFT, its max - 8 floor taken clip-wide), cut into
  30 s windows of 3000 mel frames, each zero-padded in log-mel space, every level taken as the
  blocks return it: the last one BEFORE the encoder's final LayerNorm (ln_post).
- "transformers": transformers' feature extractor per 30 s of audio and its hidden states,
  whose last level is AFTER the final LayerNorm.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from harness.errors import HarnessError

if TYPE_CHECKING:  # transformers is imported only when Whisper is used
    from transformers import WhisperFeatureExtractor
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

OPENAI_FILE = "tiny.pt"
WHISPER_FILES = "config.json, preprocessor_config.json and model.safetensors of openai/whisper-tiny"
SAMPLE_RATE, N_FFT, HOP = 16000, 400, 160  # Whisper's front end: 25 ms windows, 10 ms hop
LEVEL_CHOICES = ("release", "transformers")

# OpenAI encoder parameter names -> transformers WhisperEncoder names, per block and at the top.
_BLOCK_NAMES = {
    "attn.query": "self_attn.q_proj", "attn.key": "self_attn.k_proj", "attn.value": "self_attn.v_proj",
    "attn.out": "self_attn.out_proj", "attn_ln": "self_attn_layer_norm",
    "mlp.0": "fc1", "mlp.2": "fc2", "mlp_ln": "final_layer_norm",
}
_TOP_NAMES = {"conv1": "conv1", "conv2": "conv2", "ln_post": "layer_norm"}
_NO_BIAS = {"attn.key"}  # the key projection has no bias in either implementation


def _name_map(n_layers: int) -> dict[str, str]:
    """Every OpenAI encoder key -> its transformers WhisperEncoder key."""
    names = {"encoder.positional_embedding": "embed_positions.weight"}
    for old, new in _TOP_NAMES.items():
        names |= {f"encoder.{old}.{kind}": f"{new}.{kind}" for kind in ("weight", "bias")}
    for i in range(n_layers):
        for old, new in _BLOCK_NAMES.items():
            kinds = ("weight",) if old in _NO_BIAS else ("weight", "bias")
            names |= {f"encoder.blocks.{i}.{old}.{kind}": f"layers.{i}.{new}.{kind}" for kind in kinds}
    return names


def resolve_whisper(path: str | Path | None) -> Path:
    """Explicit path -> $HARNESS_WEIGHTS/whisper-tiny: a Hugging Face folder, a tiny.pt, or a folder holding one."""
    if path is None:
        base = os.environ.get("HARNESS_WEIGHTS")
        if not base:
            raise HarnessError(
                f"audio encoder 'whisper' needs Whisper-tiny weights: put the {WHISPER_FILES} (or OpenAI's "
                f"{OPENAI_FILE}) in $HARNESS_WEIGHTS/whisper-tiny (set HARNESS_WEIGHTS) or pass its folder"
            )
        path = Path(base) / "whisper-tiny"
    path = Path(path)
    if path.is_file() and path.suffix == ".pt":
        return path
    if (path / "config.json").is_file():
        return path
    if (path / OPENAI_FILE).is_file():
        return path / OPENAI_FILE
    raise HarnessError(
        f"{path}: Whisper-tiny weights not found: put the {WHISPER_FILES} in this folder, or OpenAI's {OPENAI_FILE}"
    )


def openai_encoder_state(state: dict[str, torch.Tensor], n_layers: int) -> dict[str, torch.Tensor]:
    """OpenAI Whisper state dict -> transformers WhisperEncoder state dict (float32); decoder keys dropped.

    Raises KeyError for a missing encoder key, ValueError for an encoder key the map does not know.
    """
    names = _name_map(n_layers)
    unknown = sorted(k for k in state if k.startswith("encoder.") and k not in names)
    if unknown:
        raise ValueError(f"unexpected encoder keys {unknown[:3]}")
    return {new: state[old].float() for old, new in names.items()}


def _load_openai(file: Path) -> WhisperEncoder:
    from transformers import WhisperConfig
    from transformers.models.whisper.modeling_whisper import WhisperEncoder

    checkpoint = torch.load(file, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not {"dims", "model_state_dict"} <= set(checkpoint):
        raise HarnessError(f"{file}: not an OpenAI Whisper checkpoint (needs 'dims' and 'model_state_dict')")
    dims, state = checkpoint["dims"], checkpoint["model_state_dict"]
    config = WhisperConfig(
        num_mel_bins=dims["n_mels"], max_source_positions=dims["n_audio_ctx"], d_model=dims["n_audio_state"],
        encoder_attention_heads=dims["n_audio_head"], encoder_layers=dims["n_audio_layer"],
        encoder_ffn_dim=4 * dims["n_audio_state"],  # OpenAI's MLP width
    )
    encoder = WhisperEncoder(config)
    try:
        encoder.load_state_dict(openai_encoder_state(state, dims["n_audio_layer"]), strict=True)
    except KeyError as exc:
        raise HarnessError(f"{file}: missing encoder key {exc.args[0]}") from None
    except (ValueError, RuntimeError) as exc:  # unknown keys; shapes that do not match its dims
        raise HarnessError(f"{file}: does not match its dims: {str(exc).splitlines()[-1].strip()[:160]}") from None
    return encoder


@lru_cache(maxsize=2)
def load_whisper(path: str) -> tuple[WhisperEncoder, WhisperFeatureExtractor]:
    """The encoder (eval mode) of a resolved path (see resolve_whisper) and transformers' feature extractor."""
    from transformers import WhisperFeatureExtractor, WhisperModel

    file = Path(path)
    if file.suffix == ".pt":
        return _load_openai(file).eval(), WhisperFeatureExtractor(feature_size=80)
    try:
        extractor = WhisperFeatureExtractor.from_pretrained(path)
        encoder = WhisperModel.from_pretrained(path).get_encoder().eval()
    except (OSError, ValueError) as exc:
        raise HarnessError(f"{path}: cannot load Whisper-tiny ({exc.__class__.__name__}); need the {WHISPER_FILES}") from None
    return encoder, extractor


def encoder_levels(encoder: WhisperEncoder, mel: torch.Tensor, after_final_norm: bool) -> torch.Tensor:
    """Every level of one window: mel (1, 80, 2 ctx) -> (ctx, layers + 1, D).

    Level 0 is the input embedding (convs + positions), level k the output of block k; the last
    one goes through the final LayerNorm only when after_final_norm (transformers' hidden states).
    """
    x = F.gelu(encoder.conv1(mel))
    x = F.gelu(encoder.conv2(x)).permute(0, 2, 1)  # (1, ctx, D)
    x = x + encoder.embed_positions.weight[: x.shape[1]]
    levels = [x]
    for layer in encoder.layers:
        x = layer(x, None)
        levels.append(x)
    if after_final_norm:
        levels[-1] = encoder.layer_norm(x)
    return torch.stack(levels, dim=2)[0]


@lru_cache(maxsize=1)
def _mel_filters() -> torch.Tensor:
    """Slaney-scale 80 x 201 filters, the bank Whisper's front end uses (librosa's, via transformers)."""
    from transformers import WhisperFeatureExtractor

    return torch.from_numpy(np.asarray(WhisperFeatureExtractor(feature_size=80).mel_filters, np.float32).T)


def release_log_mel(audio: np.ndarray) -> torch.Tensor:
    """Whole-clip log-mel as the release computes it: 16 kHz mono -> float32 (80, len // 160)."""
    wave = torch.from_numpy(np.asarray(audio, np.float32).reshape(-1))
    wave = F.pad(wave, (0, max(0, N_FFT - len(wave))))  # a too-short clip (< 25 ms) gets one window
    stft = torch.stft(wave, N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True)
    power = stft[:, :-1].abs() ** 2  # (201, T): the last frame is dropped, as Whisper does
    log_spec = torch.clamp(_mel_filters() @ power, min=1e-10).log10()
    log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)  # dynamic range floor over the whole clip
    return (log_spec + 4.0) / 4.0


@torch.no_grad()
def whisper_levels_50hz(audio: np.ndarray, path: str | Path | None, how: str) -> np.ndarray:
    """All levels on the 50 Hz grid for 16 kHz mono audio: float32 (T, layers + 1, D)."""
    if how not in LEVEL_CHOICES:
        raise ValueError(f"unknown whisper_levels {how!r}; choose from {LEVEL_CHOICES}")
    encoder, extractor = load_whisper(str(resolve_whisper(path)))
    window = 2 * encoder.config.max_source_positions  # mel frames per encoder window (3000 = 30 s)
    parts = []
    if how == "release":
        mel = release_log_mel(audio)  # (80, N)
        for seek in range(0, max(mel.shape[1], 1), window):
            piece = mel[:, seek : seek + window]
            padded = F.pad(piece, (0, window - piece.shape[1]))  # zeros in log-mel space (release pad_or_trim)
            parts.append(encoder_levels(encoder, padded[None], after_final_norm=False)[: piece.shape[1] // 2])
    else:
        chunk = window * HOP  # audio samples per window
        for start in range(0, max(len(audio), 1), chunk):
            piece = audio[start : start + chunk]
            mel = extractor(piece, sampling_rate=SAMPLE_RATE, return_tensors="pt").input_features  # (1, 80, 3000)
            levels = encoder_levels(encoder, mel, after_final_norm=True)
            parts.append(levels[: int(np.ceil(len(piece) / (2 * HOP))) + 1])
    return torch.cat(parts).numpy().astype(np.float32)
