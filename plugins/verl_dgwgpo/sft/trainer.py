"""A2S-SFT on verl's own SFT trainer: :class:`A2SSFTTrainer` and :func:`run_phase`.

Why a subclass and not a new trainer: verl's ``SFTTrainer`` (``verl.trainer.sft_trainer``) already
owns the loop, the FSDP engine, LoRA (``model.lora_rank``/``target_modules``/``lora_adapter_path``),
the SFT loss, clipping, the LR schedule and checkpoints. What it cannot express is added as
small hooks, each documented where it is installed:

1. **Which LoRA weights move** (phase 1 acoustic, phase 2 LLM, phase 3 both): the engine's
   ``_build_lora_module`` is wrapped on the instance; after verl builds or loads the adapter, LoRA
   weights outside ``a2s.train_groups`` get ``requires_grad=False`` (before FSDP wraps the model).
2. **Per-group learning rates** (acoustic side lower in phase 3): the engine's ``_build_optimizer``
   is wrapped to pass verl's :func:`~verl.workers.config.optimizer.build_optimizer` one parameter
   group per module group (``lr = optim.lr * a2s.group_lr_scale[group]``); verl's scheduler then
   scales every group alike, so the ratio holds for the whole run.
3. **FSDP2 wrap targets** (Qwen2-Audio in practice): only the outermost of nested picks is wrapped,
   and embeddings the model reads by ``.weight`` stay in their parent's unit: the rollout patch
   ``fsdp2_units`` (:mod:`verl_dgwgpo.rollout.patches`), shared with the RL actor; checked installed here.
4. **The WER curriculum**: ``_build_dataloader`` keeps verl's ``StatefulDataLoader`` and collator but
   swaps the ``DistributedSampler`` for :class:`~.curriculum.CurriculumBatchSampler` (phase 1 only;
   one data-parallel rank: the curriculum is a global order, see the report for multi-rank runs).

Chaining: one adapter covers ``a2s.lora_groups`` in every phase (frozen groups keep their values), so
phase ``n+1`` starts from phase ``n`` through verl's own ``model.lora_adapter_path``.
After ``fit`` the adapter is written as a plain PEFT directory (``adapter_out``) with
``a2s_report.json`` (loss per step, samples per curriculum stage, max weight change per group).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from nemo_wild_eval.errors import InputError

from .config import PhaseSpec, adapter_groups, check_adapter_dir
from .groups import GROUPS, Layout, target_regex

__all__ = ["A2SSFTTrainer", "compose_config", "lora_state", "prepare_config", "run_phase"]

logger = logging.getLogger(__name__)

DATASET_PATH = "pkg://verl_dgwgpo.sft.data"
DATASET_NAME = "AudioSFTDataset"


# ----------------------------------------------------------------------------------------------
# config


# The three A2S-SFT phases ship with the package (examples/sft/phase*.yaml link to them), so
# ``wildasr sft phase1`` works from an installed wheel too.
PHASE_CONFIGS = {f"phase{i}": Path(__file__).resolve().parent / "phases" / f"phase{i}.yaml" for i in (1, 2, 3)}


def resolve_config_file(config_file: str | os.PathLike) -> Path:
    """A YAML path, or a packaged phase name (``phase1``/``phase2``/``phase3``) when no such file exists."""
    path = Path(config_file).expanduser()
    if not path.is_file() and str(config_file) in PHASE_CONFIGS:
        path = PHASE_CONFIGS[str(config_file)]
    if not path.is_file():
        raise InputError(f"no such config file (a path, or one of the packaged phases {sorted(PHASE_CONFIGS)})",
                         source=str(config_file))
    return path.resolve()


def compose_config(config_file: str | os.PathLike, overrides: list[str] | None = None):
    """A phase YAML (which extends verl's ``sft_trainer_engine``) plus Hydra-style overrides."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    path = resolve_config_file(config_file)
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(path.parent), version_base=None):
            # verl's config dir on the search path: the phase YAMLs extend sft_trainer_engine
            search = "hydra.searchpath=[pkg://verl.trainer.config]"
            cfg = compose(config_name=path.stem, overrides=[search, *list(overrides or [])])
    except Exception as exc:  # hydra's own errors name the bad key
        if isinstance(exc, InputError):
            raise
        raise InputError(f"{type(exc).__name__}: {exc}", source=str(path)) from None
    finally:
        GlobalHydra.instance().clear()
    return cfg


def _model_type(model_path: str) -> str | None:
    cfg_file = Path(os.path.expanduser(model_path)) / "config.json"
    if cfg_file.is_file():
        return json.loads(cfg_file.read_text(encoding="utf-8")).get("model_type")
    from transformers import AutoConfig  # hub id: only where a hub is reachable

    return getattr(AutoConfig.from_pretrained(model_path), "model_type", None)


def prepare_config(cfg: Any) -> tuple[Any, PhaseSpec, Layout]:
    """Check the ``a2s`` section and fill verl's keys it implies; raises before any model is built.

    Sets ``model.target_modules`` (regex over ``a2s.lora_groups``), the audio SFT dataset, no-padding
    batches; checks ``model.lora_adapter_path`` (exists, is PEFT, covers the groups to train).
    """
    from omegaconf import OmegaConf, open_dict

    spec = PhaseSpec.from_config(OmegaConf.to_container(cfg.get("a2s", {}) or {}, resolve=True))
    # (``???`` cannot mark these: Hydra keeps verl's defaults when merging ``???`` over them)
    required = ["model.path", "data.train_files"] + (["model.lora_adapter_path"] if spec.requires_adapter else [])
    for key in required:
        if OmegaConf.select(cfg, key, default=None) in (None, ""):
            why = f"phase {spec.phase} starts from the previous phase's adapter" if "adapter" in key else "pass it"
            raise InputError(f"required ({why}), e.g. {key}=...", source=key)
    model_path = cfg.model.get("path", None)
    if not model_path:
        raise InputError("model.path is required", source="model.path")
    layout = spec.resolve_layout(_model_type(str(model_path)))
    rank = int(cfg.model.get("lora_rank", 0) or 0)
    if rank <= 0:
        raise InputError("A2S-SFT trains LoRA adapters: set model.lora_rank (the paper uses 8)", source="model.lora_rank")
    adapter = check_adapter_dir(cfg.model.get("lora_adapter_path", None))
    if adapter is not None:
        counts = adapter_groups(adapter, layout)
        missing = [g for g in spec.train_groups if counts.get(g, 0) == 0]
        if missing:
            raise InputError(
                f"adapter has no LoRA weights for train group(s) {missing} (it covers "
                f"{[g for g, n in counts.items() if n]}); chain phases with one a2s.lora_groups",
                source=str(adapter),
            )
        adapter_r = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8")).get("r")
        if adapter_r is not None and int(adapter_r) != rank:
            raise InputError(f"adapter rank r={adapter_r} but model.lora_rank={rank}", source=str(adapter))
    with open_dict(cfg):
        cfg.model.target_modules = target_regex(layout, spec.lora_groups)
        cfg.model.exclude_modules = None
        if not cfg.data.custom_cls.get("path", None):
            cfg.data.custom_cls.path = DATASET_PATH
            cfg.data.custom_cls.name = DATASET_NAME
        cfg.data.pad_mode = "no_padding"
    return cfg, spec, layout


# ----------------------------------------------------------------------------------------------
# the trainer


def _full(t: torch.Tensor) -> torch.Tensor:
    full = getattr(t, "full_tensor", None)  # FSDP2 DTensor (collective on multi-rank runs)
    return (full() if callable(full) else t).detach().to("cpu", torch.float32).clone()


def lora_state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every LoRA tensor of a (possibly FSDP-wrapped) PEFT model, full and on CPU, by name."""
    return {k: _full(v) for k, v in module.state_dict().items() if ".lora_" in k}


from verl.trainer.sft_trainer import SFTTrainer  # noqa: E402  (after the helpers: heavy import)


class A2SSFTTrainer(SFTTrainer):
    """verl's ``SFTTrainer`` plus the three A2S hooks (module docstring)."""

    def __init__(self, config: Any, spec: PhaseSpec, layout: Layout):
        self.spec = spec
        self.layout = layout
        self.losses: list[float] = []
        self.curriculum = None
        self.initial_lora: dict[str, torch.Tensor] = {}
        self.group_params: dict[str, int] = {}
        from verl_dgwgpo.rollout import patches

        patches.apply()
        import verl.utils.fsdp_utils  # noqa: F401  (installs the FSDP patches now, not lazily)

        state = patches.status()
        bad = {k: state[k] for k in ("fsdp_abc", "fsdp2_units") if state.get(k) != "installed"}
        if bad:
            raise RuntimeError(f"verl_dgwgpo FSDP patches not installed: {bad}")
        super().__init__(config)

    def _build_config(self) -> None:
        super()._build_config()
        # verl's FSDP engine reads ``hf_config.tie_word_embeddings`` at the root; transformers 5 keeps
        # it only in ``text_config`` for Qwen2-Audio (Qwen3-ASR has both). Same value, root copy.
        hf = self.model_config.hf_config
        text = getattr(hf, "text_config", None)
        if "tie_word_embeddings" not in hf.__dict__ and not hasattr(hf, "tie_word_embeddings") and text is not None:
            hf.tie_word_embeddings = bool(getattr(text, "tie_word_embeddings", False))

    # -- hook 4: curriculum ------------------------------------------------------------------

    def _build_dataset(self) -> None:
        super()._build_dataset()
        if not self.spec.curriculum.enable:
            # verl's sampler drops the last partial batch: fewer items than one batch would give
            # ``steps_per_epoch == 0`` and a ZeroDivisionError deep in SFTTrainer.fit.
            n, batch = len(self.train_dataset), int(self.config.data.train_batch_size)
            if n < batch:
                raise InputError(
                    f"{n} training item(s) but data.train_batch_size={batch}: verl drops the last partial batch, "
                    "so an epoch would have no step; lower data.train_batch_size or give more data",
                    source=str(self.config.data.train_files),
                )
            return
        from .curriculum import CurriculumBatchSampler

        items = self.train_dataset.items
        world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
        c = self.spec.curriculum
        # Built here, before the engine: a missing base_wer fails before any model is loaded.
        self.curriculum = CurriculumBatchSampler(
            [it.base_wer for it in items],
            [it.cut_id for it in items],
            batch_size=int(self.config.data.train_batch_size) // world,
            thresholds=c.thresholds,
            epochs_per_stage=c.epochs_per_stage,
            seed=c.seed,
            shuffle=c.shuffle,
        )

    def _build_dataloader(self) -> None:
        super()._build_dataloader()
        if self.curriculum is None:
            return
        if self.engine.get_data_parallel_size() != 1:
            raise InputError(
                "the WER curriculum runs on one data-parallel rank (it is one global order)",
                source="a2s.curriculum",
            )
        from torchdata.stateful_dataloader import StatefulDataLoader

        self.train_sampler = self.curriculum
        self.train_dataloader = StatefulDataLoader(
            dataset=self.train_dataset,
            batch_sampler=self.curriculum,
            collate_fn=self.collate_fn,
            num_workers=self.config.data.num_workers,
            pin_memory=False,
        )

    # -- hooks 1 and 2: frozen groups, per-group LR ------------------------------------------

    def _build_engine(self) -> None:
        super()._build_engine()
        engine = self.engine
        build_lora, trainer = engine._build_lora_module, self

        def _build_lora_module(module):
            module = build_lora(module)
            trainer._freeze_groups(module)
            return module

        def _build_optimizer(module):
            from verl.workers.config.optimizer import build_optimizer

            return build_optimizer(trainer._param_groups(module, engine.optimizer_config.lr), engine.optimizer_config)

        engine._build_lora_module = _build_lora_module
        engine._build_optimizer = _build_optimizer

        train_batch = self.training_client.train_batch

        def recording_train_batch(data):
            from verl.utils import tensordict_utils as tu

            out = train_batch(data=data)
            loss = tu.get(out, "metrics").get("loss") if out is not None else None
            if loss is not None:
                self.losses.append(float(sum(loss) / len(loss)) if isinstance(loss, list | tuple) else float(loss))
            return out

        self.training_client.train_batch = recording_train_batch

    def _group(self, name: str) -> str:
        group = self.layout.group(name.split(".lora_")[0])
        if group is None:
            raise InputError(f"LoRA weight {name!r} is outside the {self.layout.name} module map", source="a2s.layout")
        return group

    def _freeze_groups(self, module: torch.nn.Module) -> None:
        counts = {g: 0 for g in GROUPS}
        for name, param in module.named_parameters():
            if ".lora_" not in name:
                continue
            group = self._group(name)
            counts[group] += param.numel()
            param.requires_grad_(group in self.spec.train_groups)
        empty = [g for g in self.spec.lora_groups if counts[g] == 0]
        if empty:
            raise InputError(
                f"no LoRA weight landed in group(s) {empty}: the model's modules do not follow the "
                f"{self.layout.name} layout (set a2s.layout)",
                source="a2s.lora_groups",
            )
        self.group_params = counts
        self.initial_lora = lora_state(module)

    def _param_groups(self, module: torch.nn.Module, lr: float) -> list[dict]:
        groups: dict[str, list] = {}
        for name, param in module.named_parameters():
            if param.requires_grad:
                groups.setdefault(self._group(name), []).append(param)
        if not groups:
            raise InputError("nothing to train: every LoRA weight is frozen", source="a2s.train_groups")
        ordered = sorted(groups, key=lambda g: (-self.spec.lr_scale(g), GROUPS.index(g)))
        return [{"params": groups[g], "lr": lr * self.spec.lr_scale(g), "name": g} for g in ordered]

    # -- after fit ------------------------------------------------------------------------------

    def group_lrs(self) -> dict[str, float]:
        """Initial learning rate of each trained group (as the optimizer holds it)."""
        opt = self.engine.optimizer
        return {pg.get("name", str(i)): float(pg.get("initial_lr", pg["lr"])) for i, pg in enumerate(opt.param_groups)}

    def report(self) -> dict[str, Any]:
        """What this phase did: groups, LRs, loss per step, curriculum stages, weight changes."""
        final = lora_state(self.engine.module)
        moved: dict[str, float] = {g: 0.0 for g in self.spec.lora_groups}
        for name, value in final.items():
            delta = float((value - self.initial_lora[name]).abs().max()) if name in self.initial_lora else math.nan
            group = self._group(name)
            moved[group] = max(moved[group], delta)
        steps = len(self.losses)
        return {
            "phase": self.spec.phase,
            "layout": self.layout.name,
            "lora_rank": int(self.config.model.lora_rank),
            "lora_groups": list(self.spec.lora_groups),
            "train_groups": list(self.spec.train_groups),
            "group_lr": self.group_lrs(),
            "lora_params_per_group": self.group_params,
            "adapter_in": self.config.model.get("lora_adapter_path", None),
            "steps": steps,
            "loss": self.losses,
            "max_abs_change_per_group": moved,
            "curriculum": None
            if self.curriculum is None
            else {
                "thresholds": list(self.curriculum.plan.thresholds),
                "stages": self.curriculum.plan.seen(steps),
                "excluded_above_last_threshold": len(self.curriculum.plan.excluded),
            },
            "train_samples": len(self.train_dataset),
        }

    def save_adapter(self, out_dir: str | os.PathLike) -> Path:
        """Write the adapter as a plain PEFT directory (what ``lora_adapter_path`` and PEFT load)."""
        from peft import get_peft_model_state_dict
        from safetensors.torch import save_file

        module = self.engine.module
        full = lora_state(module)
        state = get_peft_model_state_dict(module, state_dict=full)
        out = Path(out_dir)
        rank0 = not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0
        if rank0:
            out.mkdir(parents=True, exist_ok=True)
            config = module.peft_config["default"]
            config.base_model_name_or_path = str(self.config.model.path)
            config.save_pretrained(str(out))
            save_file({k: v.contiguous() for k, v in state.items()}, str(out / "adapter_model.safetensors"))
        return out


# ----------------------------------------------------------------------------------------------
# entry points


def run_phase(cfg: Any) -> dict[str, Any]:
    """Check the config, train one phase with verl's SFT trainer, write adapter + report.

    On a CPU-only machine verl's device layer is switched to the ``cpu`` platform
    (:mod:`.cpu`), fp32, and a one-process ``gloo`` group is started; on GPUs verl runs unchanged
    (launch with ``torchrun --nproc_per_node=N -m verl_dgwgpo.sft ...`` as for
    ``verl.trainer.sft_trainer``). Every rank must call this (the adapter gather is collective).
    """
    from . import cpu

    cfg, spec, layout = prepare_config(cfg)
    if cpu.is_cpu_only():
        cpu.install()
        from omegaconf import open_dict

        with open_dict(cfg):
            cfg.trainer.device = "cpu"
            cfg.model.override_config.attn_implementation = cfg.model.override_config.get("attn_implementation", "sdpa")
            # CPUs have no fast bf16 path and bf16 rounding hides a tiny model's loss changes
            cfg.engine.mixed_precision = {"param_dtype": "fp32", "reduce_dtype": "fp32", "buffer_dtype": "fp32"}
        group = cpu.single_process_group()
    else:
        group = _verl_process_group()
    with group:
        trainer = A2SSFTTrainer(cfg, spec, layout)
        trainer.fit()
        out = Path(spec.adapter_out or Path(cfg.trainer.default_local_dir) / "adapter")
        trainer.save_adapter(out)
        report = trainer.report()
        report["adapter_out"] = str(out)
        if not torch.distributed.is_initialized() or torch.distributed.get_rank() == 0:
            (out / "a2s_report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


@contextmanager
def _verl_process_group() -> Iterator[None]:
    """GPU runs: verl's own process-group setup (``torchrun`` sets RANK/WORLD_SIZE), as its SFT main."""
    if torch.distributed.is_initialized():
        yield
        return
    from verl.utils.distributed import destroy_global_process_group, initialize_global_process_group

    initialize_global_process_group()
    try:
        yield
    finally:
        destroy_global_process_group()
