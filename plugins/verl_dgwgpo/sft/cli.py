"""``wildasr sft CONFIG.yaml [key=value ...]``: train one A2S-SFT phase (light: verl loads on run).

Exit codes: 0 done, 2 bad input (config, data, adapter path), as every ``wildasr`` sub-command.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from nemo_wild_eval.errors import InputError

__all__ = ["add_parser", "run", "main"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "sft",
        help="A2S-SFT: train one LoRA phase on verl's SFT trainer",
        description="Train one A2S-SFT phase: a phase YAML, or the packaged phase1/phase2/phase3 "
                    "(also at examples/sft/phase{1,2,3}.yaml); Hydra overrides after it.",
    )
    p.add_argument("config", help="phase YAML or packaged phase name, e.g. phase1 or examples/sft/phase1.yaml")
    p.add_argument("overrides", nargs="*", help="e.g. model.path=DIR data.train_files=SPLIT_DIR model.lora_adapter_path=DIR")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from .trainer import compose_config, run_phase

    try:
        report = run_phase(compose_config(args.config, args.overrides))
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    keys = ("phase", "train_groups", "group_lr", "steps", "curriculum", "adapter_out")
    print(json.dumps({k: report[k] for k in keys}, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verl_dgwgpo.sft")
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_parser(sub)
    args = parser.parse_args(["sft", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
