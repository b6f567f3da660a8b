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

VOCAB = list(" abcdefghijklmnopqrstuvwxyz'")


@pytest.fixture(scope="module")
def nemo_env(tmp_path_factory):
    pytest.importorskip("nemo.collections.asr", reason="needs the nemo extra")
    import torch
    from nemo.collections.asr.metrics.wer import word_error_rate_detail
    from nemo.collections.asr.models import ASRModel, EncDecCTCModel
    from nemo.collections.asr.parts.utils.eval_utils import cal_write_wer
    from omegaconf import DictConfig

    torch.manual_seed(0)
    cfg = DictConfig({
        "sample_rate": 16000,
        "labels": VOCAB,
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": 16000, "features": 64, "dither": 0.0, "pad_to": 0,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConvASREncoder",
            "feat_in": 64, "activation": "relu", "conv_mask": True,
            "jasper": [{"filters": 32, "repeat": 1, "kernel": [3], "stride": [1], "dilation": [1],
                        "dropout": 0.0, "residual": False, "separable": True, "se": False}],
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": 32, "num_classes": len(VOCAB), "vocabulary": VOCAB,
        },
    })
    root = tmp_path_factory.mktemp("nemo")
    model = EncDecCTCModel(cfg=cfg)
    nemo_path = root / "tiny_ctc.nemo"
    model.save_to(str(nemo_path))
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
    assert w == pytest.approx(m["wer"], abs=1e-15)
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
    assert total["tokens"] == r.metrics["ref_words"] and total["wer"] == pytest.approx(r.metrics["wer"], abs=1e-15)


def test_broken_model_is_exit_1(nemo_env, tmp_path, capsys):
    broken = tmp_path / "broken.nemo"
    broken.write_bytes(b"not a tar archive")
    rc = main(["score", str(nemo_env["manifest"]), "--nemo-model", str(broken), "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 1 and "--nemo-model: could not load" in capsys.readouterr().err
