"""``wildasr rl``: DAPO with DG-WGPO (or a baseline reward) for an audio LLM, in verl's own trainer.

    wildasr rl --tiny --steps 2 --out out/rl                       # offline: random tiny Qwen3-ASR
    wildasr rl --model MODEL --train rl.jsonl.gz --reward dgwgpo --steps 50 --out out/rl
    wildasr rl ... -- actor_rollout_ref.actor.optim.lr=5e-7        # any verl override after --

On CPU the trainer runs on verl's ``cpu`` platform with the ``hf`` rollout; on CUDA with vLLM.
Output: ``OUT/metrics.jsonl`` (one JSON object per step), ``OUT/checkpoints`` (verl's; a rerun
resumes from the newest), ``OUT/final/{model|adapter}`` (what ``wildasr transcribe`` loads),
``OUT/run.json`` (what ran), ``OUT/logs`` (the trainer's full output and command).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["add_parser", "main"]


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "rl",
        help="DAPO + DG-WGPO training of an audio LLM in verl's trainer (CPU or GPU)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", required=True, type=Path, help="output directory (rerun: resume)")
    p.add_argument("--tiny", action="store_true",
                   help="random tiny Qwen3-ASR + a Piper/lhotse_wild RL split of 8 utterances (offline)")
    p.add_argument("--tiny-family", default="qwen3_asr", choices=["qwen3_asr", "qwen2_audio"],
                   help="--tiny: which architecture (default qwen3_asr)")
    p.add_argument("--model", type=Path, help="policy: a transformers Qwen3-ASR / Qwen2-Audio directory")
    p.add_argument("--train", type=Path, nargs="+", help="RL split manifest(s) (Lhotse cuts / Shar / NeMo)")
    p.add_argument("--val", type=Path, nargs="+", help="validation manifest(s) (default: --train)")
    p.add_argument("--reward", default="dgwgpo", help="reward name (dgwgpo, wer, exact_match, ...)")
    p.add_argument("--steps", type=int, default=2, help="training steps (default 2)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=4, help="prompts per step (default 4)")
    p.add_argument("--group-size", type=int, default=4, help="rollouts per prompt, the GRPO group (default 4)")
    p.add_argument("--mini-batch-size", type=int, default=None, help="prompts per update (default: batch)")
    p.add_argument("--lr", type=float, default=None, help="actor learning rate (default 1e-6; --tiny 1e-3)")
    p.add_argument("--lora-rank", type=int, default=0, help="LoRA rank (0: full fine-tuning)")
    p.add_argument("--lora-alpha", type=int, default=16)
    p.add_argument("--response-length", type=int, default=None, help="max response tokens (default 64; --tiny 24)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--no-filter-groups", dest="filter_groups", action="store_false",
                   help="turn DAPO's dynamic sampling off")
    p.add_argument("--max-num-gen-batches", type=int, default=3, help="samplings of a flat group (default 3)")
    p.add_argument("--save-every", type=int, default=1, help="checkpoint every N steps (default 1)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--rollout", default="auto", choices=["auto", "hf", "vllm", "sglang"])
    p.add_argument("--force-language", default=None, help="Qwen3-ASR: English | row")
    p.add_argument("--print-command", action="store_true", help="print verl's command and exit")
    p.add_argument("--no-export", dest="export", action="store_false", help="skip OUT/final")
    p.add_argument("extra", nargs="*", help="verl/Hydra overrides after --")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    from nemo_wild_eval.errors import InputError

    from . import config, runner, tiny

    out = Path(args.out)
    if args.tiny:
        if args.model is not None:
            raise InputError("--tiny builds its own model; drop --model", source="--model")
        out.mkdir(parents=True, exist_ok=True)
        print(f"wildasr rl --tiny: building the tiny policy and RL split under {out / 'tiny'}", file=sys.stderr, flush=True)
        model = tiny.tiny_model(out, seed=args.seed, family=args.tiny_family)
        train = args.train or [tiny.tiny_corpus(out, seed=args.seed)]
    else:
        if args.model is None:
            raise InputError("give --model DIR (or --tiny)", source="--model")
        model, train = args.model, args.train or []
    opts = config.RLOptions(
        model=Path(model),
        train=[Path(p) for p in train],
        val=[Path(p) for p in args.val] if args.val else None,
        out=out,
        reward=args.reward,
        steps=args.steps,
        seed=args.seed,
        batch_size=args.batch_size,
        group_size=args.group_size,
        mini_batch_size=args.mini_batch_size,
        lr=args.lr if args.lr is not None else (1e-3 if args.tiny else 1e-6),
        lora_rank=args.lora_rank,
        lora_alpha=args.lora_alpha,
        response_length=args.response_length or (24 if args.tiny else 64),
        temperature=args.temperature,
        filter_groups=args.filter_groups,
        max_num_gen_batches=args.max_num_gen_batches,
        save_every=args.save_every,
        device=args.device,
        rollout=args.rollout,
        force_language=args.force_language,
        extra=list(args.extra or []),
    )
    found = config.check(opts)
    overrides = config.overrides(opts, device=found["device"], rollout=found["rollout"])
    env = {"WILDASR_HF_ROLLOUT_LOG": str((out / "logs" / "hf_rollout.jsonl").resolve())}
    if found["device"] == "cpu":
        env["VERL_PLATFORM"] = "cpu"
    if args.print_command:
        prefix = " ".join(f"{k}={v}" for k, v in env.items())
        print((prefix + " " if prefix else "") + " ".join(runner.command(overrides)))
        return 0
    done = runner.finished_steps(out)
    run = {
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(opts).items()},
        "found": found,
        "resumed_from_step": done,
    }
    print(
        f"wildasr rl: {opts.reward} on {found['train_rows']} utterances, {opts.steps} steps of "
        f"{opts.batch_size}x{opts.group_size} rollouts, {found['device']} + {found['rollout']} rollout"
        + (f"; resuming after step {done}" if done else ""),
        flush=True,
    )
    started = time.monotonic()
    if done >= opts.steps:
        print(f"wildasr rl: all {opts.steps} steps already checkpointed in {out / 'checkpoints'}")
        rows = runner.merge_metrics(out)
    else:
        rows = runner.run_trainer(overrides, out, total_steps=opts.steps, env=env)
    run["train_seconds"] = round(time.monotonic() - started, 1)
    run["steps_logged"] = [r["step"] for r in rows]
    if args.export:
        from .export import export_final

        run["final"] = str(export_final(out, Path(model)))
        print(f"wildasr rl: final weights in {run['final']}")
    (out / "run.json").write_text(json.dumps(run, indent=2, default=str) + "\n")
    print(f"wildasr rl: metrics in {out / 'metrics.jsonl'} ({len(rows)} steps)")
    return 0
