"""Group dispersion of rewards (pure numpy): the paper's claim, measurable in any run.

GRPO/DAPO learn only from groups whose rewards differ. ``1 - WER`` saturates on badly failed rollouts
(every hypothesis scores 0), so those groups give no gradient; DG-WGPO is meant to keep ranking them.
:func:`group_dispersion` reports, overall and per WER regime (by the group's mean WER):

* ``n_groups``             groups with at least two rollouts (single rollouts have no spread),
* ``zero_variance_share``  share of those whose rewards are all equal (within ``atol``),
* ``mean_std``             mean within-group standard deviation (ddof=1, as GRPO's ``torch.std``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["DROPPED_KEY", "REGIMES", "ROUNDS_KEY", "group_dispersion", "regime_of", "sampling_metrics"]

# (name, lower bound exclusive, upper bound inclusive) on a group's mean WER.
REGIMES: tuple[tuple[str, float, float], ...] = (
    ("wer<=0.3", -np.inf, 0.3),
    ("0.3<wer<=0.7", 0.3, 0.7),
    ("wer>0.7", 0.7, np.inf),
)


def regime_of(mean_wer: float) -> str:
    """Name of the WER regime a group with this mean WER falls in."""
    for name, lo, hi in REGIMES:
        if lo < mean_wer <= hi:
            return name
    return REGIMES[-1][0]  # nan or +inf: the failed side


def _empty() -> dict[str, float | int]:
    return {"n_groups": 0, "zero_variance_share": float("nan"), "mean_std": float("nan")}


def _summarise(stds: list[float], atol: float) -> dict[str, float | int]:
    if not stds:
        return _empty()
    a = np.asarray(stds, dtype=np.float64)
    return {
        "n_groups": int(a.size),
        "zero_variance_share": float(np.mean(a <= atol)),
        "mean_std": float(np.mean(a)),
    }


def group_dispersion(
    rewards: Sequence[Sequence[float]],
    wers: Sequence[Sequence[float]] | None = None,
    atol: float = 1e-9,
) -> dict[str, dict[str, float | int]]:
    """Dispersion of rewards per group: ``{"all": {...}, "wer<=0.3": {...}, ...}``.

    ``rewards[g]`` are the rewards of group ``g``'s rollouts; ``wers[g]`` (same shape) their WERs. The
    regime keys appear only when ``wers`` is given. Groups with fewer than two rollouts are skipped.
    Empty regimes report ``n_groups=0`` and NaN statistics.
    """
    if wers is not None and len(wers) != len(rewards):
        raise ValueError(f"{len(rewards)} reward groups but {len(wers)} WER groups")
    stds: list[float] = []
    by_regime: dict[str, list[float]] = {name: [] for name, _, _ in REGIMES}
    for g, group in enumerate(rewards):
        r = np.asarray(group, dtype=np.float64).ravel()
        if r.size < 2:
            continue
        sd = float(np.std(r, ddof=1))
        stds.append(sd)
        if wers is not None:
            w = np.asarray(wers[g], dtype=np.float64).ravel()
            if w.size != r.size:
                raise ValueError(f"group {g}: {r.size} rewards but {w.size} WERs")
            by_regime[regime_of(float(np.mean(w)))].append(sd)
    out = {"all": _summarise(stds, atol)}
    if wers is not None:
        for name, vals in by_regime.items():
            out[name] = _summarise(vals, atol)
    return out


# Per-row fields written by DAPO's dynamic sampling (verl_dgwgpo.rl.dynamic_sampling).
ROUNDS_KEY = "dapo_rounds"
DROPPED_KEY = "dapo_dropped"


def sampling_metrics(index: Sequence, rounds: Sequence[int], dropped: Sequence[int] | None = None) -> dict[str, float]:
    """Per step: share of groups sampled again, mean samplings per group, share dropped from the loss."""
    first: dict = {}
    for uid, r, d in zip(index, rounds, dropped if dropped is not None else [0] * len(rounds)):
        first.setdefault(uid, (int(r), int(d)))
    if not first:
        return {}
    r = np.array([v[0] for v in first.values()], dtype=float)
    d = np.array([v[1] for v in first.values()], dtype=float)
    return {
        "dgwgpo/dynamic_sampling/resampled_group_share": float(np.mean(r > 1)),
        "dgwgpo/dynamic_sampling/mean_samplings": float(np.mean(r)),
        "dgwgpo/dynamic_sampling/dropped_group_share": float(np.mean(d > 0)),
    }
