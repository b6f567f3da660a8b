"""The 8 signal primitives of the simulator, plus the generators they need (noise, RIR, loss pattern).

Every function is pure: float32 ``(channels, samples)`` in, float32 ``(channels, samples)`` of the SAME
length out, sampling rate explicit, no hidden randomness (anything random takes a seed). Timing never
changes, so supervision segments stay valid.

Filtering is zero-phase by default (``scipy.signal.sosfiltfilt``): a causal filter would delay speech by
its group delay (milliseconds at 1 kHz for a 4th-order low-pass; much more for repeated passes) and the
word timestamps would drift. Pass ``zero_phase=False`` for the causal (``sosfilt``) behaviour.

The effects use the FFT-domain twins (:func:`reverberate_lowpass`, :func:`lowpass_cascade`,
:func:`device_chain`): a zero-phase filter's response is the real |H|², known in closed form for
Butterworth and peaking sections, so a chain of linear stages costs one FFT pair and no per-clip
filter design (cutoffs are jittered per clip, so designs would never come from a cache). Tests check
them against scipy's float64 ``sosfiltfilt``.
"""

from __future__ import annotations

import hashlib
import math
import threading
from functools import lru_cache
from math import gcd
from typing import Sequence

import numpy as np
import scipy.signal

from lhotse_wild import fft as F
from nemo_wild_eval.errors import InputError

#: power floor used as the reference of a silent signal (-100 dBFS): no NaN, no division by zero.
POWER_FLOOR = 1e-10
FRAME_MS = 20.0
COLORED_NOISES = ("white", "pink", "brown")


@lru_cache(maxsize=256)
def fast_len(n: int) -> int:
    """Smallest FFT size >= ``n`` of the form 2^a·r, r in {1, 3, 5, 9, 15}: pocketfft runs these ~25-40 %
    faster than the arbitrary 5-smooth sizes of ``scipy.fft.next_fast_len`` (e.g. 78 732 = 2²·3⁹).
    Deterministic (no timing), so outputs do not depend on the machine; zero padding is exact."""
    best = None
    for r in (1, 3, 5, 9, 15):
        m = r
        while m < n:
            m *= 2
        best = m if best is None else min(best, m)
    return int(best)


_rng_local = threading.local()


def seeded_rng(seed: int) -> np.random.Generator:
    """A PCG64 generator in the state that ``seed`` names (SHAKE-256 of it), for the draws of one call.

    Why not ``np.random.default_rng(seed)``: building a Generator costs ~40 µs, a few times per clip;
    re-setting the state of one per thread costs ~10 µs. The generator is shared within the thread:
    finish drawing before the next call.
    """
    gen = getattr(_rng_local, "gen", None)
    if gen is None:
        gen = _rng_local.gen = np.random.Generator(np.random.PCG64(0))
    d = hashlib.shake_256(b"lhotse_wild.rng:" + int(seed).to_bytes(16, "little")).digest(32)
    gen.bit_generator.state = {"bit_generator": "PCG64", "has_uint32": 0, "uinteger": 0,
                               "state": {"state": int.from_bytes(d[:16], "little"),
                                         "inc": int.from_bytes(d[16:], "little") | 1}}
    return gen


def _check(x: np.ndarray) -> None:
    if x.ndim != 2:
        raise InputError(f"expected (channels, samples) audio, got shape {x.shape}", source="samples")


def power(x: np.ndarray) -> float:
    """Mean power over all channels and samples.

    ``einsum`` sums the float32 squares in SIMD lanes (3× cheaper than a float64 square, ~1e-7
    relative error) and, unlike a BLAS dot, never splits the sum across threads: the result does not
    depend on the thread count.
    """
    if not x.size:
        return 0.0
    v = np.ascontiguousarray(x, dtype=np.float32).reshape(-1)
    return float(np.einsum("i,i->", v, v)) / v.size


# --------------------------------------------------------------------------- 1. additive noise
def add_noise(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """Add ``noise`` scaled so that 10·log10(P_signal / P_noise) equals ``snr_db`` exactly.

    Powers are means over the whole clip (all channels), like Lhotse's mixing. A silent signal uses
    ``POWER_FLOOR`` as its power. ``noise`` is ``(channels, samples)`` or ``(1, samples)`` (broadcast).
    """
    _check(x)
    if noise.shape[-1] != x.shape[-1]:
        raise InputError(f"noise has {noise.shape[-1]} samples, signal {x.shape[-1]}", source="noise")
    p_noise = power(noise)
    if p_noise <= 0.0:
        raise InputError("noise is silent: cannot scale it to an SNR", source="noise")
    p_sig = max(power(x), POWER_FLOOR)
    gain = np.sqrt(p_sig / (p_noise * 10.0 ** (snr_db / 10.0)))
    return (x + np.float32(gain) * noise).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- 2. echo delay
def echo(x: np.ndarray, sampling_rate: int, delays_s: Sequence[float], gains_db: Sequence[float]) -> np.ndarray:
    """Add delayed copies ("taps") of the signal: y[n] = x[n] + Σ g_k · x[n − d_k].

    Delays are rounded to whole samples; taps past the end of the clip fall off (length preserved).
    """
    _check(x)
    if len(delays_s) != len(gains_db):
        raise InputError("echo needs one gain per delay", source="echo")
    y = x.astype(np.float32, copy=True)
    n = x.shape[-1]
    for delay_s, gain_db in zip(delays_s, gains_db):
        d = int(round(delay_s * sampling_rate))
        if d <= 0:
            raise InputError(f"echo delay must be > 0 s, got {delay_s}", source="echo")
        if d < n:
            y[:, d:] += np.float32(10.0 ** (gain_db / 20.0)) * x[:, : n - d]
    return y


# --------------------------------------------------------------------------- 3. reverberation
@lru_cache(maxsize=128)
def _rir_cached(sampling_rate: int, rt60_s: float, drr_db: float, seed: int, predelay_s: float) -> np.ndarray:
    rng = seeded_rng(seed)
    n_tail = max(1, int(round(1.1 * rt60_s * sampling_rate)))
    n_pre = int(round(predelay_s * sampling_rate))
    rir = np.zeros(1 + n_pre + n_tail, dtype=np.float32)
    rir[0] = 1.0
    tail = rir[1 + n_pre:]
    # uniform taps, ~7× cheaper to draw than Gaussian ones: only the taps' variance (and so the decay,
    # RT60 and DRR) shapes the reverb, and each output sample sums thousands of them anyway
    uniform16(rng, tail)
    # energy decays 60 dB in rt60_s -> amplitude envelope exp(-3 ln(10) t / rt60), float32 throughout
    env = np.arange(n_tail, dtype=np.float32)
    env *= np.float32(-3.0 * np.log(10.0) / (rt60_s * sampling_rate))
    np.exp(env, out=env)
    tail *= env
    tail *= np.float32(np.sqrt(10.0 ** (-drr_db / 10.0) / float(np.einsum("i,i->", tail, tail))))  # direct path: 1
    rir.setflags(write=False)
    return rir


def parametric_rir(
    sampling_rate: int, rt60_s: float, drr_db: float, seed: int, predelay_s: float = 0.002
) -> np.ndarray:
    """A room impulse response: direct path at sample 0, then an exponentially decaying noise tail.

    The tail starts ``predelay_s`` after the direct path, decays 60 dB in ``rt60_s`` and is cut at
    1.1·RT60; its energy relative to the direct path sets the direct-to-reverberant ratio ``drr_db``.
    Same arguments → same (cached, read-only) array. No image method, no frequency-dependent decay:
    enough to smear speech over a realistic decay, cheap enough for 1000× realtime corpora.
    """
    if not (0.01 <= rt60_s <= 10.0):
        raise InputError(f"rt60_s must be in [0.01, 10] s, got {rt60_s}", source="rir")
    return _rir_cached(int(sampling_rate), float(rt60_s), float(drr_db), int(seed), float(predelay_s))


def estimate_rt60(rir: np.ndarray, sampling_rate: int, db_range: tuple[float, float] = (-5.0, -35.0)) -> float:
    """RT60 from Schroeder backward integration: straight-line fit of the energy decay curve (T30)."""
    h2 = np.asarray(rir, dtype=np.float64).reshape(-1) ** 2
    edc = np.cumsum(h2[::-1])[::-1]
    edc_db = 10.0 * np.log10(np.maximum(edc / edc[0], 1e-300))
    hi, lo = db_range
    idx = np.nonzero((edc_db <= hi) & (edc_db >= lo))[0]
    if idx.size < 2:
        raise InputError("RIR too short to measure its decay", source="rir")
    slope, _ = np.polyfit(idx / sampling_rate, edc_db[idx], 1)
    return float(-60.0 / slope)


def reverberate(x: np.ndarray, rir: np.ndarray, *, preserve_rms: bool = True, lead: int = 0) -> np.ndarray:
    """Convolve every channel with ``rir`` (one FFT product), keep N samples starting at ``lead``.

    The direct path sits at index ``lead`` of the RIR (0 for :func:`parametric_rir`), so the output is
    not delayed. With ``preserve_rms`` the output has the input's RMS, so the level change is left to
    the explicit loudness step of ``far_field``.
    """
    _check(x)
    n = x.shape[-1]
    h = np.asarray(rir, dtype=np.float32).reshape(1, -1)
    nfft = fast_len(n + h.shape[-1] - 1)
    spec = F.rfft(x, nfft, copy=False)
    spec *= F.rfft(h, nfft, copy=False, slot=1)
    y = F.irfft(spec, nfft, lead + n)[:, lead:]
    if preserve_rms:
        p_out = power(y)
        if p_out > 0.0:
            y *= np.float32(np.sqrt(power(x) / p_out))
    return y


def reverberate_lowpass(x: np.ndarray, sampling_rate: int, rir: np.ndarray, cutoff_hz: float,
                        order: int = 4, gain_db: float = 0.0) -> np.ndarray:
    """Reverb, then a zero-phase Butterworth low-pass, in ONE FFT product; the output has the input's
    RMS changed by ``gain_db``.

    Both are linear and time-invariant, so conv(x, h) low-passed = X · H_rir · |H_lp|² (|H_lp|² in
    closed form, see :func:`butter_power_response`). The FFT is 20 ms longer than the linear
    convolution, so the low-pass's pre-ringing never wraps onto the kept samples. Same result as
    :func:`reverberate` of :func:`lowpass_rir` up to the float32 filter of the latter; ~15 % cheaper.
    """
    _check(x)
    n = x.shape[-1]
    h = np.asarray(rir, dtype=np.float32).reshape(1, -1)
    nfft = fast_len(n + h.shape[-1] - 1 + int(round(0.02 * sampling_rate)))
    spec = F.rfft(x, nfft, copy=False)
    spec *= rir_lowpass_response(h, nfft, sampling_rate, cutoff_hz, order)
    y = F.irfft(spec, nfft, n)
    p_out = power(y)
    g = 10.0 ** (gain_db / 20.0)  # the level change rides on the RMS rescaling: one pass for both
    y *= np.float32(g * np.sqrt(power(x) / p_out) if p_out > 0.0 else g)
    return y


def rir_lowpass_response(rir: np.ndarray, nfft: int, sampling_rate: int, cutoff_hz: float,
                         order: int = 4) -> np.ndarray:
    """Spectrum of an RIR times a zero-phase Butterworth low-pass's |H|², on the rfft bins of ``nfft``:
    complex64 ``(1, nfft // 2 + 1)``, the FFT plan's buffer of slot 1 (see :func:`fft.rfft`): use it up
    before the next one."""
    tan2, _ = _grid(nfft, int(sampling_rate))
    h2 = _butter_h2(tan2, sampling_rate, "lowpass", cutoff_hz, order)
    spec = F.rfft(np.asarray(rir, dtype=np.float32).reshape(1, -1), nfft, copy=False, slot=1)
    spec *= h2
    return spec


def lowpass_rir(rir: np.ndarray, sampling_rate: int, cutoff_hz: float, order: int = 4) -> tuple[np.ndarray, int]:
    """Zero-phase low-pass of an RIR → (filtered RIR, lead): reverb then low-pass in ONE convolution.

    Both are linear and time-invariant, so conv(x, lowpass(h)) = lowpass(conv(x, h)). The zero-phase
    filter rings before the direct path too, so ``lead`` samples (20 ms) are kept in front of it;
    pass ``lead`` on to :func:`reverberate`.
    """
    lead = int(round(0.02 * sampling_rate))
    padded = np.zeros((1, lead + np.size(rir)), dtype=np.float32)
    padded[0, lead:] = np.asarray(rir, dtype=np.float32).reshape(-1)
    return spectral_filter(padded, sampling_rate, "lowpass", cutoff_hz, order=order)[0], lead


# --------------------------------------------------------------------------- 4. nonlinear distortion
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


# --------------------------------------------------------------------------- 5. resampling
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


# --------------------------------------------------------------------------- 6. spectral filtering
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


# --------------------------------------------------------------------------- 7. loudness change
def change_loudness(x: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale by ``gain_db`` (the level at the microphone of a distant talker)."""
    _check(x)
    return (x * np.float32(10.0 ** (gain_db / 20.0))).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- 8. frame dropout/stutter
def frame_length(sampling_rate: int, frame_ms: float = FRAME_MS) -> int:
    return max(1, int(round(sampling_rate * frame_ms / 1000.0)))


def num_frames(num_samples: int, sampling_rate: int, frame_ms: float = FRAME_MS) -> int:
    flen = frame_length(sampling_rate, frame_ms)
    return -(-num_samples // flen)


def loss_runs(
    n_frames: int, loss_rate: float, burst_frames: float, repeat_prob: float, seed: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Gilbert two-state Markov chain over frames → (dropped, repeated) runs ``[[start, length], ...]``.

    good→bad with probability p, bad→good with r = 1/burst_frames, p chosen so the stationary loss
    equals ``loss_rate`` (p = loss·r / (1 − loss)); the first state is drawn from the stationary
    distribution. Each lost burst is concealed by repeating the last good frame (a stutter) with
    probability ``repeat_prob``, else zeroed. A burst at the very start has nothing to repeat: zeroed.
    Both transitions read the same uniform per frame, so with one seed a higher loss/burst setting
    loses (almost always) a superset of frames: severity stays monotone per clip, not only on average.
    A plain loop over Python floats: clips have a few hundred 20-ms frames, fewer than numpy's per-call
    overheads would pay for.
    """
    if not 0.0 <= loss_rate < 1.0:
        raise InputError(f"loss rate must be in [0, 1), got {loss_rate}", source="dropout")
    if burst_frames < 1.0:
        raise InputError(f"mean burst length must be >= 1 frame, got {burst_frames}", source="dropout")
    rng = seeded_rng(seed)
    u = rng.random(n_frames).tolist()
    v = rng.random(n_frames).tolist()
    r = 1.0 / burst_frames
    p = min(1.0, loss_rate * r / (1.0 - loss_rate)) if loss_rate > 0.0 else 0.0
    dropped: list[list[int]] = []
    repeated: list[list[int]] = []
    bad, run = False, None
    for i in range(n_frames):
        bad = (u[i] < loss_rate) if i == 0 else ((u[i] >= r) if bad else (u[i] < p))
        if not bad:
            run = None
        elif run is None:  # a burst starts: stutter or silence for all of it
            run = [i, 1]
            (repeated if i > 0 and v[i] < repeat_prob else dropped).append(run)
        else:
            run[1] += 1
    return dropped, repeated


def loss_pattern(
    n_frames: int, loss_rate: float, burst_frames: float, repeat_prob: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`loss_runs` as (dropped, repeated) frame index arrays."""
    return tuple(_expand_runs(x) for x in loss_runs(n_frames, loss_rate, burst_frames, repeat_prob, seed))


def _expand_runs(runs: Sequence[Sequence[int]]) -> np.ndarray:
    """[[start, length], ...] → the sorted frame indices they cover."""
    if not len(runs):
        return np.zeros(0, dtype=np.int64)
    starts, lengths = np.asarray(runs, dtype=np.int64).reshape(-1, 2).T
    offsets = np.cumsum(lengths) - lengths  # position of each run's first index in the output
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


def frame_dropout(
    x: np.ndarray,
    sampling_rate: int,
    dropped: Sequence[int],
    repeated: Sequence[int] = (),
    frame_ms: float = FRAME_MS,
) -> np.ndarray:
    """Zero the ``dropped`` frames and replace each ``repeated`` frame by the last intact frame.

    Frames are ``frame_ms`` long (the last may be partial); indices past the end are ignored, so a
    pattern drawn for a slightly longer clip still applies. A frame in both lists is repeated; a
    repeated frame with no intact frame before it is zeroed.
    """
    return frame_dropout_runs(x, sampling_rate, _single_runs(dropped), _single_runs(repeated), frame_ms)


def _single_runs(idx: Sequence[int]) -> list[list[int]]:
    return [[i, 1] for i in np.asarray(idx, dtype=np.int64).reshape(-1).tolist()]


def frame_dropout_runs(
    x: np.ndarray,
    sampling_rate: int,
    dropped: Sequence[Sequence[int]],
    repeated: Sequence[Sequence[int]] = (),
    frame_ms: float = FRAME_MS,
) -> np.ndarray:
    """:func:`frame_dropout` with frames given as runs ``[[start, length], ...]`` (as params store them):
    one copy of the clip, then one slice per lost stretch instead of fancy indexing over all frames."""
    _check(x)
    c, n = x.shape
    flen = frame_length(sampling_rate, frame_ms)
    nf = -(-n // flen)
    state = [0] * nf  # 0 intact, 1 zero, 2 repeat
    for value, runs in ((1, dropped), (2, repeated)):
        for start, length in runs:
            lo, hi = max(int(start), 0), min(int(start) + int(length), nf)
            if lo < hi:  # frames outside the clip are ignored
                state[lo:hi] = [value] * (hi - lo)
    out = x.astype(np.float32, copy=True)
    last_intact, i = -1, 0
    while i < nf:
        kind = state[i]
        if kind == 0:
            last_intact, i = i, i + 1
            continue
        j = i + 1
        while j < nf and state[j] == kind:  # a stretch of one kind has one source (no intact frame inside)
            j += 1
        lo, hi = i * flen, min(j * flen, n)
        if kind == 1 or last_intact < 0:
            out[:, lo:hi] = 0.0
        else:  # the source is a whole frame: an intact frame before a lost one is never the partial last
            frame = x[:, last_intact * flen:(last_intact + 1) * flen]
            out[:, lo:hi] = np.tile(frame, (1, j - i))[:, : hi - lo]
        i = j
    return out


# --------------------------------------------------------------------------- noise generators
#: The lowest rfft bins get complex Gaussian draws, the others uniform 16-bit draws of the same variance
#: (cut from the generator's raw 64-bit output: ~7× cheaper than Gaussian draws). Each time sample sums
#: thousands of independent bins, so it is Gaussian all the same (central limit); the few lowest bins,
#: which dominate brown noise, are Gaussian themselves.
GAUSSIAN_BINS = 256
_INT16_STD = float(np.sqrt((65536.0**2 - 1.0) / 12.0))  # std of k + 1/2, k uniform on [-32768, 32767]


def uniform16(rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
    """Fill float32 ``out`` with k + 1/2, k uniform 16-bit integers (zero mean, std ``_INT16_STD``),
    from the generator's raw output: four values per 64-bit draw, no float conversion in the RNG."""
    raw = rng.bit_generator.random_raw(-(-out.size // 4))
    np.add(raw.view(np.int16)[: out.size].reshape(out.shape), np.float32(0.5), out=out)  # any layout of out
    return out


def _noise_slope(kind: str, nfft: int) -> np.ndarray:
    """Amplitude per rfft bin: 1 (white), f^-1/2 (pink), f^-1 (brown); 0 at DC (no offset). float64."""
    f = np.arange(nfft // 2 + 1, dtype=np.float64)
    f[0] = 1.0
    slope = np.ones_like(f) if kind == "white" else f ** (-0.5 if kind == "pink" else -1.0)
    slope[0] = 0.0
    return slope


@lru_cache(maxsize=16)
def _noise_shape(kind: str, nfft: int) -> np.ndarray:
    shape = _noise_slope(kind, nfft)
    shape[GAUSSIAN_BINS:] /= _INT16_STD  # the uniform bins' draws (see uniform16) get variance 1 too
    shape = shape.astype(np.float32)
    shape.setflags(write=False)
    return shape


def spectrum_power(spec: np.ndarray, nfft: int, full: bool = True) -> np.ndarray:
    """Mean power per channel (float64 ``(channels,)``) over the ``nfft`` samples of the signal whose
    rfft is ``spec`` (Parseval: no inverse transform needed). ``full=False``: ``spec`` holds only the
    lowest bins (no Nyquist bin among them), the others being zero."""
    spec = np.ascontiguousarray(spec)
    v = spec.view(np.float32)
    # every bin but DC/Nyquist counts twice; one row at a time: einsum's 1-D path is the fast one
    e = 2.0 * np.array([float(np.einsum("i,i->", row, row)) for row in v])
    e -= np.abs(spec[:, 0]) ** 2
    if full and nfft % 2 == 0:
        e -= np.abs(spec[:, -1]) ** 2
    return np.maximum(e, 0.0) / float(nfft) ** 2


def noise_spectrum(kind: str, channels: int, nfft: int, seed: int, normalise: bool = True) -> np.ndarray:
    """rfft bins of white / pink (1/f power) / brown (1/f² power) noise: complex64
    ``(channels, nfft // 2 + 1)``, with unit mean power per channel over ``nfft`` samples (or as drawn,
    when the caller folds the scaling into its own gain: ``normalise=False``). What the fused linear
    chain adds (see :mod:`lhotse_wild.spectral`); :func:`colored_noise` is its time-domain twin."""
    spec, p = noise_band(kind, channels, nfft, seed, nfft // 2 + 1)
    if normalise:
        spec *= (1.0 / np.sqrt(np.maximum(p, 1e-30))).astype(np.float32)[:, None]
    return spec


def noise_band(kind: str, channels: int, nfft: int, seed: int, top: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``top`` rfft bins of :func:`noise_spectrum`'s noise, unnormalised, and the noise's power
    per channel over ``nfft`` samples: drawn for the bins below ``top``, expected for those above.

    Why: before a device that keeps nothing above its Nyquist, the bins above it would be drawn only to
    be multiplied by zero. Their realised power could not be observed anywhere, so the SNR counts their
    expected power. With ``top`` = all bins this is exactly the whole spectrum and its power.
    """
    if kind not in COLORED_NOISES:
        raise InputError(f"colored noise must be one of {COLORED_NOISES}, got {kind!r}", source="noise")
    bins = nfft // 2 + 1
    top = max(1, min(int(top), bins))
    rng = seeded_rng(seed)
    g = min(GAUSSIAN_BINS, top)
    spec = np.empty((channels, top), dtype=np.complex64)
    v = spec.view(np.float32)  # (channels, 2·top): re, im interleaved
    v[:, : 2 * g] = rng.standard_normal((channels, 2 * g), dtype=np.float32)
    if top > g:
        if channels == 1:  # the row is contiguous: draw in place
            uniform16(rng, v[:, 2 * g:])
        else:
            v[:, 2 * g:] = uniform16(rng, np.empty((channels, 2 * (top - g)), dtype=np.float32))
    spec *= _noise_shape(kind, nfft)[:top]  # scales the uniform bins to variance 1 as well
    p = spectrum_power(spec, nfft, full=top == bins)
    if top < bins:
        p += _expected_power_above(kind, nfft)[top]
    return spec, p


@lru_cache(maxsize=16)
def _expected_power_above(kind: str, nfft: int) -> np.ndarray:
    """[k] = expected power (over ``nfft`` samples) of the noise's bins k and above (float64)."""
    base = _noise_slope(kind, nfft)
    w = np.full(base.size, 2.0)  # both signs of frequency; Nyquist (even nfft) once
    if nfft % 2 == 0:
        w[-1] = 1.0
    e = w * 2.0 * base**2 / float(nfft) ** 2  # E|N_k|² = 2 (re and im have variance 1 each)
    above = np.concatenate([np.cumsum(e[::-1])[::-1], [0.0]])
    above.setflags(write=False)
    return above


def colored_noise(kind: str, shape: tuple[int, int], seed: int) -> np.ndarray:
    """White / pink (1/f power) / brown (1/f² power) Gaussian noise with unit power per channel.

    Drawn in the frequency domain (:func:`noise_spectrum`, one inverse FFT), then scaled so the kept
    ``samples`` have exactly unit power.
    """
    c, n = shape
    nfft = fast_len(n)
    noise = F.irfft(noise_spectrum(kind, c, nfft, seed, normalise=False), nfft, n)
    p = np.einsum("ij,ij->i", noise, noise).astype(np.float64) / max(n, 1)
    noise *= (1.0 / np.sqrt(np.maximum(p, 1e-24))).astype(np.float32)[:, None]
    return noise
