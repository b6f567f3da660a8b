"""Demo stage 5: rewards on real rollout groups (pocketsphinx n-best lists).

Why: the paper's central claim is that ``1 - WER`` stops ranking rollouts of badly recognised audio
(every hypothesis scores 0, so the group has zero variance and GRPO learns nothing from it) while
DG-WGPO keeps ranking them. Here each cut's n-best list is one group; every hypothesis is scored by
every registered reward (:func:`verl_dgwgpo.rewards.score`) and the groups' dispersion is summarised
per WER regime by :func:`verl_dgwgpo.group_stats.group_dispersion` (the same code the training hook
logs). Nothing is re-implemented here: this module only feeds groups in and lays the numbers out.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["HEADLINE_REWARDS", "reward_stats"]

# The comparison the report leads with: the usual baseline vs the project's reward.
HEADLINE_REWARDS = ("wer", "dgwgpo")
LABELS = {"wer": "1 − WER", "dgwgpo": "DG-WGPO", "exact_match": "exact match", "neg_edit_distance": "−edit distance"}


def _label(name: str) -> str:
    return LABELS.get(name, name)


def _fmt_pct(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f} %"


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def _nan_to_none(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _nan_to_none(v) for k, v in d.items()}
    if isinstance(d, float) and math.isnan(d):
        return None
    return d


def reward_stats(rewards_mod: Any, groups: Sequence[dict], out: Path, rel: Callable[[Path], str],
                 dispersion_fn: Callable[..., dict]) -> dict:
    """Score every hypothesis of every group with each reward; dispersion per WER regime.

    ``rewards_mod`` is :mod:`verl_dgwgpo.rewards` (``REWARDS``, ``score``), ``dispersion_fn`` is
    :func:`verl_dgwgpo.group_stats.group_dispersion`. Writes ``out/rewards/rewards.jsonl`` (one line
    per hypothesis, every reward's score and the DG-WGPO components), ``dispersion.json`` and a plot.
    """
    rdir = out / "rewards"
    rdir.mkdir(parents=True, exist_ok=True)
    names = [n for n in HEADLINE_REWARDS if n in rewards_mod.REWARDS]
    names += [n for n in rewards_mod.REWARDS if n not in names]
    scores: dict[str, list[list[float]]] = {n: [] for n in names}
    wers: list[list[float]] = []
    conditions: list[str] = []
    tmp = rdir / ".tmp-rewards.jsonl"
    with tmp.open("w", encoding="utf-8") as fh:
        for g in groups:
            ref, hyps = g["text"], list(g["nbest"])
            group_w: list[float] = []
            per_name: dict[str, list[float]] = {n: [] for n in names}
            for rank, h in enumerate(hyps):
                row: dict[str, Any] = {"cut_id": g["cut_id"], "condition": g.get("condition"), "rank": rank,
                                       "hypothesis": h}
                for n in names:
                    r = rewards_mod.score(n, h, ref)
                    per_name[n].append(float(r["score"]))
                    row[n] = float(r["score"])
                    if n == "dgwgpo":
                        row["components"] = {k: r[k] for k in ("wer", "r_rep", "r_fine", "r_struc", "w_fine", "case")
                                             if k in r}
                    if len(group_w) == rank:  # the WER is the same under every reward: keep it once
                        group_w.append(float(r["wer"]))
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            for n in names:
                scores[n].append(per_name[n])
            wers.append(group_w)
            conditions.append(g.get("condition") or "")
    os.replace(tmp, rdir / "rewards.jsonl")

    dispersion = {n: _nan_to_none(dispersion_fn(scores[n], wers)) for n in names}
    wild_idx = [i for i, c in enumerate(conditions) if c == "wild"]
    dispersion_wild = {n: _nan_to_none(dispersion_fn([scores[n][i] for i in wild_idx], [wers[i] for i in wild_idx]))
                       for n in names} if wild_idx else {}
    regimes = [k for k in next(iter(dispersion.values())) if k != "all"] if dispersion else []
    (rdir / "dispersion.json").write_text(
        json.dumps({"all_groups": dispersion, "wild_groups": dispersion_wild, "regime_by": "mean WER of the group",
                    "rewards": names}, indent=2) + "\n", encoding="utf-8")

    files = {"per-hypothesis rewards": rel(rdir / "rewards.jsonl"), "dispersion": rel(rdir / "dispersion.json")}
    plots: dict[str, str] = {}
    head = [n for n in HEADLINE_REWARDS if n in dispersion]
    if head and regimes:
        p = _plot_zero_variance(dispersion, head, ["all", *regimes], rdir / "zero_variance_by_regime.png")
        plots["zero-variance share by WER regime"] = rel(p)
        files["plot: zero-variance share"] = rel(p)

    cols = ["all", *regimes]
    tables = [
        {"title": "Share of zero-variance groups (no GRPO gradient) — all groups, by the group's mean WER; "
                  "`n` = groups with ≥ 2 distinct hypotheses",
         "header": ["reward", *[f"{c} (n={dispersion[names[0]][c]['n_groups']})" for c in cols]],
         "rows": [[_label(n), *[_fmt_pct(dispersion[n][c]["zero_variance_share"]) for c in cols]] for n in names]},
        {"title": "Mean within-group reward std (ddof=1, as GRPO normalises); `−edit distance` is on another scale",
         "header": ["reward", *cols],
         "rows": [[_label(n), *[_fmt(dispersion[n][c]["mean_std"]) for c in cols]] for n in names]},
    ]
    headline, notes = [], []
    if all(n in dispersion for n in HEADLINE_REWARDS):
        a, b = dispersion["wer"], dispersion["dgwgpo"]
        worst = regimes[-1] if regimes else "all"
        headline.append(
            f"zero-variance groups: 1 − WER {_fmt_pct(a['all']['zero_variance_share'])} vs DG-WGPO "
            f"{_fmt_pct(b['all']['zero_variance_share'])} (all {a['all']['n_groups']} groups); in `{worst}`: "
            f"{_fmt_pct(a[worst]['zero_variance_share'])} vs {_fmt_pct(b[worst]['zero_variance_share'])} "
            f"({a[worst]['n_groups']} groups)")
        notes.append("A zero-variance group gets advantage 0 for every rollout under GRPO/DAPO: it teaches nothing "
                     "(DAPO's dynamic sampling drops it). The claim under test is that DG-WGPO leaves fewer such "
                     "groups than 1 − WER, above all in the high-WER regime where 1 − WER saturates at 0.")
        notes.append("Groups here are pocketsphinx n-best lists (distinct word strings of one decode), so "
                     "hypotheses differ by a few words and stds are small; a sampling policy spreads more.")
    return {"rewards": names, "dispersion": dispersion, "dispersion_wild": dispersion_wild, "tables": tables,
            "headline": headline, "notes": notes, "plots": plots, "files": files, "file": rel(rdir / "rewards.jsonl")}


def _plot_zero_variance(dispersion: dict, names: Sequence[str], cols: Sequence[str], path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    width = 0.8 / len(names)
    colors = ["#C44E52", "#4C72B0", "#55A868", "#8172B2"]
    for i, n in enumerate(names):
        ys = [100 * (dispersion[n][c]["zero_variance_share"] or 0.0) for c in cols]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(cols))]
        bars = ax.bar(xs, ys, width, label=_label(n), color=colors[i % len(colors)])
        for b, y in zip(bars, ys):
            ax.annotate(f"{y:.1f}", (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels([f"{c}\n(n={dispersion[names[0]][c]['n_groups']})" for c in cols])
    ax.set_ylabel("zero-variance groups (%)")
    ax.set_title("n-best rollout groups with no reward spread")
    ax.grid(axis="y", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    return path
