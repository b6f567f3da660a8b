"""The Mega-ASR recipe in miniature: does A2S-SFT, then DAPO with DG-WGPO, lower wild WER? Measured here.

    python benchmarks/recipe_mini.py --quick --out out/mini      # ~9 min on 2 cores, 1 RL seed
    python benchmarks/recipe_mini.py --out out/mini-full         # ~38 min, 3 RL seeds per reward
    python benchmarks/recipe_mini.py --plan smoke --out out/s    # ~5 min: every stage, numbers mean little

The stages, their outputs and the plans are documented in :mod:`wildasr.miniature.recipe`; `wildasr
demo` runs the same recipe as its ``train`` stage. A rerun with the same ``--out`` resumes.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from wildasr.miniature.recipe import PLANS, Recipe
from wildasr.miniature.report import fmt_pct


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out/mini")
    p.add_argument("--quick", action="store_true", help="~9 min, 1 RL seed (same as --plan quick)")
    p.add_argument("--plan", choices=sorted(PLANS), default=None, help="smoke | quick | full (default full)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    plan = PLANS[args.plan or ("quick" if args.quick else "full")]
    results = Recipe(Path(args.out), plan, args.seed).run()
    for s in results["stages"]:
        print(f"{s['name']:12s} clean {fmt_pct(s['wer_clean'], s.get('wer_clean_std')):>12s}  wild {fmt_pct(s['wer_wild'], s.get('wer_wild_std')):>12s}")
    print(f"results: {Path(args.out) / 'results.json'}, report: {Path(args.out) / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
