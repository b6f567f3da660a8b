"""The functional core: determinism, replay, output safety, monotone severity, bad input."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest

import lhotse_wild
from lhotse_wild.effects import load_config
from lhotse_wild.preview import demo_signal
from lhotse_wild.severity import SAMPLERS, sample_severity
from nemo_wild_eval.errors import InputError

SR = 16000


def voice(sr=SR, seconds=2.0):
    """Harmonic voice plus a little broadband breath noise: energy at every frequency."""
    x = demo_signal(sr, seconds)
    return x + 0.003 * np.random.default_rng(0).standard_normal(x.shape).astype(np.float32)


def si_sdr(ref, est):
    ref = ref.astype(np.float64).reshape(-1)
    est = est.astype(np.float64).reshape(-1)
    target = (est @ ref) / (ref @ ref) * ref
    return 10 * np.log10((target @ target) / max((est - target) @ (est - target), 1e-20))


@pytest.mark.parametrize("scenario", list(lhotse_wild.SCENARIOS))
def test_all_54_scenarios_safe_and_replay_bit_exact(scenario):
    x = voice(seconds=1.0) * 1.9  # peak 0.95: any gain-raising step must be caught by the ceiling
    y, params = lhotse_wild.degrade(x, SR, scenario, 1.0, seed=13)
    assert y.shape == x.shape and y.dtype == np.float32
    assert np.all(np.isfinite(y)) and np.max(np.abs(y)) <= 0.999
    assert params["effects"] == list(lhotse_wild.SCENARIOS[scenario])
    assert [s["effect"] for s in params["steps"]] == params["effects"]
    back = json.loads(json.dumps(params))  # JSON-serialisable, every value survives
    assert back == params
    assert np.array_equal(lhotse_wild.replay(x, SR, back), y)
    if "distortion" not in scenario:  # nothing clips unless distortion asks for it
        assert np.mean(np.abs(y) >= 0.999 * np.max(np.abs(y))) < 0.001


def test_same_inputs_same_bits_and_seed_matters():
    x = voice()
    a, pa = lhotse_wild.degrade(x, SR, "far_field_noise_recording_distortion_dropout", 0.6, seed=1)
    b, pb = lhotse_wild.degrade(x.copy(), SR, "far_field_noise_recording_distortion_dropout", 0.6, seed=1)
    c, _ = lhotse_wild.degrade(x, SR, "far_field_noise_recording_distortion_dropout", 0.6, seed=2)
    assert np.array_equal(a, b) and pa == pb
    assert not np.array_equal(a, c)


def test_determinism_across_processes():
    code = (
        "import hashlib, json, numpy as np, lhotse_wild\n"
        "from lhotse_wild.preview import demo_signal\n"
        "y, p = lhotse_wild.degrade(demo_signal(16000, 1.0), 16000, 'strong_echo_noise_recording_dropout', 0.7, 42)\n"
        "print(hashlib.sha256(y.tobytes()).hexdigest(), hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    y, p = lhotse_wild.degrade(demo_signal(16000, 1.0), 16000, "strong_echo_noise_recording_dropout", 0.7, 42)
    assert out == [hashlib.sha256(y.tobytes()).hexdigest(),
                   hashlib.sha256(json.dumps(p, sort_keys=True).encode()).hexdigest()]


@pytest.mark.parametrize("effect", [e for e in lhotse_wild.EFFECTS if e != "dropout"])
def test_severity_is_monotone_per_effect(effect):
    """Fixed seed: the scale-invariant SDR to the clean signal falls at every severity step."""
    x = voice(seconds=3.0)
    scores = [si_sdr(x, lhotse_wild.degrade(x, SR, effect, s, seed=21)[0]) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    assert scores[0] - scores[-1] > 3.0, scores


def test_dropout_loses_more_frames_with_severity():
    """Fixed seed: the share of altered 20-ms frames grows at every step. (SI-SDR is not the index
    here: losing one voiced frame costs more than losing three silent ones.)"""
    x = voice(seconds=5.0) + 0.01  # no frame is naturally identical to silence or its neighbour
    flen = SR // 50
    shares = []
    for s in (0.0, 0.25, 0.5, 0.75, 1.0):
        y = lhotse_wild.degrade(x, SR, "dropout", s, seed=21, config={"jitter": 0.0})[0]  # s=0: loss exactly 0
        changed = np.any((y != x)[: x.size // flen * flen].reshape(-1, flen), axis=1)
        shares.append(changed.mean())
    assert shares[0] == 0.0 and all(a < b for a, b in zip(shares, shares[1:])), shares
    assert 0.2 < shares[-1] < 0.4, shares  # target 30 %


def test_parameters_follow_easy_to_hard():
    for effect, specs in lhotse_wild.SPECS.items():
        low = lhotse_wild.degrade(voice(seconds=1.0), SR, effect, 0.0, seed=3)[1]["steps"][0]
        high = lhotse_wild.degrade(voice(seconds=1.0), SR, effect, 1.0, seed=3)[1]["steps"][0]
        for name, spec in specs.items():
            if name in low and name != "rate_hz":
                assert (high[name] - low[name]) * (spec.hard - spec.easy) > 0, (effect, name)


@pytest.mark.parametrize("sr", [8000, 22050, 44100, 48000])
def test_other_sampling_rates(sr):
    x = voice(sr, 1.0)
    for scenario in ("far_field_noise_recording_distortion_dropout", "obstructed_noise", "strong_echo_recording"):
        y, params = lhotse_wild.degrade(x, sr, scenario, 1.0, seed=5)
        assert y.shape == x.shape and np.all(np.isfinite(y))
        for step in params["steps"]:
            for key in ("lowpass_hz", "highpass_hz"):
                if key in step:
                    assert step[key] < sr / 2
        assert np.array_equal(lhotse_wild.replay(x, sr, params), y)


def test_stereo_keeps_channels_and_shares_params():
    x = np.stack([voice(), voice()[::-1].copy()])
    y, params = lhotse_wild.degrade(x, SR, "far_field_dropout", 0.5, seed=2)
    assert y.shape == x.shape and params["num_channels"] == 2
    mono0, _ = lhotse_wild.degrade(x[:1], SR, "far_field_dropout", 0.5, seed=2)
    # channel 0 went through the same room and losses: equal up to the clip-wide level factor
    assert np.corrcoef(mono0, y[0])[0, 1] > 0.99999
    step = params["steps"][1]
    flen = int(SR * step["frame_ms"] / 1000)
    a, _ = step["dropped"][0]
    assert np.all(y[:, a * flen:(a + 1) * flen] == 0)  # the same frames lost on both channels


def test_one_dimensional_input_gives_one_dimensional_output():
    y, _ = lhotse_wild.degrade(voice(), SR, "noise", 0.3, seed=1)
    assert y.ndim == 1


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scenario": "thunder"}, "thunder"),
        ({"severity": 1.5}, "severity"),
        ({"severity": float("nan")}, "severity"),
        ({"seed": -1}, "seed"),
        ({"sampling_rate": 4000}, "sampling rate"),
        ({"sampling_rate": 16000.5}, "sampling rate"),
        ({"samples": np.zeros(0, np.float32)}, "empty"),
        ({"samples": np.zeros(100, np.float32)}, "at least"),
        ({"samples": np.r_[np.zeros(5000), np.nan, np.zeros(5000)].astype(np.float32)}, "NaN/inf.*5000"),
        ({"samples": (np.ones(16000) * 1000).astype(np.int16)}, "int16"),
        ({"samples": np.zeros((16000, 2), np.float32)}, "transposed"),
    ],
)
def test_bad_input_raises_input_error_naming_it(kwargs, match):
    args = {"samples": voice(seconds=1.0), "sampling_rate": SR, "scenario": "noise", "severity": 0.5, "seed": 0}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        lhotse_wild.degrade(args.pop("samples"), args.pop("sampling_rate"), **args)


def test_replay_rejects_foreign_params():
    x = voice(seconds=1.0)
    _, params = lhotse_wild.degrade(x, SR, "noise_dropout", 0.5, seed=0)
    with pytest.raises(InputError, match="16000 Hz"):
        lhotse_wild.replay(voice(22050, 1.0), 22050, params)
    with pytest.raises(InputError, match="steps"):
        lhotse_wild.replay(x, SR, {**params, "scenario": "noise"})
    with pytest.raises(InputError, match="version"):
        lhotse_wild.replay(x, SR, {**params, "version": "other"})


def test_silent_input_stays_finite():
    x = np.zeros(SR, np.float32)
    for scenario in ("far_field_noise_recording_distortion_dropout", "distortion", "noise"):
        y, _ = lhotse_wild.degrade(x, SR, scenario, 1.0, seed=0)
        assert np.all(np.isfinite(y)) and np.max(np.abs(y)) < 1e-3


def test_config_overrides_dict_and_yaml(tmp_path):
    cfg = {"noise": {"snr_db": [10, 0], "kinds": {"brown": 1}}, "jitter": 0.0}
    _, p = lhotse_wild.degrade(voice(seconds=1.0), SR, "noise", 0.5, seed=4, config=cfg)
    assert p["steps"][0]["snr_db"] == 5.0 and p["steps"][0]["source"]["kind"] == "brown"
    path = tmp_path / "wild.yaml"
    path.write_text("jitter: 0.0\nnoise:\n  snr_db: [10, 0]\n  kinds: {brown: 1}\n")
    _, q = lhotse_wild.degrade(voice(seconds=1.0), SR, "noise", 0.5, seed=4, config=str(path))
    assert q == p
    with pytest.raises(InputError, match="loudness"):
        load_config({"noise": {"loudness": [0, 1]}})
    with pytest.raises(InputError, match="reverb"):
        load_config({"reverb": {}})
    with pytest.raises(InputError, match="easy, hard"):
        load_config({"noise": {"snr_db": [10]}})


def test_samplers_have_the_documented_shape():
    rng = np.random.default_rng(0)
    means = {name: np.mean([sample_severity(name, rng) for _ in range(4000)]) for name in SAMPLERS}
    assert abs(means["linear"] - 0.5) < 0.02
    assert abs(means["sqrt_forward"] - 2 / 3) < 0.02  # density 2s
    assert abs(means["sqrt_backward"] - 1 / 3) < 0.02
    draws = [sample_severity("gaussian_mid", rng) for _ in range(4000)]
    assert abs(np.mean(draws) - 0.5) < 0.02 and 0.0 <= min(draws) and max(draws) <= 1.0 and np.std(draws) < 0.2
    with pytest.raises(InputError, match="cubic"):
        sample_severity("cubic", rng)
