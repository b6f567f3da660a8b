"""``AudioSFTDataset``: verl SFT ``data.custom_cls`` built on the RL rollout's ``AudioASRDataset``.

Why: SFT and RL must see the same audio, the same prompt and the same bad-input checks, so this
class does not read manifests itself. It indexes through
:class:`verl_dgwgpo.rollout.dataset.AudioASRDataset` (Lhotse CutSets/Shar, NeMo manifests) and turns
each RL row (``raw_prompt`` + ``reward_model.ground_truth``) into the tensors verl's SFT engine takes
in ``no_padding`` mode: ``input_ids`` (processor-expanded prompt + target), ``position_ids``,
``loss_mask`` (1 on the target only) and ``multi_modal_inputs`` (``input_features`` + feature mask).

The target is what the model is asked to emit (see :func:`target_text`): Qwen3-ASR answers
``language <Name><asr_text><transcript>``, Qwen2-Audio the bare transcript; both end with the
tokenizer's EOS (``<|im_end|>``).

Split guard: a Lhotse split directory (``wildasr split`` output) resolves to its ``kept`` part; its
``rl`` part (the medium/high-WER enriched RL split) is refused unless ``data.allow_rl_split: true``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from nemo_wild_eval.errors import InputError
from verl_dgwgpo.rollout.dataset import AudioASRDataset, messages_audio

__all__ = ["AudioSFTDataset", "resolve_train_files", "target_text"]

_LANG_NAMES = {"en": "English", "zh": "Chinese", "de": "German", "fr": "French", "es": "Spanish", "ja": "Japanese"}
RL_SPLIT_NAMES = ("rl.jsonl.gz", "rl.jsonl")


def target_text(family: str | None, transcript: str, language: str | None, default_language: str = "English") -> str:
    """The string the model must produce for ``transcript`` (without EOS)."""
    if family == "qwen3_asr":
        lang = language or default_language
        lang = _LANG_NAMES.get(lang.lower(), lang) if isinstance(lang, str) else default_language
        return f"language {lang}<asr_text>{transcript}"
    return transcript


def resolve_train_files(files: Any, *, allow_rl_split: bool = False) -> Any:
    """Split dirs -> their ``kept.jsonl.gz``; refuse the RL split unless asked (names the file)."""
    from lhotse import CutSet

    if isinstance(files, CutSet):
        return files
    items = [files] if isinstance(files, str | os.PathLike) else list(files)
    out: list[Any] = []
    for item in items:
        if isinstance(item, CutSet):
            out.append(item)
            continue
        path = Path(os.fspath(item)).expanduser()
        if path.is_dir() and (path / "split_summary.json").is_file():
            kept = path / "kept.jsonl.gz"
            if not kept.is_file():
                raise InputError("split directory without kept.jsonl.gz", source=str(path))
            path = kept
        if path.name in RL_SPLIT_NAMES and not allow_rl_split:
            raise InputError(
                "this is the RL split (medium/high-WER enriched); SFT does not train on it unless "
                "data.allow_rl_split=true",
                source=str(path),
            )
        out.append(str(path))
    return out


class AudioSFTDataset(Dataset):
    """verl SFT dataset (``data.custom_cls``) over the rollout's audio rows; see the module docstring."""

    def __init__(
        self,
        parquet_files: Any,
        tokenizer: Any,
        config: Mapping[str, Any] | None,
        processor: Any = None,
        max_samples: int = -1,
    ):
        cfg = config or {}
        files = resolve_train_files(parquet_files, allow_rl_split=bool(cfg.get("allow_rl_split", False)))
        self.rows = AudioASRDataset(files, tokenizer, cfg, processor=processor, max_samples=max_samples)
        self.tokenizer = tokenizer
        self.processor = processor
        self.family = self.rows.family.model_type if self.rows.family is not None else None
        self.default_language = str(cfg.get("default_language", "English") or "English")
        self.max_length = int(cfg.get("max_length", 4096) or 4096)
        self.truncation = str(cfg.get("truncation", "error") or "error")
        eos = tokenizer.eos_token
        if eos is None:
            raise InputError("tokenizer has no eos_token; the target would never end", source="tokenizer")
        self.eos = eos

    # the curriculum sampler reads these without decoding audio
    @property
    def items(self):
        """Indexed utterances (``AudioItem``: cut id, text, ``base_wer``...), in dataset order."""
        return self.rows.items

    def __len__(self) -> int:
        return len(self.rows)

    def encode(self, index: int) -> dict[str, Any]:
        """Tokens, loss mask and audio features of one utterance."""
        row = self.rows[index]
        item = self.rows.items[index]
        messages = row["raw_prompt"]
        audio = messages_audio(messages)
        prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        out = self.processor(
            text=[prompt], audio=audio, sampling_rate=self.rows.sampling_rate, return_tensors="pt"
        )
        prompt_ids = out["input_ids"][0].long()
        target = target_text(self.family, row["reward_model"]["ground_truth"], item.language, self.default_language)
        resp_ids = self.tokenizer(target + self.eos, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
        input_ids = torch.cat([prompt_ids, resp_ids.long()])
        loss_mask = torch.cat([torch.zeros_like(prompt_ids), torch.ones_like(resp_ids)]).long()
        if input_ids.numel() > self.max_length:
            # Truncating would cut the audio placeholders or the transcript: never silently.
            raise InputError(
                f"cut {item.cut_id!r} needs {input_ids.numel()} tokens > data.max_length={self.max_length}",
                source=item.source,
            )
        mm = {k: v for k, v in out.items() if k not in ("input_ids", "attention_mask", "num_audio_tokens", "mm_token_type_ids")}
        return {
            "input_ids": input_ids,
            "position_ids": torch.arange(input_ids.numel(), dtype=torch.long),
            "loss_mask": loss_mask,
            "multi_modal_inputs": mm,
        }

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.encode(index)

