"""The miniature's results table (``results.json``), ``report.md`` and plots, from the stage summaries."""

from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any

__all__ = ["build_results", "fmt_pct", "write_report"]


def _mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def build_results(stages: dict, plan: Any, seed: int, seconds: float) -> dict:
    rows = stages["eval"]["rows"]
    by_name: dict[str, list[dict]] = {}
    for r in rows:
        by_name.setdefault(r["name"], []).append(r)
    out_stages = []
    phase3 = by_name["a2s_sft_phase3"][0]
    out_stages.append({**by_name["base"][0], "seed": seed, "stage_seconds": stages["base"]["seconds"]})
    out_stages.append({**phase3, "name": "a2s_sft", "seed": seed, "stage_seconds": stages["sft"]["seconds"],
                       "phases": {p: {k: by_name[f"a2s_sft_phase{p}"][0][k] for k in ("wer_clean", "wer_wild")}
                                  for p in ("1", "2", "3")}})
    for name in ("dapo_wer", "dapo_dgwgpo", "routed"):
        runs = by_name.get(name, [])
        mc, sc = _mean_std([r["wer_clean"] for r in runs])
        mw, sw = _mean_std([r["wer_wild"] for r in runs])
        out_stages.append({"name": name, "seed": [r["seed"] for r in runs], "wer_clean": mc, "wer_clean_std": sc,
                           "wer_wild": mw, "wer_wild_std": sw, "runs": runs,
                           "stage_seconds": stages["rl"]["seconds"] if name.startswith("dapo") else stages["router"]["seconds"]})
    rl_curves = {k: v["per_step"] for k, v in stages["rl"]["runs"].items()}
    return {"plan": asdict(plan), "seed": seed, "total_seconds": round(seconds, 1),
            "stage_seconds": {k: v.get("seconds") for k, v in stages.items()},
            "corpus": stages["corpus"], "split": stages["split"],
            "base_training": {k: stages["base"].get(k) for k in ("parameters", "steps", "train_seconds", "loss_curve", "sizes")},
            "stages": out_stages, "rl_curves": rl_curves}


def fmt_pct(v: Any, std: Any = None) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    s = f"{100 * v:.1f}"
    return s + (f" ± {100 * std:.1f}" if std not in (None, 0.0) and std == std else "")


def write_report(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["# The recipe in miniature", "",
             f"Plan: {results['plan']}", "",
             "| stage | WER clean % | WER wild % | hallucination % | omission % | stage time s |",
             "|---|---:|---:|---:|---:|---:|"]
    for s in results["stages"]:
        hall = s.get("hallucination_rate") if "runs" not in s else _mean_std([r["hallucination_rate"] for r in s["runs"]])[0]
        omi = s.get("omission_rate") if "runs" not in s else _mean_std([r["omission_rate"] for r in s["runs"]])[0]
        lines.append(f"| {s['name']} | {fmt_pct(s['wer_clean'], s.get('wer_clean_std'))} | {fmt_pct(s['wer_wild'], s.get('wer_wild_std'))} "
                     f"| {fmt_pct(hall)} | {fmt_pct(omi)} | {s.get('stage_seconds', '–')} |")
    a2s = next(s for s in results["stages"] if s["name"] == "a2s_sft")
    lines += ["", "A2S-SFT by phase (clean / wild WER %): "
              + ", ".join(f"phase {p}: {fmt_pct(v['wer_clean'])} / {fmt_pct(v['wer_wild'])}" for p, v in a2s["phases"].items()), ""]
    base = results["stages"][0]
    lines += ["Wild WER by anchor effect (%):", "", "| stage | " + " | ".join(sorted(base["wer_wild_by_anchor"])) + " |",
              "|---|" + "---:|" * len(base["wer_wild_by_anchor"])]
    for s in results["stages"]:
        src = s if "runs" not in s else s["runs"][0]
        lines.append(f"| {s['name']} | " + " | ".join(fmt_pct(src.get("wer_wild_by_anchor", {}).get(k))
                                                      for k in sorted(base["wer_wild_by_anchor"])) + " |")
    lines += ["", "Wild WER by severity bucket (%):", "", "| stage | low | mid | high |", "|---|---:|---:|---:|"]
    for s in results["stages"]:
        src = s if "runs" not in s else s["runs"][0]
        sev = src.get("wer_wild_by_severity", {})
        lines.append(f"| {s['name']} | {fmt_pct(sev.get('low'))} | {fmt_pct(sev.get('mid'))} | {fmt_pct(sev.get('high'))} |")
    lines += ["", "(RL rows: mean ± std over seeds; anchor/severity tables: first seed.)", "",
              f"Total {results['total_seconds']:.0f} s this run; per stage {results['stage_seconds']}.", ""]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for key, curve in results["rl_curves"].items():
        steps = [r["step"] for r in curve]
        style = "-" if key.startswith("dgwgpo") else "--"
        axes[0].plot(steps, [r.get("dgwgpo/zero_variance_share") for r in curve], style, label=key)
        axes[1].plot(steps, [r.get("dgwgpo/mean_group_std") for r in curve], style, label=key)
    axes[0].set_title("zero-variance group share per step")
    axes[1].set_title("within-group reward std per step")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "rl_curves.png", dpi=110)
    plt.close(fig)
    _plot_wer_by_stage(results["stages"], out / "wer_by_stage.png", plt)
    lines += ["![RL curves](rl_curves.png)", "", "![WER by stage](wer_by_stage.png)", ""]
    (out / "report.md").write_text("\n".join(lines))


_LABELS = {"base": "base", "a2s_sft": "A2S-SFT", "dapo_wer": "DAPO\n1 − WER", "dapo_dgwgpo": "DAPO\nDG-WGPO",
           "routed": "routed"}


def _plot_wer_by_stage(stages: list[dict], path: Path, plt: Any) -> None:
    """Clean and wild WER side by side per stage; RL rows carry their seed std as error bars."""
    import numpy as np

    x = np.arange(len(stages))
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for offset, key, color, label in ((-0.2, "wer_clean", "tab:blue", "clean"), (0.2, "wer_wild", "tab:red", "wild")):
        vals = [100 * (s[key] if s[key] == s[key] and s[key] is not None else 0.0) for s in stages]
        errs = [100 * (s.get(f"{key}_std") or 0.0) for s in stages]
        bars = ax.bar(x + offset, vals, 0.4, yerr=errs, capsize=3, color=color, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_xticks(x, [_LABELS.get(s["name"], s["name"]) for s in stages], fontsize=8)
    ax.set_ylabel("held-out WER %")
    ax.set_ylim(0, max(100.0, ax.get_ylim()[1]))
    ax.legend(fontsize=8)
    ax.set_title("WER by stage (error bars: std over RL seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
