"""The router network and its inference wrapper.

``RouterNet``: two strided 1-D convolutions (80 mel bins -> 256 channels, 4x fewer frames: 40 ms per
token), sinusoidal positions, ONE pre-norm Transformer encoder layer (4 heads, FFN 1280), attention
pooling (a learned score per frame, softmax over the unpadded frames) and a linear logit:
about 1.18 M parameters, the size the paper gives (~1.2 M).

``RouterModel``: the network plus everything needed to use it on raw audio: the feature
standardisation learned at training time, the sampling rate, the threshold (0.5 by default,
configurable), chunking of long audio (``chunk_seconds``; the clip's probability is the
length-weighted mean of its chunks' probabilities, computed ``batch_chunks`` at a time so memory is
bounded) and save/load (``config.json`` + ``router.safetensors``).

Silence: a chunk whose RMS is below -120 dBFS carries no acoustic evidence and is skipped; a clip
with no other chunk gets probability 0.0 and is routed to the base model (``RouteResult.silent``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nemo_wild_eval.errors import InputError

from .features import N_MELS, SAMPLING_RATE, SILENCE_RMS, WAVE_FEATURES, check_audio, iter_chunks, router_features

__all__ = ["RouterConfig", "RouteResult", "RouterModel", "build_net", "CONFIG_NAME", "WEIGHTS_NAME"]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "router.safetensors"


@dataclass
class RouterConfig:
    """Architecture and inference settings (saved next to the weights)."""

    n_mels: int = N_MELS
    wave_features: int = WAVE_FEATURES  # per-frame waveform features after the mel bins (0: routers saved before)
    d_model: int = 256
    n_heads: int = 4
    ffn_dim: int = 1280
    dropout: float = 0.1
    sampling_rate: int = SAMPLING_RATE
    threshold: float = 0.5
    chunk_seconds: float = 4.0
    batch_chunks: int = 32
    feat_mean: list[float] = field(default_factory=lambda: [0.0] * (N_MELS + WAVE_FEATURES))
    feat_std: list[float] = field(default_factory=lambda: [1.0] * (N_MELS + WAVE_FEATURES))

    @property
    def n_features(self) -> int:
        return int(self.n_mels) + int(self.wave_features)

    def validate(self) -> "RouterConfig":
        if not 0.0 <= float(self.threshold) <= 1.0:
            raise InputError(f"threshold must be in [0, 1], got {self.threshold}", source="threshold")
        if self.d_model % self.n_heads:
            raise InputError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}", source="config")
        if self.wave_features not in (0, WAVE_FEATURES):
            raise InputError(f"wave_features must be 0 or {WAVE_FEATURES}, got {self.wave_features}", source="config")
        if len(self.feat_mean) != self.n_features or len(self.feat_std) != self.n_features:
            raise InputError("feat_mean/feat_std must have n_mels + wave_features entries", source="config")
        if self.chunk_seconds <= 0 or self.batch_chunks < 1:
            raise InputError("chunk_seconds must be > 0 and batch_chunks >= 1", source="config")
        return self


@dataclass(frozen=True)
class RouteResult:
    """One clip's routing decision."""

    prob: float  # P(degraded)
    degraded: bool  # prob >= threshold -> use the robust LoRA
    chunks: int  # number of chunks scored
    silent: bool = False  # digital silence: routed to the base model without scoring


def build_net(cfg: RouterConfig):
    """The torch module (imports torch; call only when needed)."""
    import torch
    from torch import nn

    class RouterNet(nn.Module):
        """features (B, T, 80 + wave features) + frame mask -> logit (B,)."""

        def __init__(self, c: RouterConfig):
            super().__init__()
            d = c.d_model
            self.register_buffer("feat_mean", torch.tensor(c.feat_mean, dtype=torch.float32))
            self.register_buffer("feat_std", torch.tensor(c.feat_std, dtype=torch.float32))
            self.conv1 = nn.Conv1d(c.n_features, d, kernel_size=3, stride=2, padding=1)
            self.conv2 = nn.Conv1d(d, d, kernel_size=3, stride=2, padding=1)
            self.layer = nn.TransformerEncoderLayer(
                d, c.n_heads, c.ffn_dim, dropout=c.dropout, activation="gelu", batch_first=True, norm_first=True
            )
            self.score = nn.Linear(d, 1)
            self.norm = nn.LayerNorm(d)
            self.head = nn.Linear(d, 1)
            self.d_model = d

        @staticmethod
        def _sub(lengths: "torch.Tensor") -> "torch.Tensor":
            return torch.div(lengths - 1, 2, rounding_mode="floor") + 1

        def _positions(self, t: int, device) -> "torch.Tensor":
            pos = torch.arange(t, device=device, dtype=torch.float32)[:, None]
            i = torch.arange(0, self.d_model, 2, device=device, dtype=torch.float32)
            ang = pos / torch.pow(10000.0, i / self.d_model)
            pe = torch.zeros(t, self.d_model, device=device)
            pe[:, 0::2], pe[:, 1::2] = torch.sin(ang), torch.cos(ang)
            return pe

        def forward(self, feats: "torch.Tensor", lengths: "torch.Tensor") -> "torch.Tensor":
            x = (feats - self.feat_mean) / self.feat_std
            x = torch.nn.functional.gelu(self.conv1(x.transpose(1, 2)))
            x = torch.nn.functional.gelu(self.conv2(x)).transpose(1, 2)  # (B, T/4, d)
            lengths = self._sub(self._sub(lengths))
            t = x.shape[1]
            pad = torch.arange(t, device=x.device)[None, :] >= lengths[:, None]  # True = padding
            x = x + self._positions(t, x.device)
            # The mask is passed explicitly (no nested-tensor fast path) so train and eval agree.
            x = self.layer(x, src_key_padding_mask=pad if bool(pad.any()) else None)
            s = self.score(x).squeeze(-1).masked_fill(pad, float("-inf"))
            pooled = (torch.softmax(s, dim=-1).unsqueeze(-1) * x).sum(dim=1)
            return self.head(self.norm(pooled)).squeeze(-1)

    return RouterNet(cfg)


def pad_batch(feats: Sequence[np.ndarray]):
    """Stack variable-length (T, 80) arrays into a zero-padded tensor + lengths."""
    import torch

    lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.long)
    out = torch.zeros(len(feats), int(lengths.max()), feats[0].shape[1], dtype=torch.float32)
    for i, f in enumerate(feats):
        out[i, : f.shape[0]] = torch.from_numpy(np.ascontiguousarray(f))
    return out, lengths


class RouterModel:
    """Clean/degraded router on raw audio: ``route(samples, sr) -> RouteResult``."""

    def __init__(self, config: RouterConfig | None = None, net: Any = None):
        self.config = (config or RouterConfig()).validate()
        self.net = net if net is not None else build_net(self.config)
        self.net.eval()

    # -- properties -----------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        return float(self.config.threshold)

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.config.threshold = float(value)
        self.config.validate()

    @property
    def sampling_rate(self) -> int:
        return int(self.config.sampling_rate)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.net.parameters())

    # -- inference ------------------------------------------------------------------------
    def _chunk_probs(self, feats: list[np.ndarray]) -> np.ndarray:
        import torch

        x, lengths = pad_batch(feats)
        with torch.inference_mode():
            return torch.sigmoid(self.net(x, lengths)).double().numpy()

    def prob(self, samples: Any, sampling_rate: int, *, what: str = "audio") -> tuple[float, int, bool]:
        """(P(degraded), chunks scored, silent) for one clip.

        The clip is cut into ``chunk_seconds`` chunks scored ``batch_chunks`` at a time (bounded
        memory for any length); silent chunks (RMS below -120 dBFS) carry no evidence and are skipped;
        the clip's probability is the length-weighted mean over the others. All silent -> (0.0, 0, True).
        """
        x = check_audio(samples, sampling_rate, self.sampling_rate, what=what)
        sr, total, weighted, count = self.sampling_rate, 0.0, 0.0, 0
        pending: list[tuple[np.ndarray, int]] = []

        def flush() -> None:
            nonlocal total, weighted
            probs = self._chunk_probs([f for f, _ in pending])
            for p, (_, n) in zip(probs, pending):
                weighted += float(p) * n
                total += n
            pending.clear()

        for chunk in iter_chunks(x, sr, self.config.chunk_seconds):
            c64 = chunk.astype(np.float64)
            if float(np.sqrt(np.mean(c64 * c64))) <= SILENCE_RMS:
                continue
            count += 1
            pending.append((router_features(chunk, sr, self.config.wave_features), len(chunk)))
            if len(pending) >= self.config.batch_chunks:
                flush()
        if pending:
            flush()
        if count == 0:
            return 0.0, 0, True
        return weighted / total, count, False

    def route(self, samples: Any, sampling_rate: int, *, what: str = "audio") -> RouteResult:
        """Decide one clip: degraded (robust LoRA on) when P(degraded) >= threshold."""
        p, n, silent = self.prob(samples, sampling_rate, what=what)
        return RouteResult(prob=p, degraded=(not silent) and p >= self.threshold, chunks=n, silent=silent)

    def route_many(self, clips: Sequence[Any], sampling_rate: int | Sequence[int]) -> list[RouteResult]:
        """Decide several clips (each at its own rate when a list of rates is given)."""
        rates = [sampling_rate] * len(clips) if isinstance(sampling_rate, (int, np.integer)) else list(sampling_rate)
        if len(rates) != len(clips):
            raise InputError(f"{len(clips)} clips but {len(rates)} sampling rates", source="sampling_rate")
        return [self.route(c, r, what=f"clip {i}") for i, (c, r) in enumerate(zip(clips, rates))]

    # -- persistence ----------------------------------------------------------------------
    def save(self, out_dir: str | Path) -> Path:
        """Write ``config.json`` + ``router.safetensors`` to ``out_dir``."""
        from safetensors.torch import save_file

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=2) + "\n", encoding="utf-8")
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        save_file(state, str(out / WEIGHTS_NAME))
        return out

    @classmethod
    def load(cls, path: str | Path, *, threshold: float | None = None) -> "RouterModel":
        """Load a saved router (a directory holding ``config.json`` and ``router.safetensors``)."""
        from safetensors.torch import load_file

        p = Path(path)
        if not (p / CONFIG_NAME).is_file() or not (p / WEIGHTS_NAME).is_file():
            raise InputError(f"not a router directory (needs {CONFIG_NAME} and {WEIGHTS_NAME})", source=str(p))
        try:
            raw = json.loads((p / CONFIG_NAME).read_text(encoding="utf-8"))
            raw.setdefault("wave_features", 0)  # saved before the waveform features existed
            cfg = RouterConfig(**raw)
        except (json.JSONDecodeError, TypeError) as exc:
            raise InputError(f"bad router config ({exc})", source=str(p / CONFIG_NAME)) from None
        if threshold is not None:
            cfg.threshold = float(threshold)
        model = cls(cfg)
        model.net.load_state_dict(load_file(str(p / WEIGHTS_NAME)))
        model.net.eval()
        return model

