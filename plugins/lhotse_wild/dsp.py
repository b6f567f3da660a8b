"""What every primitive shares: the float32 ``(channels, samples)`` contract, FFT sizes, seeded
generators, power, and the raw uniform draws that noise and RIR tails are made of."""

from __future__ import annotations

import hashlib
import threading
from functools import lru_cache

import numpy as np

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


_INT16_STD = float(np.sqrt((65536.0**2 - 1.0) / 12.0))  # std of k + 1/2, k uniform on [-32768, 32767]



def uniform16(rng: np.random.Generator, out: np.ndarray) -> np.ndarray:
    """Fill float32 ``out`` with k + 1/2, k uniform 16-bit integers (zero mean, std ``_INT16_STD``),
    from the generator's raw output: four values per 64-bit draw, no float conversion in the RNG."""
    raw = rng.bit_generator.random_raw(-(-out.size // 4))
    np.add(raw.view(np.int16)[: out.size].reshape(out.shape), np.float32(0.5), out=out)  # any layout of out
    return out
