"""Lhotse integration: WildDegradation transform, segment cuts, MixedCut, cut transforms, noise cuts."""

import json
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
from lhotse import CutSet, MonoCut, Recording, SupervisionSegment
from lhotse.augmentation.transform import AudioTransform

import lhotse_wild
from lhotse_wild import RandomWildDegradation, WildDegradation
from lhotse_wild.preview import demo_signal
from nemo_wild_eval.errors import InputError

SR = 16000


def make_cut(tmp_path, name, seconds=2.0, seed=0, text="hello world"):
    rng = np.random.default_rng(seed)
    x = demo_signal(SR, seconds) * (0.6 + 0.4 * rng.random()) + 0.002 * rng.standard_normal(int(SR * seconds))
    path = tmp_path / f"{name}.wav"
    sf.write(path, x.astype(np.float32), SR, subtype="FLOAT")
    rec = Recording.from_file(path, recording_id=name)
    cut = rec.to_cut()
    sup = SupervisionSegment(id=f"{name}-sup", recording_id=name, start=0.0, duration=rec.duration, text=text)
    return MonoCut(id=name, start=0.0, duration=rec.duration, channel=0, recording=rec, supervisions=[sup])


def make_noise_cut(tmp_path, name="hum", seconds=5.0):
    t = np.arange(int(SR * seconds)) / SR
    rng = np.random.default_rng(9)
    x = 0.2 * np.sin(2 * np.pi * 100 * t) * (1 + 0.3 * np.sin(2 * np.pi * 0.5 * t)) + 0.05 * rng.standard_normal(t.size)
    path = tmp_path / f"{name}.wav"
    sf.write(path, x.astype(np.float32), SR, subtype="FLOAT")
    return Recording.from_file(path, recording_id=name).to_cut()


def test_registered_and_round_trips_through_dict(tmp_path):
    assert AudioTransform.KNOWN_TRANSFORMS["WildDegradation"] is WildDegradation
    t = WildDegradation.create("far_field_noise_dropout", 0.4, 17, SR, SR * 2)
    d = json.loads(json.dumps(t.to_dict()))
    assert d["name"] == "WildDegradation"
    t2 = AudioTransform.from_dict(d)
    assert isinstance(t2, WildDegradation) and t2 == t
    x = demo_signal(SR, 2.0)[None]
    y = t(x, SR)
    assert np.array_equal(t2(x, SR), y) and np.array_equal(t(x, SR), y)  # twice: identical
    assert t.reverse_timestamps(1.5, 2.0, SR) == (1.5, 2.0)
    with pytest.raises(InputError, match="8000 Hz"):
        t(x, 8000)
    with pytest.raises(InputError, match="disagrees"):
        WildDegradation(**{**t.to_dict()["kwargs"], "seed": 18})


def test_segment_of_a_longer_recording(tmp_path):
    long_cut = make_cut(tmp_path, "long", seconds=6.0)
    seg = long_cut.truncate(offset=2.0, duration=2.5)
    deg = lhotse_wild.degrade_cut(seg, "far_field_noise_dropout", 0.7, seed=11)
    audio = deg.load_audio()
    params = deg.custom["wild"]["params"]
    assert audio.shape == seg.load_audio().shape == (1, 40000)
    assert params["num_samples"] == 40000
    assert np.array_equal(audio, lhotse_wild.replay(seg.load_audio(), SR, params))
    step = params["steps"][-1]
    a, n = step["dropped"][0]
    flen = int(SR * step["frame_ms"] / 1000)
    assert np.all(audio[0, a * flen:(a + n) * flen] == 0)  # positions are relative to the segment
    assert deg.start == 2.0 and deg.supervisions[0].text == "hello world"


def test_mixed_cut_degraded_after_the_mix(tmp_path):
    a, b = make_cut(tmp_path, "a", 2.0, seed=1), make_cut(tmp_path, "b", 1.5, seed=2)
    mixed = a.mix(b, offset_other_by=0.4, snr=5.0)
    deg = lhotse_wild.degrade_cut(mixed, "strong_echo_noise_distortion", 0.5, seed=3, suffix="_w")
    assert deg.id == mixed.id + "_w"
    out = deg.load_audio()
    assert np.array_equal(out, lhotse_wild.replay(mixed.load_audio(), SR, deg.custom["wild"]["params"]))
    assert deg.custom["wild"]["scenario"] == "strong_echo_noise_distortion"
    assert "wild" not in (mixed.tracks[0].cut.custom or {})  # the source cut is not mutated
    assert CutSet.from_dicts([deg.to_dict()])[0].load_audio().tolist() == out.tolist()


def test_manifest_round_trip_in_a_fresh_process(tmp_path):
    cut = make_cut(tmp_path, "c1", 2.0)
    deg = lhotse_wild.degrade_cut(cut, "obstructed_noise_recording_dropout", 0.8, seed=5, suffix="_wild0")
    CutSet.from_cuts([deg]).to_file(tmp_path / "deg.jsonl.gz")
    np.save(tmp_path / "here.npy", deg.load_audio())
    code = (  # lhotse_wild imported BEFORE lhotse: the transform must still register
        "import lhotse_wild, numpy as np, sys\n"
        "from lhotse import CutSet\n"
        f"c = CutSet.from_file(r'{tmp_path / 'deg.jsonl.gz'}')[0]\n"
        f"np.save(r'{tmp_path / 'there.npy'}', c.load_audio())\n"
        "print(c.custom['wild']['scenario'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "obstructed_noise_recording_dropout"
    assert np.array_equal(np.load(tmp_path / "here.npy"), np.load(tmp_path / "there.npy"))


def test_provenance_fields(tmp_path):
    deg = lhotse_wild.degrade_cut(make_cut(tmp_path, "p", 1.0), "noise_recording", 0.25, seed=8, sampler="linear")
    wild = deg.custom["wild"]
    assert set(wild) == {"version", "scenario", "effects", "severity", "sampler", "seed", "sampling_rate", "params"}
    assert wild["effects"] == ["noise", "recording"] and wild["severity"] == 0.25 and wild["sampling_rate"] == SR
    assert deg.recording.transforms[-1].params == wild["params"]
    assert deg.supervisions[0].recording_id == deg.recording.id


def test_random_wild_degradation_is_deterministic_per_cut(tmp_path):
    cuts = CutSet.from_cuts(make_cut(tmp_path, f"u{i}", 1.0 + 0.1 * i, seed=i) for i in range(6))
    rwd = RandomWildDegradation(scenarios="all", sampler="linear", seed=3)
    first = rwd(cuts)
    again = RandomWildDegradation(seed=3)(CutSet.from_cuts(reversed(list(cuts))))  # order does not matter
    by_id = {c.id: c.custom["wild"] for c in again}
    assert all(c.custom["wild"] == by_id[c.id] for c in first)
    assert len({c.custom["wild"]["scenario"] for c in first}) > 1
    assert [c.id for c in first] == [c.id for c in cuts]  # ids kept for on-the-fly use
    other = RandomWildDegradation(seed=4)(cuts)
    assert any(a.custom["wild"] != b.custom["wild"] for a, b in zip(first, other))
    assert all("wild" not in (c.custom or {}) for c in RandomWildDegradation(seed=3, p=0.0)(cuts))
    mapped = cuts.map(rwd)  # also a per-cut function
    assert [c.custom["wild"] for c in mapped] == [c.custom["wild"] for c in first]
    with pytest.raises(InputError, match="p must"):
        RandomWildDegradation(p=2)


def test_k2_dataset_cut_transform(tmp_path):
    from lhotse.dataset import K2SpeechRecognitionDataset
    from lhotse.dataset.input_strategies import AudioSamples

    cuts = CutSet.from_cuts(make_cut(tmp_path, f"k{i}", 1.0 + 0.25 * i, seed=i) for i in range(3))
    rwd = RandomWildDegradation(seed=1, scenarios="compound")
    ds = K2SpeechRecognitionDataset(input_strategy=AudioSamples(), cut_transforms=[rwd], return_cuts=True)
    batch = ds[cuts]
    expected = {c.id: c.load_audio()[0] for c in rwd(cuts)}
    for i, cut in enumerate(batch["supervisions"]["cut"]):
        n = expected[cut.id].size
        assert np.array_equal(batch["inputs"][i, :n].numpy(), expected[cut.id])
        assert cut.custom["wild"]["scenario"] in lhotse_wild.SCENARIOS


def test_user_noise_cut_referenced_by_id_and_offset(tmp_path):
    noise_cuts = CutSet.from_cuts([make_noise_cut(tmp_path)])
    x = make_cut(tmp_path, "s", 1.5).load_audio()
    cfg = {"noise": {"kinds": {"user": 1}}}
    y, params = lhotse_wild.degrade(x, SR, "noise", 0.5, seed=6, noise_source=noise_cuts, config=cfg)
    src = params["steps"][0]["source"]
    assert src["kind"] == "user" and src["cut_id"] == "hum" and 0.0 <= src["offset"] <= 5.0 - 1.5
    noise = noise_cuts[0].load_audio()[0]
    start = int(round(src["offset"] * SR))
    seg = noise[start:start + x.shape[1]]
    added = (y - x)[0]
    assert np.corrcoef(added, seg)[0, 1] > 0.9999  # exactly that stretch of that file, scaled
    snr = 10 * np.log10(np.sum(x.astype(np.float64) ** 2) / np.sum(added.astype(np.float64) ** 2))
    assert abs(snr - params["steps"][0]["snr_db"]) < 0.5
    assert np.array_equal(lhotse_wild.replay(x, SR, params), y)  # from the embedded manifest
    assert np.array_equal(lhotse_wild.replay(x, SR, params, noise_source=noise_cuts), y)


def test_babble_from_other_cuts_never_itself(tmp_path):
    corpus = [make_cut(tmp_path, f"b{i}", 1.0 + 0.2 * i, seed=i) for i in range(5)]
    bank = lhotse_wild.NoiseBank(babble_cuts=corpus)
    cfg = {"noise": {"kinds": {"babble": 1}}}
    for seed in range(4):
        deg = lhotse_wild.degrade_cut(corpus[0], "noise", 0.5, seed=seed, noise_source=bank, config=cfg)
        talkers = deg.custom["wild"]["params"]["steps"][0]["source"]["talkers"]
        ids = [t["cut_id"] for t in talkers]
        assert 3 <= len(ids) <= 4 and "b0" not in ids and len(set(ids)) == len(ids)
        audio = deg.load_audio()
        assert np.all(np.isfinite(audio)) and audio.shape == corpus[0].load_audio().shape


def test_missing_noise_file_names_the_cut(tmp_path):
    noise_cuts = CutSet.from_cuts([make_noise_cut(tmp_path, "gone")])
    x = demo_signal(SR, 1.0)
    _, params = lhotse_wild.degrade(x, SR, "noise", 0.5, seed=1, noise_source=noise_cuts,
                                    config={"noise": {"kinds": {"user": 1}}})
    (tmp_path / "gone.wav").unlink()
    with pytest.raises(InputError, match="gone"):
        lhotse_wild.replay(x, SR, params, noise_source=noise_cuts)
