"""Hand-worked cases for the shared text module, and parity with jiwer on random pairs."""

import random

import jiwer
import pytest

from nemo_wild_eval.text import (
    NORMALIZER_VERSIONS,
    NORMALIZERS,
    align,
    align_words,
    char_similarity,
    normalize,
    parse_asr_output,
    tokenize,
)


def test_every_normalizer_is_versioned():
    assert set(NORMALIZERS) == set(NORMALIZER_VERSIONS) == {"whisper_en", "zh", "basic", "none", "nemo"}


@pytest.mark.parametrize(
    "name,text,expected",
    [
        ("whisper_en", "Hello, World! Mr. Smith's colour.", "hello world mister smith is color"),
        ("whisper_en", "[noise] uh I went (um) home", "i went home"),
        ("whisper_en", "twenty five dollars", "$25"),
        ("basic", "Don't STOP... me-now!", "don't stop me now"),
        ("basic", "  a\tb\n\nc  ", "a b c"),
        ("zh", "我爱北京，Hello World!", "我 爱 北 京 hello world"),
        ("zh", "ＡＢＣ１２３。", "abc123"),
        ("none", " Keep, The CASE  ", "Keep, The CASE"),
        # NeMo's ignore_punctuation deletes punctuation inside words and keeps apostrophes
        ("nemo", "Well-known (A.B.) don't  STOP!", "wellknown ab don't stop"),
        ("nemo", "Ça va? 50% \"oui\"", "ça va 50 oui"),
    ],
)
def test_normalizers_hand_worked(name, text, expected):
    assert normalize(text, name) == expected


def test_unknown_normalizer_is_named():
    with pytest.raises(ValueError, match="unknown normalizer 'whisper'"):
        normalize("x", "whisper")


def test_zh_tokens_are_characters():
    assert tokenize("今天天气很好 ok", "zh") == ["今", "天", "天", "气", "很", "好", "ok"]


def test_align_hand_worked():
    a = align("the cat sat on the mat".split(), "the cat sit on mat mat extra".split())
    assert (a.correct, a.substitutions, a.insertions, a.deletions) == (4, 2, 1, 0)
    assert a.wer == pytest.approx(3 / 6)
    assert a.pairs[2] == ("substitute", "sat", "sit")
    assert a.pairs[-1] == ("insert", None, "extra")


def test_align_empty_sides():
    a = align([], ["x", "y"])
    assert (a.insertions, a.deletions, a.wer) == (2, 0, 1.0)
    b = align(["x", "y"], [])
    assert (b.deletions, b.correct, b.wer) == (2, 0, 1.0)
    assert align([], []).wer == 0.0


def test_align_words_normalises_both_sides():
    a = align_words("Hello, world!", "hello world", "basic")
    assert a.errors == 0 and a.correct == 2


def test_pairs_and_counts_agree_and_count_only_path_matches():
    rng = random.Random(1)
    vocab = "a b c d e".split()
    for _ in range(300):
        r = rng.choices(vocab, k=rng.randint(0, 9))
        h = rng.choices(vocab, k=rng.randint(0, 9))
        a = align(r, h)
        ops = [p[0] for p in a.pairs]
        assert ops.count("substitute") == a.substitutions
        assert ops.count("insert") == a.insertions
        assert ops.count("delete") == a.deletions
        assert ops.count("equal") == a.correct
        assert [p[1] for p in a.pairs if p[1] is not None] == r
        assert [p[2] for p in a.pairs if p[2] is not None] == h
        b = align(r, h, with_pairs=False)
        assert (b.substitutions, b.insertions, b.deletions) == (a.substitutions, a.insertions, a.deletions)


def test_equal_to_jiwer_on_random_pairs():
    rng = random.Random(0)
    vocab = "alpha beta gamma delta eps zeta eta theta".split()
    refs, hyps = [], []
    for _ in range(3000):
        refs.append(" ".join(rng.choices(vocab, k=rng.randint(1, 15))))
        hyps.append(" ".join(rng.choices(vocab, k=rng.randint(1, 15))))
    out = jiwer.process_words(refs, hyps)
    s = i = d = n = 0
    for r, h in zip(refs, hyps):
        a = align(r.split(), h.split())
        s, i, d, n = s + a.substitutions, i + a.insertions, d + a.deletions, n + a.ref_len
    assert (s, i, d) == (out.substitutions, out.insertions, out.deletions)
    assert (s + i + d) / n == pytest.approx(out.wer, abs=1e-12)


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("language English<asr_text>Hello there.", "Hello there."),
        ("language Chinese<asr_text>你好</asr_text>", "你好"),
        ("<asr_text>just text", "just text"),
        ("plain output", "plain output"),
        ("language None<asr_text>", ""),
    ],
)
def test_parse_qwen3_asr_output(raw, expected):
    assert parse_asr_output(raw) == expected


def test_char_similarity():
    assert char_similarity("recognise", "recognize") == pytest.approx(1 - 1 / 9)
    assert char_similarity("cat", "dog") == 0.0
    assert char_similarity("", "") == 1.0
