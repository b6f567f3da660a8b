"""``wildasr`` console script: a thin dispatcher over sub-command modules.

Each sub-command lives next to the code it drives and exposes
``add_parser(subparsers) -> argparse.ArgumentParser`` which sets ``func`` (``args -> int`` exit code)
with ``parser.set_defaults(func=...)``. Sub-command modules keep heavy imports (torch, lhotse, ray)
inside ``func`` so ``wildasr --help`` stays fast. A module that is not importable (an optional extra
is missing) is listed with the reason instead of breaking the other sub-commands.

Exit codes: 0 ok, 1 the job failed, 2 bad usage / bad input (argparse convention). Sub-commands raise
``nemo_wild_eval.errors.InputError`` for bad input: printed without a traceback, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from nemo_wild_eval.errors import InputError

# sub-command -> module providing add_parser(). Order is the order shown in --help.
SUBCOMMANDS: dict[str, str] = {
    "demo": "wildasr.demo_cli",
    "simulate": "lhotse_wild.cli",
    "split": "lhotse_wild.split_cli",
    "score": "nemo_wild_eval.cli",
    "reward": "verl_dgwgpo.cli",
    "router": "verl_dgwgpo.router.cli",
    "transcribe": "verl_dgwgpo.transcribe_cli",
    "sft": "verl_dgwgpo.sft.cli",
    "rl": "verl_dgwgpo.rl.cli",
}


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, str]]:
    from wildasr import __version__

    parser = argparse.ArgumentParser(
        prog="wildasr",
        description="Robust in-the-wild ASR: simulate compound degradation, score, reward, route.",
    )
    parser.add_argument("--version", action="version", version=f"wildasr {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    unavailable: dict[str, str] = {}
    for name, module in SUBCOMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
                continue  # not built yet: simply not offered
            unavailable[name] = f"needs {exc.name!r} ({exc})"
            continue
        mod.add_parser(sub)
    return parser, unavailable


def main(argv: Sequence[str] | None = None) -> int:
    parser, unavailable = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        for name, why in unavailable.items():
            print(f"  ({name} unavailable: {why})", file=sys.stderr)
        return 2
    func = getattr(args, "func", None)
    if func is None:
        parser.parse_args([args.command, "--help"])
        return 2
    try:
        return int(func(args) or 0)
    except InputError as exc:
        print(f"wildasr {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wildasr {args.command}: interrupted; rerun to resume where supported", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
