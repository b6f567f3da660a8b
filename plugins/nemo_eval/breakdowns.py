"""Summed counts -> metric dicts: the corpus line, one line per breakdown group, severity bins.

Rates whose denominator is zero are ``None`` (JSON ``null``), never ``inf``. Groups are sorted in
natural order (``snr_5`` before ``snr_10``), the missing-value group ``(none)`` last.
"""

from __future__ import annotations

import math
import re
from typing import Any, Mapping

import numpy as np

from nemo_wild_eval.flags import HALLUCINATION_FLAGS, OMISSION_FLAGS

__all__ = ["MISSING"]

MISSING = "(none)"  # the group label of an utterance without a value for the breakdown key


def _natural_key(value: str):
    if value == MISSING:
        return (2, ())
    parts = re.split(r"(-?\d+(?:\.\d+)?)", value)
    key = []
    for p in parts:
        if not p:
            continue
        try:
            key.append((0, float(p), ""))
        except ValueError:
            key.append((1, 0.0, p))
    return (0 if key and key[0][0] == 0 else 1, tuple(key))


def _label(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value if value.strip() else "(empty)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    if isinstance(value, (list, tuple)):
        return "+".join(_label(v) for v in value) or "(empty)"
    if isinstance(value, dict):
        import json

        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return str(value)


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else float(num) / float(den)


def _metrics(sums: Mapping[str, float]) -> dict:
    """Metric dict from summed counts (one group or the corpus)."""
    u = int(sums["utterances"])
    n = int(sums["ref_words"])
    s, i, d = int(sums["substitutions"]), int(sums["insertions"]), int(sums["deletions"])
    e = s + i + d
    out = {
        "utterances": u,
        "ref_words": n,
        "hyp_words": int(sums["hyp_words"]),
        "correct": n - s - d,
        "substitutions": s,
        "insertions": i,
        "deletions": d,
        "errors": e,
        "wer": _ratio(e, n),
        "sub_rate": _ratio(s, n),
        "ins_rate": _ratio(i, n),
        "del_rate": _ratio(d, n),
        "ser": _ratio(sums["utts_with_errors"], u),
        "empty_references": int(sums["empty_references"]),
        "empty_hypotheses": int(sums["empty_hypotheses"]),
        "hallucinations": int(sums["hallucination"]),
        "hallucination_rate": _ratio(sums["hallucination"], u),
        "omissions": int(sums["omission"]),
        "omission_rate": _ratio(sums["omission"], u),
        "flags": {k: int(sums[k]) for k in HALLUCINATION_FLAGS + OMISSION_FLAGS},
    }
    return out


def _group_codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(index)


def _grouped_metrics(codes: np.ndarray, labels: list[str], cols: Mapping[str, np.ndarray]) -> dict[str, dict]:
    g = len(labels)
    sums = {name: np.bincount(codes, weights=col, minlength=g) for name, col in cols.items()}
    order = sorted(range(g), key=lambda j: _natural_key(labels[j]))
    return {labels[j]: _metrics({name: arr[j] for name, arr in sums.items()}) for j in order}


def _severity_bins(values: list[Any]) -> tuple[list[str] | None, list[dict]]:
    """Per-utterance bin labels and bin descriptions for a severity column, or (None, [])."""
    nums: list[float | None] = []
    present = 0
    numeric = 0
    for v in values:
        if v is None:
            nums.append(None)
            continue
        present += 1
        if isinstance(v, bool):
            nums.append(None)
            continue
        try:
            x = float(v)
            if math.isfinite(x):
                nums.append(x)
                numeric += 1
                continue
        except (TypeError, ValueError):
            pass
        nums.append(None)
    if present == 0:
        return None, []
    if numeric < present / 2:  # categorical severity ("low"/"high"): one bin per value
        labels = [_label(v) for v in values]
        uniq = sorted(set(labels) - {MISSING}, key=_natural_key)
        return labels, [{"label": u, "lo": None, "hi": None, "center": None} for u in uniq]
    finite = sorted({x for x in nums if x is not None})
    if len(finite) <= 10:
        lab = {x: format(x, "g") for x in finite}
        labels = [lab[x] if x is not None else MISSING for x in nums]
        return labels, [{"label": lab[x], "lo": x, "hi": x, "center": x} for x in finite]
    lo, hi = finite[0], finite[-1]
    nb = 5
    width = (hi - lo) / nb
    bins = []
    for b in range(nb):
        a, z = lo + b * width, (lo + (b + 1) * width if b < nb - 1 else hi)
        bins.append({"label": f"{a:.3g}-{z:.3g}", "lo": a, "hi": z, "center": (a + z) / 2})
    labels = []
    for x in nums:
        if x is None:
            labels.append(MISSING)
        else:
            b = min(nb - 1, int((x - lo) / width)) if width > 0 else 0
            labels.append(bins[b]["label"])
    return labels, bins
