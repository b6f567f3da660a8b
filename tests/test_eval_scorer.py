"""Scorer: hand-worked counts, flags, breakdowns, presets, severity, and jiwer parity via manifests."""

import importlib.util
import json
import math
import random
from pathlib import Path

import jiwer
import pytest

from nemo_wild_eval import FlagThresholds, score_manifest, wer
from nemo_wild_eval.flags import find_repetition
from nemo_wild_eval.presets import PRESETS, canonical_category, derive_vitw

ROOT = Path(__file__).resolve().parents[1]


def write_manifest(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def test_hand_worked_counts_and_nemo_fields():
    recs = [
        {"text": "the cat sat on the mat", "pred_text": "the cat sit on mat mat extra"},  # S2 I1
        {"text": "Hello, World!", "pred_text": "hello world"},
        {"text": "a b c d", "pred_text": ""},  # D4, empty output
    ]
    r = score_manifest(recs, normalizer="basic")
    m = r.metrics
    assert (m["substitutions"], m["insertions"], m["deletions"], m["ref_words"]) == (2, 1, 4, 12)
    assert m["wer"] == pytest.approx(7 / 12) and m["errors"] == 7 and m["correct"] == 6
    assert m["utterances"] == 3 and m["ser"] == pytest.approx(2 / 3)
    assert m["empty_hypotheses"] == 1 and m["omissions"] == 1 and m["flags"]["empty_output"] == 1
    u = list(r.utterances())
    assert u[0]["wer"] == pytest.approx(0.5) and u[0]["tokens"] == 6
    assert (u[0]["sub_rate"], u[0]["ins_rate"], u[0]["del_rate"]) == pytest.approx((2 / 6, 1 / 6, 0.0))
    assert (u[0]["substitutions"], u[0]["insertions"], u[0]["deletions"], u[0]["hyp_tokens"]) == (2, 1, 0, 7)
    assert u[1]["wer"] == 0.0 and u[1]["flags"] == []
    assert u[2]["omission"] is True and u[2]["flags"] == ["empty_output"] and u[2]["del_rate"] == 1.0
    assert r.wer == m["wer"] and len(r) == 3


def test_plain_wer_function():
    assert wer("the cat sat", "the cat sit", normalizer="basic") == pytest.approx(1 / 3)
    assert wer(["a b", "c"], ["a b", "d"], normalizer="basic") == pytest.approx(1 / 3)
    assert wer(["..."], ["x"], normalizer="basic") is None
    with pytest.raises(ValueError):
        wer(["a"], [], normalizer="basic")


def test_empty_references_after_normalisation_never_inf():
    recs = [
        {"text": "...", "pred_text": "hello there"},  # basic -> empty reference, output anyway
        {"text": "?!", "pred_text": ""},
    ]
    r = score_manifest(recs, normalizer="basic")
    m = r.metrics
    assert m["ref_words"] == 0 and m["wer"] is None and m["empty_references"] == 2
    assert m["insertions"] == 2 and m["flags"]["output_on_empty_ref"] == 1
    u = list(r.utterances())
    assert (u[0]["wer"], u[0]["ins_rate"]) == (1.0, 1.0) and (u[1]["wer"], u[1]["ins_rate"]) == (0.0, 0.0)
    text = json.dumps(r.to_dict(), allow_nan=False)  # raises on inf/nan
    assert "Infinity" not in text
    assert any("empty after normalisation" in n for n in r.notes)
    # mixed corpus: empty reference adds its insertions to the errors, nothing to N (NeMo/jiwer rule)
    r2 = score_manifest(recs + [{"text": "a b", "pred_text": "a b"}], normalizer="basic")
    assert r2.metrics["wer"] == pytest.approx(2 / 2)


@pytest.mark.parametrize(
    "ref,hyp,flags",
    [
        ("yes", "yes thank you for watching", ["insertion_heavy", "runaway"]),
        ("a b c d e f", "a b c d e f g h", []),  # two stray words: below min_insertions
        ("go to the shop now", "go to the the the the shop now", ["insertion_heavy", "repetition"]),
        ("a b c d e f g h", "x y x y x y x y", ["repetition"]),
        ("no no no no stop", "no no no no", []),  # the reference repeats it too
        ("...", "hello", ["output_on_empty_ref"]),
        ("one two three four five six", "one two", ["large_deletion"]),
        ("one two three", "", ["empty_output"]),
        ("one two three", "one three", []),
    ],
)
def test_flags_hand_worked(ref, hyp, flags):
    r = score_manifest([{"text": ref, "pred_text": hyp}], normalizer="basic")
    u = next(r.utterances())
    assert u["flags"] == flags
    assert u["hallucination"] == any(f in flags for f in ("insertion_heavy", "runaway", "repetition",
                                                          "output_on_empty_ref"))
    assert u["omission"] == any(f in flags for f in ("empty_output", "large_deletion"))


def test_flag_thresholds_are_configurable_and_recorded():
    recs = [{"text": "a b c d e f", "pred_text": "a b c d e f g h"}]
    loose = FlagThresholds(min_insertions=1, insertion_rate=0.3)
    r = score_manifest(recs, normalizer="basic", thresholds=loose)
    assert r.metrics["hallucinations"] == 1 and r.to_dict()["thresholds"]["min_insertions"] == 1


def test_find_repetition_is_linear_on_long_loops():
    hyp = ["la"] * 200_000
    assert find_repetition(hyp, ["la"] * 3) == ("la",)
    assert find_repetition(hyp, ["la"] * 10) is None  # the reference loops too


def test_breakdowns_crosses_missing_keys_and_natural_order():
    recs = [
        {"text": "a b", "pred_text": "a b", "snr": 10, "room": "r1"},
        {"text": "a b", "pred_text": "a x", "snr": 5, "room": "r1"},
        {"text": "a b", "pred_text": "x x", "snr": -5, "room": "r2"},
        {"text": "a b", "pred_text": "a b", "room": "r2"},
    ]
    r = score_manifest(recs, normalizer="basic", by=["snr", "room+snr", "nowhere"])
    assert list(r.breakdowns["snr"]) == ["-5", "5", "10", "(none)"]
    assert r.breakdowns["snr"]["5"]["wer"] == pytest.approx(0.5)
    assert r.breakdowns["room+snr"]["r2|-5"]["substitutions"] == 2
    assert "nowhere" not in r.breakdowns and any("nowhere" in n for n in r.notes)
    total = sum(g["errors"] for g in r.breakdowns["snr"].values())
    assert total == r.metrics["errors"]


def test_several_files_break_down_by_file(tmp_path):
    a = write_manifest(tmp_path / "a.jsonl", [{"text": "x y", "pred_text": "x y"}])
    b = write_manifest(tmp_path / "b.jsonl", [{"text": "x y", "pred_text": "x"}])
    r = score_manifest([a, b], normalizer="basic")
    assert r.breakdowns["source_file"]["b.jsonl"]["deletions"] == 1


@pytest.mark.parametrize(
    "preset,record,expected",
    [
        ("chime4", {"audio_filepath": "/d/CHiME4/isolated/et05_bus_real/F05_440C0201_BUS.CH5.wav"},
         {"split": "et05", "env": "bus", "set": "real"}),
        ("chime4", {"audio_filepath": "/d/dt05_caf_simu/M03_050C0103_CAF.wav"}, {"set": "simu", "env": "caf"}),
        ("chime4", {"audio_filepath": "/d/F01_22GC010A_PED.wav"}, {"env": "ped"}),
        ("voices", {"audio_filepath": "/v/Lab41-SRI-VOiCES-rm1-babb-sp0083-ch003054-sg0005-mc01-stu-clo-dg090.wav"},
         {"room": "rm1", "distractor": "babble", "mic": "mc01", "mic_type": "stu", "mic_position": "clo"}),
        ("noizeus", {"audio_filepath": "/n/airport/5dB/sp01_airport_sn5.wav"}, {"noise": "airport", "snr": "5"}),
        ("noizeus", {"audio_filepath": "/n/clean/sp03.wav"}, {"noise": "clean", "snr": "clean"}),
        ("librispeech", {"audio_filepath": "/l/test-other/1688/142285/1688-142285-0000.flac"},
         {"subset": "test-other", "condition": "other"}),
        ("aishell1", {"audio_filepath": "/a/wav/test/S0764/BAC009S0764W0121.wav"}, {"split": "test", "speaker": "S0764"}),
        ("wenetspeech", {"audio_filepath": "/w/x.wav", "utt_id": "TEST_MEETING_T0000000001_S00000"},
         {"subset": "TEST_MEETING"}),
    ],
)
def test_presets_derive_keys_from_paths(preset, record, expected):
    got = PRESETS[preset].derive(record)
    assert {k: got.get(k) for k in expected} == expected


@pytest.mark.parametrize(
    "record,expected",
    [
        ({"subset": "sim-en-noise"}, {"origin": "sim", "lang": "en", "category": "noise"}),
        ({"subset": "sim-en-barrier"}, {"category": "obstructed"}),
        ({"subset": "real-zh-far-field"}, {"origin": "real", "lang": "zh", "category": "far_field"}),
        ({"subset": "sim-en-stutter"}, {"category": "dropout"}),
        ({"subset": "real-en-crosstalk"}, {"category": "recording"}),
        ({"subset": "sim-en-strong_echo"}, {"category": "echo"}),
        ({"subset": "real-en", "combination": ["noise", "strong_echo"]}, {"origin": "real", "category": "mixed"}),
        ({"subset": "sim-en", "combination": "far_field_noise"}, {"category": "mixed"}),
        ({"subset": "sim-en", "combination": "barrier"}, {"category": "obstructed"}),
        ({"subset": "real-en-mixed", "combination": "noise+echo"}, {"category": "mixed"}),
    ],
)
def test_vitw_categories_are_canonical(record, expected):
    got = derive_vitw(record)
    assert {k: got.get(k) for k in expected} == expected
    assert canonical_category("Strong-Echo") == "echo"


def test_vitw_default_breakdown_and_auto_normaliser(tmp_path):
    rows = [
        {"audio_path": "a.wav", "answer": "Turn the lights off.", "prediction": "turn the light off",
         "subset": "sim-en-noise", "global_severity": 0.2},
        {"audio_path": "b.wav", "answer": "Turn the lights off.", "prediction": "turn the lights off",
         "subset": "real-en-barrier", "global_severity": 0.9},
        {"audio_path": "c.wav", "answer": "今天天气很好", "prediction": "language Chinese<asr_text>今天天汽很好",
         "subset": "sim-zh-noise", "global_severity": 0.5},
    ]
    r = score_manifest(write_manifest(tmp_path / "v.jsonl", rows))
    assert r.preset == "vitw" and r.normalizer == "auto" and r.unit == "mixed"
    assert set(r.breakdowns) == {"origin", "category", "origin+category"}
    assert r.breakdowns["origin+category"]["sim|noise"]["substitutions"] == 2  # light + 汽
    assert r.breakdowns["category"]["obstructed"]["wer"] == 0.0
    assert r.utt_normalizers == ["whisper_en", "whisper_en", "zh"]
    assert r.severity["key"] == "global_severity" and [b["label"] for b in r.severity["bins"]] == ["0.2", "0.5", "0.9"]
    assert r.severity["series_key"] == "category" and "noise" in r.severity["series"]
    row = list(r.utterances())[0]
    assert row["text"] == "Turn the lights off." and row["audio_filepath"] == "a.wav" and row["category"] == "noise"


def test_manifest_keys_win_over_derived_ones():
    recs = [{"text": "a", "pred_text": "a", "audio_filepath": "/x/et05_bus_real/F.wav", "env": "custom"}]
    r = score_manifest(recs, preset="chime4", normalizer="basic")
    assert list(r.breakdowns["env"]) == ["custom"] and list(r.breakdowns["set+env"]) == ["real|custom"]


def test_severity_binning():
    rng = random.Random(0)
    recs = [{"text": "a b c d", "pred_text": "a b", "severity": rng.random()} for _ in range(200)]
    r = score_manifest(recs, normalizer="basic")
    assert r.severity["key"] == "severity" and len(r.severity["bins"]) == 5
    assert sum(b["utterances"] for b in r.severity["bins"]) == 200
    cat = score_manifest([{"text": "a", "pred_text": "b", "severity": s} for s in ("low", "high", "mid")],
                         normalizer="basic")
    assert {b["label"] for b in cat.severity["bins"]} == {"low", "mid", "high"}


def test_zh_preset_is_character_error_rate():
    r = score_manifest([{"text": "今天天气很好。", "pred_text": "今天天汽很好"}], preset="aishell1")
    assert r.normalizer == "zh" and r.unit == "char" and r.metrics["ref_words"] == 6
    assert r.metrics["wer"] == pytest.approx(1 / 6)


def _jiwer_counts(alignment):
    s = i = d = 0
    for c in alignment:
        if c.type == "substitute":
            s += c.ref_end_idx - c.ref_start_idx
        elif c.type == "insert":
            i += c.hyp_end_idx - c.hyp_start_idx
        elif c.type == "delete":
            d += c.ref_end_idx - c.ref_start_idx
    return s, i, d


def test_corpus_and_per_utterance_equal_to_jiwer_through_a_manifest(tmp_path):
    rng = random.Random(7)
    vocab = "Alpha beta Gamma delta eps zeta eta theta iota kappa".split()
    recs = []
    for k in range(3000):
        ref = " ".join(rng.choices(vocab, k=rng.randint(1, 15))) + rng.choice([".", "!", "?", ""])
        hyp = " ".join(rng.choices(vocab, k=rng.randint(0, 15)))
        recs.append({"audio_filepath": f"{k}.wav", "text": ref, "pred_text": hyp.upper() if k % 3 == 0 else hyp})
    path = write_manifest(tmp_path / "rand.jsonl", recs)
    r = score_manifest(path, normalizer="basic")
    tr = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(),
                        jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    refs = [x["text"] for x in recs]
    hyps = [x["pred_text"] for x in recs]
    out = jiwer.process_words(refs, hyps, reference_transform=tr, hypothesis_transform=tr)
    m = r.metrics
    assert (m["substitutions"], m["insertions"], m["deletions"]) == (out.substitutions, out.insertions, out.deletions)
    assert m["wer"] == pytest.approx(out.wer, abs=1e-15)
    for row, al in zip(r.utterances(), out.alignments):
        assert (row["substitutions"], row["insertions"], row["deletions"]) == _jiwer_counts(al)


def test_benchmark_script_runs_and_numbers_agree():
    spec = importlib.util.spec_from_file_location("bench_scorer", ROOT / "benchmarks" / "scorer.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--n", "1500", "--unique-refs", "300", "--repeat", "1", "--no-nemo"]) == 0


def test_no_inf_or_nan_anywhere_in_metrics():
    r = score_manifest([{"text": "...", "pred_text": ""}], normalizer="basic", by=["x"])
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["wer"] is None and d["ser"] == 0.0
    assert not any(isinstance(v, float) and not math.isfinite(v) for v in d.values())


def test_parallel_whisper_normalisation_equals_serial():
    rng = random.Random(5)
    words = "Mr. Smith's colour twenty five dollars [noise] uh I went home 1st 2,000".split()
    recs = [{"text": " ".join(rng.choices(words, k=6)), "pred_text": " ".join(rng.choices(words, k=6))}
            for _ in range(300)]
    serial = score_manifest(recs, normalizer="whisper_en", jobs=1)
    parallel = score_manifest(recs, normalizer="whisper_en", jobs=2)
    assert serial.metrics == parallel.metrics


@pytest.mark.parametrize(
    "ref,hyp,duration,flagged",
    [
        # 6 chars of reference in 0.5 s; 38 hypothesis chars = 76 chars/s: impossible speech
        ("yes", "yes thank you for watching please subscribe", 0.5, True),
        ("hello there", "hellothereeeeeeeeeeeeeeeeeeeeeeeeeeeeeee", 1.0, True),  # one runaway token, 40 chars/s
        ("hello there", "hello there", 0.3, False),  # 33 chars/s but no longer than the reference
        ("yes", "yes thank you for watching please subscribe", 10.0, False),  # 3.8 chars/s: plausible
        ("yes", "yes thank you for watching please subscribe", None, False),  # no duration: no judgement
        ("yes", "yes thank you for watching please subscribe", "0.5", False),  # not a number
        ("yes", "yes thank you for watching please subscribe", 0, False),
    ],
)
def test_char_rate_flag_hand_worked(ref, hyp, duration, flagged):
    rec = {"text": ref, "pred_text": hyp}
    if duration is not None:
        rec["duration"] = duration
    r = score_manifest([rec], normalizer="basic")
    u = next(r.utterances())
    assert ("char_rate" in u["flags"]) is flagged
    assert r.metrics["flags"]["char_rate"] == int(flagged)
    if flagged:
        assert u["hallucination"] is True


def test_char_rate_limit_is_a_threshold():
    rec = {"text": "hello there", "pred_text": "hello there my friend", "duration": 1.0}  # 18 chars/s
    assert score_manifest([rec], normalizer="basic").metrics["flags"]["char_rate"] == 0
    strict = FlagThresholds(max_char_rate=15.0)
    r = score_manifest([rec], normalizer="basic", thresholds=strict)
    assert r.metrics["flags"]["char_rate"] == 1 and r.to_dict()["thresholds"]["max_char_rate"] == 15.0


def test_vitw_own_category_field_with_old_names_is_canonical():
    rows = [
        {"answer": "a b", "prediction": "a b", "subset": "sim-en", "category": "barrier"},
        {"answer": "a b", "prediction": "a x", "subset": "sim-en", "category": "obstructed"},
        {"answer": "a b", "prediction": "a b", "subset": "real-en", "category": "strong_echo"},
        {"answer": "a b", "prediction": "a b", "origin": "simulated", "category": "Crosstalk"},
        {"answer": "a b", "prediction": "x b", "subset": "sim-en-stutter"},
    ]
    r = score_manifest(rows, normalizer="basic", preset="vitw")
    cat = r.breakdowns["category"]
    assert list(cat) == ["dropout", "echo", "obstructed", "recording"]
    assert cat["obstructed"]["utterances"] == 2 and cat["obstructed"]["substitutions"] == 1
    assert set(r.breakdowns["origin"]) == {"real", "sim"}
    assert r.breakdowns["origin+category"]["sim|recording"]["utterances"] == 1
