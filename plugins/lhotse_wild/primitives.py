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

The code lives in modules cut along what a reader looks for; this module gathers their public
names so ``from lhotse_wild import primitives as P`` keeps working:

- :mod:`lhotse_wild.dsp`: the array contract, FFT sizes, seeded generators, power, raw draws;
- :mod:`lhotse_wild.filters`: Butterworth / peaking responses and sections, the low-pass cascade;
- :mod:`lhotse_wild.room`: echo, room impulse responses, reverb;
- :mod:`lhotse_wild.device`: rate round trip, device response, overdrive, level;
- :mod:`lhotse_wild.noise_draws`: SNR mixing and colored noise;
- :mod:`lhotse_wild.losses`: frame loss and concealment.
"""

from __future__ import annotations

from lhotse_wild.dsp import (  # noqa: F401
    POWER_FLOOR, FRAME_MS, COLORED_NOISES, fast_len, seeded_rng, power, uniform16,
)
from lhotse_wild.filters import (  # noqa: F401
    butter_power_response, biquad_power_response, lowpass_cascade, cascade_response, spectral_filter,
    sos_filter, butter_sos, peaking_sos, peaking_eq,
)
from lhotse_wild.room import (  # noqa: F401
    echo, parametric_rir, band_rir, estimate_rt60, band_rt60_estimates, drr_db, reverberate, reverberate_lowpass,
    reverberate_room, room_response, rir_lowpass_response, lowpass_rir,
)
from lhotse_wild.device import (  # noqa: F401
    RESAMPLERS, CODECS, AGC_FRAME_MS, resample_roundtrip, device_chain, device_top, device_response, distort,
    change_loudness, agc, codec,
)
from lhotse_wild.losses import (  # noqa: F401
    frame_length, num_frames, loss_runs, loss_pattern, frame_dropout, frame_dropout_runs,
)
from lhotse_wild.noise_draws import (  # noqa: F401
    add_noise, GAUSSIAN_BINS, spectrum_power, noise_spectrum, noise_band, colored_noise,
)
