"""Demo stage 7: the training half of the recipe, in miniature (:mod:`wildasr.miniature.recipe`).

Why a separate corpus: the demo's base ASR (pocketsphinx) cannot be fine-tuned, and no audio LLM can
be downloaded here, so the recipe trains a 3 M-parameter native Qwen3-ASR from scratch on a closed
63-word grammar spoken by the same Piper voice, then runs A2S-SFT phases 1-3 (``wildasr sft``), DAPO in
verl's own trainer with 1 - WER and with DG-WGPO (``wildasr rl``, same seeds), the router, and scores
every stage on held-out clean + wild speech with ``nemo_wild_eval``. The numbers show the recipe's
mechanics on a toy model, not what it does for Qwen3-ASR (the README says which claims they carry).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

__all__ = ["TRAININGS", "run_training"]

TRAININGS = ("none", "smoke", "quick", "full")


def run_training(out: Path, plan_name: str, seed: int, rel: Callable[[Path], str],
                 log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run (or resume) the miniature recipe under ``out``; returns the report's summary of it."""
    from wildasr.miniature.recipe import PLANS, Recipe

    plan = PLANS[plan_name]
    results = Recipe(out, plan, seed, log=lambda m: log(f"[train] {m}")).run()
    rows = []
    for s in results["stages"]:
        rows.append({k: s.get(k) for k in ("name", "seed", "wer_clean", "wer_clean_std", "wer_wild", "wer_wild_std",
                                           "hallucination_rate", "omission_rate", "stage_seconds")})
    a2s = next(s for s in results["stages"] if s["name"] == "a2s_sft")
    rl_curves = results.get("rl_curves", {})
    zero_var = {k: [r.get("dgwgpo/zero_variance_share") for r in v] for k, v in rl_curves.items()}
    return {
        "status": "ok",
        "plan": plan_name,
        "plan_sizes": results["plan"],
        "corpus": results["corpus"],
        "split": results["split"],
        "base_parameters": results["base_training"].get("parameters"),
        "rows": rows,
        "sft_phases": a2s.get("phases", {}),
        "rl_zero_variance_share": zero_var,
        "total_seconds": results["total_seconds"],
        "files": {"report": rel(out / "report.md"), "results": rel(out / "results.json")},
        "plots": {"WER by stage": rel(out / "wer_by_stage.png"), "RL group statistics": rel(out / "rl_curves.png")},
    }
