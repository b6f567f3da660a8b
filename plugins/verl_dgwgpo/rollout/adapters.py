"""Convert Qwen3-ASR LoRA adapters between the ``qwen-asr`` key layout and native transformers.

The Mega-ASR authors released their robust LoRA for the ``qwen-asr`` package, whose model nests
everything under a ``thinker`` (PEFT keys ``base_model.model.thinker.*``) and keeps the audio-to-text
aligner inside the audio tower. transformers (>= 5.13) has Qwen3-ASR natively with another layout
(DESIGN §5), so that adapter does not load into the model verl trains. Module map:

=====================================  ========================================
``qwen-asr``                           native transformers
=====================================  ========================================
``thinker.audio_tower.proj1``          ``model.multi_modal_projector.linear_1``
``thinker.audio_tower.proj2``          ``model.multi_modal_projector.linear_2``
``thinker.audio_tower.*``              ``model.audio_tower.*`` (conv2d1-3, conv_out, layers, ln_post)
``thinker.model.*``                    ``model.language_model.*``
``thinker.lm_head``                    ``lm_head``
=====================================  ========================================

Usage: ``python -m verl_dgwgpo.rollout.adapters SRC_DIR DST_DIR [--to native|qwen-asr]``, then
``PeftModel.from_pretrained(native_model, DST_DIR)``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

from nemo_wild_eval.errors import InputError

__all__ = ["Layout", "convert_adapter_dir", "convert_key", "convert_state_dict", "convert_target", "detect_layout"]

Layout = Literal["native", "qwen-asr"]

# (qwen-asr prefix, native prefix), most specific first: the aligner must be matched before the
# audio tower it lives in.
_MODULE_MAP: tuple[tuple[str, str], ...] = (
    ("thinker.audio_tower.proj1", "model.multi_modal_projector.linear_1"),
    ("thinker.audio_tower.proj2", "model.multi_modal_projector.linear_2"),
    ("thinker.audio_tower", "model.audio_tower"),
    ("thinker.model", "model.language_model"),
    ("thinker.lm_head", "lm_head"),
)
# Bare module names (PEFT ``target_modules`` entries) that differ between the layouts: the aligner.
_NAME_MAP: tuple[tuple[str, str], ...] = (("proj1", "linear_1"), ("proj2", "linear_2"))
_PEFT_PREFIX = "base_model.model."
_WEIGHT_FILES = ("adapter_model.safetensors", "adapter_model.bin")


def _pairs(to: Layout) -> list[tuple[str, str]]:
    if to == "native":
        return list(_MODULE_MAP)
    if to == "qwen-asr":
        # Reverse direction: the aligner's native prefixes are disjoint from the audio tower's.
        return [(native, qwen) for qwen, native in _MODULE_MAP]
    raise InputError(f"unknown layout {to!r} (native or qwen-asr)", source="to")


def _matches(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + ".")


def key_layout(key: str) -> Layout | None:
    """The layout a module path / state-dict key belongs to (``None``: neither)."""
    path = key[len(_PEFT_PREFIX) :] if key.startswith(_PEFT_PREFIX) else key
    if any(_matches(path, qwen) for qwen, _ in _MODULE_MAP):
        return "qwen-asr"
    if any(_matches(path, native) for _, native in _MODULE_MAP):
        return "native"
    return None


def convert_key(key: str, to: Layout = "native") -> str:
    """One module path or state-dict key in the other layout (keys already in ``to`` stay as they are).

    Raises :class:`InputError` naming the key when it belongs to neither Qwen3-ASR layout.
    """
    prefix = _PEFT_PREFIX if key.startswith(_PEFT_PREFIX) else ""
    path = key[len(prefix) :]
    for src, dst in _pairs(to):
        if _matches(path, src):
            return prefix + dst + path[len(src) :]
    if key_layout(key) == to:
        return key
    raise InputError("not a Qwen3-ASR module path in either layout (thinker.* / model.* / lm_head)", source=key)


def convert_state_dict(state: Mapping[str, Any], to: Layout = "native") -> dict[str, Any]:
    """Adapter weights with every key converted (values untouched); refuses key collisions."""
    out: dict[str, Any] = {}
    for key, value in state.items():
        new = convert_key(key, to)
        if new in out:
            raise InputError(f"two keys convert to {new!r}", source=key)
        out[new] = value
    return out


def convert_target(target: Any, to: Layout = "native") -> Any:
    """``target_modules`` / ``modules_to_save`` / pattern keys in the other layout.

    Bare module names match in both layouts and stay, except the aligner's (``proj1`` <->
    ``linear_1``, ``proj2`` <-> ``linear_2``); dotted paths are converted; a regex string (PEFT
    matches it with ``re.fullmatch``) has its layout prefixes and aligner names rewritten, with dots
    written either plain or escaped.
    """
    if target is None:
        return None
    if isinstance(target, str):
        if _is_regex(target):
            return _convert_names(_convert_regex(target, to), to)
        if "." not in target:
            return _convert_names(target, to)
        return convert_key(target, to)
    if isinstance(target, Mapping):
        return {convert_target(k, to): v for k, v in target.items()}
    if isinstance(target, Iterable):
        return [convert_target(t, to) for t in target]
    raise InputError(f"unsupported target {target!r}", source="adapter_config.json")


def _convert_names(text: str, to: Layout) -> str:
    pairs = _NAME_MAP if to == "native" else tuple((b, a) for a, b in _NAME_MAP)
    for src, dst in pairs:
        text = re.sub(rf"(?<![A-Za-z0-9_]){src}(?![A-Za-z0-9_])", dst, text)
    return text


def _is_regex(text: str) -> bool:
    return any(ch in text for ch in "\\*+?()[]|^$")


def _convert_regex(pattern: str, to: Layout) -> str:
    def dotted(prefix: str) -> str:
        # A prefix in the pattern may write its dots as `.` or `\.`.
        return r"\\?\.".join(re.escape(part) for part in prefix.split("."))

    pairs = _pairs(to)
    alternation = "|".join(f"(?:{dotted(src)})" for src, _ in pairs)
    finder = re.compile(rf"(?<![A-Za-z0-9_])({alternation})(?![A-Za-z0-9_])")

    def repl(m: re.Match) -> str:
        found = m.group(1)
        escaped = "\\." in found
        for src, dst in pairs:
            if re.fullmatch(dotted(src), found):
                return dst.replace(".", "\\.") if escaped else dst
        return found  # pragma: no cover - alternation and pairs are the same list

    return finder.sub(repl, pattern)


def detect_layout(keys: Iterable[str]) -> Layout:
    """The single layout of an adapter's keys (mixed or unknown keys raise :class:`InputError`)."""
    seen: dict[Layout, str] = {}
    for key in keys:
        layout = key_layout(key)
        if layout is None:
            raise InputError("not a Qwen3-ASR adapter key in either layout", source=key)
        seen.setdefault(layout, key)
    if len(seen) != 1:
        raise InputError(f"adapter mixes layouts (e.g. {sorted(seen.values())})", source="adapter")
    return next(iter(seen))


def _load_weights(path: Path) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    import torch

    return torch.load(str(path), map_location="cpu", weights_only=True)


def _save_weights(state: dict[str, Any], path: Path) -> None:
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, str(path), metadata={"format": "pt"})
    else:
        import torch

        torch.save(state, str(path))


def convert_adapter_dir(
    src: str | Path, dst: str | Path, *, to: Layout = "native", base_model: str | None = None
) -> Path:
    """Write a copy of the PEFT adapter in ``src`` with keys and config in the ``to`` layout.

    ``base_model`` replaces ``base_model_name_or_path`` (e.g. the native ``Qwen/Qwen3-ASR-1.7B-hf``).
    Other files (README, tokenizer files) are copied unchanged.
    """
    src, dst = Path(src), Path(dst)
    config_path = src / "adapter_config.json"
    if not config_path.is_file():
        raise InputError("no adapter_config.json: not a PEFT adapter directory", source=str(src))
    weights = next((src / name for name in _WEIGHT_FILES if (src / name).is_file()), None)
    if weights is None:
        raise InputError(f"no {' or '.join(_WEIGHT_FILES)}", source=str(src))
    if dst.resolve() == src.resolve():
        raise InputError("destination must differ from the source", source=str(dst))
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc}", source=str(config_path)) from None
    state = _load_weights(weights)
    if not state:
        raise InputError("adapter holds no weights", source=str(weights))
    detect_layout(state)  # mixed / foreign keys fail before anything is written
    new_state = convert_state_dict(state, to)
    for field in ("target_modules", "modules_to_save", "rank_pattern", "alpha_pattern", "exclude_modules"):
        if config.get(field) is not None:
            config[field] = convert_target(config[field], to)
    if base_model is not None:
        config["base_model_name_or_path"] = base_model
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_file() and item.name not in (config_path.name, weights.name):
            shutil.copy2(item, dst / item.name)
    _save_weights(new_state, dst / weights.name)
    (dst / config_path.name).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return dst


def main(argv: list[str] | None = None) -> int:
    """``python -m verl_dgwgpo.rollout.adapters SRC DST``: convert one adapter directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", help="PEFT adapter directory (qwen-asr layout)")
    parser.add_argument("dst", help="output directory")
    parser.add_argument("--to", choices=["native", "qwen-asr"], default="native")
    parser.add_argument("--base-model", default=None, help="new base_model_name_or_path")
    args = parser.parse_args(argv)
    try:
        out = convert_adapter_dir(args.src, args.dst, to=args.to, base_model=args.base_model)
    except InputError as exc:
        print(f"error: {exc}")
        return 2
    print(out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
