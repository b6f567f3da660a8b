"""Consecutive linear effects rendered in ONE spectrum: far_field / obstructed → noise → recording.

Why: each of these effects is a zero-phase filter, a convolution or an addition, so a run of them is
one product-and-sum of spectra. Rendering the run step by step costs an FFT pair per effect (plus
one for colored noise); rendering it fused costs one forward FFT of the clip, one of the RIR, one
inverse, and the noise is drawn straight into the spectrum (:func:`primitives.noise_spectrum`).
That is most of the simulator's time on compound scenarios.

The fused run follows the signal past the clip's end: the FFT grid holds the clip, the whole reverb
tail and 0.1 s for the filters' responses, and the clip is cut out only at the end. So, where the
step-by-step rendering measures levels on the clip alone, the fused one measures them by Parseval on
the grid:

- ``far_field`` gives the reverberant signal, tail included, the input's energy (then ``gain_db``);
- ``noise`` sets ``snr_db`` against that signal's energy per clip sample, and the noise runs on under
  the tail (a microphone keeps hearing the room after the talker stops).

On the kept clip both agree with the step-by-step rendering to about 0.3 dB (the share of the
reverb tail that rings past the clip's end: 0.32 dB at RT60 1.4 s mid-band, 2 s at 125 Hz, on a 3-s clip); tests/test_sim_fused.py measures it. Everything else
(the responses, the draws, the params) is the same, so ``params`` do not say which rendering ran:
``core`` always fuses a run of two or more of these effects.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from lhotse_wild import fft as F
from lhotse_wild import primitives as P
from lhotse_wild.effects import device_after, render_noise, step_cutoffs, step_device, step_rir
from nemo_wild_eval.errors import InputError

#: room kept after the clip (and the reverb tail) for the zero-phase responses' tails: nothing wraps
FILTER_MARGIN_S = 0.1


def is_linear(step: Mapping[str, Any]) -> bool:
    """Whether ``step`` can join a fused run (the polyphase resampler is a time-domain filter)."""
    effect = step.get("effect")
    if effect == "recording":  # a codec is a time-domain coder: it renders step by step
        return step.get("resampler") == "fft" and step.get("codec", "none") == "none"
    return effect in ("far_field", "obstructed", "noise")


def linear_runs(steps: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """``[start, stop)`` of every run of two or more consecutive linear steps, in order. A run ends at a
    ``recording`` step: the device's AGC acts on the time signal after it."""
    runs, start = [], None
    for i, step in enumerate(list(steps) + [{}]):
        linear = is_linear(step)
        if linear and start is None:
            start = i
        if start is not None and (not linear or step.get("effect") == "recording"):
            stop = i + 1 if linear else i
            if stop - start >= 2:
                runs.append((start, stop))
            start = None
    return runs


def render_run(x: np.ndarray, sr: int, steps: Sequence[Mapping[str, Any]], noise_bank: Any = None) -> np.ndarray:
    """Apply linear ``steps`` (see :func:`is_linear`) to ``(channels, samples)`` float32 in one spectrum."""
    at: list[Any] = [None]  # the step being read, for the error message
    try:
        return _render(x, sr, steps, noise_bank, at)
    except KeyError as exc:  # the same message as a step rendered on its own (effects.apply_step)
        raise InputError(f"params step {at[0]!r} lacks {exc}", source="params") from None


def _render(x: np.ndarray, sr: int, steps: Sequence[Mapping[str, Any]], noise_bank: Any, at: list) -> np.ndarray:
    c, n = x.shape
    if any(s.get("effect") == "recording" for s in steps[:-1]):
        raise InputError("a fused run must end at its recording step (its AGC follows in time)", source="params")
    rirs = {}
    for i, step in enumerate(steps):
        at[0] = step["effect"]
        if at[0] == "far_field":
            rirs[i] = step_rir(step, sr)
    filters = any(s["effect"] != "noise" for s in steps)
    nfft = P.fast_len(n + sum(r.size for r in rirs.values()) + (int(FILTER_MARGIN_S * sr) if filters else 0))
    spec = F.rfft(x, nfft, copy=False)  # slot 0 until the end; the RIR and audio noise use slot 1
    # the signal is gain · irfft(spec): scalar gains wait for the inverse FFT, which scales anyway
    gain = 1.0
    energy: float | None = P.power(x) * x.size  # of the signal so far (all channels); None: not known
    for i, step in enumerate(steps):
        effect = at[0] = step["effect"]
        if effect == "far_field":
            e_in = energy if energy is not None else _energy(spec, nfft) * gain * gain
            spec *= P.room_response(rirs[i], nfft, sr, float(step["distance_m"]))
            e_out = _energy(spec, nfft)  # of irfft(spec), before `gain`
            g = 10.0 ** (float(step["gain_db"]) / 20.0)
            gain = g * np.sqrt(e_in / e_out) if e_out > 0.0 else gain * g
            energy = e_in * g * g if e_out > 0.0 else 0.0
        elif effect == "obstructed":
            spec *= P.cascade_response(nfft, sr, step_cutoffs(step), int(step["order"]))
            energy = None
        elif effect == "recording":
            spec *= P.device_response(nfft, sr, *step_device(step))
            energy = None
        else:  # noise: scaled against the signal's power per clip sample, as P.add_noise does
            e_sig = energy if energy is not None else _energy(spec, nfft) * gain * gain
            p_sig = max(e_sig / (c * n), P.POWER_FLOOR)
            source = step["source"]
            if source.get("kind") in P.COLORED_NOISES:  # drawn as a spectrum; the scaling goes into `a`
                noise, p_noise = P.noise_band(source["kind"], c, nfft, int(source["seed"]), _kept_bins(steps[i:], nfft, sr))
            else:  # user / babble audio: (1, n) at the clip's rate
                audio = render_noise(source, x.shape, sr, noise_bank)
                p_noise = np.array([P.power(audio)])
                if p_noise[0] <= 0.0:
                    raise InputError("noise is silent: cannot scale it to an SNR", source="noise")
                noise = F.rfft(audio, nfft, copy=False, slot=1)  # added at once
            a = np.sqrt(p_sig / (np.maximum(p_noise, 1e-30) * 10.0 ** (float(step["snr_db"]) / 10.0)))
            noise *= (a / gain).astype(np.float32)[:, None]
            spec[:, : noise.shape[1]] += noise
            energy = None
    y = F.irfft(spec, nfft, n, scale=gain)
    if steps[-1]["effect"] == "recording":  # the device's AGC acts on the time signal
        y = device_after(y, sr, steps[-1])
    return y


def _kept_bins(steps: Sequence[Mapping[str, Any]], nfft: int, sr: int) -> int:
    """Bins that can still carry anything after ``steps``: below the Nyquist of a later device."""
    top = nfft // 2 + 1
    for step in steps:
        if step["effect"] == "recording":
            top = min(top, P.device_top(nfft, sr, int(step["rate_hz"])))
    return top


def _energy(spec: np.ndarray, nfft: int) -> float:
    """Energy (sum of squares over all samples and channels) of the signal whose rfft is ``spec``."""
    return float(np.sum(P.spectrum_power(spec, nfft))) * nfft
