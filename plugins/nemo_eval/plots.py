"""PNG plots (matplotlib's Agg canvas; never touches pyplot's global backend, safe in any process).

Both helpers take the plain dicts found in ``metrics.json`` so other code (the demo, notebooks) can
reuse them on its own numbers:

- :func:`plot_wer_by_condition` — ``{condition: {"wer": ..., "utterances": ...}}`` -> bar chart; for a
  cross key (values ``"real|noise"``) grouped bars, one colour per first part.
- :func:`plot_wer_vs_severity` — ``result.severity`` (``{"key", "bins": [...], "series": {...}}``) ->
  WER per severity bin, overall and one line per series value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

__all__ = ["plot_wer_by_condition", "plot_wer_vs_severity", "plot_bars"]

_MAX_BARS = 60


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    FigureCanvasAgg(fig)
    return fig


def _pct(x: Any) -> float:
    return float("nan") if x is None else 100.0 * float(x)


def plot_bars(
    labels: Sequence[str],
    values: Sequence[float | None],
    path: str | Path,
    *,
    title: str = "",
    ylabel: str = "WER (%)",
    counts: Sequence[int] | None = None,
) -> Path:
    """A plain bar chart of percentages (``values`` are fractions; None bars are left empty)."""
    path = Path(path)
    fig = _figure(max(5.0, 0.45 * len(labels) + 2.0), 4.0)
    ax = fig.add_subplot(1, 1, 1)
    ys = [_pct(v) for v in values]
    bars = ax.bar(range(len(labels)), ys, color="#4C72B0")
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=45 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    if counts is not None and len(labels) <= 30:
        for b, y, c in zip(bars, ys, counts):
            if y == y:  # not NaN
                ax.annotate(f"n={c}", (b.get_x() + b.get_width() / 2, y), ha="center", va="bottom", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_wer_by_condition(
    breakdown: Mapping[str, Mapping[str, Any]],
    path: str | Path,
    *,
    title: str | None = None,
    key: str = "condition",
    metric: str = "wer",
    ylabel: str | None = None,
) -> Path:
    """Bar chart of ``metric`` per condition; grouped bars when the labels are ``"a|b"`` crosses."""
    path = Path(path)
    items = list(breakdown.items())[:_MAX_BARS]
    title = title or f"{metric.upper()} by {key}"
    ylabel = ylabel or f"{metric.upper()} (%)"
    if items and all("|" in lab for lab, _ in items):
        outer: list[str] = []
        inner: list[str] = []
        for lab, _ in items:
            a, b = lab.split("|", 1)
            if b not in outer:
                outer.append(b)
            if a not in inner:
                inner.append(a)
        values = {tuple(lab.split("|", 1)): m.get(metric) for lab, m in items}
        fig = _figure(max(5.0, 0.5 * len(outer) * max(1, len(inner)) + 2.0), 4.2)
        ax = fig.add_subplot(1, 1, 1)
        width = 0.8 / max(1, len(inner))
        for j, a in enumerate(inner):
            xs = [x + (j - (len(inner) - 1) / 2) * width for x in range(len(outer))]
            ax.bar(xs, [_pct(values.get((a, b))) for b in outer], width=width, label=a)
        ax.set_xticks(range(len(outer)))
        ax.set_xticklabels(outer, rotation=45 if len(outer) > 6 else 0, ha="right" if len(outer) > 6 else "center")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
        return path
    return plot_bars(
        [lab for lab, _ in items],
        [m.get(metric) for _, m in items],
        path,
        title=title,
        ylabel=ylabel,
        counts=[int(m.get("utterances", 0)) for _, m in items],
    )


def plot_wer_vs_severity(
    severity: Mapping[str, Any], path: str | Path, *, title: str | None = None, metric: str = "WER"
) -> Path:
    """WER per severity bin (overall, thick) and per series value (e.g. degradation category)."""
    path = Path(path)
    bins = list(severity["bins"])
    labels = [b["label"] for b in bins]
    numeric = all(b.get("center") is not None for b in bins)
    xs = [b["center"] for b in bins] if numeric else list(range(len(bins)))
    fig = _figure(6.5, 4.2)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot(xs, [_pct(b.get("wer")) for b in bins], "o-", color="black", linewidth=2.5, label="all")
    pos = dict(zip(labels, xs))
    for name, rows in list(severity.get("series", {}).items())[:10]:
        pts = [(pos[r["label"]], _pct(r.get("wer"))) for r in rows if r["label"] in pos]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], ".--", alpha=0.8, label=name)
    if not numeric:
        ax.set_xticks(xs)
        ax.set_xticklabels(labels)
    ax.set_xlabel(severity.get("key", "severity"))
    ax.set_ylabel(f"{metric} (%)")
    ax.set_title(title or f"{metric} vs {severity.get('key', 'severity')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path)
    return path
