"""Where a DAPO step's time goes, 1 - WER vs DG-WGPO, on the same tiny run (``wildasr rl --tiny``).

Runs ``wildasr rl --tiny`` twice with the same seed and sizes, once per reward, and prints verl's own
step timers (``timing_s/*``: generation incl. the streamed reward, old log-prob recomputation, actor
update, weight push to the rollout server, the whole step) averaged over the steps after the first
(warm-up), then the reward's share of a step. In verl 0.9.1 the reward runs inside the agent loop
while rollouts are generated (``timing_s/agent_loop/compute_score``, per rollout); its share is the
summed per-rollout reward time over the step time (an upper bound: scoring overlaps generation).
It also prints what DAPO's dynamic sampling had to do under each reward (samplings per group, groups
still flat and dropped). Finally the two reward functions are timed directly on the rollouts the runs produced
(``trainer.rollout_data_dir`` dumps), which isolates their compute from everything else.

    python benchmarks/rl_step.py --steps 4 --out out/bench_rl
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

PHASES = (
    ("generate (+ streamed reward)", "timing_s/gen"),
    ("old log-prob", "timing_s/old_log_prob"),
    ("actor update", "timing_s/update_actor"),
    ("weights -> rollout", "timing_s/update_weights"),
    ("checkpoint", "timing_s/save_checkpoint"),
    ("whole step", "timing_s/step"),
)


def run(reward: str, args: argparse.Namespace) -> tuple[list[dict], Path]:
    out = Path(args.out) / reward
    dump = out / "rollouts"
    cmd = [
        sys.executable, "-m", "wildasr.cli", "rl", "--tiny", "--steps", str(args.steps), "--out", str(out),
        "--reward", reward, "--seed", str(args.seed), "--batch-size", str(args.batch_size),
        "--group-size", str(args.group_size), "--save-every", str(args.steps), "--no-export",
        "--", f"trainer.rollout_data_dir={dump.resolve()}",
    ]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True)
    print(f"[{reward}] wall {time.monotonic() - t0:.0f} s (incl. Ray and worker start-up)", flush=True)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return rows, dump


def mean(rows: list[dict], key: str) -> float:
    vals = [float(r[key]) for r in rows if key in r]
    return statistics.fmean(vals) if vals else float("nan")


def pairs(dump: Path) -> list[tuple[str, str]]:
    """(hypothesis, reference) of every dumped rollout (verl writes ``output`` and ``gts``)."""
    from nemo_wild_eval.text import parse_asr_output

    out = []
    for path in sorted(dump.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            out.append((parse_asr_output(str(rec.get("output", ""))), str(rec.get("gts", ""))))
    return out


def time_reward(name: str, data: list[tuple[str, str]], repeat: int = 5) -> float:
    from verl_dgwgpo.rewards import score

    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for hyp, ref in data:
            score(name, hyp, ref)
        best = min(best, time.perf_counter() - t0)
    return best / max(1, len(data))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out/bench_rl")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--group-size", type=int, default=4)
    args = p.parse_args()
    if args.steps < 2:
        p.error("--steps must be >= 2 (the first step is warm-up)")
    results = {}
    for reward in ("wer", "dgwgpo"):
        rows, dump = run(reward, args)
        results[reward] = {"rows": rows[1:], "pairs": pairs(dump)}
    rollouts = args.batch_size * args.group_size
    print(f"\nmean over steps 2..{args.steps}, {args.batch_size} prompts x {args.group_size} rollouts, tiny Qwen3-ASR, CPU")
    print(f"{'phase':32s} {'1 - WER':>10s} {'DG-WGPO':>10s}")
    for label, key in PHASES:
        a, b = (mean(results[r]["rows"], key) for r in ("wer", "dgwgpo"))
        print(f"{label:32s} {a:9.3f}s {b:9.3f}s")
    print()
    for reward in ("wer", "dgwgpo"):
        rows = results[reward]["rows"]
        per = mean(rows, "timing_s/agent_loop/compute_score/mean")
        step = mean(rows, "timing_s/step")
        print(f"{reward:7s} reward in the loop: {per * 1e3:7.2f} ms/rollout x {rollouts} = "
              f"{per * rollouts:6.3f} s of a {step:6.3f} s step ({100 * per * rollouts / step:5.1f} %, upper bound)")
    print()
    for reward in ("wer", "dgwgpo"):
        rows = results[reward]["rows"]
        print(f"{reward:7s} dynamic sampling: {mean(rows, 'dgwgpo/dynamic_sampling/mean_samplings'):.2f} samplings per group, "
              f"{100 * mean(rows, 'dgwgpo/dynamic_sampling/dropped_group_share'):.0f} % of groups still flat and dropped, "
              f"group reward std {mean(rows, 'dgwgpo/mean_group_std'):.3f}")
    data = results["dgwgpo"]["pairs"] + results["wer"]["pairs"]
    if data:
        t_wer, t_dg = time_reward("wer", data), time_reward("dgwgpo", data)
        print(f"\nreward functions alone on the {len(data)} dumped rollouts: 1 - WER {t_wer * 1e6:.1f} us, "
              f"DG-WGPO {t_dg * 1e6:.1f} us per rollout (DG-WGPO / 1 - WER = {t_dg / t_wer:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
