"""Module groups of the audio LLMs A2S-SFT adapts: which LoRA weights belong to which side.

Why: the three phases differ only in *which* LoRA weights move (phase 1 acoustic, phase 2 LLM,
phase 3 both, acoustic at a lower LR), so every weight must map to exactly one group, per model
layout. Groups: ``audio_tower`` (encoder: convs, layers, Qwen3-ASR's ``conv_out``), ``aligner``
(audio→text projector), ``llm`` (text decoder layers). ``acoustic`` = ``audio_tower`` + ``aligner``.

=============  ===============================  ===============================  ============================
group          Qwen3-ASR native (transformers)  Qwen3-ASR ``qwen-asr`` package   Qwen2-Audio
=============  ===============================  ===============================  ============================
audio_tower    ``model.audio_tower.*``          ``thinker.audio_tower.*``        ``model.audio_tower.*``
               (conv2d1-3, layers, conv_out)    (minus proj1/proj2)
aligner        ``model.multi_modal_projector``  ``thinker.audio_tower.proj1/2``  ``model.multi_modal_projector``
llm            ``model.language_model.*``       ``thinker.model.*``              ``model.language_model.*``
=============  ===============================  ===============================  ============================

LoRA targets are the Linear leaves of each group (PEFT regex over module names, ``re.fullmatch``);
``lm_head`` and embeddings are never adapted (the paper's LoRA is on the transformer blocks).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nemo_wild_eval.errors import InputError

__all__ = [
    "GROUPS",
    "LAYOUTS",
    "Layout",
    "expand_groups",
    "group_of",
    "layout_for_names",
    "target_regex",
]

GROUPS = ("audio_tower", "aligner", "llm")
ALIASES = {"acoustic": ("audio_tower", "aligner"), "all": GROUPS}
ACOUSTIC = ("audio_tower", "aligner")

_ENC_LEAVES = ("q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2")
_LLM_LEAVES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Layout:
    """Module-name prefixes (regex, no anchors) and LoRA leaf names of each group of one layout."""

    name: str
    prefixes: dict[str, str]
    leaves: dict[str, tuple[str, ...]]
    excludes: dict[str, str]
    """Per group: names under the prefix that belong to another group (the aligner in the tower)."""

    def group(self, module_name: str) -> str | None:
        """The group of a module / parameter name (PEFT/FSDP wrappers stripped), or ``None``."""
        name = _strip(module_name)
        for group in ("aligner", "audio_tower", "llm"):  # the aligner first: it may sit in the tower
            prefix = self.prefixes[group]
            if re.match(rf"(?:{prefix})(?:\.|$)", name):
                excl = self.excludes.get(group)
                if excl and re.match(rf"(?:{excl})(?:\.|$)", name):
                    continue
                return group
        return None


LAYOUTS: dict[str, Layout] = {
    "qwen3_asr": Layout(
        name="qwen3_asr",
        prefixes={
            "audio_tower": r"model\.audio_tower",
            "aligner": r"model\.multi_modal_projector",
            "llm": r"model\.language_model",
        },
        leaves={"audio_tower": _ENC_LEAVES + ("conv_out",), "aligner": ("linear_1", "linear_2"), "llm": _LLM_LEAVES},
        excludes={},
    ),
    "qwen-asr": Layout(
        name="qwen-asr",
        prefixes={
            "audio_tower": r"thinker\.audio_tower",
            "aligner": r"thinker\.audio_tower\.(?:proj1|proj2)",
            "llm": r"thinker\.model",
        },
        leaves={"audio_tower": _ENC_LEAVES + ("conv_out",), "aligner": ("proj1", "proj2"), "llm": _LLM_LEAVES},
        excludes={"audio_tower": r"thinker\.audio_tower\.(?:proj1|proj2)"},
    ),
    "qwen2_audio": Layout(
        name="qwen2_audio",
        prefixes={
            "audio_tower": r"model\.audio_tower",
            "aligner": r"model\.multi_modal_projector",
            "llm": r"model\.language_model",
        },
        leaves={"audio_tower": _ENC_LEAVES, "aligner": ("linear",), "llm": _LLM_LEAVES},
        excludes={},
    ),
}

_WRAPPERS = re.compile(r"^(?:_fsdp_wrapped_module\.|_checkpoint_wrapped_module\.|module\.)*(?:base_model\.model\.)?")


def _strip(name: str) -> str:
    name = _WRAPPERS.sub("", name)
    return name.replace("._fsdp_wrapped_module", "").replace("._checkpoint_wrapped_module", "")


def expand_groups(names: Iterable[str] | str | None, *, source: str = "a2s.groups") -> tuple[str, ...]:
    """Group names with aliases expanded, in canonical order; unknown names raise :class:`InputError`."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = [names]
    out: set[str] = set()
    for raw in names:
        name = str(raw).strip().lower()
        if name in ALIASES:
            out.update(ALIASES[name])
        elif name in GROUPS:
            out.add(name)
        else:
            raise InputError(
                f"unknown module group {raw!r}; known: {', '.join(GROUPS)} (aliases: {', '.join(ALIASES)})",
                source=source,
            )
    return tuple(g for g in GROUPS if g in out)


def target_regex(layout: Layout, groups: Sequence[str]) -> str:
    """PEFT ``target_modules`` regex selecting the Linear leaves of ``groups`` in ``layout``."""
    parts = []
    for group in expand_groups(groups):
        prefix = layout.prefixes[group]
        leaves = "|".join(layout.leaves[group])
        excl = layout.excludes.get(group)
        guard = rf"(?!(?:{excl})(?:\.|$))" if excl else ""
        # under the group's prefix, and the last name component is one of its Linear leaves
        parts.append(rf"{guard}(?=.*\.(?:{leaves})$)(?:{prefix})(?:\..+)?")
    if not parts:
        raise InputError("no module group selected for LoRA", source="a2s.lora_groups")
    return "^(?:" + "|".join(parts) + ")$"


def group_of(name: str, layout: Layout) -> str | None:
    """Shorthand for :meth:`Layout.group`."""
    return layout.group(name)


def layout_for_names(names: Iterable[str], model_type: str | None = None) -> Layout:
    """The layout whose prefixes the model's module names use (``thinker.*`` → ``qwen-asr``)."""
    names = [_strip(n) for n in names]
    if any(n.startswith("thinker.") for n in names):
        return LAYOUTS["qwen-asr"]
    if model_type in LAYOUTS:
        return LAYOUTS[model_type]
    raise InputError(
        f"model_type {model_type!r} has no A2S-SFT module map (known: qwen3_asr native, qwen-asr, qwen2_audio)",
        source="model.path",
    )
