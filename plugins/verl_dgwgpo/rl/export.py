"""Turn verl's actor checkpoint of a ``wildasr rl`` run into what inference loads.

verl saves the FSDP2 actor as per-rank state dicts of DTensor shards
(``global_step_N/actor/model_world_size_W_rank_R.pt``) plus the HF config and processor. Here the
shards are joined (FSDP2 shards every parameter along dim 0) and written as

- ``OUT/final/adapter``: a PEFT LoRA directory when the run trained LoRA (``wildasr transcribe
  --model BASE --adapter OUT/final/adapter``, the router's switch, vLLM LoRA requests);
- ``OUT/final/model``: a full transformers checkpoint + processor otherwise (``wildasr transcribe
  --model OUT/final/model``).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from nemo_wild_eval.errors import InputError

__all__ = ["checkpoint_dir", "export_final", "load_actor_state"]


def checkpoint_dir(out: Path, step: int | None = None) -> Path:
    """``OUT/checkpoints/global_step_<step>/actor`` (the newest step when ``step`` is None)."""
    root = Path(out) / "checkpoints"
    if step is None:
        marker = root / "latest_checkpointed_iteration.txt"
        if not marker.is_file():
            raise InputError("no checkpoint yet (latest_checkpointed_iteration.txt missing)", source=str(root))
        step = int(marker.read_text().strip())
    path = root / f"global_step_{step}" / "actor"
    if not path.is_dir():
        raise InputError("no such checkpoint", source=str(path))
    return path


def load_actor_state(actor_dir: Path) -> dict[str, Any]:
    """The full actor state dict of a verl FSDP checkpoint (shards of all ranks joined on dim 0)."""
    import torch

    files = sorted(Path(actor_dir).glob("model_world_size_*_rank_*.pt"))
    if not files:
        raise InputError("no model_world_size_*_rank_*.pt shards", source=str(actor_dir))
    world = int(re.search(r"world_size_(\d+)_rank", files[0].name).group(1))
    if len(files) != world:
        raise InputError(f"{len(files)} shards for world size {world}", source=str(actor_dir))
    files.sort(key=lambda p: int(re.search(r"rank_(\d+)\.pt$", p.name).group(1)))
    shards = [torch.load(f, map_location="cpu", weights_only=False) for f in files]
    state = {}
    for key in shards[0]:
        parts = [s[key] for s in shards]
        parts = [p.to_local() if hasattr(p, "to_local") else p for p in parts]
        state[key] = parts[0] if world == 1 or parts[0].dim() == 0 else torch.cat(parts, dim=0)
    return state


def _lora_config(actor_dir: Path, state: dict[str, Any], base: str) -> Any:
    from peft import LoraConfig

    meta_path = Path(actor_dir) / "lora_train_meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    targets = sorted({m.group(1).rsplit(".", 1)[-1] for k in state if (m := re.search(r"(.+)\.lora_A\.", k))})
    rank = next(v.shape[0] for k, v in state.items() if ".lora_A." in k)
    return LoraConfig(
        r=int(meta.get("r", meta.get("lora_rank", rank))),
        lora_alpha=int(meta.get("lora_alpha", meta.get("alpha", 16))),
        target_modules=targets,
        base_model_name_or_path=base,
    )


def export_final(out: Path, base_model: Path, *, step: int | None = None) -> Path:
    """Write ``OUT/final/{adapter|model}`` from the newest (or given) checkpoint; returns that dir."""
    from verl_dgwgpo.sft.export import load_base

    actor = checkpoint_dir(out, step)
    state = load_actor_state(actor)
    model, processor = load_base(base_model)
    final = Path(out) / "final"
    if any(".lora_A." in k for k in state):
        from peft import get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict

        peft_model = get_peft_model(model, _lora_config(actor, state, str(base_model)))
        result = set_peft_model_state_dict(peft_model, {k: v for k, v in state.items() if "lora_" in k})
        unexpected = list(getattr(result, "unexpected_keys", []) or [])
        if unexpected:
            raise InputError(f"{len(unexpected)} adapter tensors match no module, e.g. {unexpected[:2]}", source=str(actor))
        target = final / "adapter"
        if target.exists():
            shutil.rmtree(target)
        peft_model.save_pretrained(str(target))
        assert get_peft_model_state_dict(peft_model)  # something was saved
    else:
        missing, unexpected = model.load_state_dict(state, strict=False)
        tied = set(getattr(model, "_tied_weights_keys", None) or [])
        missing = [k for k in missing if k not in tied and not k.endswith("lm_head.weight")]
        if missing or unexpected:
            raise InputError(
                f"checkpoint does not match the base model: missing {missing[:3]}, unexpected {unexpected[:3]}",
                source=str(actor),
            )
        target = final / "model"
        if target.exists():
            shutil.rmtree(target)
        model.save_pretrained(str(target))
        processor.save_pretrained(str(target))
    (final / "source.json").write_text(json.dumps({"checkpoint": str(actor), "base_model": str(base_model)}) + "\n")
    return target
