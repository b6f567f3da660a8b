"""Word alignment and edit counts: the one aligner behind WER, the reward and the split.

Aligner: rapidfuzz's Levenshtein ``opcodes`` over token sequences (unit costs). jiwer 4 uses the same
routine, so our S/I/D splits equal jiwer's; NeMo's ``word_error_rate_detail`` uses its own DP whose
S/I/D split can differ on ties while the total edit count (and hence WER) is the same. Part of
:mod:`nemo_wild_eval.text`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from rapidfuzz.distance import Levenshtein

from nemo_wild_eval.tokens import tokenize

__all__ = [
    "Alignment",
    "align",
    "align_words",
    "char_similarity",
    "edit_counts",
    "edit_counts_many",
    "substitutions_and_counts",
]


@dataclass(frozen=True)
class Alignment:
    """Result of aligning a hypothesis to a reference.

    ``pairs`` lists every aligned position in order as ``(op, ref_token, hyp_token)`` with op one of
    ``equal``, ``substitute``, ``insert`` (ref_token None) and ``delete`` (hyp_token None).
    """

    correct: int
    substitutions: int
    insertions: int
    deletions: int
    ref_len: int
    hyp_len: int
    pairs: tuple[tuple[str, str | None, str | None], ...] = field(default=(), repr=False)

    @property
    def errors(self) -> int:
        return self.substitutions + self.insertions + self.deletions

    @property
    def wer(self) -> float:
        """Error rate; ``inf``-free: an empty reference gives 0.0 (empty hyp) or 1.0 (anything else)."""
        if self.ref_len == 0:
            return 0.0 if self.hyp_len == 0 else 1.0
        return self.errors / self.ref_len


_object_new = object.__new__


def _new_alignment(
    correct: int, substitutions: int, insertions: int, deletions: int, ref_len: int, hyp_len: int,
    pairs: tuple[tuple[str, str | None, str | None], ...],
) -> Alignment:
    """``Alignment(...)`` without the frozen dataclass's per-field ``object.__setattr__`` calls (half the
    cost; the reward builds one per rollout). Same fields, so ``==``, ``hash`` and ``repr`` agree."""
    a = _object_new(Alignment)
    a.__dict__.update(
        correct=correct, substitutions=substitutions, insertions=insertions, deletions=deletions,
        ref_len=ref_len, hyp_len=hyp_len, pairs=pairs,
    )
    return a


def align(
    ref: Sequence[str], hyp: Sequence[str], with_pairs: bool = True, *, substitutions_only: bool = False
) -> Alignment:
    """Align two token sequences (Levenshtein, unit costs, rapidfuzz opcodes).

    ``substitutions_only=True`` (with ``with_pairs``) keeps only the ``substitute`` pairs, in the same
    order, without building the others: for callers that only look at substitutions (the reward).
    """
    n, m = len(ref), len(hyp)
    if n == 0 or m == 0:
        pairs = tuple(("delete", r, None) for r in ref) + tuple(("insert", None, h) for h in hyp)
        return Alignment(0, 0, m, n, n, m, pairs if with_pairs and not substitutions_only else ())
    if with_pairs and substitutions_only:
        sub_pairs, i, d = substitutions_and_counts(ref, hyp)
        s = len(sub_pairs)
        subs = tuple([("substitute", r, h) for r, h in sub_pairs])
        return _new_alignment(n - s - d, s, i, d, n, m, subs)
    if not with_pairs:
        # Counts straight from editops: cheaper than building opcode blocks.
        s = i = d = 0
        for op in Levenshtein.editops(ref, hyp):
            tag = op[0]
            if tag == "replace":
                s += 1
            elif tag == "insert":
                i += 1
            else:
                d += 1
        return Alignment(n - s - d, s, i, d, n, m)
    s = i = d = 0
    pairs: list[tuple[str, str | None, str | None]] = []
    for tag, i1, i2, j1, j2 in Levenshtein.opcodes(ref, hyp):
        if tag == "equal":
            pairs.extend(("equal", ref[k], hyp[j1 + k - i1]) for k in range(i1, i2))
        elif tag == "replace":
            k = min(i2 - i1, j2 - j1)
            pairs.extend(("substitute", ref[i1 + t], hyp[j1 + t]) for t in range(k))
            pairs.extend(("delete", ref[t], None) for t in range(i1 + k, i2))
            pairs.extend(("insert", None, hyp[t]) for t in range(j1 + k, j2))
            s += k
            d += (i2 - i1) - k
            i += (j2 - j1) - k
        elif tag == "delete":
            pairs.extend(("delete", ref[k], None) for k in range(i1, i2))
            d += i2 - i1
        elif tag == "insert":
            pairs.extend(("insert", None, hyp[k]) for k in range(j1, j2))
            i += j2 - j1
    return Alignment(n - s - d, s, i, d, n, m, tuple(pairs))


def substitutions_and_counts(
    ref: Sequence[str], hyp: Sequence[str]
) -> tuple[list[tuple[str, str]], int, int]:
    """``([(ref_token, hyp_token) per substitution], insertions, deletions)`` of :func:`align`.

    The same alignment as ``align(ref, hyp, substitutions_only=True)`` without building an
    :class:`Alignment` (the reward's hot path). rapidfuzz's opcodes are merged editops, so the
    ``replace`` editops are exactly the substitute pairs, in order.
    """
    n, m = len(ref), len(hyp)
    if n == 0 or m == 0:
        return [], m, n
    ops = Levenshtein.editops(ref, hyp).as_list()
    subs = [(ref[sp], hyp[dp]) for tag, sp, dp in ops if tag == "replace"]
    # i + d = #ops - s and d - i = n - m (every deletion/insertion changes the length by one)
    rest = len(ops) - len(subs)
    d = (rest + n - m) // 2
    return subs, rest - d, d


def align_words(
    reference: str, hypothesis: str, normalizer: str = "whisper_en", with_pairs: bool = True
) -> Alignment:
    """Normalise both strings with the same normaliser, tokenise, and align."""
    return align(tokenize(reference, normalizer), tokenize(hypothesis, normalizer), with_pairs)


def char_similarity(a: str, b: str) -> float:
    """``1 - lev(a, b) / max(|a|, |b|)`` in [0, 1] (1.0 for two empty strings)."""
    if not a and not b:
        return 1.0
    return 1.0 - Levenshtein.distance(a, b) / max(len(a), len(b))


def edit_counts(ref: Sequence[str], hyp: Sequence[str]) -> tuple[int, int, int]:
    """``(substitutions, insertions, deletions)`` of ``align(ref, hyp, with_pairs=False)``, no objects built."""
    if ref == hyp:
        return 0, 0, 0
    n, m = len(ref), len(hyp)
    if n == 0 or m == 0:
        return 0, m, n
    tags = [op[0] for op in Levenshtein.editops(ref, hyp).as_list()]
    s = tags.count("replace")
    i = tags.count("insert")
    return s, i, len(tags) - s - i


def edit_counts_many(
    refs: Sequence[Sequence[str]], hyps: Sequence[Sequence[str]]
) -> tuple[list[int], list[int], list[int]]:
    """``edit_counts`` over parallel lists: three lists (substitutions, insertions, deletions)."""
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses")
    n = len(refs)
    S = [0] * n
    I = [0] * n
    D = [0] * n
    editops = Levenshtein.editops
    for k, (r, h) in enumerate(zip(refs, hyps)):
        if r is h or r == h:
            continue
        if not r or not h:
            I[k] = len(h)
            D[k] = len(r)
            continue
        tags = [op[0] for op in editops(r, h).as_list()]
        s = tags.count("replace")
        i = tags.count("insert")
        S[k] = s
        I[k] = i
        D[k] = len(tags) - s - i
    return S, I, D
