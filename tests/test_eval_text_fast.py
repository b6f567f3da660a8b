"""The scorer's bulk text helpers equal the reference implementations in nemo_wild_eval.text."""

import random

import pytest

from nemo_wild_eval.text import (
    align,
    edit_counts,
    edit_counts_many,
    tokenize,
    tokenize_many,
    tokenizer_for,
)

POOL = list("aZ09 '\t\n-.,!?\"#_") + [
    "\x00", "\x7f", "\x1c", "é", "É", "İ", "ß", "ﬁ", "Ａ", "１", "。", "，", "我", "爱", "ア", "ｱ",
    "\u0301", "\u2028", "\u3000", "\u00a0", "ʼ", "’", "٣", "²", "½", "€", "😀", "\u200b", "ǅ", "Σ",
    "\ufeff", "\U00020000", "\uf900", "don't", "Mr.", "[noise]", "twenty", "five",
]


def _random_strings(seed, n, ascii_only=False):
    rng = random.Random(seed)
    pool = [c for c in POOL if c.isascii()] if ascii_only else POOL
    return ["".join(rng.choices(pool, k=rng.randint(0, 14))) for _ in range(n)]


@pytest.mark.parametrize("name", ["basic", "zh", "none"])
def test_fast_tokenizers_equal_reference_on_random_unicode(name):
    fast = tokenizer_for(name)
    for s in _random_strings(1, 20000):
        assert fast(s) == tokenize(s, name), repr(s)


@pytest.mark.parametrize("name", ["basic", "zh", "none", "nemo", "whisper_en"])
@pytest.mark.parametrize("ascii_only", [True, False])
def test_tokenize_many_equals_tokenize(name, ascii_only):
    texts = _random_strings(2, 400 if name == "whisper_en" else 3000, ascii_only)
    texts += texts[:50]  # duplicates share the cache
    out = tokenize_many(texts, name)
    assert out == [tokenize(t, name) for t in texts]
    cache = {}
    tokenize_many(texts[:10], name, cache)
    assert tokenize_many(texts, name, cache) == out  # partially warm cache


def test_tokenize_many_rejects_non_strings():
    with pytest.raises(TypeError, match="expected a str"):
        tokenize_many(["ok"] * 100 + [None], "basic")


def test_edit_counts_match_align_counts():
    rng = random.Random(3)
    refs, hyps = [], []
    for _ in range(3000):
        refs.append(rng.choices("abcde", k=rng.randint(0, 9)))
        hyps.append(rng.choices("abcde", k=rng.randint(0, 9)))
    S, I, D = edit_counts_many(refs, hyps)
    for r, h, s, i, d in zip(refs, hyps, S, I, D):
        a = align(r, h)
        assert edit_counts(r, h) == (s, i, d) == (a.substitutions, a.insertions, a.deletions)


def test_edit_counts_many_length_mismatch():
    with pytest.raises(ValueError):
        edit_counts_many([["a"]], [])
