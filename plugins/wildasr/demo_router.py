"""Demo stage 6: the clean/degraded router, trained briefly on the demo's own corpus, held-out accuracy.

Why: the router decides at inference whether the robust LoRA is switched on; its accuracy only means
something on speech, scenarios and severities it never trained on. The split is the router library's
own held-out protocol (:func:`verl_dgwgpo.router.data.make_splits` with the demo's wild CutSet: test
utterances with all their degraded copies, held-out scenarios and a held-out severity band go to
test). Training is a fixed number of steps (reproducible), not a wall-clock budget.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

__all__ = ["train_and_evaluate"]


def train_and_evaluate(router_mod: Any, clean_cuts: Any, wild_cuts: Any, out: Path, rel: Callable[[Path], str], *,
                       steps: int, seed: int = 0, progress: bool = True) -> dict:
    """Split, train ``steps`` steps, evaluate on the held-out part; returns the report's summary."""
    from verl_dgwgpo.router.data import make_splits
    from verl_dgwgpo.router.evaluate import evaluate_router
    from verl_dgwgpo.router.train import train_router

    import torch

    out.mkdir(parents=True, exist_ok=True)
    splits = make_splits(clean_cuts, wild_cuts, seed=seed)
    # One intra-op thread: a 1.2 M-parameter model gains little from a second one, and on a busy or
    # shared 2-core machine spin-waiting threads made each step ~4x slower (measured).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, train_m = train_router(splits.train_clean, splits.train_degraded, steps=steps, seed=seed,
                                      out_dir=out / "model", progress=progress)
        ev = evaluate_router(model, splits.test_clean, splits.test_degraded, out_dir=out / "eval")
    finally:
        torch.set_num_threads(threads)
    files = {"model config": rel(out / "model" / "config.json"),
             "model weights": rel(out / "model" / "router.safetensors"), "evaluation": rel(out / "eval" / "router_eval.md"),
             "metrics": rel(out / "eval" / "router_eval.json"), "predictions": rel(out / "eval" / "predictions.jsonl"),
             "training metrics": rel(out / "model" / "train_metrics.json")}
    plots = {k: rel(Path(v)) for k, v in (ev.get("plots") or {}).items()}
    groups = ev.get("per_group", {})
    rows = [["all held-out clips", ev["n_clean"] + ev["n_degraded"], f"{100 * ev['accuracy']:.1f} %",
             f"{100 * ev['balanced_accuracy']:.1f} %", f"{ev['auc']:.3f}"],
            ["clean (unheard speech)", ev["n_clean"], f"{100 * ev['clean_accuracy']:.1f} %", "", ""],
            ["degraded (all)", ev["n_degraded"], f"{100 * ev['degraded_accuracy']:.1f} %", "", ""]]
    for g, d in groups.items():
        rows.append([f"degraded: {g}", d["n"], f"{100 * d['accuracy']:.1f} %", f"{100 * d['balanced_accuracy']:.1f} %",
                     f"{d['auc']:.3f}"])
    sev_rows = [[k, d["n"], f"{100 * d['accuracy']:.1f} %", f"{d['mean_prob']:.2f}"]
                for k, d in ev.get("per_severity", {}).items()]
    tables = [{"title": f"Held-out evaluation (threshold {ev['threshold']}; balanced accuracy and AUC are each group "
                        "against the clean test clips)",
               "header": ["test set", "clips", "accuracy", "balanced accuracy", "AUC"], "rows": rows}]
    if sev_rows:
        tables.append({"title": "Degraded test clips by severity (low severities are nearly clean: misses expected)",
                       "header": ["severity", "clips", "routed to LoRA", "mean P(degraded)"], "rows": sev_rows})
    notes = [f"{train_m['parameters']:,} parameters, {train_m['steps']} steps ({train_m['train_seconds']:.0f} s) on "
             f"{train_m['n_clean']} clean + {train_m['n_degraded']} degraded training clips; split "
             f"{splits.summary()}."]
    summary = {
        "status": "ok",
        "accuracy": ev["accuracy"],
        "balanced_accuracy": ev["balanced_accuracy"],
        "clean_accuracy": ev["clean_accuracy"],
        "wild_accuracy": ev["degraded_accuracy"],
        "auc": ev["auc"],
        "per_group": groups,
        "split": splits.summary(),
        "train": train_m,
        "tables": tables,
        "notes": notes,
        "plots": plots,
        "files": {**files, **{f"plot: {k}": v for k, v in plots.items()}},
    }
    return _with_other_simulators(summary, model, splits.test_clean, out, rel, seed)


def _with_other_simulators(summary: dict, model: Any, clean: Any, out: Path, rel: Callable[[Path], str],
                           seed: int) -> dict:
    """The cross-simulator check (verl_dgwgpo.router.cross_sim) added to the stage's summary."""
    from verl_dgwgpo.router.cross_sim import cross_simulator_eval, report_table

    xs = cross_simulator_eval(model, clean, seed=seed, out_dir=out / "other_sim")
    summary["other_sim_accuracy"] = xs["degraded_accuracy"]
    summary["other_sim_clean_accuracy"] = xs["clean_accuracy"]
    summary["other_sim_per_effect"] = {e: d["accuracy"] for e, d in xs["per_effect"].items()}
    summary["tables"].append(report_table(xs))
    summary["files"]["cross-simulator evaluation"] = rel(out / "other_sim" / "router_eval.md")
    return summary
