"""The recording device: rate round trip, band-pass + resonance in one response, overdrive, level."""

from __future__ import annotations

from functools import lru_cache
from math import gcd

import numpy as np
import scipy.signal

from lhotse_wild import fft as F
from lhotse_wild.dsp import _check, fast_len
from lhotse_wild.filters import _biquad_h2, _butter_h2, _grid, peaking_sos
from nemo_wild_eval.errors import InputError


@lru_cache(maxsize=64)
def _aa_filter(up: int, down: int) -> np.ndarray:
    """Anti-aliasing FIR for resample_poly: stop band starts AT the lower Nyquist (≥ 70 dB down).

    scipy's default filter is centred on the Nyquist frequency, so content just above it leaks
    (only ~30 dB down); here the -6 dB point is at 0.9·Nyquist and the transition ends at Nyquist.
    """
    m = max(up, down)
    width = 0.2 / m  # transition width, as a fraction of the upsampled Nyquist
    numtaps, beta = scipy.signal.kaiserord(70.0, width)
    numtaps |= 1  # odd: symmetric, integer group delay
    h = scipy.signal.firwin(numtaps, (1.0 - 0.1) / m, window=("kaiser", beta)).astype(np.float32)
    h.setflags(write=False)
    return h


RESAMPLERS = ("fft", "polyphase")


def resample_roundtrip(x: np.ndarray, sampling_rate: int, target_rate: int, method: str = "fft") -> np.ndarray:
    """Down-sample to ``target_rate`` and back: band-limits to target_rate/2 like a cheap device does.

    ``polyphase``: ``scipy.signal.resample_poly`` down and up with a Kaiser FIR whose stop band starts
    at the lower Nyquist (≥ 70 dB), a real round trip. ``fft`` (default, ~3× faster): with ideal
    anti-aliasing and reconstruction filters a round trip IS a low-pass at target_rate/2, so it is done
    as one zero-padded FFT (no wrap-around) with a raised-cosine roll-off from 0.9·to 1.0·target_rate/2
    (no ringing of a brick wall); nothing above the lower Nyquist survives. Length preserved.
    """
    _check(x)
    target_rate = int(target_rate)
    if target_rate <= 0:
        raise InputError(f"target rate must be > 0, got {target_rate}", source="resample")
    if method not in RESAMPLERS:
        raise InputError(f"resampling method must be one of {RESAMPLERS}, got {method!r}", source="resample")
    if target_rate >= sampling_rate:
        return x.astype(np.float32, copy=True)
    n = x.shape[-1]
    if method == "fft":
        nfft = fast_len(n + int(0.1 * sampling_rate))
        spec = F.rfft(x, nfft, copy=False)
        spec *= _rolloff(nfft, int(sampling_rate), target_rate)[None, :]
        return F.irfft(spec, nfft, n)
    g = gcd(int(sampling_rate), target_rate)
    up, down = target_rate // g, int(sampling_rate) // g
    # resample_poly scales the filter by `up` in place: hand it copies of the cached designs
    low = scipy.signal.resample_poly(x, up, down, axis=-1, window=_aa_filter(up, down).copy())
    back = scipy.signal.resample_poly(low, down, up, axis=-1, window=_aa_filter(down, up).copy())
    if back.shape[-1] < n:
        back = np.pad(back, ((0, 0), (0, n - back.shape[-1])))
    return back[:, :n].astype(np.float32)


@lru_cache(maxsize=32)
def _rolloff(nfft: int, sampling_rate: int, target_rate: int) -> np.ndarray:
    f = np.fft.rfftfreq(nfft, 1.0 / sampling_rate)
    nyq = target_rate / 2.0
    lo = 0.9 * nyq
    w = np.clip((nyq - f) / (nyq - lo), 0.0, 1.0)
    w = (0.5 - 0.5 * np.cos(np.pi * w)).astype(np.float32)
    w.setflags(write=False)
    return w


def device_chain(
    x: np.ndarray,
    sampling_rate: int,
    target_rate: int,
    band_hz: tuple[float, float],
    order: int,
    eq_freq_hz: float,
    eq_gain_db: float,
    eq_q: float = 2.0,
) -> np.ndarray:
    """A cheap device in ONE FFT pass: rate round trip, zero-phase band-pass, zero-phase peaking EQ.

    All three are linear and zero-phase, so they are one real, non-negative frequency response:
    the round trip's raised-cosine roll-off (see :func:`resample_roundtrip`) × the band-pass's |H|²
    × the EQ's |H|² (designed with half the gain, as :func:`peaking_sos`), |H|² being what a
    forward-backward run applies. The signal is zero-padded
    by 0.1 s before the FFT so the response's tails do not wrap around. Equivalent to
    ``resample_roundtrip`` + ``spectral_filter`` + ``peaking_eq`` up to edge handling, ~2.5× faster.
    """
    _check(x)
    n = x.shape[-1]
    nfft = fast_len(n + int(0.1 * sampling_rate))
    spec = F.rfft(x, nfft, copy=False)
    spec *= device_response(nfft, sampling_rate, target_rate, band_hz, order, eq_freq_hz, eq_gain_db, eq_q)
    return F.irfft(spec, nfft, n)


def device_top(nfft: int, sampling_rate: int, target_rate: int) -> int:
    """Number of rfft bins below the device's Nyquist (all bins when it does not resample)."""
    bins = nfft // 2 + 1
    if int(target_rate) >= sampling_rate:
        return bins
    return min(bins, int(np.ceil(0.5 * int(target_rate) * nfft / sampling_rate)))


def device_response(nfft: int, sampling_rate: int, target_rate: int, band_hz: tuple[float, float], order: int,
                    eq_freq_hz: float, eq_gain_db: float, eq_q: float = 2.0) -> np.ndarray:
    """The response :func:`device_chain` applies, on the rfft bins of ``nfft`` (float32)."""
    tan2, cos1 = _grid(nfft, int(sampling_rate))
    top = device_top(nfft, sampling_rate, target_rate)  # nothing survives above: those bins stay 0
    resp = np.zeros_like(tan2)
    band = _butter_h2(tan2[:top], sampling_rate, "bandpass", band_hz, order)
    _biquad_h2(cos1[:top], peaking_sos(sampling_rate, eq_freq_hz, eq_gain_db, eq_q), out=band)
    if int(target_rate) < sampling_rate:
        band *= _rolloff(nfft, int(sampling_rate), int(target_rate))[:top]
    resp[:top] = band
    return resp


def distort(x: np.ndarray, drive_db: float, mode: str = "soft") -> np.ndarray:
    """Overdrive: normalise to peak 1, apply ``drive_db`` of gain, clip, restore the input peak.

    ``hard`` clips at ±1 (flat tops, drive 0 dB leaves the signal unchanged); ``soft`` is tanh
    saturation. Normalising first makes the amount of distortion depend on the drive only, not on how
    loud the input happened to be; restoring the peak keeps the level.
    """
    _check(x)
    if mode not in ("soft", "hard"):
        raise InputError(f"distortion mode must be 'soft' or 'hard', got {mode!r}", source="distortion")
    peak = max(float(np.max(x)), -float(np.min(x))) if x.size else 0.0  # no |x| temporary
    if peak <= 1e-8:
        return x.astype(np.float32, copy=True)
    g = 10.0 ** (drive_db / 20.0)
    z = np.multiply(x, np.float32(g / peak), dtype=np.float32)  # the one new array; the rest is in place
    if mode == "hard":
        np.clip(z, -1.0, 1.0, out=z)
        z *= np.float32(peak)
    else:
        np.tanh(z, out=z)
        z *= np.float32(peak / np.tanh(g))
    return z


def change_loudness(x: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale by ``gain_db`` (the level at the microphone of a distant talker)."""
    _check(x)
    return (x * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32, copy=False)
