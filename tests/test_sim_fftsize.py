"""FFT sizes of the simulator's one-pass filters: fast (2^a·r) and exact (no wrap-around)."""

import numpy as np
import pytest

from lhotse_wild import primitives as P


@pytest.mark.parametrize("n, expected", [
    (1, 1), (2, 2), (7, 8), (64000, 65536), (65537, 73728),  # 9·2^13
    (65600, 73728), (78400, 81920),  # 5·2^14 where next_fast_len gives 78 732 = 2²·3⁹
    (100000, 122880),  # 15·2^13
])
def test_fast_len_is_the_smallest_2a_times_r_at_least_n(n, expected):
    assert P.fast_len(n) == expected


def test_fast_len_form_and_bound_over_a_range():
    for n in range(1, 5000, 7):
        m = P.fast_len(n)
        assert m >= n
        r = m
        while r % 2 == 0:
            r //= 2
        assert r in (1, 3, 5, 9, 15)
        assert m < 2 * n + 2  # never more than double (a power of two is always a candidate)


def test_reverb_with_fast_sizes_equals_direct_convolution():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 16000 * 3 + 123)).astype(np.float32)
    rir = P.parametric_rir(16000, 0.7, 3.0, seed=5)
    y = P.reverberate(x, rir, preserve_rms=False)
    ref = np.convolve(x[0].astype(np.float64), rir.astype(np.float64))[: x.shape[1]]
    assert np.max(np.abs(y[0] - ref)) < 1e-4 * np.max(np.abs(ref))
