"""Write a scoring run: ``metrics.json``, ``report.md``, the scored manifest and PNG plots."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Mapping

from nemo_wild_eval.flags import HALLUCINATION_FLAGS, OMISSION_FLAGS
from nemo_wild_eval.scorer import ScoreResult

try:
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None

__all__ = ["write_report", "render_markdown", "write_manifest", "metric_name"]

MANIFEST_NAME = "manifest_scored.jsonl"
_MAX_SKIPPED_LISTED = 100


def metric_name(unit: str) -> str:
    """WER for words, CER for characters (``zh``), MER for a word/character mix (``auto``)."""
    return {"char": "CER", "mixed": "MER"}.get(unit, "WER")


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100.0 * x:.2f}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "key"


def _row(label: str, m: Mapping[str, Any]) -> str:
    return (
        f"| {label} | {m['utterances']} | {m['ref_words']} | **{_pct(m['wer'])}** | {_pct(m['sub_rate'])} | "
        f"{_pct(m['ins_rate'])} | {_pct(m['del_rate'])} | {_pct(m['ser'])} | {_pct(m['hallucination_rate'])} | "
        f"{_pct(m['omission_rate'])} |"
    )


def _header(first: str, metric: str) -> list[str]:
    return [
        f"| {first} | utts | ref tokens | {metric} % | sub % | ins % | del % | SER % | halluc. % | omission % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]


def render_markdown(result: ScoreResult, plots: Mapping[str, Path] | None = None) -> str:
    """The Markdown report: corpus table, one table per breakdown, severity, flags, skipped lines."""
    d = result.to_dict()
    metric = metric_name(result.unit)
    lines = ["# ASR scoring report", ""]
    srcs = ", ".join(f"`{s}` ({result.formats.get(s, '?')})" for s in result.sources)
    lines.append(f"- inputs: {srcs}")
    if result.model:
        lines.append(f"- hypotheses: transcribed by NeMo model `{result.model}`")
    lines.append(f"- preset: `{result.preset or 'none'}`")
    lines.append(f"- normaliser: `{result.normalizer}` (`{result.normalizer_version}`), unit: {result.unit}")
    lines.append(f"- aligner: {d['aligner']}")
    lines.append(
        f"- {metric} = (S + I + D) / N summed over the corpus (N = reference tokens after normalisation)"
    )
    lines.append(f"- skipped lines: {d['skipped_lines']}; empty references after normalisation: "
                 f"{d['empty_references']}")
    lines += ["", "## Overall", ""]
    lines += _header("set", metric)
    lines.append(_row("all", result.metrics))
    for key, groups in result.breakdowns.items():
        lines += ["", f"## {metric} by {key}", ""]
        if plots and f"wer_by:{key}" in plots:
            lines += [f"![{metric} by {key}]({plots[f'wer_by:{key}'].name})", ""]
        lines += _header(key.replace("+", " × "), metric)
        cross = "+" in key
        for label, m in groups.items():
            lines.append(_row(label.replace("|", " × ") if cross else label.replace("|", "\\|"), m))
    if result.severity:
        sev = result.severity
        lines += ["", f"## {metric} vs {sev['key']}", ""]
        if plots and "wer_vs_severity" in plots:
            lines += [f"![{metric} vs severity]({plots['wer_vs_severity'].name})", ""]
        lines += _header(sev["key"], metric)
        for b in sev["bins"]:
            lines.append(_row(b["label"], b))
    t = result.thresholds
    lines += [
        "",
        "## Hallucination and omission flags",
        "",
        "| flag | utterances | rule |",
        "|---|---:|---|",
    ]
    rules = {
        "output_on_empty_ref": "N = 0 and M > 0",
        "insertion_heavy": f"I ≥ {t.min_insertions} and I / N ≥ {t.insertion_rate}",
        "runaway": f"I ≥ {t.min_insertions} and M / N ≥ {t.length_ratio}",
        "repetition": f"a 1–{t.repeat_max_n}-gram repeated ≥ {t.repeat_min_count}× in a row, not so in the reference",
        "char_rate": f"more hypothesis than reference characters, > {t.max_char_rate:g} per second of `duration`",
        "empty_output": "N > 0 and M = 0",
        "large_deletion": f"M > 0, D ≥ {t.min_deletions} and D / N ≥ {t.deletion_rate}",
    }
    for k in HALLUCINATION_FLAGS + OMISSION_FLAGS:
        kind = "hallucination" if k in HALLUCINATION_FLAGS else "omission"
        lines.append(f"| {k} ({kind}) | {result.metrics['flags'][k]} | {rules[k]} |")
    lines.append("")
    lines.append(
        f"Hallucination rate {_pct(result.metrics['hallucination_rate'])} %, omission rate "
        f"{_pct(result.metrics['omission_rate'])} % of {result.metrics['utterances']} utterances "
        "(N, M = reference/hypothesis tokens)."
    )
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    if result.skipped:
        lines += ["", f"## Skipped lines ({len(result.skipped)})", ""]
        for b in result.skipped[:_MAX_SKIPPED_LISTED]:
            lines.append(f"- `{b.source}:{b.line}`: {b.reason}")
        if len(result.skipped) > _MAX_SKIPPED_LISTED:
            lines.append(f"- … and {len(result.skipped) - _MAX_SKIPPED_LISTED} more (all listed in metrics.json)")
    return "\n".join(lines) + "\n"


def write_manifest(result: ScoreResult, path: str | Path) -> Path:
    """The input records with per-utterance scores, one JSON object per line (a NeMo manifest)."""
    path = Path(path)
    with open(path, "wb") as f:
        if _orjson is not None:
            dumps = _orjson.dumps
            for rec in result.utterances():
                try:
                    f.write(dumps(rec))
                except TypeError:  # lone surrogates, exotic values: the stdlib writes them escaped
                    f.write(json.dumps(rec, default=str).encode("ascii"))
                f.write(b"\n")
        else:  # pragma: no cover
            for rec in result.utterances():
                f.write(json.dumps(rec, default=str).encode("ascii") + b"\n")
    return path


def write_plots(result: ScoreResult, out_dir: str | Path) -> dict[str, Path]:
    from nemo_wild_eval.plots import plot_wer_by_condition, plot_wer_vs_severity

    out_dir = Path(out_dir)
    metric = metric_name(result.unit)
    out: dict[str, Path] = {}
    for key, groups in result.breakdowns.items():
        if not groups:
            continue
        p = out_dir / f"wer_by_{_safe(key)}.png"
        out[f"wer_by:{key}"] = plot_wer_by_condition(
            groups, p, key=key.replace("+", " × "), title=f"{metric} by {key.replace('+', ' × ')}",
            ylabel=f"{metric} (%)",
        )
    if result.severity and result.severity["bins"]:
        out["wer_vs_severity"] = plot_wer_vs_severity(result.severity, out_dir / "wer_vs_severity.png", metric=metric)
    return out


def write_report(
    result: ScoreResult, out_dir: str | Path, *, plots: bool = True, manifest: bool = True
) -> dict[str, Path]:
    """Write ``metrics.json``, ``report.md``, ``manifest_scored.jsonl`` and PNG plots into ``out_dir``.

    Returns ``{"metrics": ..., "report": ..., "manifest": ..., "wer_by:<key>": ..., "wer_vs_severity":
    ...}`` (paths that were written).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    plot_paths = write_plots(result, out_dir) if plots else {}
    metrics_path = out_dir / "metrics.json"
    metrics_path.write_text(json.dumps(result.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    written["metrics"] = metrics_path
    report_path = out_dir / "report.md"
    report_path.write_text(render_markdown(result, plot_paths), encoding="utf-8")
    written["report"] = report_path
    if manifest:
        written["manifest"] = write_manifest(result, out_dir / MANIFEST_NAME)
    written.update(plot_paths)
    return written
