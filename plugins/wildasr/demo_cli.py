"""``wildasr demo``: the whole recipe end to end on a corpus it synthesises itself (issue 9).

Writes ``OUT/report.md`` + ``OUT/report.html`` (tables, PNG plots), ``OUT/metrics.json`` and every
CutSet/manifest it came from. Rerunning with the same options resumes: finished stages and items are
skipped. ``--small`` is a sub-minute run (12 utterances, each of the 54 scenarios once, no training).
"""

from __future__ import annotations

import argparse
import os
import sys


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "demo",
        help="run the whole recipe end to end on a synthetic corpus; report in OUT/report.md",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="out/demo", help="output directory (default %(default)s)")
    p.add_argument("--small", action="store_true", help="sub-minute run: 12 utterances, each scenario once")
    p.add_argument("--seed", type=int, default=0, help="seed for sentence order, severities, splits")
    p.add_argument("--num-utterances", type=int, default=None,
                   help="clean utterances to synthesise (default 240; 12 with --small)")
    p.add_argument("--per-scenario", type=int, default=None,
                   help="degraded cuts per scenario (default 5, i.e. 270 wild cuts; 1 with --small)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="processes for synthesis and transcription (default %(default)s)")
    p.add_argument("--nbest", type=int, default=8, help="n-best list size = rollout group size (default 8)")
    p.add_argument("--sentences", default=None, help="sentence list (default: the shipped data/sentences_en.txt)")
    p.add_argument("--rl-ratio", type=float, default=None, help="share of medium/high-WER cuts in the RL split")
    p.add_argument("--router-steps", type=int, default=None, help="router training steps (default 150; 30 with --small)")
    p.add_argument("--training", choices=["none", "smoke", "quick", "full"], default=None,
                   help="the training half in miniature (A2S-SFT + DAPO in verl): quick ~9 min (default), "
                        "smoke ~5 min, full ~40 min, none (the --small default)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nemo_wild_eval.errors import BackendUnavailable
    from wildasr.demo import DemoConfig, is_disk_full, run_demo
    from wildasr.report import summary_lines

    cfg = DemoConfig(
        out=Path(args.out), seed=args.seed, num_utterances=args.num_utterances, per_scenario=args.per_scenario,
        small=args.small, workers=args.workers, nbest=args.nbest, sentences=args.sentences,
        rl_ratio=args.rl_ratio, router_steps=args.router_steps, training=args.training,
        progress=not args.no_progress,
    )
    try:
        metrics = run_demo(cfg)
    except BackendUnavailable as exc:
        print(f"wildasr demo: a speech backend is missing: {exc}\n"
              "  install the audio extra (pip install -e '.[audio]') or run `bash scripts/setup_env.sh`; "
              "rerun to resume", file=sys.stderr)
        return 1
    except OSError as exc:
        if is_disk_full(exc):
            print(f"wildasr demo: the disk is full while writing under {args.out} ({exc}).\n"
                  "  free some space or pass --out on another disk; rerunning resumes from what is on disk",
                  file=sys.stderr)
            return 1
        raise
    print()
    for line in summary_lines(metrics):
        print(line)
    return 0
