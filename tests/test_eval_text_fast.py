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


# ------------------------------------------------------------------ whisper_en fast route
# nemo_wild_eval.text runs whisper_normalizer's own stages but skips those that provably cannot
# change the string; these tests compare it with the library's EnglishTextNormalizer.__call__.

from pathlib import Path  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from nemo_wild_eval import normalizers as text_mod  # noqa: E402

WHISPER_TRICKY = [
    "", " ", "\t\n  ", "I won't go", "you can't", "let's go", "y'all ain't", "I'ma leave", "ma'am",
    "he's been there", "she'd gone", "it's got", "they're", "we'll", "I've", "I'm", "isn't", "don 't",
    "John 's car", "it 's", "'s", "n't", "'t", "wanna gonna gotta kinda sorta dunno", "'cause", "cause",
    "Mr Smith", "mr. smith", "Mrs. Jones", "Dr Who", "st. louis", "St Paul", "Capt. Hook", "Jr.", "esq",
    "$5", "$ 5", "5$", "10%", "10 %", "per cent", "ten per cent", "twenty one", "twenty-one",
    "one hundred and five", "one oh one", "double seven", "triple zero", "two and a half", "and a half",
    "a half", "one point five", "point", "point and", "minus five", "minus", "plus two", "five dollars",
    "dollars", "twenty dollars and five cents", "$2 and ¢7", "$0.05", "1960s", "the 2nd", "32 nd",
    "3rd place", "first second third", "ones", "one", "1", "1s", "11", "1,000", "1,000,000 dollars",
    "three thousand", "a million", "millions", "hundredth", "zero", "oh", "o", "sixes", "twenties",
    "twentieth", "colour favourite centre organise", "Colour", "theatre", "[noise] hello", "<unk> hi",
    "(laughs) yes", "a (b) c (d", "[unclosed", "<a> <b>", "café naïve résumé", "Ærø œuvre ß straße",
    "façade", "ﬁne", "Ｆｕｌｌ", "１２３", "٣ apples", "²", "½ cup", "uh um hmm mm mhm mmm", "uhm", "umm",
    "hello, world.", "e.g. i.e.", "3.14", "3.", ".5", "a.b", "end.", "U.S.A.", "$", "€10", "£3.50",
    "10¢", "¢", "%", "50%off", "a%", "100 percent", "percent", "and", "and and", "and one", "one and",
    "won't've", "can't't", "'d been", "i 'd been", "we 've", "it ’s", "it’s", "don’t", "rock 'n' roll",
    "o'clock", "'tis", "twas", "the '90s", "A—B", "a_b", "a-b", "x\u0301", "\u0301", "tab\there",
    "new\nline", "\u00a0nbsp", "\u2028", "emoji 😀 ok", "CAPS LOCK", "i.e.", "v2.0.1", "192.168.0.1",
    "twenty twenty", "nineteen eighty four", "two thousand and twenty", "the fifties", "a quarter",
]


def _lib():
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer()


_LIB = _lib()
_FAST = text_mod._WhisperEnFast(_LIB)


def test_whisper_fast_route_is_used_for_the_audited_version():
    from importlib.metadata import version

    route = text_mod._whisper_en_route()
    if version("whisper_normalizer") == text_mod._WHISPER_AUDITED_VERSION:
        assert isinstance(route, text_mod._WhisperEnFast)
    else:
        assert route is text_mod._whisper_en_impl()


def test_whisper_fast_equals_library_on_shipped_sentences():
    root = Path(__file__).resolve().parents[1]
    lines = (root / "data" / "sentences_en.txt").read_text(encoding="utf-8").splitlines()
    assert len(lines) > 200
    for line in lines:
        assert _FAST(line) == _LIB(line), repr(line)
        # the forms rollouts take: lowercased, punctuation-free, truncated
        for variant in (line.lower(), line.rstrip(".?!"), line[: len(line) // 2]):
            assert _FAST(variant) == _LIB(variant), repr(variant)


@pytest.mark.parametrize("s", WHISPER_TRICKY)
def test_whisper_fast_equals_library_on_tricky_strings(s):
    assert _FAST(s) == _LIB(s)
    assert _FAST(s.upper()) == _LIB(s.upper())
    assert text_mod.normalize(s, "whisper_en") == " ".join(_LIB(s).split())


def test_whisper_fast_skips_stages_on_plain_text():
    """The skips must actually happen on ordinary sentences (else the route is not fast)."""
    calls = []
    fast = text_mod._WhisperEnFast(_LIB)
    numbers = fast._numbers
    fast._numbers = lambda s: calls.append(s) or numbers(s)
    assert fast("The small boat drifted slowly across the quiet lake.") == "the small boat drifted slowly across the quiet lake"
    assert fast("bread and butter") == "bread and butter"
    assert calls == []
    assert fast("twenty one boats") == "21 boats" and len(calls) == 1


_FRAGMENTS = sorted({w for s in WHISPER_TRICKY for w in s.split()} | set(" '.,$%¢€£()[]<>-\t\n0123456789"))


@settings(max_examples=1500, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=12), st.lists(st.sampled_from(["", " ", "'", ","]), max_size=12))
def test_whisper_fast_equals_library_on_random_fragment_text(words, glue):
    s = "".join(w + (glue[k] if k < len(glue) else " ") for k, w in enumerate(words))
    assert _FAST(s) == _LIB(s)


@settings(max_examples=500, deadline=None, database=None)
@given(st.lists(st.sampled_from(POOL + list("oneatwhlfpc$%'")), max_size=20).map("".join))
def test_whisper_fast_equals_library_on_random_unicode(s):
    assert _FAST(s) == _LIB(s)
