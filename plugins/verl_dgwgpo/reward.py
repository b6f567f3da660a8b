"""DG-WGPO reward (docs/design.md §4): keeps ranking failed transcripts where ``1 - WER`` saturates.

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

verl is not needed here (verl's custom-reward signature is plain Python).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Any

from rapidfuzz.distance import LCSseq

from nemo_wild_eval.errors import InputError
from nemo_wild_eval.text import (
    NORMALIZERS,
    char_similarity,
    parse_asr_output,
    substitutions_and_counts,
    tokenizer_for,
)

__all__ = [
    "COMPONENT_KEYS",
    "RewardParams",
    "clear_caches",
    "components",
    "compute_score",
    "dgwgpo_from_components",
    "length_integrity",
    "params_from_kwargs",
    "repetition_collapse",
]

# Keys every reward dict carries (verl takes the first sample's keys as the batch's extra-info keys,
# so every call must return the same set).
COMPONENT_KEYS: tuple[str, ...] = (
    "score",
    "wer",
    "r_rep",
    "r_static",
    "r_fine",
    "r_struc",
    "r_dyn",
    "w_fine",
    "n_soft",
    "n_hard",
    "lcs_recall",
    "length_integrity",
    "ref_words",
    "hyp_words",
    "edits",
    "case",
)

# verl passes these to every custom reward when a reward model router is configured; they mean
# nothing to a rule-based reward.
_IGNORED_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})


@dataclass(frozen=True)
class RewardParams:
    """DG-WGPO hyper-parameters; defaults of docs/design.md §4.1 (*paper* or *ours* as marked there)."""

    tau: float = 0.3  # gate threshold on the rollout's own WER (paper main text; 0.5 in its appendix)
    alpha: float = 0.4  # weight of a soft substitution in R_fine (paper)
    soft_threshold: float = 0.5  # char similarity at or above which a substitution is soft
    beta: float = 0.7  # dominant gate weight (ours)
    lam: float = 0.6  # weight of R_dyn against R_static
    rho: float = 2.0  # runaway limit: L reaches 0 at |h| = rho * N (ours)
    rep_k: int = 4  # consecutive repeats of a 1-4-gram that count as a collapse (ours)
    normalizer: str = "whisper_en"  # same default as the evaluator
    eps: float = 0.0  # R_fine's epsilon; 0 keeps identity at exactly 1 (the denominator is > 0 for N > 0)
    max_hyp_chars: int = 20_000  # longer hypotheses are cut (case 'hyp_truncated'); see _cap()

    def __hash__(self) -> int:
        # Cached: the params are part of the pair-cache key on every reward call; a dataclass hash
        # would rebuild and hash the field tuple each time. Not pickled (string hashes differ per process).
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def validate(self) -> "RewardParams":
        def bad(name: str, why: str) -> InputError:
            return InputError(f"reward parameter {name}={getattr(self, name)!r}: {why}")

        for name in ("tau", "alpha", "soft_threshold", "beta", "lam", "rho", "eps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(name, "must be a finite number")
        for name in ("alpha", "soft_threshold", "beta", "lam"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise bad(name, "must lie in [0, 1]")
        if self.tau < 0:
            raise bad("tau", "must be >= 0")
        if self.rho <= 1.0:
            raise bad("rho", "must be > 1 (L falls from 1 at |h| = N to 0 at |h| = rho * N)")
        if self.eps < 0:
            raise bad("eps", "must be >= 0")
        if isinstance(self.rep_k, bool) or not isinstance(self.rep_k, int) or self.rep_k < 2:
            raise bad("rep_k", "must be an integer >= 2")
        if isinstance(self.max_hyp_chars, bool) or not isinstance(self.max_hyp_chars, int) or self.max_hyp_chars < 1:
            raise bad("max_hyp_chars", "must be a positive integer")
        if self.normalizer not in NORMALIZERS:
            raise bad("normalizer", f"unknown; choose one of {sorted(NORMALIZERS)}")
        return self


_PARAM_NAMES = frozenset(f.name for f in fields(RewardParams))
# Accepted spellings from configs written for other reward code.
_ALIASES = {"k": "rep_k", "repetition_k": "rep_k", "lambda_": "lam", "normaliser": "normalizer"}


_DEFAULT_PARAMS = RewardParams()
_PARAMS_BY_KWARGS: dict[tuple, RewardParams] = {}


def params_from_kwargs(kwargs: dict[str, Any]) -> RewardParams:
    """Build validated :class:`RewardParams` from keyword arguments (unknown names raise InputError)."""
    if not kwargs:
        return _DEFAULT_PARAMS
    try:
        key = tuple(kwargs.items())
        hit = _PARAMS_BY_KWARGS.get(key)
    except TypeError:  # unhashable value (a list from a config)
        key, hit = None, None
    if hit is not None:
        return hit
    items = {}
    for name_in, value in kwargs.items():
        if name_in in _IGNORED_KWARGS:
            continue
        name = _ALIASES.get(name_in, name_in)
        if name not in _PARAM_NAMES:
            raise InputError(f"unknown reward parameter {name_in!r}; known: {sorted(_PARAM_NAMES)}")
        if name == "rep_k" and isinstance(value, float) and value.is_integer():
            value = int(value)
        items[name] = value
    params = RewardParams(**items).validate()
    if key is not None and len(_PARAMS_BY_KWARGS) < 1024:
        _PARAMS_BY_KWARGS[key] = params
    return params


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
    params = params or _DEFAULT_PARAMS
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


def compute_score(
    data_source: Any = None,
    solution_str: Any = None,
    ground_truth: Any = None,
    extra_info: dict | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl's custom-reward entry point: ``reward.custom_reward_function.name=compute_score``.

    ``kwargs`` are the hyper-parameters of :class:`RewardParams` (``tau``, ``alpha``, ...) plus
    ``reward_name`` to pick a baseline/ablation from :data:`verl_dgwgpo.rewards.REWARDS` (default
    ``dgwgpo``). Returns a dict with ``score`` and every component (:data:`COMPONENT_KEYS`).
    ``data_source`` and ``extra_info`` are accepted for verl's signature and not used.
    """
    global _score
    name = kwargs.pop("reward_name", "dgwgpo")
    if name == "dgwgpo":  # the default, without the registry's indirection (same function underneath)
        return components(solution_str, ground_truth, params_from_kwargs(kwargs))
    if _score is None:
        from verl_dgwgpo.rewards import score as _score
    return _score(name, solution_str, ground_truth, **kwargs)


_score = None  # verl_dgwgpo.rewards.score, bound on first use (rewards imports this module)
