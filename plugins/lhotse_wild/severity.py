"""Severity samplers: one severity s ∈ [0, 1] per sample, shared by every active effect (DESIGN §3).

``linear`` (uniform) is the default and the best in the paper's pilot; ``sqrt_forward`` biases towards
hard (density 2s), ``sqrt_backward`` towards easy (density 2(1 − s)), ``gaussian_mid`` concentrates on
medium severity (N(0.5, 0.18²) truncated to [0, 1] by redrawing, so no mass piles up at the ends).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from nemo_wild_eval.errors import InputError


def _linear(rng: np.random.Generator) -> float:
    return float(rng.random())


def _sqrt_forward(rng: np.random.Generator) -> float:
    return float(np.sqrt(rng.random()))


def _sqrt_backward(rng: np.random.Generator) -> float:
    return float(1.0 - np.sqrt(rng.random()))


def _gaussian_mid(rng: np.random.Generator) -> float:
    while True:
        s = float(rng.normal(0.5, 0.18))
        if 0.0 <= s <= 1.0:
            return s


SAMPLERS: dict[str, Callable[[np.random.Generator], float]] = {
    "linear": _linear,
    "sqrt_forward": _sqrt_forward,
    "sqrt_backward": _sqrt_backward,
    "gaussian_mid": _gaussian_mid,
}


def sample_severity(sampler: str, rng: np.random.Generator) -> float:
    """Draw one severity with the named sampler (InputError naming an unknown sampler)."""
    try:
        fn = SAMPLERS[sampler]
    except (KeyError, TypeError):
        raise InputError(f"unknown severity sampler {sampler!r}; expected one of {sorted(SAMPLERS)}",
                         source="sampler") from None
    return fn(rng)


def check_severity(severity: float) -> float:
    """Severity as a float in [0, 1]; InputError otherwise (NaN included)."""
    try:
        s = float(severity)
    except (TypeError, ValueError):
        raise InputError(f"severity must be a number in [0, 1], got {severity!r}", source="severity") from None
    if not 0.0 <= s <= 1.0:
        raise InputError(f"severity must be in [0, 1], got {severity!r}", source="severity")
    return s
