"""Hallucination and omission flags: the failures the project's RL stage targets.

Per utterance, with ``N`` reference tokens, ``M`` hypothesis tokens and ``S, I, D`` from the alignment
(defaults in :class:`FlagThresholds`, all *ours*; pass your own to change them):

hallucination (any of)
    ``output_on_empty_ref``  ``N == 0`` and ``M > 0`` (text where nothing was said)
    ``insertion_heavy``      ``I >= min_insertions`` (3) and ``I / N >= insertion_rate`` (0.5)
    ``runaway``              ``I >= min_insertions`` (3) and ``M / N >= length_ratio`` (2.0, the
                             runaway limit rho of the project's DG-WGPO length-integrity term)
    ``repetition``           a 1..``repeat_max_n``-gram (4) repeated ``repeat_min_count`` (4) times in a
                             row in the hypothesis, and not so repeated in the reference (looping decoder)
    ``char_rate``            the record has a ``duration`` (seconds, NeMo's key) and the hypothesis has more
                             characters than the reference and more than ``max_char_rate`` (25) non-space
                             characters per second of audio: more text than anyone can say in that time
                             (fast read English is ~15, Mandarin ~6 characters/s after normalisation)
omission (any of)
    ``empty_output``         ``N > 0`` and ``M == 0``
    ``large_deletion``       ``M > 0``, ``D >= min_deletions`` (3) and ``D / N >= deletion_rate`` (0.5)

The ``min_*`` counts keep one- and two-word utterances from being flagged by a single stray word.
Corpus rates are flagged utterances / scored utterances.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "FlagThresholds",
    "HALLUCINATION_FLAGS",
    "OMISSION_FLAGS",
    "char_rate_flags",
    "compute_flags",
    "find_repetition",
]

HALLUCINATION_FLAGS = ("output_on_empty_ref", "insertion_heavy", "runaway", "repetition", "char_rate")
OMISSION_FLAGS = ("empty_output", "large_deletion")


@dataclass(frozen=True)
class FlagThresholds:
    insertion_rate: float = 0.5
    length_ratio: float = 2.0
    min_insertions: int = 3
    repeat_max_n: int = 4
    repeat_min_count: int = 4
    deletion_rate: float = 0.5
    min_deletions: int = 3
    max_char_rate: float = 25.0

    def to_dict(self) -> dict:
        return asdict(self)


def _has_run(tokens: Sequence[str], gram: tuple, count: int) -> bool:
    """Whether ``gram`` occurs ``count`` times in a row in ``tokens``."""
    n = len(gram)
    need = n * count
    first = gram[0]
    for i in range(len(tokens) - need + 1):
        if tokens[i] == first and tuple(tokens[i : i + need]) == gram * count:
            return True
    return False


def _is_primitive(gram: tuple) -> bool:
    """False for a gram that is itself a repeat of a shorter one (``la la``): n-1 already saw it."""
    n = len(gram)
    return not any(n % p == 0 and gram == gram[:p] * (n // p) for p in range(1, n))


def find_repetition(
    hyp: Sequence[str], ref: Sequence[str], max_n: int = 4, min_count: int = 4
) -> tuple[str, ...] | None:
    """The first n-gram (n <= max_n) repeated >= min_count times in a row in ``hyp`` but not in ``ref``.

    A run of ``min_count`` copies of an n-gram is a stretch where ``hyp[j] == hyp[j + n]`` holds for
    ``n * (min_count - 1)`` consecutive ``j``; each n is one list comparison plus a bytes search.
    """
    m = len(hyp)
    if m < min_count or m - len(set(hyp)) < min_count - 1:  # such a run repeats >= min_count-1 tokens
        return None
    for n in range(1, max_n + 1):
        need = n * (min_count - 1)
        if need + n > m:
            break
        eq = bytes([a == b for a, b in zip(hyp, hyp[n:])])
        pattern = b"\x01" * need
        pos = eq.find(pattern)
        while pos != -1:
            gram = tuple(hyp[pos : pos + n])
            if _is_primitive(gram) and not _has_run(ref, gram, min_count):
                return gram
            end = pos + need  # the reference repeats it too: skip past this run
            while end < len(eq) and eq[end]:
                end += 1
            pos = eq.find(pattern, end)
    return None


def _seconds(durations: Sequence[object]) -> np.ndarray:
    """Durations in seconds as floats; 0.0 where missing, non-numeric (bool, str), NaN, inf or negative."""
    sec = np.array([d if type(d) is float or type(d) is int else 0.0 for d in durations], dtype=np.float64)
    sec[~np.isfinite(sec) | (sec < 0)] = 0.0
    return sec


def char_rate_flags(
    ref_toks: Sequence[Sequence[str]],
    hyp_toks: Sequence[Sequence[str]],
    durations: Sequence[object],
    t: FlagThresholds,
) -> np.ndarray:
    """The ``char_rate`` flag per utterance (False where the duration is missing or unusable)."""
    out = np.zeros(len(hyp_toks), dtype=bool)
    sec = _seconds(durations)
    idx = np.flatnonzero(sec > 0)
    if idx.size == 0:
        return out
    join = "".join
    if idx.size == len(hyp_toks):  # every record has a duration: one C-level pass
        chars = np.fromiter(map(len, map(join, hyp_toks)), dtype=np.int64, count=len(hyp_toks))[idx]
    else:
        chars = np.fromiter((len(join(hyp_toks[k])) for k in idx.tolist()), dtype=np.int64, count=idx.size)
    fast = idx[chars > t.max_char_rate * sec[idx]]
    for k in fast.tolist():  # rare: compare with the reference's own length
        out[k] = len(join(hyp_toks[k])) > len(join(ref_toks[k]))
    return out


def compute_flags(
    s: np.ndarray,
    i: np.ndarray,
    d: np.ndarray,
    n: np.ndarray,
    m: np.ndarray,
    repetition: np.ndarray,
    t: FlagThresholds,
    char_rate: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Boolean arrays per flag name plus ``hallucination`` and ``omission`` (their OR)."""
    pos = n > 0
    safe_n = np.where(pos, n, 1)
    out = {
        "output_on_empty_ref": (~pos) & (m > 0),
        "insertion_heavy": pos & (i >= t.min_insertions) & (i >= t.insertion_rate * safe_n),
        "runaway": pos & (i >= t.min_insertions) & (m >= t.length_ratio * safe_n),
        "repetition": repetition.astype(bool),
        "char_rate": np.zeros(len(m), dtype=bool) if char_rate is None else char_rate.astype(bool),
        "empty_output": pos & (m == 0),
        "large_deletion": pos & (m > 0) & (d >= t.min_deletions) & (d >= t.deletion_rate * safe_n),
    }
    out["hallucination"] = np.logical_or.reduce([out[k] for k in HALLUCINATION_FLAGS])
    out["omission"] = np.logical_or.reduce([out[k] for k in OMISSION_FLAGS])
    return out
