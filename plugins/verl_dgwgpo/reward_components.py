"""DG-WGPO components (docs/design.md §4.1): the reward that keeps ranking failed transcripts.

Everything is computed on word sequences from the project's single text module
(:mod:`nemo_wild_eval.text`), so the training signal is the evaluator's WER plus shaping terms:

* ``R_rep``    0 if the hypothesis collapses into a 1–4-gram repeated ``>= rep_k`` times in a row
               (more times in a row than the reference has it), else 1.
* ``R_static`` ``R_rep * max(0, 1 - WER)``.
* ``R_fine``   ``C / (C + N_hard + alpha * N_soft + eps)``; a substitution is *soft* when the words'
               character similarity is ``>= soft_threshold``; insertions/deletions are hard.
* ``R_struc``  ``0.5 * LCS(h, r) / N + 0.5 * L`` with length integrity ``L`` (runaway limit ``rho``).
* gate         ``w_fine = beta`` if ``WER <= tau`` else ``1 - beta``; ``w_struc = 1 - w_fine``.
* ``R``        ``lam * (w_fine R_fine + w_struc R_struc) + (1 - lam) * R_static``.

The reward is called millions of times inside training, so it never raises on its inputs: any
string, bytes, ``None`` or other object gives a finite score in [0, 1] and a ``case`` naming what was
unusual. Wrong *hyper-parameters* are configuration errors and do raise (naming the parameter).

verl is not needed here. :mod:`verl_dgwgpo.reward` is the entry point verl calls.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import LCSseq

from nemo_wild_eval.text import (
    char_similarity,
    parse_asr_output,
    substitutions_and_counts,
    tokenizer_for,
)
from verl_dgwgpo.reward_params import DEFAULT_PARAMS, RewardParams

__all__ = [
    "clear_caches",
    "components",
    "dgwgpo_from_components",
    "length_integrity",
    "repetition_collapse",
]


# --------------------------------------------------------------------------------------------
# Input coercion: never raise, name what happened.
# --------------------------------------------------------------------------------------------


def _as_text(value: Any, role: str) -> tuple[str, str | None]:
    """``(text, case)``: any object as a string, with a case name when it was not a plain string."""
    if isinstance(value, str):
        return value, None
    if value is None:
        return "", f"missing_{role}"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", errors="replace"), f"bytes_{role}"
    try:
        text = str(value)
    except Exception:  # an object whose __str__ raises
        return "", f"non_text_{role}"
    return text, f"non_text_{role}"


def _cap(text: str, limit: int) -> tuple[str, bool]:
    """Cut a runaway hypothesis to ``limit`` characters.

    Normalising a megabyte string costs seconds; a hypothesis that long is far past ``rho * N`` words,
    so its ``L`` and ``R_static`` are 0 either way and only the (tiny) R_fine/LCS terms are approximated.
    """
    if len(text) <= limit:
        return text, False
    return text[:limit], True


_CACHEABLE_CHARS = 4096
# Normalisers that nemo_wild_eval.text runs in a few C calls: re-running them costs about what a
# cache lookup does, so their words are not cached (less memory and GC work). whisper_en is cached.
_CHEAP_NORMALIZERS = frozenset({"basic", "zh", "none", "nemo"})


@lru_cache(maxsize=1 << 16)
def _tokens_cached(text: str, normalizer: str) -> tuple[str, ...]:
    return tuple(tokenizer_for(normalizer)(text))


def _tokens(text: str, normalizer: str) -> tuple[str, ...]:
    """Normalised words, equal to ``nemo_wild_eval.text.tokenize`` (its fast route where one exists).

    Short strings are cached: a GRPO group scores one reference 16 times and often repeats hypotheses.
    """
    if len(text) <= _CACHEABLE_CHARS and normalizer not in _CHEAP_NORMALIZERS:
        return _tokens_cached(text, normalizer)
    return tuple(tokenizer_for(normalizer)(text))


# (text, normalizer, words) of the last reference seen; one tuple, replaced whole (thread-safe reads)
_last_ref: tuple[str | None, str | None, tuple[str, ...]] = (None, None, ())


def _ref_tokens(text: str, normalizer: str) -> tuple[str, ...]:
    """:func:`_tokens` for references: verl scores a group's rollouts back to back, so the previous
    call's reference is usually this one (a one-slot memo, cheaper than any cache lookup)."""
    global _last_ref
    last = _last_ref
    if last[0] == text and last[1] == normalizer and len(text) <= _CACHEABLE_CHARS:
        return last[2]
    words = _tokens(text, normalizer)
    _last_ref = (text, normalizer, words)
    return words


# --------------------------------------------------------------------------------------------
# Components
# --------------------------------------------------------------------------------------------


def _max_run(tokens: tuple[str, ...], gram: tuple[str, ...]) -> int:
    """Longest number of back-to-back copies of ``gram`` in ``tokens``."""
    n, best, i = len(gram), 0, 0
    m = len(tokens)
    while i + n <= m:
        if tokens[i : i + n] == gram:
            run = 1
            j = i + n
            while j + n <= m and tokens[j : j + n] == gram:
                run += 1
                j += n
            best = max(best, run)
            i = j
        else:
            i += 1
    return best


def repetition_collapse(hyp: tuple[str, ...], ref: tuple[str, ...], k: int = 4) -> bool:
    """True if some 1–4-gram repeats ``>= k`` times back to back in ``hyp`` and more times than in ``ref``.

    A period-``n`` run is found by counting consecutive positions with ``hyp[j] == hyp[j + n]``:
    ``c`` such positions in a row are ``c // n + 1`` back-to-back copies.
    """
    m = len(hyp)
    if m < k or m - len(set(hyp)) < k - 1:
        # k copies of a gram repeat its first word k times, i.e. at least k - 1 duplicate words
        return False
    for n in range(1, 5):
        if m < k * n:
            break
        j, limit = 0, m - n
        while j < limit:
            if hyp[j] != hyp[j + n]:
                j += 1
                continue
            start = j
            while j < limit and hyp[j] == hyp[j + n]:
                j += 1
            copies = (j - start) // n + 1
            if copies >= k and copies > _max_run(ref, hyp[start : start + n]):
                return True
    return False


def length_integrity(hyp_len: int, ref_len: int, rho: float = 2.0) -> float:
    """``L``: ``|h|/N`` up to ``N`` words, then a linear fall to 0 at ``rho * N`` (0 for an empty hyp)."""
    if ref_len <= 0:
        return 1.0 if hyp_len == 0 else 0.0
    ratio = hyp_len / ref_len
    if ratio <= 1.0:
        return ratio
    v = 1.0 - (ratio - 1.0) / (rho - 1.0)
    return v if v > 0.0 else 0.0  # max(0, v) without the builtin call (hot path)


def _empty_ref_components(hyp_len: int, params: RewardParams) -> dict[str, Any]:
    # docs/design.md §4.2: empty reference -> 1.0 if the hypothesis is empty too, else 0.0; every component agrees.
    v = 1.0 if hyp_len == 0 else 0.0
    return {
        "wer": 1.0 - v,
        "r_rep": 1.0,
        "r_static": v,
        "r_fine": v,
        "r_struc": v,
        "r_dyn": v,
        "w_fine": params.beta if v == 1.0 else 1.0 - params.beta,
        "n_soft": 0,
        "n_hard": hyp_len,
        "lcs_recall": v,
        "length_integrity": v,
        "ref_words": 0,
        "hyp_words": hyp_len,
        "edits": hyp_len,
    }


def _word_components(ref: tuple[str, ...], hyp: tuple[str, ...], params: RewardParams) -> dict[str, Any]:
    n_ref, n_hyp = len(ref), len(hyp)
    if n_ref == 0:
        return _empty_ref_components(n_hyp, params)
    if ref == hyp:
        correct, n_soft, n_hard, edits, lcs = n_ref, 0, 0, 0, n_ref
    else:
        # one alignment gives the evaluator's counts and the substituted pairs, no Alignment object
        pairs, ins, dels = substitutions_and_counts(ref, hyp)  # align()'s core, no Alignment object
        subs = len(pairs)
        correct = n_ref - subs - dels
        edits = subs + ins + dels
        n_soft = 0
        if subs:
            thr = params.soft_threshold
            for r, h in pairs:
                if char_similarity(r, h) >= thr:
                    n_soft += 1
        n_hard = edits - n_soft  # hard substitutions + every insertion and deletion
        # With no substitution the alignment is an indel alignment of cost i + d, and an indel
        # alignment can never be cheaper than the Levenshtein one: so the LCS is its matches.
        lcs = LCSseq.similarity(ref, hyp) if subs else correct
    wer = edits / n_ref
    k = params.rep_k
    # repetition_collapse's own pre-check, inlined: k copies need k - 1 duplicate words
    collapse = n_hyp >= k and n_hyp - len(set(hyp)) >= k - 1 and repetition_collapse(hyp, ref, k)
    r_rep = 0.0 if collapse else 1.0
    denom = correct + n_hard + params.alpha * n_soft + params.eps
    r_fine = correct / denom if denom > 0 else 0.0
    lcs_recall = lcs / n_ref
    L = n_hyp / n_ref if n_hyp <= n_ref else length_integrity(n_hyp, n_ref, params.rho)
    return {
        "wer": wer,
        "r_rep": r_rep,
        "r_static": r_rep * (1.0 - wer) if wer < 1.0 else 0.0,  # r_rep * max(0, 1 - WER)
        "r_fine": r_fine,
        "r_struc": 0.5 * lcs_recall + 0.5 * L,
        "w_fine": params.beta if wer <= params.tau else 1.0 - params.beta,
        "n_soft": n_soft,
        "n_hard": n_hard,
        "lcs_recall": lcs_recall,
        "length_integrity": L,
        "ref_words": n_ref,
        "hyp_words": n_hyp,
        "edits": edits,
    }


def dgwgpo_from_components(
    c: dict[str, Any],
    params: RewardParams,
    *,
    fine: bool = True,
    struc: bool = True,
    rep: bool = True,
    gate: bool = True,
) -> tuple[float, float, float]:
    """``(score, r_dyn, w_fine)`` of DG-WGPO or one ablation from precomputed components.

    Ablations: ``fine=False`` -> R_dyn = R_struc; ``struc=False`` -> R_dyn = R_fine; ``rep=False`` ->
    R_static = max(0, 1 - WER); ``gate=False`` -> fixed ``w_fine = w_struc = 0.5``.
    """
    if c["ref_words"] == 0:  # the empty-reference rule holds for every variant
        return c["r_static"], c["r_dyn"], c["w_fine"]
    w_fine = c["w_fine"] if gate else 0.5
    if not fine:
        w_fine = 0.0
    elif not struc:
        w_fine = 1.0
    r_dyn = w_fine * c["r_fine"] + (1.0 - w_fine) * c["r_struc"]
    r_static = c["r_static"] if rep else max(0.0, 1.0 - c["wer"])
    score = params.lam * r_dyn + (1.0 - params.lam) * r_static
    return (score if score < 1.0 else 1.0) if score > 0.0 else 0.0, r_dyn, w_fine  # clip to [0, 1]


def _scored(hyp_text: str, ref_text: str, missing_ref: bool, params: RewardParams) -> tuple[dict[str, Any], tuple]:
    """Components and score of two plain strings, plus the cases found on the way (pure function)."""
    ref = _ref_tokens(ref_text, params.normalizer)
    hyp = _tokens(hyp_text, params.normalizer)
    if ref and hyp and not missing_ref:
        # the usual pair (hot path): dgwgpo_from_components(c, params) for the full reward, inlined
        c = _word_components(ref, hyp, params)
        w_fine = c["w_fine"]
        r_dyn = w_fine * c["r_fine"] + (1.0 - w_fine) * c["r_struc"]
        score = params.lam * r_dyn + (1.0 - params.lam) * c["r_static"]
        c["score"] = score = (score if score < 1.0 else 1.0) if score > 0.0 else 0.0
        if not math.isfinite(score):  # cannot happen with validated params; belt and braces
            raise FloatingPointError("score")
        c["r_dyn"] = r_dyn
        return c, ()
    cases = []
    if not ref and not missing_ref:
        cases.append("empty_ref")
    if not hyp:
        cases.append("empty_hyp")
    if missing_ref:
        # No reference to check against: 0 for every rollout (a zero-variance group: no gradient),
        # never the empty-reference 1.0 that would reward silence on a data bug.
        c = _empty_ref_components(max(1, len(hyp)), params)
        c["hyp_words"] = len(hyp)
        c["score"], c["r_dyn"], _ = dgwgpo_from_components(c, params)
    elif not ref:
        c = _word_components(ref, hyp, params)
        c["score"], c["r_dyn"], _ = dgwgpo_from_components(c, params)
    else:
        # dgwgpo_from_components(c, params) for the full reward, inlined (the hot path)
        c = _word_components(ref, hyp, params)
        w_fine = c["w_fine"]
        r_dyn = w_fine * c["r_fine"] + (1.0 - w_fine) * c["r_struc"]
        score = params.lam * r_dyn + (1.0 - params.lam) * c["r_static"]
        c["score"] = (score if score < 1.0 else 1.0) if score > 0.0 else 0.0
        c["r_dyn"] = r_dyn
    if not math.isfinite(c["score"]):  # cannot happen with validated params; belt and braces
        raise FloatingPointError("score")
    return c, tuple(cases)


def _plain(hyp_text: str, ref_text: str, params: RewardParams) -> dict[str, Any]:
    """:func:`components` of two plain strings (the hypothesis within ``max_hyp_chars``)."""
    if "<asr_text>" in hyp_text:  # parse_asr_output returns any other text unchanged
        hyp_text = parse_asr_output(hyp_text)
    c, cases = _scored(hyp_text, ref_text, False, params)
    c["case"] = "+".join(cases) if cases else "ok"
    return c


# A GRPO group scores one reference 16 times, and identical rollouts in a group are common (exact
# transcripts, empty outputs, the same failure): those pairs are scored once. Bounded, per process.
_plain_cached = lru_cache(maxsize=1 << 14)(_plain)


def clear_caches() -> None:
    """Empty the per-process string and pair caches (benchmarks; memory)."""
    _tokens_cached.cache_clear()
    _plain_cached.cache_clear()
    global _last_ref
    _last_ref = (None, None, ())


def _internal_error(exc: Exception, cases: list[str], params: RewardParams) -> dict[str, Any]:
    c = _empty_ref_components(1, params)
    c["score"] = 0.0
    cases.append(f"internal_error:{type(exc).__name__}")
    c["case"] = "+".join(cases)
    return c


def components(hypothesis: Any, reference: Any, params: RewardParams | None = None) -> dict[str, Any]:
    """All DG-WGPO components of one (hypothesis, reference) pair, plus ``score`` and ``case``.

    Qwen3-ASR's ``language X<asr_text>...`` wrapper is stripped from the hypothesis (other text is
    kept as is). Never raises on the texts; ``case`` is ``ok`` or names what was unusual, joined by
    ``+`` (``missing_ref`` -> score 0, ``empty_ref``, ``bytes_hyp``, ``non_text_hyp``, ``empty_hyp``,
    ``hyp_truncated``, ``internal_error``).
    """
    params = params or DEFAULT_PARAMS
    if type(hypothesis) is str and type(reference) is str and len(hypothesis) <= params.max_hyp_chars:
        # the usual call: two strings (the same result as the general path below, which handles the rest)
        try:
            if len(hypothesis) <= _CACHEABLE_CHARS and len(reference) <= _CACHEABLE_CHARS:
                # callers overwrite keys (ablations, baselines): never hand out the cached dict
                return dict(_plain_cached(hypothesis, reference, params))
            return _plain(hypothesis, reference, params)
        except Exception as exc:  # the reward must never take a training step down
            return _internal_error(exc, [], params)
    cases: list[str] = []
    try:
        hyp_text, case = _as_text(hypothesis, "hyp")
        if case:
            cases.append(case)
        ref_text, case = _as_text(reference, "ref")
        if case:
            cases.append(case)
        hyp_text, cut = _cap(hyp_text, params.max_hyp_chars)
        if "<asr_text>" in hyp_text:  # parse_asr_output returns any other text unchanged
            hyp_text = parse_asr_output(hyp_text)
        if cut:
            cases.append("hyp_truncated")
        c, more = _scored(hyp_text, ref_text, "missing_ref" in cases, params)
        cases.extend(more)
    except Exception as exc:  # the reward must never take a training step down
        return _internal_error(exc, cases, params)
    c["case"] = "+".join(cases) if cases else "ok"
    return c
