"""80-bin log-mel features for the router (numpy + scipy only; no torchaudio).

Why these choices:

* 25 ms Hann frames, 10 ms hop, 512-point FFT, 80 HTK-mel bands over 0-8 kHz at 16 kHz: the usual
  ASR front end, so the router sees what an ASR encoder sees.
* **Level invariance**: each clip (chunk) is scaled to unit RMS before the transform, so the router
  judges the *shape* of the spectrum (reverb tails, band limits, noise floor, clipping harmonics,
  gaps), never the recording level: a quiet clean recording is still clean. Digital silence stays
  all-zero and maps to the floor value everywhere.
* **Sampling rate**: audio at any integer rate in [8, 192] kHz is resampled exactly (rational
  polyphase) to the router's rate; anything else is an :class:`InputError`. Audio that was band
  limited before (an 8 kHz phone call) keeps its empty upper bands after upsampling, which the router
  is *meant* to call degraded.
* **Long audio** is processed in fixed chunks (:func:`iter_chunks`), so memory stays bounded.
* **Waveform features** (:func:`wave_features`, appended by :func:`router_features`): three numbers
  per frame that a power spectrum cannot show, so the router need not learn one simulator's
  fingerprints for them: the frame's crest factor (clipping and saturation flatten it), the share of
  samples at the clip's peak (hard clipping piles them up), and the jump in log energy from the
  previous frame (a packet loss or gate cuts speech to silence within 10 ms; speech fades).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterator

import numpy as np

from nemo_wild_eval.errors import InputError

__all__ = [
    "N_MELS", "SAMPLING_RATE", "WIN", "HOP", "N_FFT", "FLOOR",
    "check_audio", "mel_filterbank", "log_mel", "iter_chunks", "WAVE_FEATURES", "wave_features", "router_features",
]

SAMPLING_RATE = 16000
N_MELS = 80
WIN = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
FLOOR = 1e-8  # power floor after unit-RMS scaling (-80 dB re the clip's mean power)
SILENCE_RMS = 1e-6  # below this (-120 dBFS) a clip is digital silence
MIN_RATE, MAX_RATE = 8000, 192000


def _hz_to_mel(f: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m: np.ndarray | float) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@lru_cache(maxsize=8)
def mel_filterbank(sampling_rate: int = SAMPLING_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """Triangular HTK-mel filters, shape ``(n_mels, n_fft // 2 + 1)``, peak 1, 0 Hz .. Nyquist."""
    freqs = np.linspace(0.0, sampling_rate / 2.0, n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(0.0, _hz_to_mel(sampling_rate / 2.0), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (freqs[None, :] - lower) / (centre - lower)
    falling = (upper - freqs[None, :]) / (upper - centre)
    fb = np.maximum(0.0, np.minimum(rising, falling))
    fb.setflags(write=False)
    return fb


def check_audio(samples: Any, sampling_rate: Any, target_rate: int = SAMPLING_RATE, *, what: str = "audio") -> np.ndarray:
    """Validate mono audio and return float32 samples at ``target_rate`` (resampled exactly if needed).

    Accepts ``(samples,)`` or ``(1, samples)`` float audio, or integer PCM (scaled to [-1, 1]).
    """
    x = np.asarray(samples)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise InputError(f"expected mono audio (samples,) or (1, samples), got shape {x.shape}", source=what)
    if x.dtype.kind in "iu":
        x = x.astype(np.float64) / float(np.iinfo(x.dtype).max)
    elif x.dtype.kind != "f":
        raise InputError(f"expected numeric audio samples, got dtype {x.dtype}", source=what)
    if x.size == 0:
        raise InputError("audio is empty", source=what)
    if not np.all(np.isfinite(x)):
        raise InputError(f"audio contains NaN/inf (first at sample {int(np.argmin(np.isfinite(x)))})", source=what)
    try:
        sr = int(sampling_rate)
        ok = sr == sampling_rate and not isinstance(sampling_rate, bool)
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or not MIN_RATE <= sr <= MAX_RATE:
        raise InputError(
            f"sampling rate must be an integer in [{MIN_RATE}, {MAX_RATE}] Hz, got {sampling_rate!r}", source=what
        )
    if sr != target_rate:
        from wild_corpus.synth import resample

        x = resample(x, sr, target_rate)
    return np.asarray(x, dtype=np.float32)


def log_mel(samples: np.ndarray, sampling_rate: int = SAMPLING_RATE) -> np.ndarray:
    """Level-normalised 80-bin log-mel of one clip, float32 ``(frames, 80)``; at least one frame.

    ``samples`` must already be validated at ``sampling_rate`` (see :func:`check_audio`). Clips
    shorter than one window are zero-padded to one frame.
    """
    x = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    if rms > SILENCE_RMS:
        x = x / rms
    else:
        x = np.zeros_like(x)
    if x.size < WIN:
        x = np.pad(x, (0, WIN - x.size))
    n_frames = 1 + (x.size - WIN) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP][:n_frames]
    window = np.hanning(WIN + 1)[:-1]  # periodic Hann
    spec = np.fft.rfft(frames * window, n=N_FFT, axis=-1)
    power = (spec.real**2 + spec.imag**2) / WIN
    mel = power @ mel_filterbank(int(sampling_rate), N_FFT, N_MELS).T
    return np.log(mel + FLOOR).astype(np.float32)


WAVE_FEATURES = 3


def _frames(samples: np.ndarray) -> np.ndarray:
    """The unit-RMS clip cut into log_mel's frames (25 ms, 10 ms hop; padded to one frame), float64."""
    x = np.asarray(samples, dtype=np.float64)
    rms = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    x = x / rms if rms > SILENCE_RMS else np.zeros_like(x)
    if x.size < WIN:
        x = np.pad(x, (0, WIN - x.size))
    n_frames = 1 + (x.size - WIN) // HOP
    return np.lib.stride_tricks.sliding_window_view(x, WIN)[::HOP][:n_frames]


def wave_features(samples: np.ndarray) -> np.ndarray:
    """float32 ``(frames, 3)`` on log_mel's frames: log crest factor (0 for a silent frame), share of
    samples within 1 % of the clip's peak, |Δ log energy| from the previous frame (capped at 20)."""
    fr = _frames(samples)
    peak_clip = float(np.max(np.abs(fr))) if fr.size else 0.0
    absf = np.abs(fr)
    e = np.mean(fr * fr, axis=1)
    rms = np.sqrt(e)
    live = rms > 1e-6
    crest = np.where(live, np.log(np.maximum(absf.max(axis=1), 1e-12) / np.maximum(rms, 1e-12)), 0.0)
    at_peak = np.mean(absf >= 0.99 * peak_clip, axis=1) if peak_clip > 0 else np.zeros(len(fr))
    le = np.log(e + FLOOR)
    jump = np.minimum(np.abs(np.diff(le, prepend=le[:1])), 20.0)
    return np.stack([crest, at_peak, jump], axis=1).astype(np.float32)


def router_features(samples: np.ndarray, sampling_rate: int = SAMPLING_RATE, wave: int = WAVE_FEATURES) -> np.ndarray:
    """What the router sees per frame: :func:`log_mel`, then (``wave`` = 3) :func:`wave_features`."""
    mel = log_mel(samples, sampling_rate)
    if not wave:
        return mel
    return np.concatenate([mel, wave_features(samples)[: mel.shape[0]]], axis=1)


def iter_chunks(samples: np.ndarray, sampling_rate: int, chunk_seconds: float, min_last_seconds: float = 1.0) -> Iterator[np.ndarray]:
    """Consecutive non-overlapping chunks of ``chunk_seconds``; a tail shorter than
    ``min_last_seconds`` is merged into the chunk before it (so no chunk is a useless sliver)."""
    n = int(round(chunk_seconds * sampling_rate))
    if n <= 0:
        raise InputError(f"chunk_seconds must be positive, got {chunk_seconds}", source="chunk_seconds")
    total = len(samples)
    starts = list(range(0, total, n))
    if len(starts) > 1 and total - starts[-1] < min_last_seconds * sampling_rate:
        starts.pop()
    for i, s in enumerate(starts):
        e = starts[i + 1] if i + 1 < len(starts) else total
        yield samples[s:e]
