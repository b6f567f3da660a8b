"""The ``a2s`` section of a phase config, checked before any model is built.

Why: a wrong group name, a curriculum over cuts without ``base_wer`` or a missing adapter must fail
in the first second, naming the key, not after minutes of model loading (or worse, train the wrong
weights silently). verl's own keys (``model``, ``data``, ``optim``, ``trainer``) keep their meaning;
this section adds only what verl's SFT trainer cannot express::

    a2s:
      phase: 1                      # label in reports / output names
      layout: auto                  # auto (from config.json model_type) | qwen3_asr | qwen-asr | qwen2_audio
      lora_groups: [all]            # modules the adapter covers (same in every phase, so it chains)
      train_groups: [acoustic]      # LoRA weights that move in this phase; the rest stay frozen
      group_lr_scale: {}            # e.g. {acoustic: 0.1}: lr = optim.lr * scale for that group
      curriculum: {enable: true, thresholds: [0.30, 0.50, 0.70], epochs_per_stage: 1, seed: 0}
      adapter_out: null             # PEFT adapter written after training (default <default_local_dir>/adapter)
      requires_adapter: false       # phases 2 and 3: model.lora_adapter_path must be given
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nemo_wild_eval.errors import InputError

from .curriculum import DEFAULT_THRESHOLDS, _check_thresholds
from .groups import GROUPS, LAYOUTS, Layout, expand_groups

__all__ = ["CurriculumOptions", "PhaseSpec", "adapter_groups", "check_adapter_dir"]

_ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


@dataclass(frozen=True)
class CurriculumOptions:
    """``a2s.curriculum``: WER-bucket schedule of the training data (phase 1)."""

    enable: bool = False
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS
    epochs_per_stage: int = 1
    seed: int = 0
    shuffle: bool = True


@dataclass(frozen=True)
class PhaseSpec:
    """One A2S-SFT phase: which LoRA weights exist, which move, at which LR, on which data order."""

    phase: str = "1"
    layout: str = "auto"
    lora_groups: tuple[str, ...] = GROUPS
    train_groups: tuple[str, ...] = ("audio_tower", "aligner")
    group_lr_scale: dict[str, float] = field(default_factory=dict)
    curriculum: CurriculumOptions = CurriculumOptions()
    adapter_out: str | None = None
    requires_adapter: bool = False

    @classmethod
    def from_config(cls, a2s: Mapping[str, Any] | None) -> PhaseSpec:
        """Parse and check ``a2s`` (raises :class:`InputError` naming the key)."""
        cfg = dict(a2s or {})
        known = {"phase", "layout", "lora_groups", "train_groups", "group_lr_scale", "curriculum", "adapter_out",
                 "requires_adapter"}
        unknown = sorted(set(cfg) - known)
        if unknown:
            raise InputError(f"unknown key(s) {unknown}; known: {sorted(known)}", source="a2s")
        layout = str(cfg.get("layout", "auto") or "auto")
        if layout != "auto" and layout not in LAYOUTS:
            raise InputError(f"unknown layout {layout!r}; known: auto, {', '.join(LAYOUTS)}", source="a2s.layout")
        lora_groups = expand_groups(cfg.get("lora_groups", ["all"]), source="a2s.lora_groups")
        train_groups = expand_groups(cfg.get("train_groups", None), source="a2s.train_groups")
        if not train_groups:
            raise InputError("no group to train (e.g. [acoustic], [llm] or [all])", source="a2s.train_groups")
        outside = [g for g in train_groups if g not in lora_groups]
        if outside:
            raise InputError(f"train groups {outside} have no LoRA (a2s.lora_groups={list(lora_groups)})", source="a2s.train_groups")
        scales: dict[str, float] = {}
        for name, value in dict(cfg.get("group_lr_scale", None) or {}).items():
            try:
                scale = float(value)
            except (TypeError, ValueError):
                raise InputError(f"{name}: not a number: {value!r}", source="a2s.group_lr_scale") from None
            if not scale > 0:
                raise InputError(f"{name}: must be > 0, got {value!r}", source="a2s.group_lr_scale")
            for group in expand_groups([name], source="a2s.group_lr_scale"):
                scales[group] = scale
        cur = dict(cfg.get("curriculum", None) or {})
        bad_cur = sorted(set(cur) - {"enable", "thresholds", "epochs_per_stage", "seed", "shuffle"})
        if bad_cur:
            raise InputError(f"unknown key(s) {bad_cur}", source="a2s.curriculum")
        curriculum = CurriculumOptions(
            enable=bool(cur.get("enable", False)),
            thresholds=_check_thresholds(cur.get("thresholds", DEFAULT_THRESHOLDS)),
            epochs_per_stage=int(cur.get("epochs_per_stage", 1)),
            seed=int(cur.get("seed", 0)),
            shuffle=bool(cur.get("shuffle", True)),
        )
        if curriculum.epochs_per_stage < 1:
            raise InputError("must be >= 1", source="a2s.curriculum.epochs_per_stage")
        return cls(
            phase=str(cfg.get("phase", "1")),
            layout=layout,
            lora_groups=lora_groups,
            train_groups=train_groups,
            group_lr_scale=scales,
            curriculum=curriculum,
            adapter_out=cfg.get("adapter_out", None),
            requires_adapter=bool(cfg.get("requires_adapter", False)),
        )

    def resolve_layout(self, model_type: str | None) -> Layout:
        """The module map for this run (``auto``: from the model's ``config.json`` ``model_type``)."""
        if self.layout != "auto":
            return LAYOUTS[self.layout]
        if model_type not in LAYOUTS:
            raise InputError(
                f"model_type {model_type!r} has no A2S-SFT module map; set a2s.layout to one of {list(LAYOUTS)}",
                source="model.path",
            )
        return LAYOUTS[model_type]

    def lr_scale(self, group: str) -> float:
        return self.group_lr_scale.get(group, 1.0)


def check_adapter_dir(path: str | Path | None, *, source: str = "model.lora_adapter_path") -> Path | None:
    """A PEFT adapter directory (config + weights) or :class:`InputError` naming the path."""
    if path is None:
        return None
    p = Path(str(path)).expanduser()
    if not p.is_dir():
        raise InputError(f"adapter directory does not exist: {p}", source=source)
    if not (p / "adapter_config.json").is_file():
        raise InputError(f"no adapter_config.json in {p}: not a PEFT adapter", source=source)
    if not any((p / name).is_file() for name in _ADAPTER_WEIGHTS):
        raise InputError(f"no {' or '.join(_ADAPTER_WEIGHTS)} in {p}", source=source)
    try:
        json.loads((p / "adapter_config.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed adapter_config.json: {exc}", source=str(p)) from None
    return p


def adapter_groups(path: str | Path, layout: Layout) -> dict[str, int]:
    """Number of LoRA weight tensors per group in an adapter directory (keys outside every group
    raise: the adapter was trained on another layout)."""
    p = Path(path)
    weights = next(p / n for n in _ADAPTER_WEIGHTS if (p / n).is_file())
    if weights.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(weights), framework="pt") as f:
            keys = list(f.keys())
    else:
        import torch

        keys = list(torch.load(str(weights), map_location="cpu", weights_only=True))
    counts = {g: 0 for g in GROUPS}
    for key in keys:
        module = key.split(".lora_")[0]
        group = layout.group(module)
        if group is None:
            raise InputError(f"adapter key {key!r} is outside the {layout.name} module map", source=str(p))
        counts[group] += 1
    return counts
