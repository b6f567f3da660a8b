"""The reward's fast path (caches, one alignment, inlined score) gives exactly the plain path's values."""

from __future__ import annotations

import random

import pytest

import verl_dgwgpo.reward_components as rw
from nemo_wild_eval.text import Alignment, align, substitutions_and_counts
from verl_dgwgpo.reward import RewardParams, components, compute_score

WORDS = "the cat sat on a mat dog dug cap um well okay".split()


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def test_align_substitutions_only_equals_filtered_full_alignment():
    rng = random.Random(0)
    for _ in range(3000):
        ref = [rng.choice("abcde") for _ in range(rng.randint(0, 10))]
        hyp = [rng.choice("abcdef") for _ in range(rng.randint(0, 10))]
        full, fast = align(ref, hyp), align(ref, hyp, substitutions_only=True)
        assert (fast.correct, fast.substitutions, fast.insertions, fast.deletions) == (
            full.correct, full.substitutions, full.insertions, full.deletions)
        assert fast.pairs == tuple(p for p in full.pairs if p[0] == "substitute")
        assert fast == Alignment(fast.correct, fast.substitutions, fast.insertions, fast.deletions,
                                 len(ref), len(hyp), fast.pairs)  # the cheap constructor builds the same object
        pairs, ins, dels = substitutions_and_counts(ref, hyp)
        assert (len(pairs), ins, dels) == (full.substitutions, full.insertions, full.deletions)
        assert [("substitute", r, h) for r, h in pairs] == list(fast.pairs)


def test_lcs_equals_matches_when_the_alignment_has_no_substitution():
    """The reward skips the LCS call when the Levenshtein alignment has no substitution (proof in
    reward_components._word_components); check it against rapidfuzz's own LCS."""
    from rapidfuzz.distance import LCSseq

    rng = random.Random(7)
    checked = 0
    for _ in range(6000):
        ref = [rng.choice("abc") for _ in range(rng.randint(1, 9))]
        hyp = [rng.choice("abcd") for _ in range(rng.randint(1, 9))]
        pairs, ins, dels = substitutions_and_counts(ref, hyp)
        if not pairs:
            checked += 1
            assert len(ref) - dels == LCSseq.similarity(ref, hyp), (ref, hyp)
    assert checked > 500


@pytest.mark.parametrize("normalizer", ["basic", "whisper_en"])
def test_cached_path_equals_uncached_path(monkeypatch, normalizer):
    rng = random.Random(1)
    pairs = []
    for _ in range(40):  # groups of 8 rollouts sharing a reference, with duplicates and repeats
        ref = _sentence(rng, rng.randint(0, 9))
        for _ in range(8):
            kind = rng.random()
            hyp = ref if kind < 0.2 else ("cat " * rng.randint(4, 9)).strip() if kind < 0.3 else _sentence(rng, rng.randint(0, 12))
            pairs.append((ref, hyp))
    rw.clear_caches()
    cached = [compute_score("asr", h, r, normalizer=normalizer) for r, h in pairs]
    again = [compute_score("asr", h, r, normalizer=normalizer) for r, h in pairs]  # all cache hits
    monkeypatch.setattr(rw, "_CACHEABLE_CHARS", -1)
    plain = [compute_score("asr", h, r, normalizer=normalizer) for r, h in pairs]
    # the general (non-str) path: bytes take it, and give the same components apart from the case
    via_bytes = [components(h.encode(), r, RewardParams(normalizer=normalizer)) for r, h in pairs]
    assert cached == plain == again
    for a, b in zip(plain, via_bytes):
        assert {k: v for k, v in a.items() if k != "case"} == {k: v for k, v in b.items() if k != "case"}
    assert {c["case"] for c in cached} >= {"ok", "empty_hyp"}


def test_cached_results_are_not_shared():
    rw.clear_caches()
    a = compute_score("asr", "the cat", "the cat sat", normalizer="basic")
    a["score"] = -5.0
    b = compute_score("asr", "the cat", "the cat sat", normalizer="basic")
    assert b["score"] != -5.0 and b == compute_score("asr", "the cat", "the cat sat", normalizer="basic")
    assert compute_score("asr", "the cat", "the cat sat", normalizer="basic", reward_name="wer")["score"] == \
        pytest.approx(2 / 3)
    # the reward_name path still returns the full reward for dgwgpo
    assert compute_score("asr", "the cat", "the cat sat", normalizer="basic", reward_name="dgwgpo") == b


def test_reference_memo_follows_a_changed_reference():
    rw.clear_caches()
    p = RewardParams(normalizer="basic")
    assert components("the cat", "the cat", p)["wer"] == 0.0
    assert components("the cat", "a dog", p)["wer"] == 1.0  # new reference, not the memoised one
    assert components("the cat", "the cat", RewardParams(normalizer="none"))["wer"] == 0.0
    assert components("The Cat", "the cat", RewardParams(normalizer="none"))["wer"] == 1.0


def test_params_hash_is_cached_but_not_pickled():
    import pickle

    p = RewardParams(tau=0.4)
    h = hash(p)
    q = pickle.loads(pickle.dumps(p))
    assert q == p and hash(q) == h and "_hash" not in pickle.dumps(p).decode("latin-1")
    assert RewardParams(tau=0.4) == p and hash(RewardParams(tau=0.4)) == h and RewardParams(tau=0.5) != p
