"""Property tests (hypothesis) and bad-input fuzz: the reward is bounded, exact on identity,
monotone in added errors of one kind (within one side of the gate), and never raises."""

from __future__ import annotations

import math
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verl_dgwgpo.reward import compute_score
from verl_dgwgpo.rewards import REWARDS, score

FAST = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
# Lower-case words without 'q' (so 'q'-words are guaranteed hard substitutes: char similarity 0).
WORD = st.text(alphabet="abcdefghijklmnoprstuvwxyz", min_size=2, max_size=7)
UNIT_KEYS = ("score", "r_rep", "r_static", "r_fine", "r_struc", "r_dyn", "w_fine", "lcs_recall", "length_integrity")


def _check_bounds(c: dict) -> None:
    for key in UNIT_KEYS:
        assert math.isfinite(c[key]) and 0.0 <= c[key] <= 1.0, (key, c)
    assert math.isfinite(c["wer"]) and c["wer"] >= 0.0
    assert isinstance(c["case"], str) and c["case"]


@FAST
@given(hyp=st.text(max_size=80), ref=st.text(max_size=80))
def test_bounded_on_arbitrary_unicode(hyp, ref):
    for name in REWARDS:
        c = score(name, hyp, ref)
        if name == "neg_edit_distance":
            assert math.isfinite(c["score"]) and c["score"] <= 0
        else:
            _check_bounds(c)


@FAST
@given(words=st.lists(WORD, min_size=1, max_size=25), norm=st.sampled_from(["basic", "whisper_en", "none"]))
def test_identity_scores_exactly_one(words, norm):
    ref = " ".join(words)
    c = compute_score("asr", ref, ref, normalizer=norm)
    assert c["score"] == 1.0 and c["wer"] == 0.0 and c["r_fine"] == 1.0


def _errors(words: list[str], kind: str, k: int) -> str:
    """``words`` with ``k`` errors of one kind (never creating repeated n-grams by accident)."""
    if kind == "deletion":
        out = words[: len(words) - k]
    elif kind == "hard_substitution":
        out = [f"q{'q' * i}" if i < k else w for i, w in enumerate(words)]
    elif kind == "soft_substitution":  # drop the last letter of a >= 4-letter word: sim >= 0.75
        out = [w[:-1] if i < k else w for i, w in enumerate(words)]
    else:  # insertion of distinct 'q' words at the end
        out = words + [f"q{'q' * i}" for i in range(k)]
    return " ".join(out)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(st.text(alphabet="abcdefghijklmnoprstuvwxyz", min_size=4, max_size=8), min_size=2, max_size=30),
    kind=st.sampled_from(["deletion", "hard_substitution", "soft_substitution", "insertion"]),
)
def test_monotone_in_added_errors_of_one_kind_within_a_gate_side(words, kind):
    ref = " ".join(words)
    prev = None
    for k in range(0, len(words) + 1):
        c = compute_score("asr", _errors(words, kind, k), ref, normalizer="basic")
        _check_bounds(c)
        if prev is not None and prev["w_fine"] == c["w_fine"]:
            assert c["score"] <= prev["score"] + 1e-12, (kind, k, prev["score"], c["score"])
        if k == 0:
            assert c["score"] == 1.0
        prev = c


def test_known_gate_discontinuity_crossing_tau_can_raise_the_reward():
    # A property of the mirrored gate as specified (docs/design.md §4.1), pinned so a change is noticed:
    # N=100, hard substitutions. At 30 (WER 0.30, fine side) r_fine=0.70, r_struc=0.5*0.7+0.5=0.85,
    # r_dyn = 0.7*0.70 + 0.3*0.85 = 0.745 -> score = 0.6*0.745 + 0.4*0.70 = 0.727.
    # At 31 (WER 0.31, structure side) r_fine=0.69, r_struc=0.845, r_dyn = 0.3*0.69 + 0.7*0.845
    # = 0.7985 -> score = 0.6*0.7985 + 0.4*0.69 = 0.7551: one more error, a higher reward.
    words = [f"w{chr(97 + i // 26)}{chr(97 + i % 26)}" for i in range(100)]
    ref = " ".join(words)
    s30 = compute_score("asr", _errors(words, "hard_substitution", 30), ref, normalizer="basic")["score"]
    s31 = compute_score("asr", _errors(words, "hard_substitution", 31), ref, normalizer="basic")["score"]
    assert abs(s30 - 0.727) < 1e-9 and abs(s31 - 0.7551) < 1e-9


class _Unprintable:
    def __str__(self):
        raise RuntimeError("no text")


BAD_HYPOTHESES = [
    "",
    "   \t\n  ",
    b"\xff\xfe\x00\x80 broken".decode("utf-8", errors="replace"),
    b"\xff\xfe caf\xe9".decode("utf-8", errors="surrogateescape"),  # lone surrogates
    b"\xc3\x28 invalid",  # raw bytes
    "\x00\x07\x1b[31m the \x08cat\x7f sat \u200b\ufeff",  # control and zero-width chars
    "the cat " * 131072,  # 1 MB of words
    "x" * 1_000_000,  # 1 MB, one 'word'
    "language English<asr_text>" + "the " * 250000,  # 1 MB runaway Qwen3-ASR output
    "<asr_text></asr_text>",
    "\U0001f600" * 1000,
    "你好世界 the cat",
    None,
    12345,
    _Unprintable(),
    ["the", "cat"],
]


def test_bad_inputs_always_give_a_finite_unit_score_fast():
    refs = [REF := "the cat sat on the mat", "", None, "\x00", b"the cat", "  "]
    for ref in refs:
        for hyp in BAD_HYPOTHESES:
            t0 = time.perf_counter()
            c = compute_score("asr", hyp, ref)
            dt = time.perf_counter() - t0
            _check_bounds(c)
            assert dt < 2.0, (repr(hyp)[:40], repr(ref), dt)
    # the cases are named
    assert "missing_ref" in compute_score("asr", "x", None)["case"]
    assert "bytes_hyp" in compute_score("asr", b"\xc3\x28", REF)["case"]
    assert "non_text_hyp" in compute_score("asr", _Unprintable(), REF)["case"]
    assert "empty_hyp" in compute_score("asr", "  ", REF)["case"]
    big = compute_score("asr", "the cat " * 131072, REF)
    assert "hyp_truncated" in big["case"] and big["r_static"] == 0.0 and big["length_integrity"] == 0.0
