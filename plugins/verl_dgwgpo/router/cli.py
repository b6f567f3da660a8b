"""``wildasr router train|eval``: train the clean/degraded router and measure it on held-out data.

``train``: clean CutSet in (and optionally ``lhotse_wild`` output); held-out speech, scenarios and
severities are split off (see :mod:`verl_dgwgpo.router.data`), the router trains on the rest for
``--seconds`` (or ``--steps``), is saved to ``OUT/router`` and evaluated on the held-out part
(``OUT/eval``: JSON, Markdown, PNG plots). ``eval``: a saved router on any clean + degraded CutSets.
Both then run the cross-simulator check (:mod:`verl_dgwgpo.router.cross_sim`: the clean test clips
degraded by audiomentations / pedalboard, accuracy per effect; ``--no-other-sim`` skips it).
"""

from __future__ import annotations

import argparse
import json


def _severity_band(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO:HI (e.g. 0.4:0.55), got {text!r}") from None
    return lo, hi


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("router", help="train / evaluate the clean-vs-degraded LoRA router",
                              description=__doc__.split("\n\n")[1] if __doc__ else None)
    sub = p.add_subparsers(dest="router_command", metavar="{train,eval}")
    t = sub.add_parser("train", help="train on clean cuts vs lhotse_wild output, evaluate on held-out data")
    t.add_argument("--clean", required=True, help="clean CutSet manifest (jsonl/jsonl.gz)")
    t.add_argument("--degraded", help="lhotse_wild output CutSet (default: simulate from --clean)")
    t.add_argument("--out", required=True, help="output directory (OUT/router, OUT/eval)")
    t.add_argument("--seconds", type=float, default=60.0, help="training wall-clock budget (default 60)")
    t.add_argument("--steps", type=int, help="exact number of steps (reproducible; overrides --seconds)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--per-clip", type=int, default=4, help="simulated degraded copies per clean clip")
    t.add_argument("--test-fraction", type=float, default=0.25, help="share of clean utterances held out")
    t.add_argument("--holdout-scenarios", default=None,
                   help="comma-separated scenarios kept out of training (default: 7 compound scenarios)")
    t.add_argument("--holdout-severity", type=_severity_band, default=None, metavar="LO:HI",
                   help="severity band kept out of training (default 0.4:0.55)")
    t.add_argument("--threshold", type=float, default=0.5)
    t.add_argument("--quiet", action="store_true")
    t.add_argument("--no-other-sim", action="store_true", help="skip the cross-simulator check")
    t.set_defaults(func=run)
    e = sub.add_parser("eval", help="evaluate a saved router on clean + degraded CutSets")
    e.add_argument("--router", required=True, help="router directory (config.json + router.safetensors)")
    e.add_argument("--clean", required=True, help="clean CutSet manifest")
    e.add_argument("--degraded", required=True, help="degraded CutSet manifest (lhotse_wild output)")
    e.add_argument("--out", required=True, help="report directory")
    e.add_argument("--threshold", type=float, help="override the saved threshold")
    e.add_argument("--seed", type=int, default=0, help="seed of the cross-simulator chains")
    e.add_argument("--no-other-sim", action="store_true", help="skip the cross-simulator check")
    e.set_defaults(func=run)
    p.set_defaults(func=run)
    return p


def _cuts(path: str):
    from pathlib import Path

    from lhotse import CutSet

    from nemo_wild_eval.errors import InputError

    if not Path(path).exists():
        raise InputError("no such file", source=path)
    try:
        return CutSet.from_file(path)
    except Exception as exc:  # lhotse raises many types for a bad manifest
        raise InputError(f"not a Lhotse CutSet manifest ({exc})", source=path) from None


def _print(result: dict) -> None:
    keys = ("accuracy", "balanced_accuracy", "clean_accuracy", "degraded_accuracy", "auc")
    print("  ".join(f"{k}={result[k]:.4f}" for k in keys))
    for g, d in result.get("per_group", {}).items():
        print(f"  {g:18s} n={d['n']:4d} accuracy={d['accuracy']:.4f} auc={d['auc']:.4f}")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    cmd = getattr(args, "router_command", None)
    if cmd is None:
        print("usage: wildasr router {train,eval} ... (see --help)")
        return 2
    from verl_dgwgpo.router.evaluate import evaluate_router

    out = Path(args.out)
    if cmd == "train":
        from verl_dgwgpo.router.data import DEFAULT_HOLDOUT_SCENARIOS, DEFAULT_HOLDOUT_SEVERITY, make_splits
        from verl_dgwgpo.router.model import RouterConfig
        from verl_dgwgpo.router.train import train_router

        holdout = (tuple(s.strip() for s in args.holdout_scenarios.split(",") if s.strip())
                   if args.holdout_scenarios is not None else DEFAULT_HOLDOUT_SCENARIOS)
        splits = make_splits(_cuts(args.clean), _cuts(args.degraded) if args.degraded else None,
                             holdout_scenarios=holdout, holdout_severity=args.holdout_severity or DEFAULT_HOLDOUT_SEVERITY,
                             test_fraction=args.test_fraction, per_clip=args.per_clip, seed=args.seed)
        print(f"router data: {json.dumps(splits.summary())}")
        cfg = RouterConfig(threshold=args.threshold)
        model, metrics = train_router(splits.train_clean, splits.train_degraded, seconds=args.seconds,
                                      steps=args.steps, seed=args.seed, out_dir=out / "router", config=cfg,
                                      progress=not args.quiet)
        print(f"trained {metrics['steps']} steps in {metrics['train_seconds']:.1f} s "
              f"({metrics['parameters']} parameters) -> {out / 'router'}")
        result = evaluate_router(model, splits.test_clean, splits.test_degraded, out_dir=out / "eval")
        clean_eval, report = splits.test_clean, out / "eval"
    else:
        from verl_dgwgpo.router.model import RouterModel

        model = RouterModel.load(args.router, threshold=args.threshold)
        clean_eval = _cuts(args.clean)
        result = evaluate_router(model, clean_eval, _cuts(args.degraded), out_dir=out)
        report = out
    _print(result)
    print(f"report: {report}/router_eval.md")
    if not args.no_other_sim:
        from verl_dgwgpo.router.cross_sim import cross_simulator_eval

        xs = cross_simulator_eval(model, clean_eval, seed=args.seed, out_dir=report / "other_sim")
        print(f"other simulators (audiomentations / pedalboard): degraded routed {xs['degraded_accuracy']:.4f}, "
              f"clean {xs['clean_accuracy']:.4f}, auc {xs['auc']:.4f} (goal >= 0.95: "
              f"{'met' if xs['goal_met'] else 'NOT met'})")
        for e, d in xs["per_effect"].items():
            print(f"  {e:10s} n={d['n']:4d} routed={d['accuracy']:.4f}")
        print(f"report: {report / 'other_sim'}/router_eval.md")
    return 0
