"""Targeted patches of verl 0.9.1 so an audio LLM can be the DAPO policy (never a fork).

Each patch fixes one measured failure of stock verl with Qwen3-ASR / Qwen2-Audio:

=================  ==========================================================================
``processor``      ``hf_processor`` raises "Unsupported processor type" for audio processors,
                   catches it and returns ``None``: the run silently goes text-only.
``auto_class``     ``get_hf_auto_model_class`` picks ``AutoModel``: the bare model, no LM head.
``reprocess``      the agent loop re-processes the decoded sequence for actor features; the
                   audio placeholders vanish (special tokens) or are already expanded, so
                   Qwen2-Audio's processor count check fails.
``single_expansion``  the rollout server gets processor-expanded audio placeholders and vLLM
                   expands them again; runs of ``<|audio_pad|>`` are collapsed to one first.
``banned_tokens``  the policy may sample an audio placeholder (then features and tokens no
                   longer match); it is banned like verl bans image placeholders.
``varlen_mask``    Qwen3-ASR's ``input_features_mask`` is not a variable-length key, so a batch of
                   clips of different lengths cannot be concatenated.
``builder``        the Continuous Token builder treats a processor without an image processor as
                   text-only and refuses audio.
``agent_registry`` registers the ``audio_asr`` agent loop by name (hydra imports it lazily), so
                   no ``agent_loop_config_path`` is needed.
``fsdp_abc``       ``maybe_patch_fsdp_module`` swaps in an ``ABC``-based ``FSDPModule`` whenever
                   ``isinstance(model, ABC)``. Once Lightning is imported (NeMo imports it), its
                   ``_TransferableDataType`` ABC claims every class with a ``.to`` method, every
                   ``nn.Module`` included, and ``fully_shard`` then fails with "__class__
                   assignment: ... object layout differs". The swap now needs ``ABC`` really in
                   the model's MRO.
``root_tie``       verl's FSDP engine reads ``hf_config.tie_word_embeddings`` at the root; transformers 5
                   keeps it only in ``text_config`` for Qwen2-Audio (AttributeError at model build).
                   The root gets the text config's value.
``fsdp2_units``    ``_select_fsdp2_wrap_targets`` picks every ``_no_split_modules`` class and every
                   embedding. For Qwen2-Audio that breaks FSDP2 ("mixed torch.Tensor and DTensor"):
                   ``Qwen2AudioAttention`` is picked inside the picked encoder layer, and the
                   encoder reads ``embed_positions.weight`` directly (no forward to unshard it).
                   For audio LLMs only the outermost picks are kept and direct-read embeddings
                   stay in their parent's unit (SFT and the RL actor share the fix).
=================  ==========================================================================

:func:`apply` never raises: a patch that fails to install is logged and reported as ``failed`` by
:func:`status`; the dataset and the agent loop then refuse to run (no silent text-only run).

Patches are applied lazily: :func:`apply` patches the target modules already imported and installs
an import hook that patches the others when verl imports them, so ``import verl`` stays cheap and
modules with GPU-only imports (the vLLM server) are never imported here. Functions that other verl
modules imported by name (``from verl.utils import hf_processor``) are re-bound there too.

verl loads ``verl.plugins`` entry points by importing them (it never calls them), so
:func:`apply` must run at import time of the entry-point module; importing
:mod:`verl_dgwgpo.rollout.autopatch` does exactly that (also usable through
``VERL_USE_EXTERNAL_MODULES=verl_dgwgpo.rollout.autopatch``).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from verl_dgwgpo._import_hooks import PostImportFinder

from .models import (
    FAMILIES,
    audio_token_id,
    causal_lm_class,
    collapse_audio_runs,
    family_for_config,
    is_audio_processor,
)

__all__ = ["PATCHES", "apply", "revert", "status", "stock"]

logger = logging.getLogger(__name__)

Undo = Callable[[], None]


@dataclass(frozen=True)
class Patch:
    """One targeted change: which module, how to install it (returns its undo), and why."""

    name: str
    module: str
    install: Callable[[ModuleType], Undo]
    why: str


_lock = threading.RLock()
_installed: dict[str, Undo] = {}
_failed: dict[str, str] = {}
_active = False
# id(original function) -> (original, replacement): names other modules imported get re-bound.
_rebinds: dict[int, tuple[Any, Any]] = {}


# --------------------------------------------------------------------------------------------
# installation helpers


def _rebind_in(module: ModuleType, old: Any, new: Any) -> None:
    namespace = getattr(module, "__dict__", None)
    if not namespace:
        return
    for key, value in list(namespace.items()):
        if value is old:
            setattr(module, key, new)


def _verl_modules() -> list[ModuleType]:
    return [m for n, m in list(sys.modules.items()) if m is not None and (n == "verl" or n.startswith("verl."))]


def _replace_function(module: ModuleType, attr: str, make: Callable[[Any], Any]) -> Undo:
    original = getattr(module, attr)
    replacement = functools.wraps(original)(make(original))
    replacement.__wildasr_patch__ = True
    setattr(module, attr, replacement)
    _rebinds[id(original)] = (original, replacement)
    for mod in _verl_modules():
        _rebind_in(mod, original, replacement)

    def undo() -> None:
        setattr(module, attr, original)
        _rebinds.pop(id(original), None)
        for mod in _verl_modules():
            _rebind_in(mod, replacement, original)

    return undo


def _replace_method(cls: type, attr: str, make: Callable[[Any], Any]) -> Undo:
    original = cls.__dict__[attr]
    replacement = functools.wraps(original)(make(original))
    replacement.__wildasr_patch__ = True
    setattr(cls, attr, replacement)
    return lambda: setattr(cls, attr, original)


def _extend_set(target: set, items: set) -> Undo:
    added = {x for x in items if x not in target}
    target.update(added)
    return lambda: target.difference_update(added)


def _extend_dict(target: dict, items: dict) -> Undo:
    added = {k: v for k, v in items.items() if k not in target}
    target.update(added)

    def undo() -> None:
        for key in added:
            target.pop(key, None)

    return undo


def _chain(*undos: Undo) -> Undo:
    def undo() -> None:
        for u in reversed(undos):
            u()

    return undo


# --------------------------------------------------------------------------------------------
# the patches


def _install_processor(module: ModuleType) -> Undo:
    def make(original: Callable) -> Callable:
        def hf_processor(name_or_path, **kwargs):
            config = None
            try:
                from transformers import AutoConfig

                config = AutoConfig.from_pretrained(
                    name_or_path, trust_remote_code=kwargs.get("trust_remote_code", False)
                )
            except Exception:  # not a model directory we can read: let verl decide
                return original(name_or_path, **kwargs)
            family = family_for_config(config)
            if family is None:
                return original(name_or_path, **kwargs)
            from transformers import AutoProcessor

            # An audio LLM without its processor would train text-only: fail loudly instead.
            processor = AutoProcessor.from_pretrained(name_or_path, **kwargs)
            if type(processor).__name__ != family.processor_class:
                raise TypeError(
                    f"{name_or_path}: expected {family.processor_class} for model_type "
                    f"{family.model_type!r}, AutoProcessor gave {type(processor).__name__}"
                )
            processor.config = config
            return processor

        return hf_processor

    return _replace_function(module, "hf_processor", make)


def _install_auto_class(module: ModuleType) -> Undo:
    def make(original: Callable) -> Callable:
        def get_hf_auto_model_class(hf_config):
            if family_for_config(hf_config) is not None:
                return causal_lm_class(hf_config)
            return original(hf_config)

        return get_hf_auto_model_class

    return _replace_function(module, "get_hf_auto_model_class", make)


def _install_varlen(module: ModuleType) -> Undo:
    keys = {f.feature_mask_key for f in FAMILIES.values()} | {"input_features"}
    return _extend_set(module._VARLEN_MULTI_MODAL_KEYS, keys)


def _install_reprocess(module: ModuleType) -> Undo:
    from .features import audio_features

    def make(original: Callable) -> Callable:
        def _compute_multi_modal_inputs(self, output, input_ids):
            mm = output.multi_modal_data or {}
            audios = mm.get("audios")
            if not audios or not is_audio_processor(self.processor) or mm.get("images") or mm.get("videos"):
                return original(self, output, input_ids)
            kwargs = output.mm_processor_kwargs
            if kwargs is None:
                kwargs = self._get_mm_processor_kwargs(audios)
            return audio_features(self.processor, audios, input_ids, mm_processor_kwargs=kwargs)

        return _compute_multi_modal_inputs

    return _replace_method(module.AgentLoopWorker, "_compute_multi_modal_inputs", make)


def _install_rollout_utils(module: ModuleType) -> Undo:
    def make_dedup(original: Callable) -> Callable:
        def qwen2_5_vl_dedup_image_tokens(prompt_ids, processor):
            prompt_ids = original(prompt_ids, processor)
            if is_audio_processor(processor):
                prompt_ids = collapse_audio_runs(list(prompt_ids), audio_token_id(processor))
            return prompt_ids

        return qwen2_5_vl_dedup_image_tokens

    def make_banned(original: Callable) -> Callable:
        def get_vision_placeholder_token_ids(processor):
            token_ids = list(original(processor))
            if is_audio_processor(processor):
                tid = audio_token_id(processor)
                if tid not in token_ids:
                    token_ids.append(tid)
            return token_ids

        return get_vision_placeholder_token_ids

    return _chain(
        _replace_function(module, "qwen2_5_vl_dedup_image_tokens", make_dedup),
        _replace_function(module, "get_vision_placeholder_token_ids", make_banned),
    )


def _install_builder(module: ModuleType) -> Undo:
    def make(original: Callable) -> Callable:
        def _is_multimodal_processor(processor):
            return original(processor) or is_audio_processor(processor)

        return _is_multimodal_processor

    # Both families render ChatML; the Qwen builder keeps its newline handling between turns.
    family = module.ContinuousTokenModelFamily.QWEN_VL
    return _chain(
        _replace_function(module, "_is_multimodal_processor", make),
        _extend_dict(module._MODEL_TYPE_TO_FAMILY, {name: family for name in FAMILIES}),
    )


def _install_registry(module: ModuleType) -> Undo:
    from . import AGENT_NAME

    target = {"_target_": "verl_dgwgpo.rollout.agent_loop.AudioASRAgentLoop"}
    return _extend_dict(module._agent_loop_registry, {AGENT_NAME: target})


def _install_fsdp_abc(module: ModuleType) -> Undo:
    from abc import ABC

    def make(original: Callable) -> Callable:
        @contextlib.contextmanager
        def maybe_patch_fsdp_module(model):
            if ABC in type(model).__mro__:  # a real ABC subclass: verl's swap is what it needs
                with original(model):
                    yield
            else:  # isinstance() held only through a foreign __subclasshook__ (Lightning)
                yield

        return maybe_patch_fsdp_module

    return _replace_function(module, "maybe_patch_fsdp_module", make)


# Embeddings an audio model reads by ``.weight`` instead of calling them (so never unsharded).
_DIRECT_READ_EMBEDDINGS = ("audio_tower.embed_positions",)


def _install_root_tie(module: ModuleType) -> Undo:
    def make(original: Callable) -> Callable:
        def __post_init__(self):
            original(self)
            hf = getattr(self, "hf_config", None)
            text = getattr(hf, "text_config", None)
            if family_for_config(hf) is None or text is None:
                return
            try:
                getattr(hf, "tie_word_embeddings")
            except AttributeError:  # transformers 5 keeps it in text_config only (Qwen2-Audio)
                hf.tie_word_embeddings = bool(getattr(text, "tie_word_embeddings", False))

        return __post_init__

    return _replace_method(module.HFModelConfig, "__post_init__", make)


def _install_fsdp2_units(module: ModuleType) -> Undo:
    def make(original: Callable) -> Callable:
        def _select_fsdp2_wrap_targets(model, fsdp_transformer_layer_cls_to_wrap):
            picked = original(model, fsdp_transformer_layer_cls_to_wrap)
            if family_for_config(getattr(model, "config", None)) is None:
                return picked  # not an audio LLM of ours: verl's choice unchanged
            names = {id(m): n for n, m in model.named_modules()}
            picked = [m for m in picked if not names.get(id(m), "").endswith(_DIRECT_READ_EMBEDDINGS)]
            prefixes = [names[id(m)] + "." for m in picked]
            return [m for m in picked if not any(names[id(m)].startswith(p) for p in prefixes)]

        return _select_fsdp2_wrap_targets

    return _replace_function(module, "_select_fsdp2_wrap_targets", make)


PATCHES: tuple[Patch, ...] = (
    Patch("processor", "verl.utils.tokenizer.tokenizer", _install_processor, "keep the audio processor"),
    Patch("auto_class", "verl.utils.model", _install_auto_class, "load the class with the LM head"),
    Patch("varlen_mask", "verl.utils.model", _install_varlen, "pad feature masks of different lengths"),
    Patch(
        "reprocess",
        "verl.experimental.agent_loop.agent_loop",
        _install_reprocess,
        "actor features from one placeholder per clip, count-checked",
    ),
    Patch(
        "single_expansion",
        "verl.workers.rollout.utils",
        _install_rollout_utils,
        "one audio placeholder per clip to vLLM; placeholders banned from sampling",
    ),
    Patch(
        "agent_registry",
        "verl.experimental.agent_loop.agent_loop",
        _install_registry,
        "the audio_asr agent loop is known by name",
    ),
    Patch(
        "builder",
        "verl.utils.tokenizer.continuous_token_wiring",
        _install_builder,
        "audio processors are multimodal",
    ),
    Patch(
        "fsdp_abc",
        "verl.utils.fsdp_utils",
        _install_fsdp_abc,
        "FSDP2 wrapping survives `import lightning` (NeMo)",
    ),
    Patch(
        "root_tie",
        "verl.workers.config.model",
        _install_root_tie,
        "Qwen2-Audio's tie_word_embeddings at the config root, where verl's FSDP engine reads it",
    ),
    Patch(
        "fsdp2_units",
        "verl.utils.fsdp_utils",
        _install_fsdp2_units,
        "Qwen2-Audio wraps in FSDP2: outermost units only, direct-read embeddings left to the parent",
    ),
)


# --------------------------------------------------------------------------------------------
# lazy application through an import hook


def _install_pending(module_name: str) -> None:
    module = sys.modules.get(module_name)
    if module is None:
        return
    for patch in PATCHES:
        if patch.module == module_name and patch.name not in _installed and patch.name not in _failed:
            try:
                _installed[patch.name] = patch.install(module)
            except Exception as exc:  # never break `import verl`; status() reports it
                _failed[patch.name] = f"{type(exc).__name__}: {exc}"
                logger.warning("verl_dgwgpo: patch %r of %s failed: %s", patch.name, module_name, exc)


def _after_import(module: ModuleType) -> None:
    with _lock:
        if not _active:
            return
        try:
            for original, replacement in list(_rebinds.values()):
                _rebind_in(module, original, replacement)
            _install_pending(module.__name__)
        except Exception as exc:  # an import of verl must never fail because of us
            logger.warning("verl_dgwgpo: patching %s failed: %s", module.__name__, exc)


_finder = PostImportFinder(
    wants=lambda name: name == "verl" or name.startswith("verl."),
    on_loaded=_after_import,
)


def apply() -> list[str]:
    """Install every patch (idempotent, never raises). Returns the names installed by this call.

    Patches of verl modules not imported yet are installed when verl imports them.
    """
    global _active
    with _lock:
        before = set(_installed)
        try:
            _active = True
            _finder.install()
            for name in sorted({p.module for p in PATCHES}):
                _install_pending(name)
        except Exception as exc:  # pragma: no cover - defensive: called from `import verl`
            logger.warning("verl_dgwgpo: applying the rollout patches failed: %s", exc)
        return [p.name for p in PATCHES if p.name in _installed and p.name not in before]


def revert() -> None:
    """Undo every installed patch and remove the import hook (stock verl again)."""
    global _active
    with _lock:
        _active = False
        _failed.clear()
        _finder.uninstall()
        for patch in reversed(PATCHES):
            undo = _installed.pop(patch.name, None)
            if undo is not None:
                undo()


def status() -> dict[str, str]:
    """``installed`` / ``pending`` (module not imported yet) / ``failed: why`` / ``off`` per patch."""
    with _lock:
        out = {}
        for p in PATCHES:
            if p.name in _installed:
                out[p.name] = "installed"
            elif p.name in _failed:
                out[p.name] = f"failed: {_failed[p.name]}"
            else:
                out[p.name] = "pending" if _active else "off"
        return out


@contextlib.contextmanager
def stock() -> Iterator[None]:
    """Run a block on stock verl (patches reverted), then restore the previous state."""
    with _lock:
        was_active = _active
        revert()
    try:
        yield
    finally:
        if was_active:
            apply()
