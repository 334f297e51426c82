"""LSTM text-to-mel with learned durations: non-autoregressive, one pass per sentence.

tokens -> embedding -> conv stack -> BiLSTM encoder -> (durations) length regulator -> BiLSTM
decoder -> linear -> mel, refined by a residual conv postnet. In training the durations come from
the aligner (:mod:`tts.alignment`) via monotonic alignment search; at inference from the duration
predictor, scaled by the speaking rate. Mels are predicted in a normalised space (``mel_mean``,
``mel_std`` buffers set from the training data) and returned as HiFi-GAN-convention log-mels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from tts.alignment import AlignmentEncoder, batch_prior, durations_from_path, maximum_path

logger = logging.getLogger(__name__)

PAD_ID = 0
# Per-frame features appended to the expanded encoder output: position within the token (0..1)
# and log duration of the token; they tell an LSTM decoder where it is inside each phoneme.
N_POSITION_FEATURES = 2


@dataclass(frozen=True)
class Text2MelConfig:
    """Hyperparameters of :class:`Text2Mel`."""

    n_symbols: int  # size of the phoneme symbol table
    n_mels: int = 80  # output mel bands (the voice's AudioConfig.n_mels)
    embed_dim: int = 256  # phoneme embedding width
    encoder_conv_layers: int = 3  # conv stack before the encoder LSTM (Tacotron 2)
    encoder_kernel: int = 5  # conv kernel over phonemes
    encoder_hidden: int = 256  # BiLSTM output width (half per direction)
    duration_hidden: int = 256  # duration predictor conv width
    duration_kernel: int = 3  # duration predictor conv kernel
    decoder_hidden: int = 256  # BiLSTM decoder output width (half per direction)
    decoder_layers: int = 2  # decoder LSTM layers
    postnet_channels: int = 256  # postnet conv width
    postnet_layers: int = 5  # postnet conv layers (Tacotron 2)
    postnet_kernel: int = 5  # postnet conv kernel over frames
    attn_dim: int = 80  # aligner projection width
    dropout: float = 0.1  # dropout in the conv stacks

    def __post_init__(self) -> None:
        if self.encoder_hidden % 2 or self.decoder_hidden % 2:
            raise ValueError("encoder_hidden and decoder_hidden must be even (two LSTM directions)")


TEXT2MEL_PRESETS: dict[str, dict[str, int]] = {
    # Unit tests.
    "tiny": dict(embed_dim=16, encoder_hidden=16, duration_hidden=16, decoder_hidden=16, decoder_layers=1,
                 postnet_channels=16, postnet_layers=2, attn_dim=8),
    # Two CPU cores: about a second per batch-16 step.
    "small": dict(embed_dim=192, encoder_hidden=256, duration_hidden=192, decoder_hidden=256, decoder_layers=2,
                  postnet_channels=192, postnet_layers=5, attn_dim=80),
    # GPU training.
    "base": dict(embed_dim=384, encoder_hidden=512, duration_hidden=256, decoder_hidden=768, decoder_layers=2,
                 postnet_channels=512, postnet_layers=5, attn_dim=80),
}


def text2mel_config(name: str, n_symbols: int, n_mels: int = 80) -> Text2MelConfig:
    if name not in TEXT2MEL_PRESETS:
        raise ValueError(f"unknown text2mel preset {name!r}; choose one of {sorted(TEXT2MEL_PRESETS)}")
    return Text2MelConfig(n_symbols=n_symbols, n_mels=n_mels, **TEXT2MEL_PRESETS[name])


@dataclass
class Text2MelOutput:
    """Training outputs; mels are in the model's normalised space."""

    mel_pred: torch.Tensor  # (B, n_mels, T) decoder output
    mel_post: torch.Tensor  # (B, n_mels, T) after the postnet
    mel_target: torch.Tensor  # (B, n_mels, T) the normalised target
    log_dur_pred: torch.Tensor  # (B, L)
    durations: torch.Tensor  # (B, L) hard durations from MAS
    attn_soft: torch.Tensor  # (B, T, L)
    attn_hard: torch.Tensor  # (B, T, L)
    attn_logprob: torch.Tensor  # (B, 1, T, L)
    token_mask: torch.Tensor  # (B, L) True on real tokens
    mel_mask: torch.Tensor  # (B, T) True on real frames


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B,)`` -> ``(B, max_len)`` True where the position is inside the length."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


def _conv_block(c_in: int, c_out: int, kernel: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.BatchNorm1d(c_out), nn.ReLU(), nn.Dropout(dropout)
    )


def _run_lstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """LSTM over padded ``x`` ``(B, T, C)`` with packing, so padding never leaks into real steps."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = lstm(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
    return out


class Text2Mel(nn.Module):
    def __init__(self, cfg: Text2MelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.n_symbols, cfg.embed_dim, padding_idx=PAD_ID)
        self.encoder_convs = nn.Sequential(
            *[_conv_block(cfg.embed_dim, cfg.embed_dim, cfg.encoder_kernel, cfg.dropout)
              for _ in range(cfg.encoder_conv_layers)]
        )
        self.encoder_lstm = nn.LSTM(cfg.embed_dim, cfg.encoder_hidden // 2, batch_first=True, bidirectional=True)
        self.duration_predictor = nn.Sequential(
            _conv_block(cfg.encoder_hidden, cfg.duration_hidden, cfg.duration_kernel, cfg.dropout),
            _conv_block(cfg.duration_hidden, cfg.duration_hidden, cfg.duration_kernel, cfg.dropout),
            nn.Conv1d(cfg.duration_hidden, 1, 1),
        )
        self.aligner = AlignmentEncoder(cfg.n_mels, cfg.embed_dim, cfg.attn_dim)
        self.decoder_lstm = nn.LSTM(
            cfg.encoder_hidden + N_POSITION_FEATURES,
            cfg.decoder_hidden // 2,
            num_layers=cfg.decoder_layers,
            batch_first=True,
            bidirectional=True,
        )
        self.mel_proj = nn.Linear(cfg.decoder_hidden, cfg.n_mels)
        layers = []
        for i in range(cfg.postnet_layers):
            c_in = cfg.n_mels if i == 0 else cfg.postnet_channels
            c_out = cfg.n_mels if i == cfg.postnet_layers - 1 else cfg.postnet_channels
            layers += [nn.Conv1d(c_in, c_out, cfg.postnet_kernel, padding=cfg.postnet_kernel // 2), nn.BatchNorm1d(c_out)]
            if i < cfg.postnet_layers - 1:
                layers += [nn.Tanh(), nn.Dropout(cfg.dropout)]
        self.postnet = nn.Sequential(*layers)
        # Statistics of the training log-mels; the recipe sets them before training starts.
        self.register_buffer("mel_mean", torch.zeros(()))
        self.register_buffer("mel_std", torch.ones(()))

    def _encode(self, tokens: torch.Tensor, token_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Embeddings ``(B, E, L)`` and encoder states ``(B, L, H)``."""
        emb = self.embedding(tokens).transpose(1, 2)  # (B, L, E) -> (B, E, L)
        mask = lengths_to_mask(token_lens, tokens.shape[1]).unsqueeze(1)
        x = self.encoder_convs(emb) * mask
        return emb, _run_lstm(self.encoder_lstm, x.transpose(1, 2), token_lens)

    def _log_durations(self, enc: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        # Detached: duration errors must not reshape the encoder the decoder relies on.
        out = self.duration_predictor(enc.detach().transpose(1, 2)).squeeze(1)  # (B, 1, L) -> (B, L)
        return out * token_mask

    def _decode(self, expanded: torch.Tensor, mel_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Expanded states ``(B, T, H + P)`` -> normalised mels before/after the postnet ``(B, n_mels, T)``."""
        dec = _run_lstm(self.decoder_lstm, expanded, mel_lens)
        mel = self.mel_proj(dec).transpose(1, 2)  # (B, T, n_mels) -> (B, n_mels, T)
        mask = lengths_to_mask(mel_lens, mel.shape[-1]).unsqueeze(1)
        mel = mel * mask
        return mel, (mel + self.postnet(mel)) * mask

    @staticmethod
    def _expand(enc: torch.Tensor, durations: torch.Tensor, n_frames: int) -> torch.Tensor:
        """Length regulator: token states ``(B, L, H)`` repeated by ``durations`` ``(B, L)``, plus
        position features -> ``(B, n_frames, H + 2)`` (zeros past each item's end)."""
        B, L, H = enc.shape
        ends = torch.cumsum(durations, dim=1)  # (B, L)
        frames = torch.arange(n_frames, device=enc.device).unsqueeze(0).expand(B, -1).contiguous()  # (B, T)
        idx = torch.searchsorted(ends, frames, right=True).clamp(max=L - 1)  # token of each frame
        valid = (frames < ends[:, -1:]).unsqueeze(-1)
        states = torch.gather(enc, 1, idx.unsqueeze(-1).expand(-1, -1, H))
        dur = torch.gather(durations, 1, idx).float().clamp(min=1.0)
        start = torch.gather(ends, 1, idx).float() - dur
        pos = ((frames.float() - start + 0.5) / dur).unsqueeze(-1)
        feats = torch.cat([states, pos, torch.log(dur).unsqueeze(-1)], dim=-1)
        return feats * valid

    def forward(
        self, tokens: torch.Tensor, token_lens: torch.Tensor, mels: torch.Tensor, mel_lens: torch.Tensor
    ) -> Text2MelOutput:
        """Teacher-forced pass: tokens ``(B, L)``, mels ``(B, n_mels, T)`` (log-mel, vocoder convention)."""
        token_mask = lengths_to_mask(token_lens, tokens.shape[1])
        mel_mask = lengths_to_mask(mel_lens, mels.shape[-1])
        target = (mels - self.mel_mean) / self.mel_std * mel_mask.unsqueeze(1)
        emb, enc = self._encode(tokens, token_lens)
        prior = batch_prior(token_lens.cpu(), mel_lens.cpu()).to(mels.device)
        prior = F.pad(prior, (0, tokens.shape[1] - prior.shape[2], 0, mels.shape[-1] - prior.shape[1]))
        soft, logprob = self.aligner(target, emb, token_mask, prior)
        hard = maximum_path(torch.log(soft.squeeze(1).clamp(min=1e-12)), token_lens, mel_lens)  # (B, T, L)
        durations = durations_from_path(hard)
        expanded = self._expand(enc, durations, mels.shape[-1])
        mel_pred, mel_post = self._decode(expanded, mel_lens)
        return Text2MelOutput(
            mel_pred=mel_pred,
            mel_post=mel_post,
            mel_target=target,
            log_dur_pred=self._log_durations(enc, token_mask),
            durations=durations,
            attn_soft=soft.squeeze(1),
            attn_hard=hard,
            attn_logprob=logprob,
            token_mask=token_mask,
            mel_mask=mel_mask,
        )

    def infer(
        self, tokens: torch.Tensor, token_lens: torch.Tensor, speaking_rate: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mels ``(B, n_mels, T)`` (log-mel) and their lengths ``(B,)``; ``speaking_rate`` 2.0 = twice as fast."""
        token_mask = lengths_to_mask(token_lens, tokens.shape[1])
        _, enc = self._encode(tokens, token_lens)
        log_dur = self._log_durations(enc, token_mask)
        durations = torch.clamp(torch.round(torch.exp(log_dur) / speaking_rate), min=1).long() * token_mask
        mel_lens = durations.sum(dim=1)
        expanded = self._expand(enc, durations, int(mel_lens.max()))
        _, mel = self._decode(expanded, mel_lens)
        mel = mel * self.mel_std + self.mel_mean
        # Frames past an item's end hold the log-mel floor (silence), not the mean.
        mask = lengths_to_mask(mel_lens, mel.shape[-1]).unsqueeze(1)
        return mel.masked_fill(~mask, float(torch.log(torch.tensor(1e-5)))), mel_lens

