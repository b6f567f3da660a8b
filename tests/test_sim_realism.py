"""Realism: the effects against the physical conditions they name (issue 17), on Piper speech and noise.

Far field: RT60 longer at low frequencies (walls + ISO 9613-1 air), read back by Schroeder integration;
treble falls progressively with severity. Recording: a telephone channel's low cut and top at its hard
end, an AGC that lifts pauses, a real codec that replays bit-exact.
"""

import numpy as np
import pytest
import scipy.signal

import lhotse_wild
from lhotse_wild import acoustics as A
from lhotse_wild import primitives as P
from lhotse_wild.effects import step_rir

SR = 16000


@pytest.fixture(scope="module")
def speech():
    pytest.importorskip("piper")
    from wild_corpus.synth import DEFAULT_STYLES, PiperEngine, synthesize_utterance

    engine = PiperEngine(threads=1)
    pause = np.zeros(int(0.4 * SR), dtype=np.float32)
    words = synthesize_utterance(engine, "please call stella and ask her to bring these things with her",
                                 DEFAULT_STYLES[0], SR, seed=1)
    return np.concatenate([pause, 0.5 * words, pause])


def band_re_total_db(y, lo, hi):
    f, p = scipy.signal.welch(np.asarray(y, dtype=np.float64).reshape(-1), SR, nperseg=1024)
    return 10 * np.log10(p[(f >= lo) & (f < hi)].sum() / p.sum())


def psd_ratio_db(y, x, lo, hi):
    f, py = scipy.signal.welch(np.asarray(y, dtype=np.float64).reshape(-1), SR, nperseg=2048)
    _, px = scipy.signal.welch(np.asarray(x, dtype=np.float64).reshape(-1), SR, nperseg=2048)
    m = (f >= lo) & (f < hi)
    return 10 * np.log10(max(py[m].sum(), 1e-30) / px[m].sum())


def octave_t20(h, fc):
    """T20 of one octave band of an RIR's tail, by Schroeder backward integration (written out here)."""
    sos = scipy.signal.butter(3, (fc / 2**0.5, fc * 2**0.5), btype="bandpass", fs=SR, output="sos")
    b = scipy.signal.sosfiltfilt(sos, np.asarray(h, dtype=np.float64)[1:])
    edc = np.cumsum((b * b)[::-1])[::-1]
    db = 10 * np.log10(edc / edc[0])
    i = np.nonzero((db <= -5) & (db >= -25))[0]
    return -60.0 / np.polyfit(i / SR, db[i], 1)[0]


# ------------------------------------------------------------------------------ far field
@pytest.mark.parametrize("severity", [0.5, 1.0])
def test_far_field_rt60_is_longer_at_low_frequencies_and_as_built(severity):
    """Mean over 6 rooms (one octave's decay of a noise tail fluctuates: ±35 % at 125 Hz for one RIR)."""
    x = np.zeros((1, SR), dtype=np.float32) + 0.01
    bands = (125, 250, 1000, 4000)
    meas, ref = [], []
    for seed in range(6):
        _, params = lhotse_wild.degrade(x, SR, "far_field", severity, seed=seed)
        step = params["steps"][0]
        h = step_rir(step, SR)
        meas.append([octave_t20(h, fc) for fc in bands])
        ref.append(A.band_rt60(np.array(bands, dtype=float), step["rt60_s"], step["bass_ratio"], step["treble_ratio"]))
        assert abs(10 * np.log10(float(h[0]) ** 2 / np.sum(np.square(h[1:], dtype=np.float64))) - step["drr_db"]) < 0.01
    t, r = np.mean(meas, axis=0), np.mean(ref, axis=0)
    assert t[0] > 1.15 * t[2] and t[1] > t[2] > 1.2 * t[3], t
    assert np.allclose(t, r, rtol=0.1), (t, r)  # the decay is the one it was built from


def test_air_absorption_grows_with_frequency_and_caps_the_treble_rt60():
    f = np.array(A.OCTAVES_HZ)
    a = A.air_absorption_db_per_m(f)
    assert np.all(np.diff(a) > 0) and 3e-3 < a[3] < 6e-3 and a[-1] > 15 * a[3]  # ~4.7 dB/km at 1 kHz
    t = A.band_rt60(f, 5.0, 1.0, 1.0)  # walls alone would ring 5 s everywhere
    assert t[-1] < 2.0 < 4.0 < t[3]  # air alone caps 8 kHz near 1.5 s


def test_far_field_treble_falls_progressively_with_severity(speech):
    """Band energies relative to the total: 1-2, 2-4 and 4-8 kHz fall at every severity step, more
    the higher the band (the room's tail darkens: T/Q falls with frequency)."""
    rows = []
    for s in (0.0, 0.25, 0.5, 0.75, 1.0):
        y, _ = lhotse_wild.degrade(speech, SR, "far_field", s, seed=4)
        rows.append([band_re_total_db(y, lo, hi) for lo, hi in ((1000, 2000), (2000, 4000), (4000, 8000))])
    rows = np.array(rows)
    assert np.all(np.diff(rows, axis=0) < 0), rows
    drop = rows[0] - rows[-1]
    assert drop[0] > 1.0 and drop[1] > drop[0] and drop[2] > 4.0, drop


# ------------------------------------------------------------------------------ recording
def test_recording_hard_end_is_a_telephone_channel():
    x = np.random.default_rng(2).standard_normal((1, 6 * SR)).astype(np.float32) * 0.05
    y, params = lhotse_wild.degrade(x, SR, "recording", 1.0, seed=3)
    step = params["steps"][0]
    assert step["rate_hz"] == 8000 and abs(step["highpass_hz"] - 300) < 15 and abs(step["lowpass_hz"] - 3400) < 30
    ref = psd_ratio_db(y, x, 900, 1100)
    assert psd_ratio_db(y, x, 40, 80) - ref < -40  # the low cut is there (G.712: >= 20 dB down at 60 Hz)
    assert psd_ratio_db(y, x, 150, 200) - ref < -10
    assert psd_ratio_db(y, x, 400, 700) - ref > -3  # pass band
    assert psd_ratio_db(y, x, 4100, 8000) - ref < -60  # nothing above the 8-kHz channel's Nyquist


def test_agc_lifts_the_pauses_and_levels_speech(speech):
    noisy = speech + 0.001 * np.random.default_rng(0).standard_normal(speech.size).astype(np.float32)
    x = noisy[None, :]
    y = P.agc(x, SR, target_dbfs=-20.0, max_gain_db=20.0)
    pause = slice(int(0.25 * SR), int(0.4 * SR))  # the end of the leading pause: the gain has risen
    gain_pause = 10 * np.log10(np.mean(y[0, pause] ** 2) / np.mean(x[0, pause] ** 2))
    assert gain_pause > 6.0  # noise pumped up in the pause
    lvl = lambda v: 10 * np.log10(np.mean(v.astype(np.float64) ** 2))  # noqa: E731
    speech_part = slice(int(0.6 * SR), speech.size - int(0.6 * SR))
    assert abs(lvl(y[0, speech_part]) + 20.0) < abs(lvl(x[0, speech_part]) + 20.0)  # closer to the target
    assert np.array_equal(P.agc(x, SR, -20.0, 0.0), x)  # no gain allowed: unchanged


def test_gsm_codec_replays_bit_exact_and_is_band_limited(speech):
    pytest.importorskip("pedalboard")
    cfg = {"recording": {"codec": "gsm"}}
    y, params = lhotse_wild.degrade(speech, SR, "noise_recording", 0.3, seed=5, config=cfg)
    assert params["steps"][1]["codec"] == "gsm"
    assert np.array_equal(lhotse_wild.replay(speech, SR, params), y)
    plain, _ = lhotse_wild.degrade(speech, SR, "noise_recording", 0.3, seed=5)
    assert not np.array_equal(plain, y)
    assert psd_ratio_db(y, speech, 4100, 8000) < -40  # GSM full rate is an 8-kHz codec
    assert psd_ratio_db(y, speech, 300, 3000) > -6
