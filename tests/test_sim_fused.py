"""The fused rendering of linear runs (lhotse_wild.spectral), the FFT backend, and the cheap draws.

Fused runs measure levels by Parseval on the whole FFT grid (clip + reverb tail) instead of on the
kept clip: these tests pin down how far that moves the physics (SNR, far-field level) and that the
filters are the same as step by step.
"""

import numpy as np
import pytest
import scipy.stats
from lhotse import CutSet

import lhotse_wild
from lhotse_wild import core, effects, spectral
from lhotse_wild import fft as F
from lhotse_wild import primitives as P
from lhotse_wild.noise import NoiseBank
from lhotse_wild.preview import demo_signal
from nemo_wild_eval.errors import InputError

SR = 16000


def speech_like(seconds=3.0, seed=0):
    rng = np.random.default_rng(seed)
    x = demo_signal(SR, seconds) * 0.5 + 0.002 * rng.standard_normal(int(SR * seconds))
    return x.astype(np.float32)[None, :]


def steps_of(scenario, severity=0.6, seed=3, n=3 * SR, config=None, noise_source=None):
    return core.resolve_params(scenario, severity, seed, SR, n, config=config, noise_source=noise_source)["steps"]


def step_by_step(x, steps, bank=None):
    for s in steps:
        x = effects.apply_step(x, SR, s, bank)
    return x


def db(a, b):
    return 10 * np.log10(np.sum(a.astype(np.float64) ** 2) / np.sum(b.astype(np.float64) ** 2))


# ------------------------------------------------------------------------------ which steps fuse
@pytest.mark.parametrize("scenario, runs", [
    ("far_field_noise_recording_distortion_dropout", [(0, 3)]),
    ("strong_echo_noise_recording", [(1, 3)]),  # the echo stays in the time domain
    ("obstructed_recording", [(0, 2)]),
    ("far_field_distortion", []),  # a single linear step keeps its exact step-by-step rendering
    ("noise", []),
    ("noise_distortion_dropout", []),
])
def test_linear_runs(scenario, runs):
    assert spectral.linear_runs(steps_of(scenario)) == runs


def test_polyphase_recording_breaks_a_run():
    steps = steps_of("far_field_recording", config={"recording": {"resampler": "polyphase"}})
    assert spectral.linear_runs(steps) == []


# ------------------------------------------------------------------------------ same filters
def test_fused_filters_equal_step_by_step_inside_the_clip():
    """obstructed → recording: no level rule involved, only the edges may differ (the fused grid
    lets the responses ring past the clip's end before it is cut)."""
    x = speech_like()
    steps = steps_of("obstructed_recording", severity=0.7)
    fused = spectral.render_run(x, SR, steps)
    ref = step_by_step(x, steps)
    inner = slice(int(0.1 * SR), x.shape[1] - int(0.1 * SR))
    err = np.sqrt(np.mean((fused[:, inner] - ref[:, inner]) ** 2)) / np.sqrt(np.mean(ref[:, inner] ** 2))
    assert err < 1e-5, err


def test_fused_far_field_matches_step_by_step_up_to_the_tail_level():
    """far_field → recording: same waveform; the level differs only by the share of reverb energy that
    rings past the clip's end (fused: energy of clip + tail = input energy; step by step: clip only)."""
    x = speech_like()
    steps = steps_of("far_field_recording", severity=0.9)  # long RT60: the largest tail share
    fused = spectral.render_run(x, SR, steps)
    ref = step_by_step(x, steps)
    inner = slice(int(0.1 * SR), x.shape[1] - int(0.1 * SR))
    assert np.corrcoef(fused[0, inner], ref[0, inner])[0, 1] > 0.99999
    assert abs(db(fused, ref)) < 0.5  # measured 0.32 dB at RT60 ≈ 1.4 s mid-band (2 s at 125 Hz) on a 3-s clip
    assert db(fused, ref) <= 1e-6  # the fused level can only be lower: part of its energy is cut off


def test_fused_far_field_level_drop_is_gain_db_within_the_tail_share():
    x = speech_like()
    steps = steps_of("far_field_noise", severity=0.5, config={"noise": {"snr_db": [200.0, 200.0]}})  # ~no noise
    y = spectral.render_run(x, SR, steps)
    drop = db(y, x)
    assert -0.3 < drop - steps[0]["gain_db"] <= 1e-3, (drop, steps[0]["gain_db"])


@pytest.mark.parametrize("scenario", ["far_field_noise", "obstructed_noise"])
@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_fused_noise_hits_its_snr(scenario, kind):
    """SNR at the point of mixing, on the kept clip: the noise part is the difference between the run
    and the same run with the noise 200 dB down (everything is linear)."""
    x = speech_like(seed=4)
    cfg = {"noise": {"kinds": {kind: 1}}, "jitter": 0.0}
    steps = steps_of(scenario, severity=0.5, config=cfg)
    quiet = [dict(s, snr_db=200.0) if s["effect"] == "noise" else s for s in steps]
    y = spectral.render_run(x, SR, steps)
    signal = spectral.render_run(x, SR, quiet)
    target = [s for s in steps if s["effect"] == "noise"][0]["snr_db"]
    assert abs(db(signal, y - signal) - target) < 0.5, (db(signal, y - signal), target)


def test_fused_user_noise_is_that_stretch_of_the_file_at_its_snr(tmp_path):
    from test_sim_lhotse import make_noise_cut  # pytest puts tests/ on sys.path

    noise_cuts = CutSet.from_cuts([make_noise_cut(tmp_path)])
    x = speech_like(seconds=1.5)
    cfg = {"noise": {"kinds": {"user": 1}}, "jitter": 0.0}
    y, params = lhotse_wild.degrade(x, SR, "obstructed_noise", 0.4, seed=6, noise_source=noise_cuts, config=cfg)
    steps = params["steps"]
    bank = NoiseBank.coerce(noise_cuts)
    signal = spectral.render_run(x, SR, [steps[0], dict(steps[1], snr_db=200.0)], bank)
    src = steps[1]["source"]
    start = int(round(src["offset"] * SR))
    seg = noise_cuts[0].load_audio()[0][start:start + x.shape[1]]
    added = (y - signal)[0]
    assert np.corrcoef(added, seg)[0, 1] > 0.9999
    assert abs(db(signal, y - signal) - steps[1]["snr_db"]) < 0.5
    assert np.array_equal(lhotse_wild.replay(x, SR, params), y)


def test_degrade_uses_the_fused_run_and_replays_it():
    x = speech_like()
    y, params = lhotse_wild.degrade(x, SR, "far_field_noise_recording_distortion", 0.5, seed=11)
    steps = params["steps"]
    expected = effects.apply_step(spectral.render_run(x, SR, steps[:3]), SR, steps[3])
    gain = 10 ** (params["output"]["peak_gain_db"] / 20)  # the output ceiling, 0 dB when not needed
    assert np.allclose(y, expected * np.float32(gain), rtol=0, atol=1e-6 * np.max(np.abs(expected)))
    if params["output"]["peak_gain_db"] == 0:
        assert np.array_equal(y, expected)
    assert params["fft"] == F.BACKEND
    assert np.array_equal(lhotse_wild.replay(x, SR, params), y)


def test_replay_warns_when_the_fft_backend_differs():
    x = speech_like()
    _, params = lhotse_wild.degrade(x, SR, "obstructed_recording", 0.5, seed=1)
    other = dict(params, fft="pocketfft" if F.BACKEND == "fftw" else "fftw")
    with pytest.warns(UserWarning, match="not bit for bit"):
        lhotse_wild.replay(x, SR, other)


def test_silent_input_through_a_fused_run_stays_finite():
    x = np.zeros((1, SR), dtype=np.float32)
    y, _ = lhotse_wild.degrade(x, SR, "far_field_noise_recording", 0.5, seed=2)
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) > 0  # the noise is still there


# ------------------------------------------------------------------------------ FFT backend
@pytest.mark.parametrize("channels, n, nfft", [(1, 1000, 1024), (2, 5000, 7680), (1, 4000, 3000)])
def test_fft_matches_numpy(channels, n, nfft):
    x = np.random.default_rng(0).standard_normal((channels, n)).astype(np.float32)
    ref = np.fft.rfft(x.astype(np.float64), nfft, axis=-1)
    got = F.rfft(x, nfft)
    assert got.dtype == np.complex64 and got.shape == ref.shape
    assert np.max(np.abs(got - ref)) < 1e-4 * np.max(np.abs(ref))
    back = F.irfft(got, nfft, min(n, nfft), scale=2.0)
    assert back.dtype == np.float32
    assert np.max(np.abs(back - 2.0 * x[:, :nfft])) < 1e-4


def test_fft_zero_pads_after_a_longer_input():
    """The r2c buffer keeps old samples between calls: a shorter input must not see them."""
    long = np.ones((1, 900), dtype=np.float32)
    short = np.ones((1, 100), dtype=np.float32)
    F.rfft(long, 1024)
    got = F.rfft(short, 1024)
    assert np.allclose(got, np.fft.rfft(short, 1024), atol=1e-4)


def test_fft_copy_false_is_the_plan_buffer_and_slots_keep_two_alive():
    a = np.random.default_rng(1).standard_normal((1, 512)).astype(np.float32)
    b = np.random.default_rng(2).standard_normal((1, 512)).astype(np.float32)
    sa = F.rfft(a, 512, copy=False)
    sb = F.rfft(b, 512, copy=False, slot=1)
    assert np.allclose(sa, np.fft.rfft(a), atol=1e-4) and np.allclose(sb, np.fft.rfft(b), atol=1e-4)
    F.rfft(b, 512, copy=False)  # slot 0 again: overwrites sa, as documented
    assert np.allclose(sa, np.fft.rfft(b), atol=1e-4)


# ------------------------------------------------------------------------------ draws
def test_vectorised_loss_pattern_equals_the_markov_chain_loop():
    """Independent reference: the Gilbert chain stepped frame by frame, on the same uniforms."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(1, 400))
        loss, burst, rep, seed = float(rng.uniform(0, 0.95)), float(rng.uniform(1, 8)), float(rng.random()), int(
            rng.integers(0, 2**31))
        dropped, repeated = P.loss_pattern(n, loss, burst, rep, seed)
        g = P.seeded_rng(seed)
        u, v = g.random(n), g.random(n)
        r = 1.0 / burst
        p = min(1.0, loss * r / (1.0 - loss)) if loss > 0 else 0.0
        bad, state = [], u[0] < loss
        for i in range(n):
            if i:
                state = (u[i] >= r) if state else (u[i] < p)
            bad.append(bool(state))
        assert sorted(dropped.tolist() + repeated.tolist()) == [i for i in range(n) if bad[i]]


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_colored_noise_is_gaussian_with_uniform_high_bins(kind):
    noise = P.colored_noise(kind, (1, 8 * SR), seed=3)[0].astype(np.float64)
    assert abs(np.mean(noise)) < 0.02 and abs(np.mean(noise**2) - 1.0) < 1e-4
    assert abs(scipy.stats.kurtosis(noise, fisher=False) - 3.0) < 0.1  # uniform samples would give 1.8
    assert abs(scipy.stats.skew(noise)) < 0.05


def test_noise_spectrum_power_is_parseval_of_its_signal():
    spec = P.noise_spectrum("brown", 2, 4096, seed=1)
    signal = np.fft.irfft(spec.astype(np.complex128), 4096, axis=-1)
    assert np.allclose(np.mean(signal**2, axis=-1), 1.0, rtol=1e-4)
    assert np.allclose(P.spectrum_power(spec, 4096), 1.0, rtol=1e-4)
    odd = P.noise_spectrum("white", 1, 4095, seed=1)  # odd size: the last bin is not a Nyquist bin
    assert np.allclose(P.spectrum_power(odd, 4095), np.mean(np.fft.irfft(odd.astype(np.complex128), 4095) ** 2))


def test_seeded_rng_is_a_pure_function_of_the_seed():
    a = P.seeded_rng(7).random(5)
    P.seeded_rng(8).random(100)  # another seed in between changes nothing
    assert np.array_equal(P.seeded_rng(7).random(5), a)
    assert not np.array_equal(P.seeded_rng(8).random(5), a)
    assert np.array_equal(P.seeded_rng(2**40 + 3).random(3), P.seeded_rng(2**40 + 3).random(3))


def test_frame_dropout_equals_a_padded_reference_also_on_a_partial_last_frame():
    """Reference: pad to whole frames, copy the last intact frame forward, zero the rest, cut back."""
    rng = np.random.default_rng(3)
    flen = P.frame_length(SR)
    for n in (10 * flen, 10 * flen + 7, 3 * flen + 1):
        x = rng.standard_normal((2, n)).astype(np.float32)
        nf = -(-n // flen)
        for _ in range(30):
            state = rng.choice([0, 1, 2], size=nf, p=[0.6, 0.2, 0.2])
            dropped, repeated = np.nonzero(state == 1)[0], np.nonzero(state == 2)[0]
            padded = np.zeros((2, nf * flen), dtype=np.float32)
            padded[:, :n] = x
            frames = padded.reshape(2, nf, flen)
            ref = frames.copy()
            last = -1
            for i in range(nf):
                if state[i] == 0:
                    last = i
                elif state[i] == 2 and last >= 0:
                    ref[:, i] = frames[:, last]
                else:
                    ref[:, i] = 0.0
            got = P.frame_dropout(x, SR, dropped, repeated)
            assert np.array_equal(got, ref.reshape(2, -1)[:, :n])


def test_frame_dropout_ignores_frames_outside_the_clip():
    x = np.ones((1, 10 * P.frame_length(SR)), dtype=np.float32)
    y = P.frame_dropout(x, SR, [-3, 2, 10, 99], [-1, 12])
    flen = P.frame_length(SR)
    expected = x.copy()
    expected[:, 2 * flen:3 * flen] = 0.0
    assert np.array_equal(y, expected)
    assert np.array_equal(P.frame_dropout_runs(x, SR, [[-5, 3], [2, 1], [9, 40]], []),
                          np.concatenate([np.ones((1, 2 * flen)), np.zeros((1, flen)), np.ones((1, 6 * flen)),
                                          np.zeros((1, flen))], axis=1).astype(np.float32))


@pytest.mark.parametrize("kind", ["white", "pink", "brown"])
def test_noise_band_is_the_low_part_of_the_spectrum_and_counts_the_rest_as_expected(kind):
    nfft = 2**16
    full, p_full = P.noise_band(kind, 1, nfft, 9, nfft // 2 + 1)
    low, p_low = P.noise_band(kind, 1, nfft, 9, 20000)
    assert np.array_equal(low, full[:, :20000])  # the same draws, cut
    assert np.allclose(P.spectrum_power(full, nfft), p_full, rtol=1e-6)
    assert np.allclose(P.noise_spectrum(kind, 1, nfft, 9), full / np.sqrt(p_full[0]), rtol=1e-5, atol=1e-9)
    # above the band: expected power in place of drawn power; many bins there, so the two agree
    drawn_above = p_full[0] - P.spectrum_power(np.pad(full[:, :20000], ((0, 0), (0, nfft // 2 + 1 - 20000))), nfft)[0]
    expected_above = p_low[0] - P.spectrum_power(low, nfft, full=False)[0]
    assert expected_above > 0 and abs(drawn_above / expected_above - 1) < 0.05
    stereo, _ = P.noise_band(kind, 2, nfft, 9, 20000)
    assert not np.array_equal(stereo[0], stereo[1])  # independent channels


def test_shipped_fftw_wisdom_is_imported_and_named_in_the_params():
    """Measured plans come from the package, not from timing in this process: the same in every one."""
    pyfftw = pytest.importorskip("pyfftw")
    assert F.WISDOM_PATH.is_file()
    assert F.BACKEND.startswith("fftw-")  # fftw-<tag of the shipped wisdom>
    for kind in ("r2c", "c2r"):  # a size the wisdom covers plans from wisdom alone...
        F.make_plan(kind, 1, 81920, effort="FFTW_WISDOM_ONLY")
    with pytest.raises(RuntimeError):  # ...a size it does not cover has none
        pyfftw.FFTW(pyfftw.empty_aligned(7 * 2**19, dtype="float32"),
                    pyfftw.empty_aligned(7 * 2**18 + 1, dtype="complex64"), flags=("FFTW_WISDOM_ONLY",))
    _, params = lhotse_wild.degrade(speech_like(), SR, "obstructed_noise", 0.5, seed=1)
    assert params["fft"] == F.BACKEND


def test_fused_run_on_stereo_treats_channels_alike_and_draws_independent_noise():
    x = speech_like()
    stereo = np.concatenate([x, x])
    steps = steps_of("far_field_recording", severity=0.6)
    mono_y = spectral.render_run(x, SR, steps)
    st_y = spectral.render_run(stereo, SR, steps)
    assert st_y.shape == stereo.shape
    for ch in range(2):  # same filters and level (a 2-channel FFT plan may round differently)
        assert np.allclose(st_y[ch], mono_y[0], atol=1e-5 * np.max(np.abs(mono_y)))
    noisy = spectral.render_run(stereo, SR, steps_of("far_field_noise_recording", severity=0.6))
    assert not np.allclose(noisy[0], noisy[1])  # one noise draw per channel


def test_a_fused_run_names_the_step_that_lacks_a_value():
    x = speech_like()
    _, params = lhotse_wild.degrade(x, SR, "far_field_noise_recording", 0.5, seed=4)
    broken = dict(params, steps=[dict(s) for s in params["steps"]])
    del broken["steps"][2]["eq_q"]
    with pytest.raises(InputError, match="params step 'recording' lacks 'eq_q'"):
        lhotse_wild.replay(x, SR, broken)
    del broken["steps"][0]["rt60_s"]
    with pytest.raises(InputError, match="params step 'far_field' lacks 'rt60_s'"):
        lhotse_wild.replay(x, SR, broken)


def test_without_pyfftw_the_pocketfft_fallback_renders_the_same_audio(tmp_path):
    """Where pyFFTW is missing, scipy's FFT takes over: same params, audio equal to float32 rounding."""
    import subprocess
    import sys

    x = speech_like()
    y, params = lhotse_wild.degrade(x, SR, "far_field_noise_recording_distortion", 0.5, seed=5)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "params.json").write_text(effects.dumps(params))
    script = f"""
import sys, json, warnings
sys.modules["pyfftw"] = None  # import pyfftw now fails
import numpy as np, lhotse_wild
from lhotse_wild import fft
assert fft.BACKEND == "pocketfft", fft.BACKEND
x = np.load({str(tmp_path / "x.npy")!r})
y, params = lhotse_wild.degrade(x, {SR}, "far_field_noise_recording_distortion", 0.5, seed=5)
assert params["fft"] == "pocketfft"
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    z = lhotse_wild.replay(x, {SR}, json.loads(open({str(tmp_path / "params.json")!r}).read()))
assert any("not bit for bit" in str(m.message) for m in w)
np.save({str(tmp_path / "y.npy")!r}, y)
np.save({str(tmp_path / "z.npy")!r}, z)
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    other = np.load(tmp_path / "y.npy")
    replayed = np.load(tmp_path / "z.npy")
    tol = 1e-4 * np.max(np.abs(y))  # float32 rounding, magnified by the distortion's drive
    assert np.max(np.abs(other - y)) < tol and np.max(np.abs(replayed - y)) < tol, (np.max(np.abs(other - y)), tol)
