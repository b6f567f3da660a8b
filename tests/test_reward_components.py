"""DG-WGPO reward components against hand-worked arithmetic, jiwer, and the paper's ordering.

Every expected number below is worked out by hand in the comments (docs/design.md §4.1 formulas, defaults
tau=0.3, alpha=0.4, soft_threshold=0.5, beta=0.7, lam=0.6, rho=2, rep_k=4). No verl needed.
"""

from __future__ import annotations

import random

import jiwer
import pytest

from verl_dgwgpo.reward import (
    COMPONENT_KEYS,
    RewardParams,
    components,
    compute_score,
    length_integrity,
    repetition_collapse,
)
from verl_dgwgpo.rewards import REWARDS, score

REF = "the cat sat on the mat"  # N = 6


def approx(x):
    return pytest.approx(x, abs=1e-9)


def test_low_wer_side_of_the_gate_by_hand():
    # hyp: one substitution mat -> hat; char sim = 1 - lev(mat,hat)/3 = 1 - 1/3 = 0.667 >= 0.5 -> soft
    c = compute_score("asr", "the cat sat on the hat", REF)
    assert c["case"] == "ok"
    assert c["n_soft"] == 1 and c["n_hard"] == 0
    assert c["wer"] == approx(1 / 6)  # 1 edit / 6 words
    assert c["r_rep"] == 1.0
    assert c["r_static"] == approx(5 / 6)  # 1 * max(0, 1 - 1/6)
    assert c["r_fine"] == approx(5 / 5.4)  # C / (C + N_hard + 0.4 N_soft) = 5 / (5 + 0 + 0.4)
    assert c["lcs_recall"] == approx(5 / 6)  # LCS = the cat sat on the
    assert c["length_integrity"] == approx(1.0)  # |h| = N
    assert c["r_struc"] == approx(0.5 * 5 / 6 + 0.5)  # = 0.916667
    assert c["w_fine"] == approx(0.7)  # WER 0.167 <= tau 0.3 -> beta
    r_dyn = 0.7 * (5 / 5.4) + 0.3 * (0.5 * 5 / 6 + 0.5)  # 0.648148 + 0.275 = 0.923148
    assert c["r_dyn"] == approx(r_dyn)
    assert c["score"] == approx(0.6 * r_dyn + 0.4 * 5 / 6)  # 0.553889 + 0.333333 = 0.887222
    assert c["score"] == pytest.approx(0.887222, abs=1e-6)


def test_high_wer_side_of_the_gate_by_hand():
    # hyp "the dog sat": the=the, cat->dog (sim 0: hard), sat=sat, 'on the mat' deleted (3 hard)
    c = compute_score("asr", "the dog sat", REF)
    assert (c["n_soft"], c["n_hard"]) == (0, 4)
    assert c["wer"] == approx(4 / 6)
    assert c["r_static"] == approx(2 / 6)
    assert c["r_fine"] == approx(2 / 6)  # C=2 / (2 + 4)
    assert c["lcs_recall"] == approx(2 / 6)
    assert c["length_integrity"] == approx(3 / 6)
    assert c["r_struc"] == approx(0.5 * 2 / 6 + 0.5 * 0.5)  # 0.416667
    assert c["w_fine"] == approx(0.3)  # WER 0.667 > 0.3 -> 1 - beta (structure dominates)
    r_dyn = 0.3 * (2 / 6) + 0.7 * (0.5 * 2 / 6 + 0.25)  # 0.1 + 0.291667 = 0.391667
    assert c["score"] == approx(0.6 * r_dyn + 0.4 * 2 / 6)  # 0.235 + 0.133333 = 0.368333


def test_gate_threshold_is_inclusive_and_configurable():
    # 3 hard substitutions of 10 words: WER = 0.3 exactly -> still the fine side (WER <= tau)
    ref = "alpha bravo charlie delta echo foxtrot golf hotel india juliet"
    hyp = "xx yy zz delta echo foxtrot golf hotel india juliet"
    assert compute_score("asr", hyp, ref)["w_fine"] == approx(0.7)
    assert compute_score("asr", hyp, ref, tau=0.29)["w_fine"] == approx(0.3)
    assert compute_score("asr", hyp, ref, beta=0.9)["w_fine"] == approx(0.9)


def test_runaway_repetition_by_hand():
    # ref N=3; hyp adds 'now' x4 -> 'now' 5 times in a row, ref has it once -> collapse, R_rep = 0
    c = compute_score("asr", "go home now now now now now", "go home now")
    assert c["r_rep"] == 0.0
    assert c["wer"] == approx(4 / 3)  # 4 insertions / 3
    assert c["r_static"] == 0.0
    assert c["r_fine"] == approx(3 / 7)  # C=3 / (3 + 4 insertions)
    assert c["lcs_recall"] == approx(1.0)
    assert c["length_integrity"] == 0.0  # |h|/N = 7/3 > rho = 2 -> max(0, 1 - (7/3 - 1)/1) = 0
    assert c["r_struc"] == approx(0.5)
    # r_dyn = 0.3 * 3/7 + 0.7 * 0.5 = 0.478571; score = 0.6 * 0.478571 + 0.4 * 0 = 0.287143
    assert c["score"] == approx(0.6 * (0.3 * 3 / 7 + 0.35))


def test_length_integrity_by_hand():
    assert length_integrity(0, 4) == 0.0  # empty hypothesis
    assert length_integrity(2, 4) == 0.5  # |h|/N
    assert length_integrity(4, 4) == 1.0
    assert length_integrity(5, 4) == approx(0.75)  # 1 - (1.25 - 1)/(2 - 1)
    assert length_integrity(6, 4, rho=3.0) == approx(0.75)  # 1 - (1.5 - 1)/(3 - 1)
    assert length_integrity(8, 4) == 0.0 and length_integrity(50, 4) == 0.0
    # through the reward: "go home now please" -> |h|/N = 4/3 -> L = 1 - 1/3
    assert compute_score("asr", "go home now please", "go home now")["length_integrity"] == approx(2 / 3)


def test_repetition_rule():
    t = lambda s: tuple(s.split())  # noqa: E731
    assert not repetition_collapse(t("no no no no"), t("no no no no"))  # the reference has the run
    assert repetition_collapse(t("no no no no no"), t("no no no no"))  # one more copy than the ref
    assert repetition_collapse(t("i think i think i think i think"), t("i think so"))  # bigram x4
    assert not repetition_collapse(t("i think i think i think"), t("i think so"))  # x3 < k=4
    assert repetition_collapse(t("i think i think i think"), t("i think so"), k=3)
    assert repetition_collapse(t("a b c d a b c d a b c d a b c d"), t("a b c d"))  # 4-gram x4
    assert not repetition_collapse(t("a b c d e a b c d e a b c d e a b c d e"), t("x"))  # 5-gram: not checked
    # through the reward: rep_k is a parameter, R_static drops to 0 on a collapse
    c = compute_score("asr", "yes yes yes", "yes", rep_k=3)
    assert c["r_rep"] == 0.0 and c["r_static"] == 0.0
    assert compute_score("asr", "yes yes yes", "yes")["r_rep"] == 1.0


def test_soft_and_hard_substitutions_on_real_near_misses():
    # basic normaliser keeps British spellings, so the pair stays a substitution:
    # recognise/recognize: lev 1 of 9 -> sim 0.889 (soft); cat/dog: sim 0 (hard)
    c = compute_score("asr", "i recognize the dog", "i recognise the cat", normalizer="basic")
    assert (c["n_soft"], c["n_hard"]) == (1, 1)
    # colour/color 1 - 1/6 = 0.83 soft; there/their 1 - 2/5 = 0.6 soft; a/the hard
    c = compute_score("asr", "the color is there a", "the colour is their the", normalizer="basic")
    assert (c["n_soft"], c["n_hard"]) == (2, 1)
    # boundary: ab/ac sim = 1 - 1/2 = 0.5 -> soft (>= threshold); raising the threshold makes it hard
    assert compute_score("asr", "ab", "ac", normalizer="basic")["n_soft"] == 1
    assert compute_score("asr", "ab", "ac", normalizer="basic", soft_threshold=0.51)["n_hard"] == 1
    # whisper_en (the default, like the evaluator) maps British to American spelling: no error at all
    assert compute_score("asr", "I recognize it", "I recognise it")["wer"] == 0.0


# The fixed group of the paper's argument: 1 - WER ties (empty = fabrication = 0; truncated =
# near-miss = 5/9) where DG-WGPO keeps a strict order.
ORDER_REF = "the quick brown fox jumps over the lazy dog"  # N = 9
ORDER_GROUP = [
    "",  # empty
    "my neighbour painted his fence bright green last summer",  # fluent fabrication, WER 1
    "the quick brown fox jumps",  # truncated but faithful: 4 deletions, WER 4/9
    "the quick brawn fax jumped over thee lazy dog",  # near-miss: 4 soft substitutions, WER 4/9
    "The quick brown fox jumps over the lazy dog.",  # exact after normalisation
]


def test_paper_ordering_where_one_minus_wer_ties():
    wer_scores = [score("wer", h, ORDER_REF)["score"] for h in ORDER_GROUP]
    assert wer_scores == [approx(0), approx(0), approx(5 / 9), approx(5 / 9), approx(1)]
    dg = [score("dgwgpo", h, ORDER_REF)["score"] for h in ORDER_GROUP]
    assert dg == sorted(dg) and len(set(dg)) == 5, dg
    # by hand: fabrication r_fine 0, r_struc 0.5*0 + 0.5*1 -> r_dyn 0.7*0.5 = 0.35 -> 0.6*0.35 = 0.21
    assert dg[1] == approx(0.21)
    # truncated: r_fine = 5/9, r_struc = 0.5*5/9 + 0.5*5/9 = 5/9 -> everything 5/9
    assert dg[2] == approx(5 / 9)
    # near-miss: r_fine = 5/(5 + 0.4*4) = 0.757576, r_struc = 0.5*5/9 + 0.5 = 0.777778,
    # r_dyn = 0.3*0.757576 + 0.7*0.777778 = 0.771717; score = 0.6*0.771717 + 0.4*5/9 = 0.685253
    assert dg[3] == approx(0.6 * (0.3 * 5 / 6.6 + 0.7 * (0.5 * 5 / 9 + 0.5)) + 0.4 * 5 / 9)
    assert dg[0] == 0.0 and dg[4] == 1.0


def test_ablations_and_baselines_by_hand():
    hyp = "the cat sat on the hat"  # example of test_low_wer_side_of_the_gate_by_hand
    f, s, st = 5 / 5.4, 0.5 * 5 / 6 + 0.5, 5 / 6
    assert score("dgwgpo_no_gate", hyp, REF)["score"] == approx(0.6 * (0.5 * f + 0.5 * s) + 0.4 * st)
    assert score("dgwgpo_no_fine", hyp, REF)["score"] == approx(0.6 * s + 0.4 * st)
    assert score("dgwgpo_no_struc", hyp, REF)["score"] == approx(0.6 * f + 0.4 * st)
    assert score("wer", hyp, REF)["score"] == approx(5 / 6)
    assert score("exact_match", hyp, REF)["score"] == 0.0
    assert score("exact_match", "The cat sat on the mat!", REF)["score"] == 1.0
    assert score("neg_edit_distance", "the dog sat", REF)["score"] == -4.0
    # no_rep: "no" x5 vs "no" x4: C=4, I=1, WER 0.25, collapse -> R_static 0 (dgwgpo) vs 0.75 (no_rep)
    # r_fine = 4/5, r_struc = 0.5*1 + 0.5*(1 - 0.25) = 0.875, r_dyn = 0.7*0.8 + 0.3*0.875 = 0.8225
    assert score("dgwgpo", "no no no no no", "no no no no")["score"] == approx(0.6 * 0.8225)
    assert score("dgwgpo_no_rep", "no no no no no", "no no no no")["score"] == approx(0.6 * 0.8225 + 0.4 * 0.75)
    # every reward returns every component, with the same keys
    for name in REWARDS:
        assert set(score(name, hyp, REF)) == set(COMPONENT_KEYS), name


def test_qwen3_asr_output_is_parsed():
    c = compute_score("asr", "language English<asr_text>The cat sat on the mat.</asr_text>", REF)
    assert c["score"] == 1.0 and c["case"] == "ok"


def test_empty_reference_rule_and_missing_reference():
    assert compute_score("asr", "", "")["score"] == 1.0
    assert compute_score("asr", "\t\n", "  ")["score"] == 1.0  # both normalise to nothing
    c = compute_score("asr", "hello", "")
    assert c["score"] == 0.0 and "empty_ref" in c["case"]
    c = compute_score("asr", "", None)  # missing ground truth: 0, never the empty-reference 1.0
    assert c["score"] == 0.0 and "missing_ref" in c["case"]
    for name in REWARDS:  # no baseline rewards silence on a missing reference either
        assert score(name, "", None)["score"] <= 0.0, name


def test_wer_matches_jiwer_and_the_evaluator_on_random_sentences():
    from nemo_wild_eval.scorer import wer as evaluator_wer
    from nemo_wild_eval.text import normalize

    rng = random.Random(7)
    vocab = "the a cat dog sat ran on in mat hat house horse quickly slowly red read".split()
    for _ in range(200):
        ref = " ".join(rng.choice(vocab) for _ in range(rng.randint(1, 12)))
        hyp = " ".join(rng.choice(vocab) for _ in range(rng.randint(0, 14)))
        c = compute_score("asr", hyp, ref)
        r_n, h_n = normalize(ref), normalize(hyp)
        out = jiwer.process_words(r_n, h_n if h_n else "")
        assert c["wer"] == approx(out.wer)
        assert c["edits"] == out.substitutions + out.insertions + out.deletions
        assert c["n_soft"] + c["n_hard"] == c["edits"]
        assert c["wer"] == approx(evaluator_wer(ref, hyp))


def test_bad_hyper_parameters_fail_loudly():
    from nemo_wild_eval.errors import InputError

    for kw in ({"rho": 1.0}, {"beta": 1.5}, {"rep_k": 1}, {"normalizer": "klingon"}, {"tua": 0.3}, {"tau": "x"}):
        with pytest.raises(InputError, match=next(iter(kw))):
            compute_score("asr", "a", "a", **kw)
    with pytest.raises(InputError, match="unknown reward"):
        score("nope", "a", "a")
    assert RewardParams().validate() == RewardParams()


def test_components_never_raise_even_if_a_dependency_does(monkeypatch):
    import verl_dgwgpo.reward_components as rw

    def boom(*a, **k):
        raise RuntimeError("aligner down")

    monkeypatch.setattr(rw, "substitutions_and_counts", boom)
    c = components("the dog", "the cat", RewardParams())
    assert c["score"] == 0.0 and c["case"] == "internal_error:RuntimeError"
