"""Router evaluation: accuracy, ROC/AUC, accuracy per scenario / severity / held-out group, plots.

Labels: clean = 0, degraded = 1; a clip counts as correct when ``RouteResult.degraded`` equals its
label. AUC is the Mann-Whitney statistic (probability that a random degraded clip scores above a
random clean one, ties count 1/2), the same number as the area under the ROC curve.
Outputs (with ``out_dir``): ``router_eval.json``, ``router_eval.md``, ``roc.png``,
``per_scenario.png``, ``per_severity.png``, ``prob_hist.png``, ``predictions.jsonl``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nemo_wild_eval.errors import InputError

from .data import load_clips
from .model import RouterModel

__all__ = ["evaluate_router", "auc_score", "roc_curve", "SEVERITY_BINS"]

SEVERITY_BINS = tuple(round(0.1 * i, 1) for i in range(11))


def auc_score(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Area under the ROC curve (Mann-Whitney U / (n_pos * n_neg)); ties count 1/2."""
    from scipy.stats import rankdata

    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise InputError("AUC needs both clean and degraded clips", source="labels")
    ranks = rankdata(s)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(labels: Sequence[int], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), one point per distinct score plus the (0, 0) start."""
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="mergesort")
    s, y = s[order], y[order]
    last = np.r_[np.nonzero(np.diff(s))[0], y.size - 1]  # last index of each distinct score
    tps, fps = np.cumsum(y)[last], np.cumsum(~y)[last]
    fpr = np.r_[0.0, fps / max(1, (~y).sum())]
    tpr = np.r_[0.0, tps / max(1, y.sum())]
    return fpr, tpr, np.r_[np.inf, s[last]]


def _bin(sev: float) -> str:
    i = min(int(np.floor(sev * 10 + 1e-9)), 9)
    return f"{SEVERITY_BINS[i]:.1f}-{SEVERITY_BINS[i + 1]:.1f}"


def _acc_table(rows: list[tuple[str, bool, float]]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for key, ok, p in rows:
        d = out.setdefault(key, {"n": 0, "correct": 0, "prob_sum": 0.0})
        d["n"] += 1
        d["correct"] += int(ok)
        d["prob_sum"] += p
    return {k: {"n": d["n"], "accuracy": d["correct"] / d["n"], "mean_prob": d["prob_sum"] / d["n"]}
            for k, d in sorted(out.items())}


def evaluate_router(
    model: RouterModel,
    clean: Any,
    degraded: Any,
    *,
    out_dir: str | Path | None = None,
    meta: Sequence[dict] | None = None,
    sampling_rate: int | None = None,
) -> dict:
    """Score ``model`` on clean and degraded clips; returns the metrics dict (and writes files).

    ``clean`` / ``degraded``: CutSets (scenario/severity from ``custom["wild"]``), ``Clips``, or lists
    of arrays at ``sampling_rate`` (default: the router's) with ``meta`` (one dict per degraded clip:
    ``scenario``, ``severity``, optional ``group``).
    """
    sr = int(sampling_rate or model.sampling_rate)
    clean_c = load_clips(clean, sr, what="clean")
    deg_c = load_clips(degraded, sr, what="degraded", meta=meta)
    thr = model.threshold
    probs_c = [model.route(x, sr, what=m["id"]) for x, m in zip(clean_c.audio, clean_c.meta)]
    probs_d = [model.route(x, sr, what=m["id"]) for x, m in zip(deg_c.audio, deg_c.meta)]
    labels = [0] * len(probs_c) + [1] * len(probs_d)
    scores = [r.prob for r in probs_c + probs_d]
    correct = [not r.degraded for r in probs_c] + [r.degraded for r in probs_d]
    clean_acc = float(np.mean(correct[: len(probs_c)]))
    deg_acc = float(np.mean(correct[len(probs_c) :]))
    result: dict[str, Any] = {
        "threshold": thr,
        "n_clean": len(probs_c),
        "n_degraded": len(probs_d),
        "accuracy": float(np.mean(correct)),
        "balanced_accuracy": (clean_acc + deg_acc) / 2,
        "clean_accuracy": clean_acc,
        "degraded_accuracy": deg_acc,
        "auc": auc_score(labels, scores),
    }
    rows_sc, rows_sev, rows_grp = [], [], []
    for r, m in zip(probs_d, deg_c.meta):
        if m.get("scenario") is not None:
            rows_sc.append((m["scenario"], r.degraded, r.prob))
        if m.get("severity") is not None:
            rows_sev.append((_bin(float(m["severity"])), r.degraded, r.prob))
        if m.get("group") is not None:
            rows_grp.append((m["group"], r.degraded, r.prob))
    result["per_scenario"] = _acc_table(rows_sc)
    result["per_severity"] = _acc_table(rows_sev)
    result["per_group"] = _acc_table(rows_grp)
    for g, d in result["per_group"].items():  # balanced accuracy of each group against the clean set
        d["balanced_accuracy"] = (d["accuracy"] + clean_acc) / 2
        idx = [i for i, m in enumerate(deg_c.meta) if m.get("group") == g]
        d["auc"] = auc_score([0] * len(probs_c) + [1] * len(idx), [r.prob for r in probs_c] + [probs_d[i].prob for i in idx])
    result["plots"] = {}
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        result["plots"] = _plots(out, labels, scores, result, thr)
        with open(out / "predictions.jsonl", "w", encoding="utf-8") as fh:
            for r, m, y in zip(probs_c + probs_d, clean_c.meta + deg_c.meta, labels):
                fh.write(json.dumps({**m, "label": "degraded" if y else "clean", "prob": r.prob,
                                     "routed": r.degraded, "silent": r.silent}) + "\n")
        (out / "router_eval.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        (out / "router_eval.md").write_text(to_markdown(result), encoding="utf-8")
    return result


def to_markdown(r: dict) -> str:
    """A short report: headline table, then per group, severity and scenario."""
    lines = ["# Router evaluation", "", "| metric | value |", "|---|---|"]
    for k in ("n_clean", "n_degraded", "threshold", "accuracy", "balanced_accuracy", "clean_accuracy",
              "degraded_accuracy", "auc"):
        v = r[k]
        lines.append(f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |")
    for title, key in (("Held-out groups (degraded clips)", "per_group"), ("Per severity", "per_severity"),
                       ("Per scenario", "per_scenario")):
        if not r.get(key):
            continue
        lines += ["", f"## {title}", "", "| | n | accuracy | mean P(degraded) |", "|---|---|---|---|"]
        for name, d in r[key].items():
            lines.append(f"| {name} | {d['n']} | {d['accuracy']:.3f} | {d['mean_prob']:.3f} |")
    return "\n".join(lines) + "\n"


def _figure(w: float, h: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _plots(out: Path, labels: list[int], scores: list[float], r: dict, thr: float) -> dict[str, str]:
    paths: dict[str, str] = {}
    fpr, tpr, _ = roc_curve(labels, scores)
    fig = _figure(4.5, 4.2)
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, lw=2, label=f"AUC = {r['auc']:.3f}")
    ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
    ax.set(xlabel="false positive rate (clean routed to LoRA)", ylabel="true positive rate", title="Router ROC")
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out / "roc.png")
    paths["roc"] = str(out / "roc.png")

    if r["per_scenario"]:
        items = sorted(r["per_scenario"].items(), key=lambda kv: kv[1]["accuracy"])
        fig = _figure(7, max(3.0, 0.22 * len(items) + 1))
        ax = fig.add_subplot()
        ax.barh([k for k, _ in items], [d["accuracy"] for _, d in items], color="tab:orange")
        ax.set(xlim=(0, 1), xlabel="accuracy (routed to LoRA)", title="Degraded clips: accuracy per scenario")
        ax.tick_params(axis="y", labelsize=7)
        fig.tight_layout()
        fig.savefig(out / "per_scenario.png")
        paths["per_scenario"] = str(out / "per_scenario.png")

    if r["per_severity"]:
        items = list(r["per_severity"].items())
        fig = _figure(6, 3.5)
        ax = fig.add_subplot()
        ax.bar([k for k, _ in items], [d["accuracy"] for _, d in items], color="tab:red")
        ax.axhline(r["clean_accuracy"], c="tab:blue", ls="--", label="clean accuracy")
        ax.set(ylim=(0, 1.05), xlabel="severity", ylabel="accuracy", title="Degraded clips: accuracy per severity")
        ax.tick_params(axis="x", labelsize=7)
        ax.legend(loc="lower right")
        fig.tight_layout()
        fig.savefig(out / "per_severity.png")
        paths["per_severity"] = str(out / "per_severity.png")

    fig = _figure(6, 3.5)
    ax = fig.add_subplot()
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores)
    bins = np.linspace(0, 1, 21)
    ax.hist(s[~y], bins=bins, alpha=0.6, label="clean")
    ax.hist(s[y], bins=bins, alpha=0.6, label="degraded")
    ax.axvline(thr, c="k", ls="--", label=f"threshold {thr:g}")
    ax.set(xlabel="P(degraded)", ylabel="clips", title="Router scores")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "prob_hist.png")
    paths["prob_hist"] = str(out / "prob_hist.png")
    return paths
