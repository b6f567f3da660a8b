"""Export an A2S-SFT adapter: LoRA-only (PEFT directory) and merged weights (plain checkpoint).

Why both: the LoRA-only export is what the router switches on/off at inference and what vLLM loads
as a LoRA request (and, converted with :mod:`verl_dgwgpo.rollout.adapters`, what the ``qwen-asr``
package loads); the merged export is a self-contained transformers checkpoint for engines without
LoRA support. :func:`transcribe` checks that both give the same transcripts (greedy, via the
router's :class:`~verl_dgwgpo.router.hf_asr.HFAudioASR`, so the prompt is the rollout's).

CLI: ``python -m verl_dgwgpo.sft.export --model BASE --adapter PHASE3/adapter --merged OUT_M --lora OUT_L``.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nemo_wild_eval.errors import InputError

from .config import check_adapter_dir

__all__ = ["export_lora", "export_merged", "load_base", "transcribe"]


def load_base(model_path: str | Path):
    """(model, processor) of a transformers audio LLM with its LM head (family class, fp32, eval)."""
    from transformers import AutoConfig, AutoProcessor

    from verl_dgwgpo.rollout.models import causal_lm_class

    p = Path(model_path)
    if p.exists() and not (p / "config.json").is_file():
        raise InputError("not a transformers model directory (no config.json)", source=str(p))
    name = str(p) if p.exists() else str(model_path)  # else a hub id (where a hub is reachable)
    config = AutoConfig.from_pretrained(name)
    model = causal_lm_class(config).from_pretrained(name).eval()
    return model, AutoProcessor.from_pretrained(name)


def export_lora(adapter_dir: str | Path, out_dir: str | Path, *, layout: str = "native") -> Path:
    """Copy the PEFT adapter (config + weights + report) to ``out_dir``; ``layout='qwen-asr'`` rewrites
    Qwen3-ASR keys for the authors' ``qwen-asr`` package."""
    src = check_adapter_dir(adapter_dir, source="adapter")
    out = Path(out_dir)
    if layout == "qwen-asr":
        from verl_dgwgpo.rollout.adapters import convert_adapter_dir

        return convert_adapter_dir(src, out, to="qwen-asr")
    if layout != "native":
        raise InputError(f"unknown layout {layout!r} (native or qwen-asr)", source="layout")
    out.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_file():
            shutil.copy2(item, out / item.name)
    return out


def export_merged(model_path: str | Path, adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Base + adapter with the LoRA deltas folded into the weights, saved with the processor."""
    from peft import PeftModel

    adapter = check_adapter_dir(adapter_dir, source="adapter")
    model, processor = load_base(model_path)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def transcribe(
    model_dir: str | Path, clips: Sequence[np.ndarray], sampling_rate: int, *, adapter: str | Path | None = None,
    max_new_tokens: int = 32,
) -> list[list[int]]:
    """Greedy output token ids per clip (EOS dropped) of a checkpoint, optionally with an adapter.

    The adapter runs as an unmerged PEFT LoRA (``PeftModel``: base weights untouched, LoRA branch in
    the forward), so comparing with a merged export checks the merge, not the same code twice.
    """
    from peft import PeftModel

    from verl_dgwgpo.router.hf_asr import HFAudioASR

    asr = HFAudioASR(model_dir, max_new_tokens=max_new_tokens, device="cpu")
    if adapter is not None:
        asr.model = PeftModel.from_pretrained(asr.model, str(check_adapter_dir(adapter, source="adapter"))).eval()
    return [asr.token_ids(c, sampling_rate) for c in clips]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verl_dgwgpo.sft.export", description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="base model directory")
    parser.add_argument("--adapter", required=True, help="PEFT adapter directory (a phase's adapter_out)")
    parser.add_argument("--merged", default=None, help="write merged weights here")
    parser.add_argument("--lora", default=None, help="write the LoRA-only export here")
    parser.add_argument("--lora-layout", choices=["native", "qwen-asr"], default="native")
    args = parser.parse_args(argv)
    if not args.merged and not args.lora:
        parser.error("nothing to do: give --merged and/or --lora")
    try:
        if args.lora:
            print(export_lora(args.adapter, args.lora, layout=args.lora_layout))
        if args.merged:
            print(export_merged(args.model, args.adapter, args.merged))
    except InputError as exc:
        print(f"error: {exc}")
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
