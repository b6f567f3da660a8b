"""The miniature's own parts (issue 16): grammar split, word tokenizer, from-scratch training, scoring.

The full recipe run is benchmarks/recipe_mini.py (minutes); these check its pieces on real Piper speech.
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from wildasr.miniature.grammar import VOCABULARY, all_sentences, split_sentences  # noqa: E402


def test_grammar_split_is_disjoint_and_covers_the_vocabulary():
    a, b = all_sentences()
    assert len(a) == 6 * 8 * 8 * 5 * 8 and len(b) == 6 * 5 * 8 * 8 * 8
    train, heldout = split_sentences(500, 60, seed=0)
    assert len(train) == 500 and len(heldout) == 60 and not set(train) & set(heldout)
    assert {w for s in heldout for w in s.split()} <= {w for s in train for w in s.split()}
    assert split_sentences(500, 60, seed=0) == (train, heldout)
    assert len(VOCABULARY) == 63


@pytest.fixture(scope="module")
def grammar_cuts(tmp_path_factory):
    from wild_corpus.synth import DEFAULT_STYLES, SynthItem, _text_tag, synthesize_corpus

    train, _ = split_sentences(8, 2, seed=3)
    items = [SynthItem(f"g{i}_{_text_tag(s)}", s, DEFAULT_STYLES[i % len(DEFAULT_STYLES)]) for i, s in enumerate(train)]
    return list(synthesize_corpus(items, tmp_path_factory.mktemp("grammar"), progress=False))


def test_word_tokenizer_round_trips_and_prompt_matches_the_rollout(tmp_path):
    from transformers import AutoProcessor

    from wildasr.miniature.base_model import build_base_model, prompt_text

    model_dir = build_base_model(tmp_path / "m")
    proc = AutoProcessor.from_pretrained(model_dir)
    tok = proc.tokenizer
    for s in split_sentences(20, 2, seed=1)[0]:
        ids = tok.encode(s, add_special_tokens=False)
        assert len(ids) == len(s.split())  # one token per word
        assert tok.decode(ids) == s
    from nemo_wild_eval.text import parse_asr_output
    from verl_dgwgpo.sft.data import target_text

    answer = tok.encode(target_text("qwen3_asr", "put the red cup on the desk", None), add_special_tokens=False)
    assert tok.unk_token_id not in answer and len(answer) == 3 + 7
    assert len(tok.encode("\n", add_special_tokens=False)) == 1  # verl's Qwen continuation builder needs it
    assert parse_asr_output(tok.decode(answer)) == "put the red cup on the desk"
    from verl_dgwgpo.router.hf_asr import HFAudioASR

    assert prompt_text(proc) == HFAudioASR(model_dir, device="cpu")._prompt


def test_training_from_scratch_learns_real_speech(grammar_cuts, tmp_path):
    """A few dozen steps on 8 Piper utterances: the loss falls far below the uniform-guess level."""
    import math

    from wildasr.miniature.base_model import BaseSizes, build_base_model, train_base_model

    model_dir = build_base_model(tmp_path / "m", BaseSizes(d_model=64, encoder_layers=1, text_layers=1, conv_channels=16))
    report = train_base_model(model_dir, grammar_cuts, steps=60, batch_size=8, lr=3e-3, warmup=10, log_every=10,
                              log=lambda s: None)
    first, last = report["loss_curve"][0][1], report["final_loss"]
    uniform = math.log(len(VOCABULARY) + 10)
    assert first > 0.5 * uniform
    assert last < 0.5 * first
    from verl_dgwgpo.router.hf_asr import HFAudioASR

    hyp = HFAudioASR(model_dir, max_new_tokens=12, device="cpu").transcribe(
        grammar_cuts[0].load_audio()[0], grammar_cuts[0].sampling_rate)
    assert set(hyp.split()) <= set(VOCABULARY)  # the word tokenizer cannot spell anything else


def test_summary_scores_like_the_scorer():
    from wildasr.miniature.evaluate import summarize

    recs = [
        {"audio_filepath": "a", "text": "put the red cup on the table", "pred_text": "put the red cup",
         "condition": "wild", "anchor": "noise", "severity": 0.5, "severity_bucket": "mid"},
        {"audio_filepath": "b", "text": "anna wants two red cups", "pred_text": "anna wants two red cups",
         "condition": "clean", "anchor": "clean", "severity": 0.0, "severity_bucket": "clean"},
        {"audio_filepath": "c", "text": "anna wants two red cups", "pred_text": "",
         "condition": "wild", "anchor": "far_field", "severity": 0.9, "severity_bucket": "high"},
    ]
    s = summarize(recs)
    assert s["wer_clean"] == 0.0
    assert s["wer_wild"] == pytest.approx((3 + 5) / (7 + 5))
    assert s["wer_wild_by_anchor"] == {"far_field": 1.0, "noise": round(3 / 7, 4)}
    assert s["wer_wild_by_severity"] == {"high": 1.0, "mid": round(3 / 7, 4)}
    assert s["omission_rate_wild"] == 0.5
