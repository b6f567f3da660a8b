"""Physical references of the far-field room: air absorption, talker directivity, RT60 per frequency.

Why a module of its own: these are the documented numbers the simulator's room is built from, and
``benchmarks/realism.py`` prints them beside what it measures back from the audio.

- Air absorption: ISO 9613-1:1993, eq. (3)-(5) (pure-tone attenuation coefficient of the atmosphere),
  at 20 °C, 50 % relative humidity, 101.325 kPa: 0.44 / 1.3 / 2.7 / 4.7 / 9.9 / 30 / 105 dB/km at
  125 Hz … 8 kHz. It grows ~f² above 1 kHz.
- Reverberation: Sabine, T = 55.3 V / (c A); with air in the room, Eyring/Sabine add 4 m V to the
  absorption area A (m the intensity attenuation of air, 1/m), so 1/T = 1/T_walls + 4 m c / 55.3,
  independent of the room's volume: air caps T at 8 kHz near 1.5 s and at 4 kHz near 5 s. The walls'
  part follows typical absorption coefficients (ISO 354 measurements of furnished rooms: carpets,
  curtains, upholstery and people absorb more at high frequencies; panels and windows resonate at low
  ones), summarised by two ratios of T_walls to the mid-band (500 Hz–1 kHz) RT60: ``bass_ratio`` at
  125 Hz (Beranek's bass ratio; 1.0–1.45 in measured halls and rooms) and ``treble_ratio`` at 4 kHz
  (0.6–1.0), log-linear in octaves between them and extrapolated beyond.
- Talker directivity: speech radiates more forward at high frequencies, so the room (fed by the total
  radiated power) receives relatively less treble than the on-axis direct path; directivity index
  about 1 dB at 250 Hz, 2.5 dB at 1 kHz, 5.5–6.5 dB at 4–8 kHz (measured speech directivity, e.g.
  Chu & Warnock 2002, NRC; Monson et al. 2012; values here are rounded). The reverberant energy per
  frequency is ∝ T(f) / Q(f) relative to the direct path.
"""

from __future__ import annotations

import numpy as np

#: octave-band centres (Hz) of the references and of the measurements
OCTAVES_HZ: tuple[float, ...] = (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)
#: speed of sound at 20 °C (m/s)
SPEED_OF_SOUND = 343.2
#: talker directivity index (dB) at OCTAVES_HZ, rounded from measured speech directivity
SPEECH_DI_DB: tuple[float, ...] = (0.5, 1.0, 2.0, 2.5, 4.0, 5.5, 6.5)
#: typical mid-band RT60 (s) of rooms, for the printed references
ROOM_RT60_REFERENCES = {"living room / office": (0.3, 0.6), "classroom / meeting room": (0.6, 1.2),
                        "hall / stairwell / church": (1.2, 3.0)}


def air_absorption_db_per_m(freqs_hz: np.ndarray, temp_c: float = 20.0, rh_percent: float = 50.0,
                            pressure_kpa: float = 101.325) -> np.ndarray:
    """ISO 9613-1 attenuation coefficient of air, dB per metre, at ``freqs_hz`` (float64)."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    t = temp_c + 273.15
    t0, t01 = 293.15, 273.16
    pa = pressure_kpa / 101.325
    psat = 10.0 ** (-6.8346 * (t01 / t) ** 1.261 + 4.6151)
    h = rh_percent * psat / pa  # molar concentration of water vapour, %
    fr_o = pa * (24.0 + 4.04e4 * h * (0.02 + h) / (0.391 + h))
    fr_n = pa * (t / t0) ** -0.5 * (9.0 + 280.0 * h * np.exp(-4.170 * ((t / t0) ** (-1.0 / 3.0) - 1.0)))
    return 8.686 * f * f * (1.84e-11 / pa * (t / t0) ** 0.5 + (t / t0) ** -2.5 * (
        0.01275 * np.exp(-2239.1 / t) / (fr_o + f * f / fr_o) + 0.1068 * np.exp(-3352.0 / t) / (fr_n + f * f / fr_n)))


def _octaves(freqs_hz: np.ndarray) -> np.ndarray:
    """log2(f / 1 kHz), with f kept in [62.5 Hz, 16 kHz] (beyond, the references are held flat)."""
    return np.log2(np.clip(np.asarray(freqs_hz, dtype=np.float64), 62.5, 16000.0) / 1000.0)


def walls_ratio(freqs_hz: np.ndarray, bass_ratio: float, treble_ratio: float) -> np.ndarray:
    """T_walls(f) / T_mid: 1 in 500 Hz–1 kHz, ``bass_ratio`` at 125 Hz, ``treble_ratio`` at 4 kHz,
    log-linear in octaves (extrapolated to 62.5 Hz and 16 kHz)."""
    o = _octaves(freqs_hz)
    low = np.clip(-1.0 - o, 0.0, None) / 2.0  # octaves below 500 Hz, per the 2 octaves to 125 Hz
    high = np.clip(o, 0.0, None) / 2.0  # octaves above 1 kHz, per the 2 octaves to 4 kHz
    return np.exp(low * np.log(bass_ratio) + high * np.log(treble_ratio))


def band_rt60(freqs_hz: np.ndarray, rt60_mid_s: float, bass_ratio: float, treble_ratio: float) -> np.ndarray:
    """RT60 (s) per frequency: the walls' decay (:func:`walls_ratio`) shortened by air absorption
    (1/T = 1/T_walls + 4 m c / 55.3, m = α / (10 log10 e) the intensity attenuation per metre)."""
    t_walls = rt60_mid_s * walls_ratio(freqs_hz, bass_ratio, treble_ratio)
    m = air_absorption_db_per_m(freqs_hz) / (10.0 * np.log10(np.e))
    return 1.0 / (1.0 / t_walls + 4.0 * m * SPEED_OF_SOUND / 55.3)


def speech_directivity_db(freqs_hz: np.ndarray) -> np.ndarray:
    """Talker directivity index (dB), interpolated in octaves from :data:`SPEECH_DI_DB`."""
    return np.interp(_octaves(freqs_hz), _octaves(np.array(OCTAVES_HZ)), np.array(SPEECH_DI_DB))


def reverberant_shape(freqs_hz: np.ndarray, rt60_mid_s: float, bass_ratio: float, treble_ratio: float) -> np.ndarray:
    """Reverberant energy per frequency relative to 1 kHz, ∝ T(f) / Q(f) (diffuse field, Sabine)."""
    ref = np.array([1000.0])
    t = band_rt60(freqs_hz, rt60_mid_s, bass_ratio, treble_ratio) / band_rt60(ref, rt60_mid_s, bass_ratio, treble_ratio)
    return t * 10.0 ** (-(speech_directivity_db(freqs_hz) - speech_directivity_db(ref)) / 10.0)
