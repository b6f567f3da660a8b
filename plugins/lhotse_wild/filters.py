"""Zero-phase Butterworth and peaking filters: closed-form |H|² on FFT bins (what the fused effects
multiply) and their scipy second-order-section twins; the obstructed path's low-pass cascade."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import numpy as np
import scipy.signal

from lhotse_wild import fft as F
from lhotse_wild.dsp import _check, fast_len
from nemo_wild_eval.errors import InputError


@lru_cache(maxsize=8)
def _grid(nfft: int, sampling_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """tan²(π f/fs) and cos(ω) on the rfft bins of ``nfft`` (float32, read-only, a few cached: memory
    stays bounded for corpora of many clip lengths). Every closed-form response below is a rational
    function of one of them, evaluated in place (each pass over the bins costs as much as the maths)."""
    f = np.fft.rfftfreq(nfft, 1.0 / sampling_rate)
    w = 2.0 * np.pi * f / sampling_rate
    tan_w = np.tan(np.minimum(w / 2.0, np.pi / 2 * (1 - 1e-7)))
    out = (np.square(tan_w).astype(np.float32), np.cos(w).astype(np.float32))
    for a in out:
        a.setflags(write=False)
    return out


def _check_cutoff(sampling_rate: int, kind: str, cutoff_hz: float | Sequence[float]) -> None:
    if kind not in ("lowpass", "highpass", "bandpass"):
        raise InputError(f"filter kind must be lowpass/highpass/bandpass, got {kind!r}", source="filter")
    nyq = sampling_rate / 2.0
    cut = _cutoffs(cutoff_hz)
    if len(cut) != (2 if kind == "bandpass" else 1) or not all(0.0 < c < nyq for c in cut):
        raise InputError(f"{kind} cutoff {cut} Hz must lie in (0, {nyq}) Hz", source="filter")


def _power_in_place(a: np.ndarray, k: int) -> np.ndarray:
    """a**k for an integer k >= 1 by repeated squaring, reusing ``a`` (order 4: two passes, not four)."""
    result = None
    while True:
        if k & 1:
            if result is None:
                result = a if k == 1 else a.copy()  # the last factor needs no copy
            else:
                np.multiply(result, a, out=result)
        k >>= 1
        if not k:
            return result
        np.square(a, out=a)


def _cutoffs(cutoff_hz: float | Sequence[float]) -> tuple[float, ...]:
    if isinstance(cutoff_hz, (int, float, np.floating, np.integer)):
        return (float(cutoff_hz),)
    return tuple(float(c) for c in np.ravel(cutoff_hz))


def _butter_h2(tan2: np.ndarray, sampling_rate: int, kind: str, cutoff_hz: float | Sequence[float],
               order: int) -> np.ndarray:
    """|H|² = 1 / (1 + r^2N) from tan²(ω/2) (a new array of its dtype); see butter_power_response."""
    _check_cutoff(sampling_rate, kind, cutoff_hz)  # the checks of butter_sos, without designing a filter
    cut = [math.tan(math.pi * c / sampling_rate) for c in _cutoffs(cutoff_hz)]  # python floats: weak scalars
    # r² in place; no NaN possible: tan² is finite (clamped below Nyquist), so r² is finite or +inf
    # (at DC for high/band-pass), and r^2N = inf gives 1 / (1 + inf) = 0
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if kind == "lowpass":
            r2 = tan2 * (1.0 / (cut[0] * cut[0]))
        elif kind == "highpass":
            r2 = np.divide(cut[0] * cut[0], tan2)
        else:  # r = (Ω² − Ω₁Ω₂) / (Ω (Ω₂ − Ω₁))
            d = cut[1] - cut[0]
            r2 = tan2 * (1.0 / d)
            r2 -= cut[0] * cut[1] / d
            np.square(r2, out=r2)
            r2 /= tan2
        p = _power_in_place(r2, int(order))  # r^2N
        p += 1.0
        np.reciprocal(p, out=p)
    return p


def butter_power_response(freqs_hz: np.ndarray, sampling_rate: int, kind: str,
                          cutoff_hz: float | Sequence[float], order: int = 4) -> np.ndarray:
    """|H(f)|² of the digital Butterworth filter :func:`butter_sos` designs (bilinear, pre-warped).

    Closed form, no polynomial evaluation: with Ω = tan(π f / fs), a low-pass is 1 / (1 + (Ω/Ωc)^2N),
    a high-pass 1 / (1 + (Ωc/Ω)^2N), a band-pass 1 / (1 + ((Ω² − Ω₁Ω₂) / (Ω (Ω₂ − Ω₁)))^2N).
    It is also the response of the filter run zero-phase (forward-backward: H·H* = |H|²).
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    tan_w = np.tan(np.pi * np.minimum(f, 0.5 * sampling_rate * (1 - 1e-9)) / sampling_rate)
    return _butter_h2(tan_w * tan_w, sampling_rate, kind, cutoff_hz, order)


def _biquad_h2(cos1: np.ndarray, sos: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """|H|² of second-order sections from cos(ω), multiplied into ``out`` (a new array of ones if None).

    |b0 + b1 z⁻¹ + b2 z⁻²|² = (b0² + b1² + b2²) + 2(b0b1 + b1b2) cos ω + 2 b0b2 cos 2ω, and with
    cos 2ω = 2cos²ω − 1 that is a quadratic in cos ω (Horner: 4 passes over the bins instead of 7).
    """
    out = np.ones_like(cos1) if out is None else out
    for sec in np.asarray(sos, dtype=np.float64).tolist():  # python floats: keep cos1's dtype
        for k, (c0, c1, c2) in enumerate((sec[:3], sec[3:])):
            q = cos1 * (4.0 * c0 * c2)
            q += 2.0 * (c0 * c1 + c1 * c2)
            q *= cos1
            q += c0 * c0 + c1 * c1 + c2 * c2 - 2.0 * c0 * c2
            if k == 0:
                out *= q
            else:
                out /= q
    return out


def biquad_power_response(freqs_hz: np.ndarray, sampling_rate: int, sos: np.ndarray) -> np.ndarray:
    """|H(f)|² of second-order sections (e.g. :func:`peaking_sos`), float64."""
    wt = 2.0 * np.pi * np.asarray(freqs_hz, dtype=np.float64) / sampling_rate
    return _biquad_h2(np.cos(wt), sos)


def lowpass_cascade(x: np.ndarray, sampling_rate: int, cutoffs_hz: Sequence[float], order: int = 2) -> np.ndarray:
    """Several zero-phase Butterworth low-passes in a row (sound through walls), in ONE FFT pass.

    Equals running :func:`spectral_filter` once per cutoff (the product of the |H|² responses, closed
    form: no filter design per clip, whose cutoffs are jittered), up to edge handling; the signal is
    zero-padded by 0.1 s so the responses' tails do not wrap around.
    """
    _check(x)
    n = x.shape[-1]
    if not len(cutoffs_hz):
        return x.astype(np.float32, copy=True)
    nfft = fast_len(n + int(0.1 * sampling_rate))
    spec = F.rfft(x, nfft, copy=False)
    spec *= cascade_response(nfft, sampling_rate, cutoffs_hz, order)
    return F.irfft(spec, nfft, n)


def cascade_response(nfft: int, sampling_rate: int, cutoffs_hz: Sequence[float], order: int = 2) -> np.ndarray:
    """Product of zero-phase Butterworth low-pass |H|² on the rfft bins of ``nfft`` (float32)."""
    tan2, _ = _grid(nfft, int(sampling_rate))
    resp = np.ones_like(tan2)
    for fc in cutoffs_hz:
        resp *= _butter_h2(tan2, sampling_rate, "lowpass", float(fc), order)
    return resp


@lru_cache(maxsize=256)
def _butter(order: int, cutoff: float | tuple[float, float], kind: str, sampling_rate: int) -> np.ndarray:
    # float32 sections: filtering runs in float32 (2x faster, ample for audio)
    return scipy.signal.butter(order, cutoff, btype=kind, fs=sampling_rate, output="sos").astype(np.float32)


def spectral_filter(
    x: np.ndarray,
    sampling_rate: int,
    kind: str,
    cutoff_hz: float | Sequence[float],
    order: int = 4,
    zero_phase: bool = True,
) -> np.ndarray:
    """Butterworth ``lowpass`` / ``highpass`` / ``bandpass`` (cutoff = (low, high)).

    Zero-phase (forward-backward, magnitude response squared, no delay) by default; ``zero_phase=False``
    filters causally once.
    """
    _check(x)
    return sos_filter(x, butter_sos(sampling_rate, kind, cutoff_hz, order), zero_phase)


@lru_cache(maxsize=512)
def _zi(sos_bytes: bytes, n_sections: int) -> np.ndarray:
    sos = np.frombuffer(sos_bytes, dtype=np.float32).reshape(n_sections, 6)
    zi = scipy.signal.sosfilt_zi(sos.astype(np.float64)).astype(np.float32)
    zi.setflags(write=False)
    return zi


def sos_filter(x: np.ndarray, sos: np.ndarray, zero_phase: bool = True) -> np.ndarray:
    """Run second-order sections (e.g. a band-pass and an EQ stacked) in one go.

    Zero-phase runs forward then backward over the signal extended by odd reflection at both ends
    (scipy.signal.sosfiltfilt's default padding), with the steady-state initial conditions cached
    per filter design.
    """
    _check(x)
    sos = np.ascontiguousarray(sos, dtype=np.float32)
    if not zero_phase:
        return scipy.signal.sosfilt(sos, x, axis=-1).astype(np.float32, copy=False)
    n = x.shape[-1]
    ntaps = 2 * len(sos) + 1 - min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
    edge = min(3 * ntaps, n - 1)
    ext = np.concatenate([2 * x[:, :1] - x[:, edge:0:-1], x, 2 * x[:, -1:] - x[:, -2:-edge - 2:-1]], axis=-1)
    zi = _zi(sos.tobytes(), len(sos))  # (sections, 2)
    y, _ = scipy.signal.sosfilt(sos, ext, axis=-1, zi=zi[:, None, :] * ext[None, :, :1])
    y = y[:, ::-1]
    y, _ = scipy.signal.sosfilt(sos, y, axis=-1, zi=zi[:, None, :] * y[None, :, :1])
    return np.ascontiguousarray(y[:, ::-1][:, edge:edge + n], dtype=np.float32)


def butter_sos(sampling_rate: int, kind: str, cutoff_hz: float | Sequence[float], order: int = 4) -> np.ndarray:
    """Cached Butterworth sections (checked cutoffs), float32."""
    _check_cutoff(sampling_rate, kind, cutoff_hz)
    cut = tuple(float(c) for c in np.atleast_1d(cutoff_hz))
    return _butter(int(order), cut if kind == "bandpass" else cut[0], kind, int(sampling_rate))


def peaking_sos(sampling_rate: int, freq_hz: float, gain_db: float, q: float = 2.0) -> np.ndarray:
    """Peaking-EQ section designed with HALF the gain: run zero-phase it gives ``gain_db``."""
    if not 0.0 < freq_hz < sampling_rate / 2.0:
        raise InputError(f"EQ frequency {freq_hz} Hz outside (0, {sampling_rate / 2}) Hz", source="filter")
    return _peaking_sos(float(freq_hz), float(gain_db) / 2.0, float(q), int(sampling_rate))


@lru_cache(maxsize=256)
def _peaking_sos(freq_hz: float, gain_db: float, q: float, sampling_rate: int) -> np.ndarray:
    # RBJ audio-EQ-cookbook peaking biquad, gain in dB at freq_hz.
    a_lin = 10.0 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * freq_hz / sampling_rate
    alpha = np.sin(w0) / (2.0 * q)
    b = np.array([1.0 + alpha * a_lin, -2.0 * np.cos(w0), 1.0 - alpha * a_lin])
    a = np.array([1.0 + alpha / a_lin, -2.0 * np.cos(w0), 1.0 - alpha / a_lin])
    return np.concatenate([b / a[0], a / a[0]]).reshape(1, 6).astype(np.float32)


def peaking_eq(x: np.ndarray, sampling_rate: int, freq_hz: float, gain_db: float, q: float = 2.0) -> np.ndarray:
    """Zero-phase peaking EQ: +``gain_db`` at ``freq_hz`` (a cheap microphone's resonance)."""
    _check(x)
    sos = peaking_sos(sampling_rate, freq_hz, gain_db, q)
    if gain_db == 0.0:
        return x.astype(np.float32, copy=True)
    return sos_filter(x, sos)
