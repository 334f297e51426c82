"""LSTM text-to-mel: shapes, durations, speaking rate, padding invariance, normalisation, a few training steps."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tts.text2mel.losses import Text2MelLossWeights, binarization_weight, text2mel_loss
from tts.text2mel.model import (
    MEL_PAD_VALUE,
    PAD_ID,
    TEXT2MEL_PRESETS,
    BiLSTM,
    Text2Mel,
    Text2MelConfig,
    length_regulate,
    reverse_within_lengths,
    text2mel_config,
)
from vocoders.serialization import config_from_dict, config_to_dict

N_SYMBOLS = 30
N_MELS = 12
# Frames per token the duration predictor is set to emit in the speaking-rate test.
SET_FRAMES = 10


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny tensors gain nothing from intra-op threads, which only contend on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _model(seed: int = 0) -> Text2Mel:
    torch.manual_seed(seed)
    return Text2Mel(text2mel_config("tiny", N_SYMBOLS, N_MELS))


def _batch(token_lens: list[int], mel_lens: list[int], seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Padded random ``tokens (B, L)``, ``token_lens``, ``mels (B, n_mels, T)``, ``mel_lens``."""
    gen = torch.Generator().manual_seed(seed)
    tl, ml = torch.tensor(token_lens), torch.tensor(mel_lens)
    tokens = torch.randint(1, N_SYMBOLS, (len(token_lens), max(token_lens)), generator=gen)
    tokens = tokens.masked_fill(torch.arange(max(token_lens))[None] >= tl[:, None], PAD_ID)
    mels = torch.randn(len(token_lens), N_MELS, max(mel_lens), generator=gen) - 4.0
    mels = mels.masked_fill(torch.arange(max(mel_lens))[None, None] >= ml[:, None, None], MEL_PAD_VALUE)
    return tokens, tl, mels, ml


def _set_durations(model: Text2Mel, frames: int) -> None:
    """Make the duration predictor emit ``log(frames + 1)`` for every token."""
    with torch.no_grad():
        model.duration_proj.weight.zero_()
        model.duration_proj.bias.fill_(math.log(frames + 1))


def test_presets_and_config_round_trip() -> None:
    assert set(TEXT2MEL_PRESETS) == {"tiny", "small", "base"}
    for name in TEXT2MEL_PRESETS:
        cfg = text2mel_config(name, N_SYMBOLS, N_MELS)
        assert config_from_dict(Text2MelConfig, config_to_dict(cfg)) == cfg
    with pytest.raises(ValueError):
        text2mel_config("huge", N_SYMBOLS, N_MELS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_mels = 1  # type: ignore[misc]


def test_forward_shapes_and_durations_on_padded_batch() -> None:
    model = _model()
    tokens, tl, mels, ml = _batch([6, 4, 2], [25, 13, 9])
    out = model(tokens, tl, mels, ml)
    B, L, T = 3, 6, 25
    assert out.mel_pred.shape == out.mel_post.shape == (B, N_MELS, T)
    assert out.log_dur_pred.shape == out.durations.shape == (B, L)
    assert out.attn_soft.shape == out.attn_hard.shape == (B, T, L)
    assert out.attn_logprob.shape == (B, 1, T, L)
    assert out.token_mask.shape == (B, L) and out.mel_mask.shape == (B, T)
    assert torch.equal(out.durations.sum(dim=1), ml)
    assert ((out.durations >= 1) == out.token_mask).all()
    assert torch.equal(out.durations, out.attn_hard.sum(dim=1).long())
    assert (out.mel_post[1, :, 13:] == MEL_PAD_VALUE).all()
    assert (out.log_dur_pred[2, 2:] == 0).all()


def test_prior_durations_ignore_the_mel_content() -> None:
    model = _model()
    tokens, tl, mels, ml = _batch([7, 5], [30, 21])
    other = mels + 3.0 * torch.randn_like(mels)
    prior_a = model(tokens, tl, mels, ml, use_prior_durations=True).durations
    prior_b = model(tokens, tl, other, ml, use_prior_durations=True).durations
    assert torch.equal(prior_a, prior_b)
    assert torch.equal(prior_a.sum(dim=1), ml)
    # The prior spreads frames nearly evenly: no token gets more than twice its fair share.
    for b in range(2):
        fair = int(ml[b]) / int(tl[b])
        assert prior_a[b, : int(tl[b])].max() <= 2 * fair


def test_length_regulate_repeats_states_and_adds_positions() -> None:
    enc = torch.arange(6, dtype=torch.float32).reshape(1, 3, 2)  # (B, L, H)
    out = length_regulate(enc, torch.tensor([[2, 0, 3]]), n_frames=6)
    assert out.shape == (1, 6, 4)
    assert out[0, :, 0].tolist() == [0, 0, 4, 4, 4, 0]  # token 1 has no frames, frame 5 is padding
    torch.testing.assert_close(out[0, :5, 2], torch.tensor([0.25, 0.75, 1 / 6, 0.5, 5 / 6]))
    torch.testing.assert_close(out[0, :5, 3], torch.log(torch.tensor([2.0, 2, 3, 3, 3])))
    assert (out[0, 5] == 0).all()


def test_infer_shapes_and_speaking_rate() -> None:
    model = _model().eval()
    _set_durations(model, SET_FRAMES)
    tokens, tl, _, _ = _batch([5, 3], [1, 1])
    mel, mel_lens = model.infer(tokens, tl)
    assert mel.shape == (2, N_MELS, int(mel_lens.max()))
    assert mel_lens.tolist() == [5 * SET_FRAMES, 3 * SET_FRAMES]
    assert (mel[1, :, int(mel_lens[1]) :] == MEL_PAD_VALUE).all()
    _, fast_lens = model.infer(tokens, tl, speaking_rate=2.0)
    _, slow_lens = model.infer(tokens, tl, speaking_rate=0.5)
    assert fast_lens.tolist() == [5 * SET_FRAMES // 2, 3 * SET_FRAMES // 2]
    assert slow_lens.tolist() == [5 * SET_FRAMES * 2, 3 * SET_FRAMES * 2]
    with pytest.raises(ValueError):
        model.infer(tokens, tl, speaking_rate=0.0)


def test_infer_gives_every_token_at_least_one_frame() -> None:
    model = _model().eval()
    _set_durations(model, 0)
    tokens, tl, _, _ = _batch([4, 2], [1, 1])
    _, mel_lens = model.infer(tokens, tl, speaking_rate=3.0)
    assert mel_lens.tolist() == [4, 2]


def test_infer_is_padding_invariant() -> None:
    model = _model(seed=3)
    tokens, tl, mels, ml = _batch([9, 4, 6], [30, 14, 20], seed=5)
    # Move the batch-norm statistics and durations away from their defaults, so padding leaks would show.
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):
        total, _ = text2mel_loss(model(tokens, tl, mels, ml), mels, ml, tl, bin_weight=1.0)
        opt.zero_grad()
        total.backward()
        opt.step()
    model.eval()
    _set_durations(model, 3)
    with torch.no_grad():
        model.duration_proj.weight.normal_(std=0.3)
    batch_mel, batch_lens = model.infer(tokens, tl)
    for b in range(3):
        n = int(tl[b])
        alone_mel, alone_lens = model.infer(tokens[b : b + 1, :n], tl[b : b + 1])
        assert alone_lens.item() == batch_lens[b].item()
        torch.testing.assert_close(
            batch_mel[b : b + 1, :, : int(alone_lens)], alone_mel, atol=1e-4, rtol=1e-4
        )
    assert len(set(batch_lens.tolist())) > 1  # the test needs padding in the batch


def test_mel_normalisation_buffers_rescale_the_output() -> None:
    model = _model().eval()
    _set_durations(model, 4)
    tokens, tl, _, _ = _batch([5, 3], [1, 1])
    plain, lens = model.infer(tokens, tl)
    model.mel_mean.fill_(-5.0)
    model.mel_std.fill_(2.0)
    scaled, scaled_lens = model.infer(tokens, tl)
    assert torch.equal(lens, scaled_lens)
    real = (torch.arange(plain.shape[-1])[None] < lens[:, None]).unsqueeze(1).expand_as(plain)
    torch.testing.assert_close(scaled[real], plain[real] * 2.0 - 5.0)
    assert "mel_mean" in model.state_dict() and "mel_std" in model.state_dict()


def test_loss_parts_and_weighting() -> None:
    model = _model().eval()  # no dropout, so the rescaled pass below is comparable
    tokens, tl, mels, ml = _batch([6, 3], [20, 11])
    out = model(tokens, tl, mels, ml)
    weights = Text2MelLossWeights()
    total0, parts = text2mel_loss(out, mels, ml, tl, bin_weight=0.0)
    total1, _ = text2mel_loss(out, mels, ml, tl, bin_weight=1.0)
    assert set(parts) == {"mel", "postnet", "duration", "forward_sum", "binarization"}
    assert all(torch.isfinite(v) and v >= 0 for v in parts.values())
    expected = sum(getattr(weights, k) * parts[k] for k in ("mel", "postnet", "duration", "forward_sum"))
    torch.testing.assert_close(total0.detach(), expected)
    torch.testing.assert_close((total1 - total0).detach(), weights.binarization * parts["binarization"])
    # The mel losses live in normalised space: scaling data and model together leaves them unchanged.
    model.mel_std.fill_(3.0)
    scaled_out = model(tokens, tl, mels * 3.0, ml)
    _, scaled_parts = text2mel_loss(scaled_out, mels * 3.0, ml, tl, bin_weight=0.0)
    torch.testing.assert_close(scaled_parts["mel"], parts["mel"], atol=1e-4, rtol=1e-4)


def test_binarization_weight_schedule() -> None:
    assert binarization_weight(0, start=10, ramp_steps=4) == 0.0
    assert binarization_weight(9, start=10, ramp_steps=4) == 0.0
    assert binarization_weight(10, start=10, ramp_steps=4) == pytest.approx(0.25)
    assert binarization_weight(12, start=10, ramp_steps=4) == pytest.approx(0.75)
    assert binarization_weight(13, start=10, ramp_steps=4) == 1.0
    assert binarization_weight(500, start=10, ramp_steps=4) == 1.0
    assert binarization_weight(10, start=10, ramp_steps=0) == 1.0


def test_training_steps_reduce_the_loss() -> None:
    model = _model(seed=1)
    tokens, tl, mels, ml = _batch([8, 5], [32, 20], seed=2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses, mel_losses = [], []
    for step in range(30):
        bin_weight = binarization_weight(step, start=10, ramp_steps=10)
        total, parts = text2mel_loss(model(tokens, tl, mels, ml), mels, ml, tl, bin_weight=bin_weight)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(total.item())
        mel_losses.append(parts["mel"].item())
    assert all(math.isfinite(v) for v in losses)
    assert sum(losses[-3:]) / 3 < 0.7 * losses[0]
    assert mel_losses[-1] < 0.5 * mel_losses[0]


def test_reverse_within_lengths_keeps_padding_in_place() -> None:
    x = torch.arange(10, dtype=torch.float32).reshape(2, 5, 1)
    out = reverse_within_lengths(x, torch.tensor([5, 3]))
    assert out[:, :, 0].tolist() == [[4, 3, 2, 1, 0], [7, 6, 5, 8, 9]]
    assert torch.equal(reverse_within_lengths(out, torch.tensor([5, 3])), x)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_bilstm_equals_packed_bidirectional_lstm(num_layers: int) -> None:
    torch.manual_seed(0)
    ours = BiLSTM(5, 4, num_layers=num_layers)
    reference = torch.nn.LSTM(5, 4, num_layers=num_layers, batch_first=True, bidirectional=True)
    with torch.no_grad():
        for layer in range(num_layers):
            for suffix, module in (
                ("", ours.forward_layers[layer]),
                ("_reverse", ours.backward_layers[layer]),
            ):
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    getattr(reference, f"{name}_l{layer}{suffix}").copy_(getattr(module, f"{name}_l0"))
    lengths = torch.tensor([7, 4, 1])
    x = torch.randn(3, 7, 5)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(reference(packed)[0], batch_first=True, total_length=7)
    torch.testing.assert_close(ours(x, lengths), expected)
