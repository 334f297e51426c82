"""LSTM text-to-mel with a learned aligner: non-autoregressive, one pass per sentence.

tokens -> embedding -> conv stack -> BiLSTM encoder -> length regulator (durations) -> BiLSTM
decoder -> linear -> mel, refined by a residual conv postnet. In training the durations are the
hard monotonic alignment (MAS) of the aligner's soft attention (:mod:`tts.text2mel.alignment`) between
token embeddings and the target mel; at inference they come from a duration predictor, scaled by
the speaking rate. Mels are predicted in a normalised space (``mel_mean``/``mel_std`` buffers,
set by training from data statistics) and returned as HiFi-GAN-convention natural-log mels.

Padding never changes a real position's output: the LSTMs reverse each item within its length
for their backward direction (:class:`BiLSTM`) and every conv layer's output is re-masked, so a
padded position enters the next conv as the zero padding an unpadded sequence would see. Hence
an item gives the same mel alone and in a padded batch.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from tts.frontend.symbols import PAD_ID
from tts.text2mel.alignment import AlignmentEncoder, batch_log_prior, durations_from_path, maximum_path
from vocoders.audio import MEL_PAD_VALUE

logger = logging.getLogger(__name__)

# Per-frame features appended to the expanded encoder states: relative position inside the token
# (0..1) and the token's log duration. A non-autoregressive LSTM decoder otherwise sees the same
# input for every frame of a phoneme and cannot tell its onset from its release.
N_POSITION_FEATURES = 2
# Upper bound on a predicted token duration (frames at speaking rate 1): an untrained or confused
# duration predictor must not ask for minutes of audio. 100 frames is > 1 s at common hops.
MAX_TOKEN_FRAMES = 100


@dataclass(frozen=True)
class Text2MelConfig:
    """Hyperparameters of :class:`Text2Mel`; LSTM sizes are per direction."""

    n_symbols: int  # size of the phoneme symbol table (id 0 is padding)
    n_mels: int = 80  # output mel bands: the voice's AudioConfig.n_mels
    embed_dim: int = 256  # phoneme embedding width, also the encoder conv width
    encoder_conv_layers: int = 3  # conv stack before the encoder LSTM, as in Tacotron 2
    encoder_kernel: int = 5  # phonemes seen by each encoder conv (Tacotron 2)
    encoder_lstm_hidden: int = 128  # per direction; the BiLSTM emits twice this per token
    duration_channels: int = 256  # duration predictor conv width (FastSpeech)
    duration_kernel: int = 3  # duration predictor conv kernel (FastSpeech)
    decoder_lstm_hidden: int = 256  # per direction of the BiLSTM decoder
    decoder_layers: int = 2  # stacked decoder LSTM layers
    postnet_channels: int = 256  # postnet conv width
    postnet_layers: int = 5  # postnet conv layers (Tacotron 2)
    postnet_kernel: int = 5  # frames seen by each postnet conv (Tacotron 2)
    aligner_dim: int = 80  # query/key width of the aligner (RAD-TTS)
    prior_scaling: float = 1.0  # beta-binomial prior sharpness; 1 is FastPitch's choice
    dropout: float = 0.1  # conv stacks and between decoder LSTM layers; light, LSTMs overfit slowly

    def __post_init__(self) -> None:
        if self.n_symbols < 2:
            raise ValueError("n_symbols must include the padding symbol and at least one real symbol")
        if self.encoder_kernel % 2 == 0 or self.duration_kernel % 2 == 0 or self.postnet_kernel % 2 == 0:
            raise ValueError("conv kernels must be odd so 'same' padding keeps the length")
        if self.postnet_layers < 1 or self.decoder_layers < 1:
            raise ValueError("postnet_layers and decoder_layers must be at least 1")


TEXT2MEL_PRESETS: dict[str, dict[str, int | float]] = {
    # Unit tests: every part present; under 100 k parameters even at 80 mels (mostly the aligner).
    "tiny": {
        "embed_dim": 16,
        "encoder_conv_layers": 2,
        "encoder_lstm_hidden": 8,
        "duration_channels": 16,
        "decoder_lstm_hidden": 16,
        "decoder_layers": 1,
        "postnet_channels": 16,
        "postnet_layers": 2,
        "aligner_dim": 8,
    },
    # CPU training on two cores: a batch-16 step (~60 tokens, ~250 frames) took 0.56-0.62 s with
    # two threads on an otherwise idle machine (~0.75 s of single-core compute, the decoder LSTMs
    # and the postnet in about equal shares); 2.5 M parameters.
    "small": {
        "embed_dim": 192,
        "encoder_lstm_hidden": 128,
        "duration_channels": 128,
        "decoder_lstm_hidden": 128,
        "decoder_layers": 2,
        "postnet_channels": 128,
        "postnet_layers": 5,
        "aligner_dim": 80,
    },
    # GPU training: Tacotron 2-sized encoder and postnet, wider decoder.
    "base": {
        "embed_dim": 512,
        "encoder_lstm_hidden": 256,
        "duration_channels": 256,
        "decoder_lstm_hidden": 512,
        "decoder_layers": 2,
        "postnet_channels": 512,
        "postnet_layers": 5,
        "aligner_dim": 80,
    },
}


def text2mel_config(name: str, n_symbols: int, n_mels: int = 80) -> Text2MelConfig:
    """The preset ``name`` (tiny | small | base) for a symbol table and mel size."""
    if name not in TEXT2MEL_PRESETS:
        raise ValueError(f"unknown text2mel preset {name!r}; choose one of {sorted(TEXT2MEL_PRESETS)}")
    return Text2MelConfig(n_symbols=n_symbols, n_mels=n_mels, **TEXT2MEL_PRESETS[name])  # type: ignore[arg-type]


@dataclass
class Text2MelOutput:
    """Teacher-forced outputs of :meth:`Text2Mel.forward`; mels are log-mels (vocoder convention)."""

    mel_pred: torch.Tensor  # (B, n_mels, T) decoder output, MEL_PAD_VALUE past each item's end
    mel_post: torch.Tensor  # (B, n_mels, T) after the residual postnet
    log_dur_pred: torch.Tensor  # (B, L) predicted log(duration + 1), 0 on padded tokens
    durations: torch.Tensor  # (B, L) long, hard durations from MAS; sum to mel_lens
    attn_soft: torch.Tensor  # (B, T, L) aligner's soft alignment (prior included)
    attn_hard: torch.Tensor  # (B, T, L) 0/1 MAS path the durations come from
    attn_logprob: torch.Tensor  # (B, 1, T, L) aligner log scores, -inf on padded tokens
    token_mask: torch.Tensor  # (B, L) true on real tokens
    mel_mask: torch.Tensor  # (B, T) true on real frames
    mel_std: torch.Tensor  # () the model's mel scale: the losses divide by it to work in normalised space


def lengths_to_mask(lengths: torch.Tensor, max_len: int | None = None) -> torch.Tensor:
    """``(B,)`` lengths -> ``(B, max_len)`` bool, true inside each length."""
    max_len = int(lengths.max()) if max_len is None else max_len
    return torch.arange(max_len, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)


class _ConvBlock(nn.Module):
    """conv -> batch norm -> activation -> dropout, zeroed outside the mask."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, dropout: float, activation: nn.Module | None
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2)
        self.norm = nn.BatchNorm1d(c_out)
        self.activation = activation if activation is not None else nn.Identity()
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, C_in, N)``, ``mask`` ``(B, 1, N)`` -> ``(B, C_out, N)``."""
        return self.dropout(self.activation(self.norm(self.conv(x)))) * mask


def reverse_within_lengths(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``x`` ``(B, N, C)`` with each item's first ``lengths[b]`` steps reversed; padding stays put.

    Its own inverse.
    """
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, N)
    lens = lengths.to(x.device).unsqueeze(1)  # (B, 1)
    idx = torch.where(steps < lens, lens - 1 - steps, steps)  # (B, N)
    return torch.gather(x, 1, idx.unsqueeze(-1).expand(-1, -1, x.shape[2]))


class BiLSTM(nn.Module):
    """Multi-layer bidirectional LSTM over right-padded batches; padding never reaches real steps.

    The forward direction runs on the padded batch as it is: real steps precede the padding, so they
    never see it. The backward direction runs forwards over each item reversed within its own
    length. This is what ``pack_padded_sequence`` achieves, but packed LSTMs on CPU backpropagate
    through one slice per time step, each materialising a zero tensor of the whole packed input: at
    batch 16 x 300 frames that made a training step 6x slower, almost all of it in those fills.
    Outputs ``(B, N, 2 * hidden)`` are zero past each item's length.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        sizes = [input_size] + [2 * hidden_size] * (num_layers - 1)
        self.forward_layers = nn.ModuleList(nn.LSTM(n, hidden_size, batch_first=True) for n in sizes)
        self.backward_layers = nn.ModuleList(nn.LSTM(n, hidden_size, batch_first=True) for n in sizes)
        # Between layers only, like nn.LSTM's dropout argument.
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, N, input_size)``, ``lengths`` ``(B,)`` -> ``(B, N, 2 * hidden_size)``."""
        mask = lengths_to_mask(lengths.to(x.device), x.shape[1]).unsqueeze(-1)  # (B, N, 1)
        for i, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if i > 0:
                x = self.dropout(x)
            ahead, _ = fwd(x)
            behind, _ = bwd(reverse_within_lengths(x, lengths))
            x = torch.cat([ahead, reverse_within_lengths(behind, lengths)], dim=-1) * mask
        return x


def length_regulate(enc: torch.Tensor, durations: torch.Tensor, n_frames: int) -> torch.Tensor:
    """Repeat token states ``(B, L, H)`` by ``durations`` ``(B, L)`` and append position features.

    Returns ``(B, n_frames, H + N_POSITION_FEATURES)``: each frame holds its token's state, its
    relative position inside the token and the token's log duration; zeros past each item's end.
    Zero-duration tokens are skipped.
    """
    n_batch, n_tokens, width = enc.shape
    ends = torch.cumsum(durations, dim=1)  # (B, L) exclusive end frame of each token
    frames = torch.arange(n_frames, device=enc.device).expand(n_batch, -1).contiguous()  # (B, T)
    # The token of a frame is the first whose end lies beyond it.
    idx = torch.searchsorted(ends, frames, right=True).clamp(max=n_tokens - 1)  # (B, T)
    valid = (frames < ends[:, -1:]).unsqueeze(-1)  # (B, T, 1)
    states = torch.gather(enc, 1, idx.unsqueeze(-1).expand(-1, -1, width))  # (B, T, H)
    # Frame indices in float32 even under bfloat16 autocast, whose 8-bit mantissa cannot count frames.
    dur = torch.gather(durations, 1, idx).float().clamp(min=1.0)  # (B, T)
    start = torch.gather(ends, 1, idx).float() - dur
    position = (frames.float() - start + 0.5) / dur  # frame centres, in (0, 1)
    extra = torch.stack([position, torch.log(dur)], dim=-1).to(enc.dtype)  # (B, T, N_POSITION_FEATURES)
    return torch.cat([states, extra], dim=-1) * valid


class Text2Mel(nn.Module):
    """LSTM text-to-mel model with a learned aligner; see the module docstring."""

    def __init__(self, cfg: Text2MelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.n_symbols, cfg.embed_dim, padding_idx=PAD_ID)
        self.encoder_convs = nn.ModuleList(
            _ConvBlock(cfg.embed_dim, cfg.embed_dim, cfg.encoder_kernel, cfg.dropout, nn.ReLU())
            for _ in range(cfg.encoder_conv_layers)
        )
        self.encoder_lstm = BiLSTM(cfg.embed_dim, cfg.encoder_lstm_hidden)
        enc_dim = 2 * cfg.encoder_lstm_hidden
        self.duration_convs = nn.ModuleList(
            [
                _ConvBlock(enc_dim, cfg.duration_channels, cfg.duration_kernel, cfg.dropout, nn.ReLU()),
                _ConvBlock(
                    cfg.duration_channels, cfg.duration_channels, cfg.duration_kernel, cfg.dropout, nn.ReLU()
                ),
            ]
        )
        self.duration_proj = nn.Linear(cfg.duration_channels, 1)
        self.aligner = AlignmentEncoder(cfg.n_mels, cfg.embed_dim, cfg.aligner_dim)
        self.decoder_lstm = BiLSTM(
            enc_dim + N_POSITION_FEATURES, cfg.decoder_lstm_hidden, cfg.decoder_layers, cfg.dropout
        )
        self.mel_proj = nn.Linear(2 * cfg.decoder_lstm_hidden, cfg.n_mels)
        postnet = []
        for i in range(cfg.postnet_layers):
            c_in = cfg.n_mels if i == 0 else cfg.postnet_channels
            last = i == cfg.postnet_layers - 1
            c_out = cfg.n_mels if last else cfg.postnet_channels
            # Tacotron 2: tanh everywhere but the last layer, whose output is the residual.
            postnet.append(
                _ConvBlock(c_in, c_out, cfg.postnet_kernel, cfg.dropout, None if last else nn.Tanh())
            )
        self.postnet = nn.ModuleList(postnet)
        # Log-mel statistics of the training data; training sets them before the first step.
        self.register_buffer("mel_mean", torch.zeros(()))
        self.register_buffer("mel_std", torch.ones(()))

    def _encode(self, tokens: torch.Tensor, token_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Token embeddings ``(B, E, L)`` and encoder states ``(B, L, 2 * encoder_lstm_hidden)``."""
        if int(token_lens.min()) < 1:
            raise ValueError("every item needs at least one token")
        mask = lengths_to_mask(token_lens, tokens.shape[1]).unsqueeze(1)  # (B, 1, L)
        emb = self.embedding(tokens).transpose(1, 2) * mask  # (B, L, E) -> (B, E, L)
        x = emb
        for block in self.encoder_convs:
            x = block(x, mask)
        return emb, self.encoder_lstm(x.transpose(1, 2), token_lens)  # (B, L, E) into the LSTM

    def _log_durations(self, enc: torch.Tensor, token_mask: torch.Tensor) -> torch.Tensor:
        """Predicted ``log(duration + 1)`` ``(B, L)``, 0 on padded tokens."""
        mask = token_mask.unsqueeze(1)  # (B, 1, L)
        # Detached: duration errors must not reshape the encoder states the decoder relies on.
        x = enc.detach().transpose(1, 2)  # (B, H, L)
        for block in self.duration_convs:
            x = block(x, mask)
        return self.duration_proj(x.transpose(1, 2)).squeeze(-1) * token_mask  # (B, L, 1) -> (B, L)

    def _decode(self, expanded: torch.Tensor, mel_lens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Expanded states ``(B, T, H + P)`` -> normalised mels before/after the postnet, ``(B, n_mels, T)``."""
        mask = lengths_to_mask(mel_lens, expanded.shape[1]).unsqueeze(1)  # (B, 1, T)
        dec = self.decoder_lstm(expanded, mel_lens)
        mel = self.mel_proj(dec).transpose(1, 2) * mask  # (B, T, n_mels) -> (B, n_mels, T)
        residual = mel
        for block in self.postnet:
            residual = block(residual, mask)
        return mel, mel + residual

    def _denormalise(self, mel: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Normalised ``(B, n_mels, T)`` -> log-mel, MEL_PAD_VALUE where ``mask`` ``(B, T)`` is false."""
        # float32: a bfloat16 log-mel near -5 would be off by up to 0.03 after de-normalising.
        return (mel.float() * self.mel_std + self.mel_mean).masked_fill(~mask.unsqueeze(1), MEL_PAD_VALUE)

    def forward(
        self,
        tokens: torch.Tensor,
        token_lens: torch.Tensor,
        mels: torch.Tensor,
        mel_lens: torch.Tensor,
        use_prior_durations: bool = False,
    ) -> Text2MelOutput:
        """Teacher-forced pass on durations aligned to the target mel.

        ``tokens`` ``(B, L)`` long (PAD_ID past each ``token_lens``), ``mels`` ``(B, n_mels, T)``
        log-mels with ``mel_lens`` ``(B,)`` real frames. The aligner always runs (its losses need
        it); the durations are the MAS path through its soft attention, or, with
        ``use_prior_durations``, through the beta-binomial prior alone. Training uses the latter for
        its first ``aligner_only_steps``: an untrained aligner's path is noise, while the prior's
        near-uniform diagonal gives the decoder sensible durations while the aligner warms up.
        """
        n_tokens, n_frames = tokens.shape[1], mels.shape[-1]
        token_mask = lengths_to_mask(token_lens, n_tokens)
        mel_mask = lengths_to_mask(mel_lens, n_frames)
        target = (mels - self.mel_mean) / self.mel_std * mel_mask.unsqueeze(1)
        emb, enc = self._encode(tokens, token_lens)
        log_prior = batch_log_prior(
            token_lens.cpu(), mel_lens.cpu(), n_frames, n_tokens, self.cfg.prior_scaling
        )
        log_prior = log_prior.to(mels.device)
        attn_soft, attn_logprob = self.aligner(target, emb, token_mask, log_prior)
        attn_mask = mel_mask.unsqueeze(2) & token_mask.unsqueeze(1)  # (B, T, L)
        path_scores = log_prior if use_prior_durations else F.log_softmax(attn_logprob.squeeze(1), dim=-1)
        attn_hard = maximum_path(path_scores, attn_mask)
        durations = durations_from_path(attn_hard)
        expanded = length_regulate(enc, durations, n_frames)
        mel_pred, mel_post = self._decode(expanded, mel_lens)
        return Text2MelOutput(
            mel_pred=self._denormalise(mel_pred, mel_mask),
            mel_post=self._denormalise(mel_post, mel_mask),
            log_dur_pred=self._log_durations(enc, token_mask),
            durations=durations,
            attn_soft=attn_soft.squeeze(1),
            attn_hard=attn_hard,
            attn_logprob=attn_logprob,
            token_mask=token_mask,
            mel_mask=mel_mask,
            mel_std=self.mel_std,
        )

    def _predict_durations(
        self, tokens: torch.Tensor, token_lens: torch.Tensor, speaking_rate: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder states ``(B, L, H)`` and integer frame counts ``(B, L)`` (>= 1 on real tokens, 0 on padding).

        ``speaking_rate`` 2.0 speaks twice as fast (half the frames).
        """
        if not speaking_rate > 0:
            raise ValueError(f"speaking_rate must be positive, got {speaking_rate}")
        token_mask = lengths_to_mask(token_lens, tokens.shape[1])
        _, enc = self._encode(tokens, token_lens)
        log_dur = self._log_durations(enc, token_mask).clamp(max=math.log(MAX_TOKEN_FRAMES + 1))
        frames = torch.round(torch.expm1(log_dur) / speaking_rate)  # the target was log(d + 1)
        return enc, frames.clamp(min=1).long() * token_mask

    @torch.no_grad()
    def infer(
        self, tokens: torch.Tensor, token_lens: torch.Tensor, speaking_rate: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-mels ``(B, n_mels, T)`` (MEL_PAD_VALUE past each end) and their lengths ``(B,)``.

        ``tokens`` ``(B, L)`` long with ``token_lens`` ``(B,)`` (>= 1 each). Whole sentences in one
        non-autoregressive pass; ``speaking_rate`` 2.0 is twice as fast.
        """
        mel, mel_lens, _ = self.infer_with_durations(tokens, token_lens, speaking_rate)
        return mel, mel_lens

    @torch.no_grad()
    def infer_with_durations(
        self, tokens: torch.Tensor, token_lens: torch.Tensor, speaking_rate: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """:meth:`infer`'s mels and lengths, and the frames of each token ``(B, L)`` (0 on padding).

        Token ``l`` of item ``b`` covers mel frames ``durations[b, :l].sum()`` up to
        ``durations[b, :l + 1].sum()``: what word timings are computed from.
        """
        enc, durations = self._predict_durations(tokens, token_lens, speaking_rate)
        mel_lens = durations.sum(dim=1)
        expanded = length_regulate(enc, durations, int(mel_lens.max()))
        _, mel = self._decode(expanded, mel_lens)
        return self._denormalise(mel, lengths_to_mask(mel_lens, mel.shape[-1])), mel_lens, durations
