"""The acoustic path: echo taps, room impulse responses (flat, or with RT60 and level per frequency from
:mod:`lhotse_wild.acoustics`), their RT60 / DRR read back, and reverb in one FFT product."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
import scipy.signal

from lhotse_wild import acoustics as A
from lhotse_wild import fft as F
from lhotse_wild.dsp import _check, fast_len, power, seeded_rng, uniform16
from lhotse_wild.filters import _butter_h2, _grid, spectral_filter
from nemo_wild_eval.errors import InputError


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


#: block of the band-shaped tail's synthesis, in seconds (32 ms: ~31-Hz bins, 2-3 in the 125-Hz octave), hop half of it
ROOM_BLOCK_S = 0.032


@lru_cache(maxsize=8)
def _block_grid(sampling_rate: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The tail synthesis's block size and, on its rfft bins: octaves below 500 Hz / above 1 kHz (per 2
    octaves, see :func:`acoustics.walls_ratio`), air's decay term 4mc/55.3 (1/s), the talker's 1/Q
    relative to 1 kHz, and the sqrt-Hann window. Read-only; per rate, so the per-clip work is a few
    passes over ~130 bins."""
    block = 1 << max(4, int(round(np.log2(ROOM_BLOCK_S * sampling_rate))))
    f = np.fft.rfftfreq(block, 1.0 / sampling_rate)
    o = np.log2(np.clip(f, 62.5, 16000.0) / 1000.0)
    octs = np.stack([np.clip(-1.0 - o, 0.0, None) / 2.0, np.clip(o, 0.0, None) / 2.0])
    air = A.air_absorption_db_per_m(f) / (10.0 * np.log10(np.e)) * 4.0 * A.SPEED_OF_SOUND / 55.3
    inv_q = 10.0 ** (-(A.speech_directivity_db(f) - A.speech_directivity_db(np.array([1000.0]))) / 10.0)
    win = np.sqrt(np.hanning(block + 1)[:block]).astype(np.float32)  # squares add to 1 at 50 % overlap
    out = (block, octs, air, inv_q, win)
    for a in out[1:]:
        a.setflags(write=False)
    return out


@lru_cache(maxsize=128)
def _band_rir_cached(sampling_rate: int, rt60_s: float, drr_db: float, bass_ratio: float, treble_ratio: float,
                     seed: int, predelay_s: float) -> np.ndarray:
    sr = sampling_rate
    block, octs, air, inv_q, win = _block_grid(sr)
    hop = block // 2
    # acoustics.band_rt60 and reverberant_shape on the block's bins, from the cached terms
    t60 = 1.0 / (1.0 / (rt60_s * np.exp(octs[0] * np.log(bass_ratio) + octs[1] * np.log(treble_ratio))) + air)
    t_ref = 1.0 / (1.0 / rt60_s + float(A.air_absorption_db_per_m(np.array([1000.0]))[0]
                                        / (10.0 * np.log10(np.e)) * 4.0 * A.SPEED_OF_SOUND / 55.3))
    # cut at 1.1·RT60 of the mid band, as the flat RIR: the slowest (lowest) band is then >= 45 dB down
    # (bass ratio <= 1.4), and the FFT grids of the effects stay as long as they were
    n_tail = max(1, int(round(min(float(t60.max()), 1.1 * t_ref) * sr)))
    n_pre = int(round(predelay_s * sr))
    k = 3.0 * np.log(10.0) / (t60 * sr)  # amplitude decay per sample, per bin
    k_min = float(k.min())
    n_blocks = -(-n_tail // hop) + 1
    # block spectra of noise: each bin's amplitude is the reverberant level of its frequency (T/Q) times
    # its decay relative to the slowest bin at the block's centre; the slowest decay multiplies the
    # whole tail below, so the blocks carry only the gentle relative decays (no steps between blocks)
    level = np.sqrt(t60 / t_ref * inv_q).astype(np.float32)
    level[0] = 0.0  # no DC offset in the tail
    gain = np.multiply.outer(np.arange(n_blocks, dtype=np.float32), ((k_min - k) * hop).astype(np.float32))
    np.exp(gain, out=gain)
    gain *= level
    spec = np.empty((n_blocks, level.size), dtype=np.complex64)
    uniform16(seeded_rng(seed), spec.view(np.float32))
    spec *= gain
    frames = np.fft.irfft(spec, block, axis=-1).astype(np.float32, copy=False)
    frames *= win
    out = np.zeros((n_blocks + 1) * hop, dtype=np.float32)
    out[: n_blocks * hop].reshape(n_blocks, hop)[:] += frames[:, :hop]
    out[hop:].reshape(n_blocks, hop)[:] += frames[:, hop:]
    rir = np.zeros(1 + n_pre + n_tail, dtype=np.float32)
    rir[0] = 1.0
    tail = rir[1 + n_pre:]
    tail[:] = out[hop: hop + n_tail]  # from the first sample where two windows overlap
    env = np.arange(n_tail, dtype=np.float32)
    env *= np.float32(-k_min)
    np.exp(env, out=env)
    tail *= env
    tail *= np.float32(np.sqrt(10.0 ** (-drr_db / 10.0) / float(np.einsum("i,i->", tail, tail))))  # direct path: 1
    rir.setflags(write=False)
    return rir


def band_rir(sampling_rate: int, rt60_s: float, drr_db: float, seed: int, bass_ratio: float = 1.0,
             treble_ratio: float = 1.0, predelay_s: float = 0.002) -> np.ndarray:
    """A room impulse response whose decay depends on frequency: direct path at sample 0, then noise
    whose RT60 follows :func:`acoustics.band_rt60` (``rt60_s`` in the mid band, ``bass_ratio`` /
    ``treble_ratio`` of the walls at 125 Hz / 4 kHz, air absorption on top) and whose level per
    frequency follows :func:`acoustics.reverberant_shape` (T/Q: the tail darkens as it decays).

    Why this construction: an image-method room costs far more than the 1000×-realtime budget; the
    tail is drawn as 32-ms noise spectra, each bin scaled by its own decay at the block's time, then
    overlap-added (sqrt-Hann windows, 50 %): a few small FFTs for the whole tail. The broadband energy
    relative to the direct path is ``drr_db``. Same arguments → same (cached, read-only) array.
    """
    if not (0.01 <= rt60_s <= 10.0):
        raise InputError(f"rt60_s must be in [0.01, 10] s, got {rt60_s}", source="rir")
    if not (0.3 <= bass_ratio <= 3.0 and 0.3 <= treble_ratio <= 3.0):
        raise InputError(f"bass/treble ratios must be in [0.3, 3], got {bass_ratio}, {treble_ratio}", source="rir")
    return _band_rir_cached(int(sampling_rate), float(rt60_s), float(drr_db), float(bass_ratio),
                            float(treble_ratio), int(seed), float(predelay_s))


@lru_cache(maxsize=8)
def _air_grid(nfft: int, sampling_rate: int) -> np.ndarray:
    """Air's amplitude attenuation in nepers per metre on the rfft bins of ``nfft`` (float32, read-only)."""
    a = (A.air_absorption_db_per_m(np.fft.rfftfreq(nfft, 1.0 / sampling_rate)) / (20.0 * np.log10(np.e)))
    a = a.astype(np.float32)
    a.setflags(write=False)
    return a


def room_response(rir: np.ndarray, nfft: int, sampling_rate: int, distance_m: float) -> np.ndarray:
    """Spectrum of an RIR whose direct path (sample 0, amplitude 1) crossed ``distance_m`` of air
    (ISO 9613-1: 0.1 dB at 8 kHz per metre), on the rfft bins of ``nfft``: complex64
    ``(1, nfft // 2 + 1)``, the FFT plan's buffer of slot 1 (see :func:`fft.rfft`). The direct path's
    filter is zero-phase, so the caller's grid needs a few ms of room after the RIR (it has 0.1 s)."""
    spec = F.rfft(np.asarray(rir, dtype=np.float32).reshape(1, -1), nfft, copy=False, slot=1)
    if distance_m > 0.0:
        air = _air_grid(nfft, int(sampling_rate)) * np.float32(-distance_m)
        np.exp(air, out=air)
        air -= 1.0  # the direct path's 1 is already in spec
        spec += air
    return spec


def reverberate_room(x: np.ndarray, sampling_rate: int, rir: np.ndarray, distance_m: float,
                     gain_db: float = 0.0) -> np.ndarray:
    """Reverb with the direct path's air absorption (:func:`room_response`) in ONE FFT product; the
    output has the input's RMS changed by ``gain_db``."""
    _check(x)
    n = x.shape[-1]
    h = np.asarray(rir, dtype=np.float32).reshape(1, -1)
    nfft = fast_len(n + h.shape[-1] - 1 + int(round(0.02 * sampling_rate)))
    spec = F.rfft(x, nfft, copy=False)
    spec *= room_response(h, nfft, sampling_rate, distance_m)
    y = F.irfft(spec, nfft, n)
    p_out = power(y)
    g = 10.0 ** (gain_db / 20.0)
    y *= np.float32(g * np.sqrt(power(x) / p_out) if p_out > 0.0 else g)
    return y


def band_rt60_estimates(rir: np.ndarray, sampling_rate: int, bands_hz=A.OCTAVES_HZ) -> dict[float, float]:
    """RT60 per octave band read back from an RIR: octave band-pass (zero-phase Butterworth, 3rd order),
    then Schroeder backward integration (:func:`estimate_rt60`, T20 fit from -5 to -25 dB) of the part
    after the direct path (sample 0)."""
    h = np.asarray(rir, dtype=np.float64).reshape(1, -1)[:, 1:]  # the tail: the direct path would dominate
    out = {}
    for fc in bands_hz:
        lo, hi = fc / np.sqrt(2.0), fc * np.sqrt(2.0)
        if hi >= 0.5 * sampling_rate:
            continue
        sos = scipy.signal.butter(3, (lo, hi), btype="bandpass", fs=sampling_rate, output="sos")
        out[fc] = estimate_rt60(scipy.signal.sosfiltfilt(sos, h, axis=-1), sampling_rate, (-5.0, -25.0))
    return out


def drr_db(rir: np.ndarray, sampling_rate: int, direct_ms: float = 1.0) -> float:
    """Direct-to-reverberant ratio of an RIR: energy of the first ``direct_ms`` over the rest."""
    h2 = np.asarray(rir, dtype=np.float64).reshape(-1) ** 2
    k = max(1, int(round(direct_ms * 1e-3 * sampling_rate)))
    return float(10.0 * np.log10(h2[:k].sum() / max(h2[k:].sum(), 1e-300)))


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
