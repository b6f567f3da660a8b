"""What a ``wildasr rl`` run is (:class:`RLOptions`), its checks, and the verl overrides it becomes.

Every check runs before Ray starts, so a bad run fails in a second with one clear
:class:`~nemo_wild_eval.errors.InputError` naming the input instead of minutes later inside a Ray
worker: a missing RL split, a model directory without an audio processor, an unknown reward name,
batch sizes that do not divide, a split smaller than one batch.

:func:`overrides` turns the options into Hydra overrides of the packaged recipe
(``verl_dgwgpo/rl/config/wildasr_rl.yaml``); ``wildasr rl --print-command`` shows the full
``python -m verl.trainer.main_ppo`` command, which runs the same training by hand.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_wild_eval.errors import InputError

__all__ = ["CONFIG_DIR", "CONFIG_NAME", "RLOptions", "check", "overrides", "resolve_device"]

CONFIG_DIR = Path(__file__).resolve().parent / "config"
CONFIG_NAME = "wildasr_rl"


@dataclass
class RLOptions:
    """One DAPO run. Sizes are per step: ``batch_size`` prompts x ``group_size`` rollouts."""

    model: Path
    train: list[Path]
    out: Path
    val: list[Path] | None = None
    reward: str = "dgwgpo"
    steps: int = 2
    seed: int = 0
    batch_size: int = 4
    group_size: int = 4
    mini_batch_size: int | None = None
    lr: float = 1e-6
    lora_rank: int = 0
    lora_alpha: int = 16
    response_length: int = 64
    prompt_length: int = 512
    temperature: float = 1.0
    filter_groups: bool = True
    max_num_gen_batches: int = 3
    save_every: int = 1
    device: str = "auto"
    rollout: str = "auto"
    force_language: str | None = None
    extra: list[str] = field(default_factory=list)

    @property
    def mini(self) -> int:
        return int(self.mini_batch_size or self.batch_size)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``."""
    if device not in ("auto", "cpu", "cuda"):
        raise InputError(f"unknown device {device!r} (auto, cpu or cuda)", source="--device")
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _rollout_name(opts: RLOptions, device: str) -> str:
    if opts.rollout == "auto":
        return "vllm" if device == "cuda" else "hf"
    if opts.rollout not in ("hf", "vllm", "sglang"):
        raise InputError(f"unknown rollout {opts.rollout!r} (auto, hf, vllm or sglang)", source="--rollout")
    if opts.rollout != "hf" and device == "cpu":
        raise InputError(f"rollout {opts.rollout!r} needs CUDA; on CPU use --rollout hf", source="--rollout")
    return opts.rollout


def _check_model(model: Path) -> None:
    if not model.exists():
        raise InputError("no such model directory", source=str(model))
    if not (model / "config.json").is_file():
        raise InputError("not a transformers model directory (no config.json)", source=str(model))
    if not any((model / name).is_file() for name in ("processor_config.json", "preprocessor_config.json")):
        raise InputError(
            "the model directory has no processor (processor_config.json / preprocessor_config.json): "
            "an audio policy needs its feature extractor and tokenizer saved beside the weights",
            source=str(model),
        )
    from transformers import AutoProcessor

    from verl_dgwgpo.rollout.models import is_audio_processor

    try:
        processor = AutoProcessor.from_pretrained(str(model))
    except Exception as exc:  # a broken processor file: say which directory
        raise InputError(f"the processor does not load: {exc}", source=str(model)) from exc
    if not is_audio_processor(processor):
        raise InputError(
            f"{type(processor).__name__} is not an audio processor (Qwen3-ASR / Qwen2-Audio expected)",
            source=str(model),
        )


def check(opts: RLOptions) -> dict[str, Any]:
    """Validate a run before anything starts; returns what it found (rows per split, device, rollout)."""
    from verl_dgwgpo.rewards import REWARDS
    from verl_dgwgpo.rollout.dataset import load_items

    if opts.reward not in REWARDS:
        raise InputError(f"unknown reward {opts.reward!r}; choose one of {sorted(REWARDS)}", source="--reward")
    for name in ("steps", "batch_size", "group_size", "save_every", "max_num_gen_batches", "response_length"):
        if int(getattr(opts, name)) < 1:
            raise InputError(f"must be >= 1, got {getattr(opts, name)}", source=f"--{name.replace('_', '-')}")
    if opts.group_size < 2:
        raise InputError("a GRPO group needs >= 2 rollouts per prompt", source="--group-size")
    if opts.batch_size % opts.mini:
        raise InputError(
            f"--batch-size {opts.batch_size} is not a multiple of --mini-batch-size {opts.mini}",
            source="--mini-batch-size",
        )
    if opts.lr <= 0:
        raise InputError(f"must be > 0, got {opts.lr}", source="--lr")
    if opts.lora_rank < 0:
        raise InputError(f"must be >= 0, got {opts.lora_rank}", source="--lora-rank")
    device = resolve_device(opts.device)
    rollout = _rollout_name(opts, device)
    if not opts.train:
        raise InputError("no RL split given (--train MANIFEST; `wildasr split` writes rl.jsonl.gz)", source="--train")
    rows: dict[str, int] = {}
    for split, paths in (("train", opts.train), ("val", opts.val or [])):
        for path in paths:
            if not Path(path).exists():
                raise InputError(f"no such {split} manifest (the RL split from `wildasr split`)", source=str(path))
            rows[str(path)] = len(load_items([str(path)]))
    n_train = sum(rows[str(p)] for p in opts.train)
    if n_train < opts.batch_size:
        raise InputError(
            f"the RL split holds {n_train} utterances, fewer than one batch of {opts.batch_size} prompts",
            source="--batch-size",
        )
    _check_model(Path(opts.model))
    return {"rows": rows, "train_rows": n_train, "device": device, "rollout": rollout}


def _list(paths: list[Path]) -> str:
    return "[" + ",".join(os.fspath(Path(p).resolve()) for p in paths) + "]"


def overrides(opts: RLOptions, *, device: str, rollout: str) -> list[str]:
    """Hydra overrides of the packaged recipe for this run (plus ``opts.extra`` last, which win)."""
    out = Path(opts.out).resolve()
    group = opts.mini * opts.group_size
    items = [
        f"data.train_files={_list(opts.train)}",
        f"data.val_files={_list(opts.val or opts.train)}",
        f"data.train_batch_size={opts.batch_size}",
        f"data.max_prompt_length={opts.prompt_length}",
        f"data.max_response_length={opts.response_length}",
        f"data.seed={opts.seed}",
        f"actor_rollout_ref.model.path={Path(opts.model).resolve()}",
        f"actor_rollout_ref.model.lora_rank={opts.lora_rank}",
        f"actor_rollout_ref.model.lora_alpha={opts.lora_alpha}",
        f"actor_rollout_ref.actor.optim.lr={opts.lr}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={opts.mini}",
        f"actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu={group}",
        f"actor_rollout_ref.actor.fsdp_config.seed={opts.seed}",
        f"actor_rollout_ref.rollout.n={opts.group_size}",
        f"actor_rollout_ref.rollout.temperature={opts.temperature}",
        f"actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu={group}",
        f"actor_rollout_ref.rollout.name={rollout}",
        f"actor_rollout_ref.rollout.seed={opts.seed}",
        f"algorithm.filter_groups.enable={str(opts.filter_groups).lower()}",
        f"algorithm.filter_groups.max_num_gen_batches={opts.max_num_gen_batches}",
        f"reward.reward_kwargs.reward_name={opts.reward}",
        f"reward.reward_kwargs.overlong_buffer_cfg.len={max(1, min(16, opts.response_length // 4))}",
        f"trainer.total_training_steps={opts.steps}",
        f"trainer.save_freq={opts.save_every}",
        f"trainer.default_local_dir={out / 'checkpoints'}",
        f"trainer.experiment_name=wildasr_rl_{opts.reward}_seed{opts.seed}",
        f"trainer.device={device}",
        f"hydra.run.dir={out / 'logs' / 'hydra'}",
        "+ray_kwargs.ray_init.include_dashboard=false",
    ]
    if opts.force_language:
        items.append(f"data.force_language={opts.force_language}")
    if device == "cpu":
        items += [
            # verl's resource check counts Ray "GPU"s whatever the platform: one logical slot per
            # worker (nothing is scheduled on it; the workers' bundles are CPUs).
            "+ray_kwargs.ray_init.num_gpus=1",
            "reward.num_workers=1",  # verl's default 8 processes cost ~10 s of start-up each on 2 cores
            "actor_rollout_ref.rollout.dtype=float32",
            "actor_rollout_ref.actor.fsdp_config.model_dtype=fp32",
        ]
    else:
        items.append("actor_rollout_ref.model.override_config.attn_implementation=flash_attention_2")
    return items + list(opts.extra)
