"""Additive noise: SNR scaling and the colored-noise draws (as spectra for the fused chain, or audio)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lhotse_wild import fft as F
from lhotse_wild.dsp import _INT16_STD, COLORED_NOISES, POWER_FLOOR, _check, fast_len, power, seeded_rng, uniform16
from nemo_wild_eval.errors import InputError


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


#: The lowest rfft bins get complex Gaussian draws, the others uniform 16-bit draws of the same variance
#: (cut from the generator's raw 64-bit output: ~7× cheaper than Gaussian draws). Each time sample sums
#: thousands of independent bins, so it is Gaussian all the same (central limit); the few lowest bins,
#: which dominate brown noise, are Gaussian themselves.
GAUSSIAN_BINS = 256



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
