"""NeMo in the loop (a tiny random CTC model's own transcription) and parity with NeMo 3.0's WER.

Needs the ``nemo`` extra; skipped without it. NeMo's import (~15 s) happens once, in the module fixture.
"""

import json
import random

import numpy as np
import pytest
import soundfile as sf

from nemo_wild_eval import score_manifest
from wildasr.cli import main

pytestmark = pytest.mark.nemo


@pytest.fixture(scope="module")
def nemo_env(tmp_path_factory):
    pytest.importorskip("nemo.collections.asr", reason="needs the nemo extra")
    from nemo.collections.asr.metrics.wer import word_error_rate_detail
    from nemo.collections.asr.models import ASRModel
    from nemo.collections.asr.parts.utils.eval_utils import cal_write_wer

    from nemo_wild_eval.nemo_asr import build_tiny_ctc

    root = tmp_path_factory.mktemp("nemo")
    nemo_path = build_tiny_ctc(root / "tiny_ctc.nemo", seed=0)
    (root / "audio").mkdir()
    rows = []
    rng = np.random.default_rng(0)
    for k in range(4):
        t = np.arange(int(16000 * (0.6 + 0.2 * k))) / 16000
        x = 0.3 * np.sin(2 * np.pi * (200 + 80 * k) * t) + 0.05 * rng.standard_normal(t.size)
        sf.write(root / "audio" / f"u{k}.wav", x.astype(np.float32), 16000)
        rows.append({"audio_filepath": f"audio/u{k}.wav", "duration": float(t.size / 16000),
                     "text": ["hello world", "turn it off", "a b c", "yes"][k], "condition": f"c{k % 2}"})
    manifest = root / "manifest.json"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    restored = ASRModel.restore_from(str(nemo_path), map_location="cpu")
    restored.eval()
    paths = [str(root / r["audio_filepath"]) for r in rows]
    hyps = restored.transcribe(paths, batch_size=2, verbose=False)
    expected = [h if isinstance(h, str) else h.text for h in hyps]
    return {
        "root": root, "nemo_path": nemo_path, "manifest": manifest, "rows": rows, "expected": expected,
        "model": restored, "ASRModel": ASRModel, "wer_detail": word_error_rate_detail, "cal_write_wer": cal_write_wer,
    }


def test_cli_scores_a_nemo_models_own_transcription(nemo_env, tmp_path):
    out = tmp_path / "out"
    rc = main(["score", str(nemo_env["manifest"]), "--nemo-model", str(nemo_env["nemo_path"]),
               "--normalizer", "basic", "--by", "condition", "--batch-size", "2", "--out", str(out), "--quiet"])
    assert rc == 0
    rows = [json.loads(x) for x in (out / "manifest_scored.jsonl").read_text().splitlines()]
    assert [r["pred_text"] for r in rows] == nemo_env["expected"]
    m = json.loads((out / "metrics.json").read_text())
    assert m["model"] == str(nemo_env["nemo_path"]) and m["utterances"] == 4
    direct = score_manifest([{**r, "pred_text": h} for r, h in zip(nemo_env["rows"], nemo_env["expected"])],
                            normalizer="basic")
    assert m["wer"] == direct.metrics["wer"] and m["errors"] == direct.metrics["errors"]


def test_pretrained_names_go_through_from_pretrained(nemo_env, monkeypatch):
    calls = []

    def fake_from_pretrained(name, map_location=None):
        calls.append(name)
        return nemo_env["model"]

    monkeypatch.setattr(nemo_env["ASRModel"], "from_pretrained", staticmethod(fake_from_pretrained))
    r = score_manifest(nemo_env["manifest"], nemo_model="nvidia/stt_en_tiny", normalizer="basic", batch_size=4)
    assert calls == ["nvidia/stt_en_tiny"] and r.hyps == nemo_env["expected"] and r.model == "nvidia/stt_en_tiny"


def test_missing_audio_is_bad_input(nemo_env, tmp_path, capsys):
    rows = nemo_env["rows"] + [{"audio_filepath": "audio/missing.wav", "text": "gone"}]
    p = nemo_env["root"] / "with_missing.json"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["score", str(p), "--nemo-model", str(nemo_env["nemo_path"]), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(args) == 2
    assert f"{p}:5: audio file not found" in capsys.readouterr().err
    assert main(args + ["--skip-bad"]) == 0
    m = json.loads((tmp_path / "o" / "metrics.json").read_text())
    assert m["utterances"] == 4 and m["skipped"][0]["line"] == 5


def _random_manifest(path, n, seed):
    rng = random.Random(seed)
    vocab = "the a cat dog sat ran on in mat house big small red".split()
    rows = []
    for k in range(n):
        ref = rng.choices(vocab, k=rng.randint(1, 12))
        ref[0] = ref[0].capitalize()
        hyp = rng.choices(vocab, k=rng.randint(0, 12)) if k % 4 else [w.lower() for w in ref if rng.random() > 0.2]
        rows.append({"audio_filepath": f"{k}.wav", "text": " ".join(ref) + rng.choice([".", "?", "!", ","]),
                     "pred_text": " ".join(hyp)})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_totals_equal_nemo_word_error_rate_detail(nemo_env, tmp_path):
    path = tmp_path / "rand.json"
    rows = _random_manifest(path, 2000, seed=1)
    r = score_manifest(path, normalizer="basic")
    # NeMo on the same normalised token sequences
    refs = [" ".join(t) for t in (x["text"].lower().replace(".", "").replace("?", "").replace("!", "")
                                  .replace(",", "").split() for x in rows)]
    hyps = [x["pred_text"] for x in rows]
    w, words, ins_rate, del_rate, sub_rate = nemo_env["wer_detail"](hyps, refs)
    m = r.metrics
    assert words == m["ref_words"]
    assert w == m["wer"]  # same integers divided the same way: bit-identical
    nemo_errors = round(w * words)
    assert nemo_errors == m["errors"]
    # per utterance, total errors agree; the S/I/D split may differ on ties (kaldialign vs rapidfuzz)
    ties = 0
    for row, ref, hyp in zip(r.utterances(), refs, hyps):
        uw, ut, ui, ud, us = nemo_env["wer_detail"]([hyp], [ref])
        errs = row["substitutions"] + row["insertions"] + row["deletions"]
        if ut:
            assert round(uw * ut) == errs
            ties += (round(us * ut), round(ui * ut), round(ud * ut)) != (
                row["substitutions"], row["insertions"], row["deletions"])
    assert ties > 0  # documented: equal totals, different S/I/D splits on some utterances


def test_totals_equal_nemo_cal_write_wer_end_to_end(nemo_env, tmp_path):
    path = tmp_path / "rand2.json"
    _random_manifest(path, 500, seed=2)
    _, total, metric = nemo_env["cal_write_wer"](
        str(path), ignore_punctuation=True, ignore_capitalization=True, output_filename=str(tmp_path / "nemo_out.json")
    )
    r = score_manifest(path, normalizer="basic")
    assert metric == "wer" and total["samples"] == r.metrics["utterances"]
    assert total["tokens"] == r.metrics["ref_words"] and total["wer"] == r.metrics["wer"]


def test_broken_model_is_exit_1(nemo_env, tmp_path, capsys):
    broken = tmp_path / "broken.nemo"
    broken.write_bytes(b"not a tar archive")
    rc = main(["score", str(nemo_env["manifest"]), "--nemo-model", str(broken), "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 1 and "--nemo-model: could not load" in capsys.readouterr().err


def _messy_manifest(path, n, seed):
    """Mixed case, in-word punctuation, quotes, apostrophes, accents, odd spacing, empty outputs."""
    rng = random.Random(seed)
    vocab = ["The", "cat's", "well-known", "U.S.", "dog", "(sat)", "on", "mat,", "Ça", "va?", "50%", '"ok"',
             "e-mail", "don't", "ran", "a", "HOUSE", "big", "red;", "x_y", "[noise]", "5.5", "I'm"]
    rows = []
    for k in range(n):
        ref = rng.choices(vocab, k=rng.randint(1, 14))
        if k % 5 == 0:
            hyp = []
        elif k % 5 == 1:
            hyp = [w.lower().strip(".,?;") for w in ref]  # the same words, other case/punctuation
        else:
            hyp = rng.choices(vocab, k=rng.randint(1, 14))
        rows.append({"audio_filepath": f"{k}.wav", "duration": 1.0 + k % 7,
                     "text": "  ".join(ref) if k % 3 else " ".join(ref), "pred_text": " ".join(hyp) + " " * (k % 2)})
    rows.append({"audio_filepath": "p.wav", "text": "...!", "pred_text": "hello there"})  # empty after stripping
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize(
    "normalizer,nemo_flags",
    [("nemo", {"ignore_punctuation": True, "ignore_capitalization": True}),  # speech_to_text_eval.py with both
     ("none", {})],  # speech_to_text_eval.py defaults: text scored as written
)
def test_per_utterance_fields_equal_nemo_speech_to_text_eval(nemo_env, tmp_path, normalizer, nemo_flags):
    """NeMo's own scoring (cal_write_wer, what speech_to_text_eval.py calls) on messy text: every
    per-utterance wer/tokens and the corpus totals are exactly ours; its output file reads back as input."""
    src = tmp_path / "messy.json"
    _messy_manifest(src, 1200, seed=3)
    nemo_out = tmp_path / "nemo_scored.json"
    _, total, _ = nemo_env["cal_write_wer"](str(src), output_filename=str(nemo_out), **nemo_flags)
    nemo_rows = [json.loads(x) for x in nemo_out.read_text(encoding="utf-8").splitlines()]
    for source in (src, nemo_out):  # the plain manifest, and NeMo's scored output as our input
        r = score_manifest(source, normalizer=normalizer)
        m = r.metrics
        assert r.formats[str(source)] == "nemo" and m["utterances"] == total["samples"] == len(nemo_rows)
        assert m["ref_words"] == total["tokens"] and m["wer"] == total["wer"]
        assert m["errors"] == round((total["ins_rate"] + total["del_rate"] + total["sub_rate"]) * total["tokens"])
        empty = 0
        for ours, theirs in zip(r.utterances(), nemo_rows):
            assert ours["tokens"] == theirs["tokens"]
            if theirs["tokens"] == 0:  # NeMo writes inf; we write a finite 1.0 (output on nothing)
                assert theirs["wer"] == float("inf") and ours["wer"] == 1.0 and ours["insertions"] == 2
                empty += 1
                continue
            assert ours["wer"] == theirs["wer"]
            errors = ours["substitutions"] + ours["insertions"] + ours["deletions"]
            assert round((theirs["ins_rate"] + theirs["del_rate"] + theirs["sub_rate"]) * theirs["tokens"]) == errors
        assert empty == (1 if normalizer == "nemo" else 0) and m["empty_references"] == empty
