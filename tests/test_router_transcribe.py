"""`wildasr transcribe --router`: NeMo manifest in, routed transcripts out, scoreable by `wildasr score`."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf
from router_fixtures import clearest_clean, router_corpus, router_splits, tiny_lora, trained_router  # noqa: F401

from wildasr.cli import main


def _manifest(tmp_path, router_splits, router_corpus, router):
    """Held-out clean clip, a strongly degraded copy, another clean clip at 22.05 kHz (resampled path)."""
    import lhotse_wild
    from wild_corpus.synth import resample

    clean = router_splits.test_clean
    i0, i1 = clearest_clean(router, clean.audio)
    x0, x1 = clean.audio[i0], clean.audio[i1]
    deg = lhotse_wild.degrade(x0, 16000, "far_field_noise_dropout", 0.9, 5)[0]
    rows = [("clean.wav", x0, 16000, clean.meta[i0]), ("degraded.wav", deg, 16000, clean.meta[i0]),
            ("clean22k.wav", resample(x1, 16000, 22050), 22050, clean.meta[i1])]
    texts = {c.id: c.supervisions[0].text for c in router_corpus}
    with open(tmp_path / "in.jsonl", "w") as fh:
        for name, x, sr, m in rows:
            sf.write(tmp_path / name, x, sr, subtype="FLOAT")
            fh.write(json.dumps({"audio_filepath": name, "text": texts[m["id"]], "duration": len(x) / sr}) + "\n")
    return rows


def test_transcribe_hf_routed_and_scored(tmp_path, tiny_lora, trained_router, router_splits, router_corpus):
    from peft import PeftModel
    from transformers import Qwen2AudioForConditionalGeneration

    from verl_dgwgpo.router.hf_asr import HFAudioASR

    model_dir, adapter = tiny_lora
    router, _, router_dir = trained_router
    rows = _manifest(tmp_path, router_splits, router_corpus, router)
    out = tmp_path / "out.jsonl"
    assert main(["transcribe", "--manifest", str(tmp_path / "in.jsonl"), "--out", str(out), "--router", str(router_dir),
                 "--backend", "hf", "--model", str(model_dir), "--adapter", str(adapter), "--max-new-tokens", "12",
                 "--quiet"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["routed"] for r in recs] == [False, True, False]
    assert all(0.0 <= r["router_prob"] <= 1.0 and r["text"] and "asr_backend" in r for r in recs)
    base = HFAudioASR(model_dir, max_new_tokens=12)
    lora = HFAudioASR(model_dir, max_new_tokens=12)
    lora.model = PeftModel.from_pretrained(Qwen2AudioForConditionalGeneration.from_pretrained(model_dir), adapter).eval()
    for (name, x, sr, _), r in zip(rows, recs):
        ref = (lora if r["routed"] else base).transcribe(x, sr)
        assert r["pred_text"] == ref, name
    assert main(["score", str(out), "--out", str(tmp_path / "score"), "--by", "routed", "--no-plots", "--quiet"]) == 0
    assert any((tmp_path / "score").iterdir())


def test_transcribe_pocketsphinx_and_bad_input(tmp_path, trained_router, router_splits, router_corpus):
    from nemo_wild_eval.text import align, tokenize

    router, _, router_dir = trained_router
    _manifest(tmp_path, router_splits, router_corpus, router)
    out = tmp_path / "ps.jsonl"
    assert main(["transcribe", "--manifest", str(tmp_path / "in.jsonl"), "--out", str(out), "--router", str(router_dir),
                 "--backend", "pocketsphinx", "--lm-sentences", "data/sentences_en.txt", "--quiet"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["routed"] for r in recs] == [False, True, False]
    a = align(tokenize(recs[0]["text"]), tokenize(recs[0]["pred_text"]))
    assert (a.substitutions + a.insertions + a.deletions) / a.ref_len <= 0.3  # real ASR on clean speech
    (tmp_path / "bad.jsonl").write_text('{"audio_filepath": "missing.wav", "text": "x"}\n')
    assert main(["transcribe", "--manifest", str(tmp_path / "bad.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                 "--backend", "pocketsphinx", "--quiet"]) == 2
    (tmp_path / "bad2.jsonl").write_text("{not json\n")
    assert main(["transcribe", "--manifest", str(tmp_path / "bad2.jsonl"), "--out", str(tmp_path / "o.jsonl"),
                 "--backend", "pocketsphinx", "--quiet"]) == 2
    assert np.isfinite(recs[1]["router_prob"])
