"""Physical checks of the 8 primitives and the 7 effects on synthetic signals (tones, noise)."""

import numpy as np
import pytest
import scipy.signal

import lhotse_wild
from lhotse_wild import primitives as P

SR = 16000


def white(seconds=4.0, seed=0, sr=SR):
    return np.random.default_rng(seed).standard_normal((1, int(seconds * sr))).astype(np.float32) * 0.1


def band_db(y, x, lo, hi, sr=SR):
    """Power of y relative to x in [lo, hi) Hz (Welch PSDs), in dB."""
    f, py = scipy.signal.welch(y.reshape(-1), sr, nperseg=4096)
    _, px = scipy.signal.welch(x.reshape(-1), sr, nperseg=4096)
    m = (f >= lo) & (f < hi)
    return 10 * np.log10(py[m].sum() / px[m].sum())


def schroeder_rt60(h, sr):
    """T30 by Schroeder backward integration, written out independently of the package."""
    edc = np.cumsum((h.astype(np.float64) ** 2)[::-1])[::-1]
    db = 10 * np.log10(edc / edc[0])
    i = np.nonzero((db <= -5) & (db >= -35))[0]
    slope = np.polyfit(i / sr, db[i], 1)[0]
    return -60.0 / slope


# ------------------------------------------------------------------------------ additive noise
@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
@pytest.mark.parametrize("snr", [20.0, 5.0, -5.0])
def test_add_noise_hits_target_snr(kind, snr):
    x = lhotse_wild.primitives.colored_noise("pink", (1, SR * 2), 1) * 0.05
    noise = P.colored_noise(kind, x.shape, 7)
    y = P.add_noise(x, noise, snr)
    measured = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((y - x).astype(np.float64) ** 2))
    assert abs(measured - snr) < 0.05


@pytest.mark.parametrize("severity", [0.0, 0.5, 1.0])
def test_noise_effect_snr_within_half_db(severity):
    x = white(2.0, seed=3) * 0.5
    y, params = lhotse_wild.degrade(x, SR, "noise", severity, seed=5)
    target = params["steps"][0]["snr_db"]
    y = y / 10 ** (params["output"]["peak_gain_db"] / 20)  # undo the recorded output safety gain
    measured = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum((y - x).astype(np.float64) ** 2))
    assert abs(measured - target) < 0.5
    assert abs(target - (20 + severity * (-25))) <= 0.05 * 25 + 1e-9  # easy + s·(hard − easy) ± jitter


def test_colored_noise_spectral_slopes():
    f, _ = scipy.signal.welch(P.colored_noise("white", (1, SR * 8), 0)[0], SR, nperseg=2048)
    slopes = {}
    for kind in ("white", "pink", "brown"):
        n = P.colored_noise(kind, (1, SR * 8), 0)
        # no DC bin; the mean over a window that is not a whole number of the lowest bins' periods still
        # wanders, most for brown noise (its power sits in those bins)
        assert abs(np.mean(n[0] ** 2) - 1.0) < 1e-3 and abs(np.mean(n[0])) < (0.1 if kind == "brown" else 0.02)
        _, p = scipy.signal.welch(n[0], SR, nperseg=2048)
        m = (f >= 100) & (f <= 5000)
        slopes[kind] = np.polyfit(np.log10(f[m]), 10 * np.log10(p[m]), 1)[0]  # dB per decade
    assert abs(slopes["white"]) < 1.0
    assert abs(slopes["pink"] + 10) < 1.5
    assert abs(slopes["brown"] + 20) < 1.5


# ------------------------------------------------------------------------------ reverberation
@pytest.mark.parametrize("rt60,drr", [(0.3, 8.0), (0.7, 0.0), (1.2, -4.0)])
def test_rir_rt60_within_15_percent_and_drr_exact(rt60, drr):
    h = P.parametric_rir(SR, rt60, drr, seed=3)
    assert h[0] == 1.0 and h.dtype == np.float32 and not h.flags.writeable
    measured = schroeder_rt60(h, SR)
    assert abs(measured - rt60) / rt60 < 0.15, measured
    assert abs(P.estimate_rt60(h, SR) - measured) < 1e-6
    assert abs(10 * np.log10(1.0 / np.sum(h[1:].astype(np.float64) ** 2)) - drr) < 0.01
    assert P.parametric_rir(SR, rt60, drr, seed=3) is h  # cached


def test_far_field_rir_grows_with_severity_and_level_drop_is_exact():
    x = white(3.0, seed=4)
    prev_rt60 = 0.0
    for s in (0.0, 0.5, 1.0):
        y, params = lhotse_wild.degrade(x, SR, "far_field", s, seed=2)
        step = params["steps"][0]
        h = P.band_rir(SR, step["rt60_s"], step["drr_db"], step["rir_seed"], step["bass_ratio"],
                       step["treble_ratio"], step["predelay_ms"] / 1000)
        rt60 = schroeder_rt60(h, SR)
        assert rt60 > prev_rt60
        prev_rt60 = rt60
        level = 10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(x.astype(np.float64) ** 2))
        assert abs(level - step["gain_db"]) < 0.01
    # at full severity the room darkens the treble: 4-8 kHz loses >= 3 dB more than 0.5-1 kHz
    assert band_db(y, x, 4000, 8000) - band_db(y, x, 500, 1000) < -3.0


# ------------------------------------------------------------------------------ spectral filtering
def test_lowpass_attenuation_matches_design():
    x = white(8.0, seed=1)
    y = P.spectral_filter(x, SR, "lowpass", 2000.0, order=4)
    # digital (bilinear) Butterworth: |H|² = 1 / (1 + (tan(ω/2) / tan(ωc/2))^2N); zero-phase squares it.
    # At 4 kHz: (1 + 2.414^8)^-2 -> -61.2 dB
    ratio = np.tan(np.pi * 4000 / SR) / np.tan(np.pi * 2000 / SR)
    design_db = 2 * 10 * np.log10(1 / (1 + ratio ** 8))
    assert abs(band_db(y, x, 3900, 4100) - design_db) < 1.5
    assert abs(band_db(y, x, 50, 1000)) < 0.1
    assert band_db(y, x, 5000, 8000) < -60


def test_zero_phase_has_no_delay_causal_does():
    imp = np.zeros((1, 4001), dtype=np.float32)
    imp[0, 2000] = 1.0
    zp = P.spectral_filter(imp, SR, "lowpass", 1000.0, zero_phase=True)[0]
    ca = P.spectral_filter(imp, SR, "lowpass", 1000.0, zero_phase=False)[0]
    assert np.argmax(zp) == 2000 and np.allclose(zp[2000 - 50:2000], zp[2001:2051][::-1], atol=1e-6)
    assert np.argmax(ca) > 2000 and np.all(ca[:2000] == 0)


def test_obstructed_removes_high_band_more_with_severity():
    x = white(4.0, seed=2)
    prev = 0.0
    for s in (0.0, 0.5, 1.0):
        y, params = lhotse_wild.degrade(x, SR, "obstructed", s, seed=9)
        cut = max(params["steps"][0]["cutoffs_hz"])
        assert band_db(y, x, 2 * cut, SR / 2) < -40
        hb = band_db(y, x, 1500, SR / 2)
        assert hb < prev
        prev = hb
    assert len(params["steps"][0]["cutoffs_hz"]) == 4  # 1 -> 4 passes


def test_peaking_eq_gain_at_centre():
    x = white(8.0, seed=5)
    y = P.peaking_eq(x, SR, 1500.0, 9.0, q=2.0)
    assert abs(band_db(y, x, 1480, 1520) - 9.0) < 0.5
    assert abs(band_db(y, x, 6000, 7000)) < 0.3


# ------------------------------------------------------------------------------ resampling
@pytest.mark.parametrize("method", ["fft", "polyphase"])
def test_resample_removes_content_above_new_nyquist(method):
    x = white(4.0, seed=6)
    y = P.resample_roundtrip(x, SR, 8000, method=method)
    assert y.shape == x.shape
    assert band_db(y, x, 4050, 8000) < -50
    assert abs(band_db(y, x, 100, 3500)) < 0.2


def test_recording_effect_at_8k_keeps_nothing_above_4k():
    x = white(3.0, seed=7)
    cfg = {"recording": {"rate_hz": [8000, 8000]}}
    y, params = lhotse_wild.degrade(x, SR, "recording", 0.3, seed=1, config=cfg)
    assert params["steps"][0]["rate_hz"] == 8000
    assert band_db(y, x, 4050, 8000) - band_db(y, x, 500, 3000) < -50


# ------------------------------------------------------------------------------ echo, loudness, distortion
def test_echo_shows_at_the_right_lag():
    x = white(2.0, seed=8)
    y = P.echo(x, SR, [0.25], [-6.0])[0].astype(np.float64)
    ac = scipy.signal.correlate(y, y, mode="full", method="fft")[len(y) - 1:]
    ac /= ac[0]
    lag = 100 + int(np.argmax(ac[100: len(y) // 2]))
    g = 10 ** (-6 / 20)
    assert lag == 4000
    unbiased = ac[lag] * len(y) / (len(y) - lag)  # only N − lag products at this lag
    assert abs(unbiased - g / (1 + g * g)) < 0.03


def test_strong_echo_effect_lag_matches_params():
    x = white(2.0, seed=9)
    y, params = lhotse_wild.degrade(x, SR, "strong_echo", 0.2, seed=4)
    d = int(round(params["steps"][0]["delays_ms"][0] * SR / 1000))
    y = y[0].astype(np.float64)
    ac = scipy.signal.correlate(y, y, mode="full", method="fft")[len(y) - 1:]
    assert 100 + int(np.argmax(ac[100: len(y) // 2])) == d


def test_loudness_change_equals_its_db():
    x = white(1.0, seed=10)
    for g in (-25.0, -7.3, 0.0, 3.0):
        y = P.change_loudness(x, g)
        assert abs(20 * np.log10(np.sqrt(np.mean(y.astype(np.float64) ** 2) / np.mean(x.astype(np.float64) ** 2))) - g) < 1e-4


def test_distortion_hard_clips_only_with_drive_and_soft_thd_grows():
    t = np.arange(SR) / SR
    x = (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    assert np.allclose(P.distort(x, 0.0, "hard"), x, atol=1e-6)  # 0 dB drive: untouched
    y = P.distort(x, 12.0, "hard")
    peak = np.max(np.abs(x))
    assert np.isclose(np.max(np.abs(y)), peak, rtol=1e-6)
    assert np.mean(np.isclose(np.abs(y), peak, rtol=1e-6)) > 0.5  # flat tops
    thd = []
    for drive in (0.0, 10.0, 20.0, 30.0):
        spec = np.abs(np.fft.rfft(P.distort(x, drive, "soft")[0])) ** 2
        thd.append(1 - spec[440] / spec.sum())  # 1-s clip: 1-Hz bins
    assert all(a < b for a, b in zip(thd, thd[1:]))


# ------------------------------------------------------------------------------ dropout / stutter
def test_dropped_frames_silent_and_repeated_frames_copy_last_intact():
    x = white(3.0, seed=11) + 0.01
    y, params = lhotse_wild.degrade(x, SR, "dropout", 1.0, seed=3)
    step = params["steps"][0]
    flen = int(SR * step["frame_ms"] / 1000)
    dropped = [i for a, n in step["dropped"] for i in range(a, a + n)]
    repeated = [i for a, n in step["repeated"] for i in range(a, a + n)]
    assert dropped and repeated
    for i in dropped:
        assert np.all(y[0, i * flen:(i + 1) * flen] == 0.0)
    lost = set(dropped) | set(repeated)
    for i in repeated:
        j = max(k for k in range(i) if k not in lost)
        assert np.array_equal(y[0, i * flen:(i + 1) * flen], x[0, j * flen:(j + 1) * flen])
    intact = [i for i in range(len(x[0]) // flen) if i not in lost]
    for i in intact[:50]:
        assert np.array_equal(y[0, i * flen:(i + 1) * flen], x[0, i * flen:(i + 1) * flen])


def test_loss_pattern_statistics():
    d, r = P.loss_pattern(100_000, 0.3, 4.0, 0.25, seed=1)
    bad = np.zeros(100_000, bool)
    bad[d] = bad[r] = True
    edges = np.diff(np.r_[0, bad.astype(int), 0])
    runs = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
    assert abs(bad.mean() - 0.3) < 0.01
    assert abs(runs.mean() - 4.0) < 0.15
    assert abs(len(r) / bad.sum() - 0.25) < 0.03
    assert len(P.loss_pattern(1000, 0.0, 1.0, 0.25, seed=1)[0]) == 0


# ------------------------------------------------------------------------------ device chain (one FFT pass)
@pytest.mark.parametrize("kind,cut", [("lowpass", 2000.0), ("highpass", 300.0), ("bandpass", (200.0, 3400.0))])
def test_closed_form_butterworth_power_matches_scipy(kind, cut):
    f = np.linspace(5.0, 7995.0, 400)
    sos = scipy.signal.butter(4, cut, btype=kind, fs=SR, output="sos")
    _, h = scipy.signal.sosfreqz(sos, worN=f, fs=SR)
    assert np.max(np.abs(np.abs(h) ** 2 - P.butter_power_response(f, SR, kind, cut, 4))) < 1e-9
    peq = P.peaking_sos(SR, 1500.0, 9.0, 2.0).astype(np.float64)
    _, h = scipy.signal.sosfreqz(peq, worN=f, fs=SR)
    assert np.max(np.abs(np.abs(h) ** 2 - P.biquad_power_response(f, SR, peq))) < 1e-9


def test_device_chain_equals_float64_forward_backward_filtering():
    """One FFT pass == resample round trip, then scipy's sosfiltfilt band-pass + EQ (float64), away
    from the edges (where only the padding convention differs)."""
    x = white(3.0, seed=11)
    got = P.device_chain(x, SR, 8000, (200.0, 3400.0), 4, 1500.0, 6.0, 2.0)
    sos = np.concatenate([scipy.signal.butter(4, (200.0, 3400.0), btype="bandpass", fs=SR, output="sos"),
                          P.peaking_sos(SR, 1500.0, 6.0, 2.0).astype(np.float64)])
    ref = scipy.signal.sosfiltfilt(sos, P.resample_roundtrip(x, SR, 8000).astype(np.float64))
    mid = slice(SR // 4, -SR // 4)
    err = np.sqrt(np.mean((got[0, mid] - ref[0, mid]) ** 2) / np.mean(ref[0, mid] ** 2))
    assert got.shape == x.shape and err < 1e-5
    assert band_db(got, x, 4050, 8000) < -50 and abs(band_db(got, x, 1450, 1550) - 6.0) < 0.5


def test_reverb_lowpass_in_one_fft_equals_float64_reference():
    """X·H_rir·|H_lp|² == float64 full convolution, then scipy's sosfiltfilt, cropped, RMS kept."""
    x = white(3.0, seed=12)
    rir = P.parametric_rir(SR, 0.6, 2.0, seed=4)
    got = P.reverberate_lowpass(x, SR, rir, 3000.0, order=4)
    full = scipy.signal.fftconvolve(x[0].astype(np.float64), rir.astype(np.float64))
    ref = scipy.signal.sosfiltfilt(scipy.signal.butter(4, 3000.0, fs=SR, output="sos"), full)[: x.shape[1]]
    ref *= np.sqrt(np.mean(x.astype(np.float64) ** 2) / np.mean(ref ** 2))
    mid = slice(SR // 8, -SR // 8)
    assert got.shape == x.shape
    assert np.sqrt(np.mean((got[0, mid] - ref[mid]) ** 2) / np.mean(ref[mid] ** 2)) < 1e-5
    assert abs(P.power(got) / P.power(x) - 1.0) < 1e-5  # the level change is left to gain_db


def test_lowpass_cascade_equals_repeated_float64_filtering():
    x = white(3.0, seed=13)
    cutoffs = [1200.0, 1100.0, 1300.0]
    got = P.lowpass_cascade(x, SR, cutoffs, order=2)
    ref = x[0].astype(np.float64)
    for fc in cutoffs:
        ref = scipy.signal.sosfiltfilt(scipy.signal.butter(2, fc, fs=SR, output="sos"), ref)
    mid = slice(SR // 8, -SR // 8)
    assert np.sqrt(np.mean((got[0, mid] - ref[mid]) ** 2) / np.mean(ref[mid] ** 2)) < 1e-5
    # three 2nd-order passes, zero-phase: |H|^2 per pass at 2·fc ≈ 1/(1+(tan ratio)^4) each → ≤ -36 dB total
    assert band_db(got, x, 2600, 8000) < -36
