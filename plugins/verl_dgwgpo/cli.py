"""``wildasr reward``: score transcripts with DG-WGPO (or a baseline) and show why it ranks them.

Two modes:

* one pair:  ``wildasr reward --ref "the cat sat" --hyp "the cap sat"`` prints every component;
* groups:    ``wildasr reward groups.jsonl`` where each line is ``{"reference": ..., "hypotheses": [...]}``
  (a GRPO group); prints each reward's group dispersion (share of zero-variance groups, mean std) by
  WER regime, the table that shows where ``1 - WER`` stops ranking.

Exit codes: 0 ok, 2 bad usage or bad input (file, line, field, parameter).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

EPILOG = """\
examples:
  wildasr reward --ref "I recognise the voice" --hyp "I recognize the boys"
  wildasr reward --ref "the cat sat" --hyp "the cat" --param tau=0.5 --normalizer basic
  wildasr reward groups.jsonl --reward dgwgpo wer exact_match --json out/reward.json

groups.jsonl: one JSON object per line, {"reference": "...", "hypotheses": ["...", ...]}
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from .rewards import REWARDS

    p = subparsers.add_parser(
        "reward",
        help="score hypotheses with the DG-WGPO reward / baselines; show components and group dispersion",
        description="Score one (reference, hypothesis) pair or a JSONL of GRPO groups with the DG-WGPO "
        "reward and its baselines/ablations, exactly as the verl reward manager does.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("groups", nargs="?", metavar="GROUPS.jsonl", help="JSONL of {reference, hypotheses}")
    p.add_argument("--ref", help="reference transcript (single-pair mode)")
    p.add_argument("--hyp", help="hypothesis transcript (single-pair mode)")
    p.add_argument(
        "--reward",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"reward name(s): {', '.join(REWARDS)} (default: dgwgpo; groups mode: dgwgpo wer)",
    )
    p.add_argument("--normalizer", metavar="NAME", help="whisper_en (default), zh, basic, none")
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="reward hyper-parameter (tau, alpha, soft_threshold, beta, lam, rho, rep_k); repeatable",
    )
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.set_defaults(func=run)
    return p


def _parse_params(items: list[str], normalizer: str | None) -> dict[str, Any]:
    from nemo_wild_eval.errors import InputError

    from .reward import params_from_kwargs

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--param {item!r}: expected KEY=VALUE")
        try:
            out[key] = int(value) if key in ("rep_k", "k", "max_hyp_chars") else float(value)
        except ValueError:
            out[key] = value
    if normalizer:
        out["normalizer"] = normalizer
    params_from_kwargs(out)  # validate now: InputError names the bad key/value
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4f}"
    return str(v)


def _read_groups(path: str) -> list[tuple[Any, list[Any]]]:
    from nemo_wild_eval.errors import InputError

    p = Path(path)
    if not p.is_file():
        raise InputError("no such file", source=path)
    groups = []
    with p.open("r", encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON ({exc.msg})", source=path, line=lineno) from None
            if not isinstance(obj, dict) or "reference" not in obj or "hypotheses" not in obj:
                raise InputError("expected an object with 'reference' and 'hypotheses'", source=path, line=lineno)
            hyps = obj["hypotheses"]
            if not isinstance(hyps, list) or not hyps:
                raise InputError("'hypotheses' must be a non-empty list", source=path, line=lineno)
            groups.append((obj["reference"], hyps))
    if not groups:
        raise InputError("no groups in file", source=path)
    return groups


def _single(args: argparse.Namespace, names: list[str], params: dict[str, Any]) -> dict[str, Any]:
    from .rewards import score

    results = {name: score(name, args.hyp, args.ref, **params) for name in names}
    keys = list(next(iter(results.values())))
    width = max(len(k) for k in keys)
    print(f"reference : {args.ref}\nhypothesis: {args.hyp}")
    print(" " * width + "  " + "  ".join(f"{n:>16}" for n in names))
    for k in keys:
        print(f"{k:<{width}}  " + "  ".join(f"{_fmt(results[n][k]):>16}" for n in names))
    return {"reference": args.ref, "hypothesis": args.hyp, "rewards": results}


def _groups_mode(args: argparse.Namespace, names: list[str], params: dict[str, Any]) -> dict[str, Any]:
    from tqdm import tqdm

    from .group_stats import group_dispersion
    from .rewards import score

    groups = _read_groups(args.groups)
    per_group = []
    rewards: dict[str, list[list[float]]] = {n: [] for n in names}
    wers: list[list[float]] = []
    total = sum(len(h) for _, h in groups)
    with tqdm(total=total, desc="reward", unit="hyp", disable=total < 2000 or not sys.stderr.isatty()) as bar:
        for ref, hyps in groups:
            rows = {n: [score(n, h, ref, **params) for h in hyps] for n in names}
            bar.update(len(hyps))
            w = [r["wer"] for r in rows[names[0]]]
            wers.append(w)
            for n in names:
                rewards[n].append([r["score"] for r in rows[n]])
            per_group.append({"reference": ref, "wer": w, "scores": {n: [r["score"] for r in rows[n]] for n in names}})
    stats = {n: group_dispersion(rewards[n], wers) for n in names}
    print(f"{len(groups)} groups, {total} hypotheses")
    print(f"{'reward':<18} {'regime':<14} {'groups':>6} {'zero-var share':>15} {'mean std':>9}")
    for n in names:
        for regime, s in stats[n].items():
            print(
                f"{n:<18} {regime:<14} {s['n_groups']:>6} {_fmt(s['zero_variance_share']):>15} {_fmt(s['mean_std']):>9}"
            )
    return {"groups": per_group, "dispersion": stats}


def _clean(obj: Any) -> Any:
    """NaN -> None so the JSON file is strict JSON."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clean(v) for v in obj]
    return obj


def run(args: argparse.Namespace) -> int:
    from nemo_wild_eval.errors import InputError

    from .rewards import REWARDS

    single = args.ref is not None or args.hyp is not None
    if single and args.groups:
        raise InputError("give either GROUPS.jsonl or --ref/--hyp, not both")
    if not single and not args.groups:
        raise InputError("give GROUPS.jsonl or --ref and --hyp")
    if single and (args.ref is None or args.hyp is None):
        raise InputError("single-pair mode needs both --ref and --hyp")
    names = args.reward or (["dgwgpo"] if single else ["dgwgpo", "wer"])
    for n in names:
        if n not in REWARDS:
            raise InputError(f"--reward {n!r}: choose one of {sorted(REWARDS)}")
    params = _parse_params(args.param, args.normalizer)
    result = _single(args, names, params) if single else _groups_mode(args, names, params)
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(_clean(result), indent=2) + "\n")
    return 0
