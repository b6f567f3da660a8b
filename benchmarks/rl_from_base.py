"""DAPO straight from the base model: 1 - WER vs DG-WGPO where flat groups are common. Measured here.

    python benchmarks/rl_from_base.py --recipe-out out/demo/train --steps 12 --seeds 0 1 2
    python benchmarks/rl_from_base.py --recipe-out out/demo/train --rewards wer dgwgpo dgwgpo_no_struc

Why: in the recipe in miniature, RL starts from the A2S-SFT model and its rollout groups were rarely
flat, so the case DG-WGPO is built for (1 - WER giving every rollout of a badly failed group the same
reward, hence no gradient) hardly occurred. Starting from the base model (wild WER ~80 %) on the same
RL split makes it common. Everything else is the recipe's own RL stage (``Recipe.rl_run``: rank-8
LoRA, the plan's batch, group size and learning rate), the same seeds for both rewards, held-out
clean + wild WER scored by ``nemo_wild_eval``. Needs a finished recipe directory (``wildasr demo``'s
``train`` stage or ``benchmarks/recipe_mini.py``); writes ``OUT/rl_from_base/{results.json,report.md,*.png}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from pathlib import Path

from wildasr.miniature.recipe import PLANS, Recipe
from wildasr.miniature.report import fmt_pct

FLAT_KEYS = ("dgwgpo/dynamic_sampling/resampled_group_share", "dgwgpo/dynamic_sampling/dropped_group_share")


def _mean_std(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--recipe-out", required=True, help="a finished recipe directory (has base/, split/, corpus/)")
    p.add_argument("--plan", choices=sorted(PLANS), default="quick", help="the plan it was built with (RL sizes)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--rewards", nargs="+", default=["wer", "dgwgpo"],
                   help="reward names from verl_dgwgpo.rewards (e.g. dgwgpo_no_struc); finished runs are reused")
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    from wildasr.miniature.evaluate import records_for, summarize, transcribe_cuts

    root = Path(args.recipe_out)
    for need in ("base/model/config.json", "split/rl.jsonl.gz", "corpus/heldout/cuts.jsonl.gz", "wild/heldout.jsonl.gz"):
        if not (root / need).exists():
            raise SystemExit(f"rl_from_base: {root / need} is missing; run the recipe into {root} first")
    recipe = Recipe(root, PLANS[args.plan], seed=0)
    out = root / "rl_from_base"
    heldout = recipe.cuts("corpus/heldout/cuts.jsonl.gz") + recipe.cuts("wild/heldout.jsonl.gz")
    recs = records_for(heldout)
    base = root / "base" / "model"
    rows = [{"name": "base", "seed": None,
             **summarize([{**r, "pred_text": h} for r, h in zip(recs, transcribe_cuts(heldout, base))])}]
    runs = {}
    from verl_dgwgpo.rewards import REWARDS

    unknown = [r for r in args.rewards if r not in REWARDS]
    if unknown:
        raise SystemExit(f"rl_from_base: unknown reward(s) {unknown}; known: {sorted(REWARDS)}")
    for reward in args.rewards:
        for seed in args.seeds:
            key = f"{reward}_seed{seed}"
            print(f"[rl_from_base] {key} ...", flush=True)
            runs[key] = recipe.rl_run(reward, seed, base, out / key, args.steps)
            hyps = transcribe_cuts(heldout, base, Path(runs[key]["adapter"]))
            rows.append({"name": f"dapo_{reward}", "seed": seed, **summarize([{**r, "pred_text": h} for r, h in zip(recs, hyps)])})
            print(f"[rl_from_base] {key}: clean {fmt_pct(rows[-1]['wer_clean'])} wild {fmt_pct(rows[-1]['wer_wild'])}", flush=True)
    table = []
    for name in ["base", *(f"dapo_{r}" for r in args.rewards)]:
        sel = [r for r in rows if r["name"] == name]
        mc, sc = _mean_std([r["wer_clean"] for r in sel])
        mw, sw = _mean_std([r["wer_wild"] for r in sel])
        steps = [st for v in runs.values() if f"dapo_{v['reward']}" == name for st in v["per_step"]]
        flat = [st[FLAT_KEYS[0]] for st in steps if st.get(FLAT_KEYS[0]) is not None]
        drop = [st[FLAT_KEYS[1]] for st in steps if st.get(FLAT_KEYS[1]) is not None]
        table.append({"name": name, "wer_clean": mc, "wer_clean_std": sc, "wer_wild": mw, "wer_wild_std": sw,
                      "flat_at_first_sampling": statistics.fmean(flat) if flat else None,
                      "flat_after_resampling": statistics.fmean(drop) if drop else None})
    results = {"recipe_out": str(root), "plan": args.plan, "steps": args.steps, "seeds": args.seeds, "rewards": args.rewards,
               "table": table, "rows": rows, "runs": runs}
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    _write_report(results, out)
    for t in table:
        print(f"{t['name']:12s} clean {fmt_pct(t['wer_clean'], t['wer_clean_std']):>12s}  wild "
              f"{fmt_pct(t['wer_wild'], t['wer_wild_std']):>12s}  flat groups {fmt_pct(t['flat_at_first_sampling'])}")
    print(f"results: {out / 'results.json'}, report: {out / 'report.md'}")
    return 0


def _write_report(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["# DAPO from the base model: 1 − WER vs DG-WGPO", "",
             f"Recipe directory `{results['recipe_out']}` (plan `{results['plan']}`), {results['steps']} RL steps, "
             f"seeds {', '.join(map(str, results['seeds']))} for both rewards. Flat = every rollout of the group got "
             "the same reward (share of groups per step, mean over steps and seeds); flat groups are re-sampled, "
             "then dropped from the loss if still flat.", "",
             "| start / reward | WER clean % | WER wild % | flat at first sampling % | still flat (dropped) % |",
             "|---|---:|---:|---:|---:|"]
    for t in results["table"]:
        lines.append(f"| {t['name']} | {fmt_pct(t['wer_clean'], t['wer_clean_std'])} | {fmt_pct(t['wer_wild'], t['wer_wild_std'])} "
                     f"| {fmt_pct(t['flat_at_first_sampling'])} | {fmt_pct(t['flat_after_resampling'])} |")
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for key, run in results["runs"].items():
        steps = [s["step"] for s in run["per_step"]]
        ax.plot(steps, [s.get(FLAT_KEYS[0]) for s in run["per_step"]], "--" if run["reward"] == "wer" else "-", label=key)
    ax.set_xlabel("step")
    ax.set_ylabel("share of flat groups")
    ax.set_title("groups flat at first sampling, per step", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "flat_groups.png", dpi=110)
    plt.close(fig)
    lines += ["", "![flat groups per step](flat_groups.png)", ""]
    (out / "report.md").write_text("\n".join(lines))


if __name__ == "__main__":
    raise SystemExit(main())
