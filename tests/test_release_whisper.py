"""Whisper as the release uses it: OpenAI's tiny.pt loads; the 5th level is taken before ln_post.

References are computed here, from the raw tensors (an OpenAI-layout forward written out below)
or from transformers' own WhisperEncoder with a hook on its last block.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from harness.data.audio_features import audio_cache_name, compute_audio_features
from harness.data.whisper_encoder import load_whisper, release_log_mel, resolve_whisper, whisper_levels_50hz
from harness.errors import HarnessError

SR = 16000
DIMS = dict(n_mels=80, n_audio_ctx=50, n_audio_state=32, n_audio_head=4, n_audio_layer=4,
            n_vocab=64, n_text_ctx=8, n_text_state=32, n_text_head=4, n_text_layer=1)


def _openai_state(dims: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random weights under OpenAI Whisper's parameter names (encoder + a decoder key that must be ignored)."""
    g = torch.Generator().manual_seed(seed)
    d, n_mels = dims["n_audio_state"], dims["n_mels"]

    def r(*shape: int, scale: float = 0.1) -> torch.Tensor:
        return torch.randn(*shape, generator=g) * scale

    state = {"encoder.conv1.weight": r(d, n_mels, 3), "encoder.conv1.bias": r(d),
             "encoder.conv2.weight": r(d, d, 3), "encoder.conv2.bias": r(d),
             "encoder.positional_embedding": r(dims["n_audio_ctx"], d),
             "encoder.ln_post.weight": 1 + r(d), "encoder.ln_post.bias": r(d),
             "decoder.token_embedding.weight": r(dims["n_vocab"], d)}
    for i in range(dims["n_audio_layer"]):
        p = f"encoder.blocks.{i}"
        state |= {f"{p}.attn.query.weight": r(d, d), f"{p}.attn.query.bias": r(d), f"{p}.attn.key.weight": r(d, d),
                  f"{p}.attn.value.weight": r(d, d), f"{p}.attn.value.bias": r(d),
                  f"{p}.attn.out.weight": r(d, d), f"{p}.attn.out.bias": r(d),
                  f"{p}.attn_ln.weight": 1 + r(d), f"{p}.attn_ln.bias": r(d),
                  f"{p}.mlp.0.weight": r(4 * d, d), f"{p}.mlp.0.bias": r(4 * d),
                  f"{p}.mlp.2.weight": r(d, 4 * d), f"{p}.mlp.2.bias": r(d),
                  f"{p}.mlp_ln.weight": 1 + r(d), f"{p}.mlp_ln.bias": r(d)}
    return {k: v.half() for k, v in state.items()}  # OpenAI ships fp16


def _write_tiny_pt(path: Path, dims: dict = DIMS, seed: int = 0) -> dict[str, torch.Tensor]:
    state = _openai_state(dims, seed)
    torch.save({"dims": dict(dims), "model_state_dict": state}, path)
    return {k: v.float() for k, v in state.items()}


def _openai_forward(state: dict[str, torch.Tensor], dims: dict, mel: torch.Tensor) -> tuple[list, torch.Tensor]:
    """OpenAI's AudioEncoder written out: mel (80, 2 ctx) -> (levels [(ctx, D)] x 5, ln_post output)."""
    d, heads = dims["n_audio_state"], dims["n_audio_head"]
    s = lambda k: state[f"encoder.{k}"]  # noqa: E731
    x = F.gelu(F.conv1d(mel[None], s("conv1.weight"), s("conv1.bias"), padding=1))
    x = F.gelu(F.conv1d(x, s("conv2.weight"), s("conv2.bias"), stride=2, padding=1))[0].T + s("positional_embedding")
    levels = [x]
    for i in range(dims["n_audio_layer"]):
        b = lambda k: s(f"blocks.{i}.{k}")  # noqa: E731, B023
        h = F.layer_norm(x, (d,), b("attn_ln.weight"), b("attn_ln.bias"))
        q = (h @ b("attn.query.weight").T + b("attn.query.bias")).view(-1, heads, d // heads).transpose(0, 1)
        k = (h @ b("attn.key.weight").T).view(-1, heads, d // heads).transpose(0, 1)
        v = (h @ b("attn.value.weight").T + b("attn.value.bias")).view(-1, heads, d // heads).transpose(0, 1)
        att = torch.softmax(q @ k.transpose(1, 2) / (d // heads) ** 0.5, dim=-1) @ v  # (heads, T, d/heads)
        x = x + att.transpose(0, 1).reshape(-1, d) @ b("attn.out.weight").T + b("attn.out.bias")
        h = F.layer_norm(x, (d,), b("mlp_ln.weight"), b("mlp_ln.bias"))
        x = x + F.gelu(h @ b("mlp.0.weight").T + b("mlp.0.bias")) @ b("mlp.2.weight").T + b("mlp.2.bias")
        levels.append(x)
    return levels, F.layer_norm(x, (d,), s("ln_post.weight"), s("ln_post.bias"))


def _speech_like(seconds: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    envelope = np.repeat(rng.uniform(0.05, 1.0, n // 800 + 1), 800)[:n]
    return (rng.normal(0, 0.2, n) * envelope).astype(np.float32)


def test_tiny_pt_levels_match_openai_encoder_fifth_before_ln_post(tmp_path: Path) -> None:
    state = _write_tiny_pt(tmp_path / "tiny.pt")
    audio = _speech_like(2.5)  # 250 mel frames -> windows of 100 (ctx 50): 100 + 100 + 50
    grid = whisper_levels_50hz(audio, tmp_path, "release")  # a folder holding tiny.pt
    assert grid.shape == (125, 5, 32)
    mel = release_log_mel(audio)
    assert mel.shape == (80, 250)
    row = 0
    for seek in (0, 100, 200):
        piece = mel[:, seek : seek + 100]
        levels, after_ln = _openai_forward(state, DIMS, F.pad(piece, (0, 100 - piece.shape[1])))
        keep = piece.shape[1] // 2
        for level in range(5):
            np.testing.assert_allclose(grid[row : row + keep, level], levels[level][:keep].numpy(), atol=2e-4)
        assert not np.allclose(grid[row : row + keep, 4], after_ln[:keep].numpy(), atol=1e-2)  # not after ln_post
        row += keep


def test_transformers_levels_take_the_fifth_after_ln_post(tmp_path: Path) -> None:
    state = _write_tiny_pt(tmp_path / "tiny.pt")
    encoder, _ = load_whisper(str(tmp_path / "tiny.pt"))
    mel = F.pad(release_log_mel(_speech_like(0.6)), (0, 40))  # (80, 100)
    from harness.data.whisper_encoder import encoder_levels

    with torch.no_grad():
        ours = encoder_levels(encoder, mel[None], after_final_norm=True)
    levels, after_ln = _openai_forward(state, DIMS, mel)
    np.testing.assert_allclose(ours[:, 4].numpy(), after_ln.numpy(), atol=2e-4)
    np.testing.assert_allclose(ours[:, 3].numpy(), levels[3].numpy(), atol=2e-4)


def test_hugging_face_folder_fifth_level_is_last_block_before_final_layernorm(tmp_path: Path) -> None:
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperModel

    torch.manual_seed(0)
    config = WhisperConfig(d_model=32, encoder_layers=4, encoder_attention_heads=4, encoder_ffn_dim=64,
                           decoder_layers=1, decoder_attention_heads=4, decoder_ffn_dim=64, vocab_size=64,
                           max_source_positions=50, max_target_positions=16, pad_token_id=0, bos_token_id=1,
                           eos_token_id=2, decoder_start_token_id=1)
    model = WhisperModel(config).eval()
    with torch.no_grad():  # a final LayerNorm that is not the identity
        model.encoder.layer_norm.weight.normal_(1.0, 0.3)
        model.encoder.layer_norm.bias.normal_(0.0, 0.3)
    model.save_pretrained(tmp_path)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(tmp_path)
    audio = _speech_like(1.6)  # 160 mel frames: windows 100 + 60
    grid = whisper_levels_50hz(audio, tmp_path, "release")
    assert grid.shape == (80, 5, 32)

    captured: list[torch.Tensor] = []
    hook = model.encoder.layers[-1].register_forward_hook(lambda m, i, o: captured.append(o[0] if isinstance(o, tuple) else o))
    mel = release_log_mel(audio)
    with torch.no_grad():
        out = model.encoder(mel[None, :, :100], output_hidden_states=True)
    hook.remove()
    last_block = captured[0][0]  # (50, 32): the last block's output, before encoder.layer_norm
    np.testing.assert_allclose(grid[:50, 4], last_block.numpy(), atol=1e-4)
    for level in range(4):
        np.testing.assert_allclose(grid[:50, level], out.hidden_states[level][0].numpy(), atol=1e-4)
    assert not np.allclose(grid[:50, 4], out.last_hidden_state[0].numpy(), atol=1e-2)


def test_release_log_mel_is_whispers_front_end_over_the_whole_clip() -> None:
    from transformers import WhisperFeatureExtractor

    audio = _speech_like(2.0)
    ours = release_log_mel(audio).numpy()  # (80, 200)
    theirs = WhisperFeatureExtractor(feature_size=80)(audio, sampling_rate=SR, return_tensors="np").input_features[0]
    # Same formula; frames whose window lies inside the clip agree (the extractor pads the clip to 30 s).
    np.testing.assert_allclose(ours[:, :-2], theirs[:, : ours.shape[1] - 2], atol=2e-3)
    loud_then_quiet = np.concatenate([audio, audio * 1e-6])
    mel = release_log_mel(loud_then_quiet).numpy()
    assert mel.min() == pytest.approx(mel.max() - 2.0, abs=1e-4)  # one max - 8 floor (in log10 units / 4) for the clip


def test_whisper_features_from_tiny_pt_and_cache_names(tmp_path: Path) -> None:
    dims = dict(DIMS, n_audio_state=384, n_audio_head=6, n_audio_ctx=1500)  # Whisper-tiny's encoder shape
    _write_tiny_pt(tmp_path / "tiny.pt", dims)
    feats = compute_audio_features(_speech_like(1.0), SR, 24, 24, "whisper", tmp_path / "tiny.pt", "release")
    assert feats.shape == (24, 50, 384) and np.isfinite(feats).all()
    assert audio_cache_name("whisper", "release") == "audio_whisper_release.npy"
    assert audio_cache_name("whisper", "transformers") == "audio_whisper.npy"
    assert audio_cache_name("mel", "release") == "audio_mel.npy"


def test_tiny_pt_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match=r"empty: Whisper-tiny weights not found: .*tiny\.pt"):
        resolve_whisper(tmp_path / "empty")
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, foreign)
    with pytest.raises(HarnessError, match=r"foreign\.pt: not an OpenAI Whisper checkpoint"):
        load_whisper(str(foreign))
    state = _openai_state(DIMS)
    state["encoder.conv1.weight"] = torch.zeros(32, 80, 5)
    torch.save({"dims": DIMS, "model_state_dict": state}, tmp_path / "shape.pt")
    with pytest.raises(HarnessError, match=r"shape\.pt: does not match its dims"):
        load_whisper(str(tmp_path / "shape.pt"))
    del state["encoder.conv1.weight"]
    torch.save({"dims": DIMS, "model_state_dict": state}, tmp_path / "missing.pt")
    with pytest.raises(HarnessError, match=r"missing\.pt: missing encoder key encoder\.conv1\.weight"):
        load_whisper(str(tmp_path / "missing.pt"))
