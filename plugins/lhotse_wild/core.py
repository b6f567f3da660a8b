"""Functional core: ``degrade`` (draw + apply) and ``replay`` (apply recorded params).

``degrade(samples, sr, scenario, severity, seed)`` is a pure function: same inputs → bit-identical
output, in any process. It returns the audio and ``params``, a JSON-serialisable dict with every
resolved value; ``replay(samples, sr, params)`` applies exactly those values again.

Output safety: the result is float32, finite, and its peak never exceeds ``PEAK_CEILING`` (the whole
clip is scaled down when a step — noise, echo, EQ — pushed it above; recorded as ``output.peak_gain_db``).
Nothing is clipped unless the ``distortion`` effect asks for it, and the length never changes.
"""

from __future__ import annotations

import warnings
from typing import Any, Mapping

import numpy as np

from lhotse_wild import fft
from lhotse_wild.effects import apply_step, load_config, resolve_effect
from lhotse_wild.noise import NoiseBank
from lhotse_wild.scenarios import scenario_effects
from lhotse_wild.severity import check_severity
from lhotse_wild.spectral import linear_runs, render_run
from nemo_wild_eval.errors import InputError

# -2: far_field, obstructed, recording filters as FFT products; -3: FFT sizes from fast_len;
# -4: FFTW, runs of linear effects fused in one spectrum (lhotse_wild.spectral), noise drawn as spectra
# -5: far_field's room with RT60 and level per frequency and the direct path's air (no fixed low-pass);
#     recording's telephone-like hard end, AGC and optional codec
PARAMS_VERSION = "lhotse_wild-5"
PEAK_CEILING = 0.999
MIN_RATE, MAX_RATE = 8000, 192000
MIN_DURATION_S = 0.1
MAX_CHANNELS = 64


def check_sampling_rate(sampling_rate: Any) -> int:
    """An integer rate in [8 kHz, 192 kHz]; InputError naming it otherwise."""
    try:
        sr = int(sampling_rate)
        ok = sr == sampling_rate
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok or not MIN_RATE <= sr <= MAX_RATE:
        raise InputError(f"sampling rate must be an integer in [{MIN_RATE}, {MAX_RATE}] Hz, got {sampling_rate!r}",
                         source="sampling_rate")
    return sr


def check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}", source="seed")
    return int(seed)


def as_channels(samples: Any, sampling_rate: int) -> np.ndarray:
    """Validate audio and return float32 ``(channels, samples)`` (1-D input = one channel)."""
    x = np.asarray(samples)
    if not np.issubdtype(x.dtype, np.floating):
        raise InputError(f"samples must be floating point in [-1, 1], got dtype {x.dtype} "
                         "(integer PCM: divide by 32768 first)", source="samples")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2:
        raise InputError(f"samples must be (samples,) or (channels, samples), got shape {x.shape}", source="samples")
    if x.shape[0] > MAX_CHANNELS:
        raise InputError(f"{x.shape[0]} channels: samples look transposed; pass (channels, samples)",
                         source="samples")
    if x.shape[1] == 0:
        raise InputError("samples are empty", source="samples")
    if x.shape[1] < MIN_DURATION_S * sampling_rate:
        raise InputError(f"audio is {x.shape[1]} samples ({x.shape[1] / sampling_rate:.3f} s); "
                         f"need at least {MIN_DURATION_S} s", source="samples")
    # max and min instead of a boolean mask: NaN/inf show in them (cheap on the hot path); only when
    # they are not finite is the first bad sample located
    if not (np.isfinite(np.max(x)) and np.isfinite(np.min(x))):
        bad = np.argwhere(~np.isfinite(x))
        if bad.size:
            ch, pos = bad[0]
            raise InputError(f"samples contain NaN/inf (first at channel {ch}, sample {pos})", source="samples")
    return x.astype(np.float32, copy=False)


def resolve_params(
    scenario: str,
    severity: float,
    seed: int,
    sampling_rate: int,
    num_samples: int,
    num_channels: int = 1,
    *,
    noise_source: Any = None,
    config: Any = None,
    exclude_cut_id: str | None = None,
) -> dict[str, Any]:
    """Every value the scenario needs for a clip of ``num_samples`` — no audio required.

    ``exclude_cut_id`` keeps a cut out of its own babble.
    """
    effects = scenario_effects(scenario)
    s = check_severity(severity)
    seed = check_seed(seed)
    sr = check_sampling_rate(sampling_rate)
    cfg = load_config(config)
    bank = NoiseBank.coerce(noise_source)
    steps = [resolve_effect(e, s, seed, sr, int(num_samples), cfg, bank, exclude_cut_id) for e in effects]
    return {
        "version": PARAMS_VERSION,
        "fft": fft.BACKEND,  # FFTW and pocketfft round differently: replay across them is not bit-exact
        "scenario": scenario,
        "effects": list(effects),
        "severity": s,
        "seed": seed,
        "sampling_rate": sr,
        "num_samples": int(num_samples),
        "num_channels": int(num_channels),
        "steps": steps,
    }


def _render(x: np.ndarray, sr: int, params: Mapping[str, Any], bank: NoiseBank | None) -> tuple[np.ndarray, float]:
    y = x
    steps = params["steps"]
    runs = dict(linear_runs(steps))  # start -> stop of each fused run of linear effects
    i = 0
    while i < len(steps):
        if i in runs:
            y, i = render_run(y, sr, steps[i:runs[i]], bank), runs[i]
        else:
            y, i = apply_step(y, sr, steps[i], bank), i + 1
    top, bottom = float(np.max(y)), float(np.min(y))  # NaN and ±inf show in these two: no extra pass
    if not (np.isfinite(top) and np.isfinite(bottom)):  # pragma: no cover - guarded by input checks
        raise RuntimeError(f"non-finite output in scenario {params.get('scenario')!r}: please report")
    peak = max(top, -bottom)  # no |y| temporary
    gain_db = 0.0
    if peak > PEAK_CEILING:
        g = PEAK_CEILING / peak * (1.0 - 1e-6)  # float32 rounding must not land above the ceiling
        y = (y * np.float32(g)).astype(np.float32)
        gain_db = round(20.0 * np.log10(g), 6)
    return y.astype(np.float32, copy=False), gain_db


def _restore_shape(y: np.ndarray, original: Any) -> np.ndarray:
    return y[0] if np.ndim(original) == 1 else y


def degrade(
    samples: np.ndarray,
    sampling_rate: int,
    scenario: str,
    severity: float,
    seed: int,
    *,
    noise_source: Any = None,
    config: Any = None,
    exclude_cut_id: str | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Degrade ``samples`` with one scenario at one severity; returns ``(audio, params)``.

    ``samples``: float ``(samples,)`` or ``(channels, samples)`` at ``sampling_rate`` (8–192 kHz);
    the output has the same shape, float32. ``noise_source``: a :class:`NoiseBank` or a CutSet of noise
    (user noise); without one, ``noise`` uses colored noise generated from the seed. ``config``:
    range overrides (dict or YAML path, see :func:`lhotse_wild.effects.load_config`).
    """
    sr = check_sampling_rate(sampling_rate)
    x = as_channels(samples, sr)
    bank = NoiseBank.coerce(noise_source)
    params = resolve_params(scenario, severity, seed, sr, x.shape[1], x.shape[0], noise_source=bank,
                            config=config, exclude_cut_id=exclude_cut_id)
    y, gain_db = _render(x, sr, params, bank)
    params["output"] = {"peak_gain_db": gain_db}
    return _restore_shape(y, samples), params


def check_params(params: Any) -> Mapping[str, Any]:
    """Structural check of recorded params (version, scenario, steps), InputError naming the problem."""
    if not isinstance(params, Mapping):
        raise InputError(f"params must be a mapping, got {type(params).__name__}", source="params")
    version = params.get("version")
    if version != PARAMS_VERSION:
        raise InputError(f"params version {version!r} is not {PARAMS_VERSION!r}", source="params")
    effects = scenario_effects(params.get("scenario"))
    steps = params.get("steps")
    if not isinstance(steps, list) or [s.get("effect") for s in steps if isinstance(s, Mapping)] != list(effects):
        raise InputError(f"params steps do not match scenario {params.get('scenario')!r} ({effects})",
                         source="params")
    return params


def replay(
    samples: np.ndarray,
    sampling_rate: int,
    params: Mapping[str, Any],
    *,
    noise_source: Any = None,
) -> np.ndarray:
    """Apply recorded ``params`` again: bit-identical to the ``degrade`` call that produced them.

    Audio noise is taken from ``noise_source`` when it holds the referenced cut id, else from the
    cut manifest embedded in the params.
    """
    check_params(params)
    sr = check_sampling_rate(sampling_rate)
    if sr != params.get("sampling_rate"):
        raise InputError(f"params were resolved at {params.get('sampling_rate')} Hz, audio is {sr} Hz",
                         source="sampling_rate")
    x = as_channels(samples, sr)
    if params.get("fft", fft.BACKEND) != fft.BACKEND:
        warnings.warn(f"params were rendered with the {params['fft']} FFT, this process uses {fft.BACKEND}: "
                      "the replay matches to float32 rounding, not bit for bit", stacklevel=2)
    y, _ = _render(x, sr, params, NoiseBank.coerce(noise_source))
    return _restore_shape(y, samples)
