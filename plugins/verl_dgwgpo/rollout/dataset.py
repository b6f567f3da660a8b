"""``AudioASRDataset``: verl ``data.custom_cls`` over Lhotse CutSets/Shar and NeMo manifests.

Each row is what verl's agent loop consumes: ``raw_prompt`` (chat messages whose user turn holds the
clip as ``{"type": "audio", "audio": float32 array}``), ``reward_model.ground_truth`` (the reference
transcript, unnormalised: the reward normalises exactly like the scorer), ``extra_info`` (cut id,
``lhotse_wild`` scenario and severity, base WER, duration, source) and ``agent_name`` (our
registered agent loop, so the batch never falls back to verl's text-only default).

Inputs (``data.train_files`` / ``data.val_files``; a list mixes formats):

- a Lhotse cut manifest (``*.jsonl`` / ``*.jsonl.gz`` of cuts),
- a Lhotse Shar directory (``cuts.000000.jsonl.gz`` + audio shards; the audio is read into memory
  once, compressed as stored),
- a NeMo manifest (JSON lines with ``audio_filepath``, ``text``, optional ``offset``/``duration``;
  optional ``scenario``/``severity``/``base_wer`` keys are carried into ``extra_info``),
- a ``lhotse.CutSet`` object (programmatic use).

Bad input never turns into a silent text-only or empty-reference sample: an empty transcript, a clip
longer than the model's limit, a sampling-rate mismatch, multi-channel audio, or audio that fails
to load raise :class:`nemo_wild_eval.errors.InputError` naming the cut. With ``data.skip_bad: true``
metadata problems found while indexing are skipped instead, counted in ``dataset.skipped`` and
logged; audio that fails to load at ``__getitem__`` always raises (``data.validate_audio: true`` loads
every clip while indexing so such cuts are skipped up front too).
"""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from nemo_wild_eval.errors import InputError

from . import AGENT_NAME
from .models import (
    family_for_processor,
    is_audio_processor,
    max_audio_seconds,
    processor_sampling_rate,
)

__all__ = ["AudioASRDataset", "AudioDataOptions", "AudioItem", "load_items"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioDataOptions:
    """The ``data.*`` keys this dataset reads (everything else is verl's)."""

    data_source: str = "wild_asr"
    max_audio_seconds: float | None = None
    resample: bool = False
    skip_bad: bool = False
    validate_audio: bool = False
    system_prompt: str | None = None
    instruction: str | None = None
    force_language: str | None = None
    max_prompt_length: int | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> AudioDataOptions:
        cfg = config or {}
        get = cfg.get
        prompt = get("asr_prompt", None) or {}
        return cls(
            data_source=str(get("data_source", cls.data_source) or cls.data_source),
            max_audio_seconds=_opt_float(get("max_audio_seconds", None), "data.max_audio_seconds"),
            resample=bool(get("resample", False)),
            skip_bad=bool(get("skip_bad", False)),
            validate_audio=bool(get("validate_audio", False)),
            system_prompt=prompt.get("system", None),
            instruction=prompt.get("instruction", None),
            force_language=get("force_language", None),
            max_prompt_length=get("max_prompt_length", None),
        )


def _opt_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"must be a number, got {value!r}", source=name) from None
    if not out > 0:
        raise InputError(f"must be > 0, got {value!r}", source=name)
    return out


@dataclass
class AudioItem:
    """One utterance: where its audio is and what the reward and the metrics need about it."""

    cut_id: str
    text: str
    source: str
    duration: float | None
    sampling_rate: int | None
    num_channels: int | None = None
    language: str | None = None
    scenario: str | None = None
    severity: float | None = None
    base_wer: float | None = None
    cut: Any = None
    audio_path: str | None = None
    offset: float = 0.0
    extra: dict = field(default_factory=dict)

    def load(self, target_rate: int, resample: bool) -> np.ndarray:
        """Mono float32 samples at ``target_rate`` (raises :class:`InputError` naming the cut)."""
        try:
            samples, rate = self._load_raw()
        except InputError:
            raise
        except Exception as exc:  # decoder / IO errors of any library
            raise InputError(f"cut {self.cut_id!r}: audio failed to load: {exc}", source=self.source) from exc
        if samples.ndim == 2:
            if samples.shape[0] != 1:
                raise InputError(
                    f"cut {self.cut_id!r} has {samples.shape[0]} channels; the model takes mono "
                    f"(select a channel, e.g. CutSet.to_mono / cut.with_channels)",
                    source=self.source,
                )
            samples = samples[0]
        if rate != target_rate:
            if not resample:
                raise InputError(
                    f"cut {self.cut_id!r} is {rate} Hz but the model's processor expects {target_rate} Hz "
                    f"(set data.resample=true to resample on load)",
                    source=self.source,
                )
            samples = _resample(samples, rate, target_rate)
        samples = np.ascontiguousarray(samples, dtype=np.float32)
        if samples.size == 0:
            raise InputError(f"cut {self.cut_id!r}: audio is empty", source=self.source)
        if not np.isfinite(samples).all():
            raise InputError(f"cut {self.cut_id!r}: audio holds NaN/inf samples", source=self.source)
        return samples

    def _load_raw(self) -> tuple[np.ndarray, int]:
        if self.cut is not None:
            return np.asarray(self.cut.load_audio(), dtype=np.float32), int(self.cut.sampling_rate)
        import soundfile as sf

        if self.audio_path is None or not os.path.exists(self.audio_path):
            raise InputError(f"cut {self.cut_id!r}: audio file not found: {self.audio_path}", source=self.source)
        info = sf.info(self.audio_path)
        start = int(round(self.offset * info.samplerate))
        frames = -1 if self.duration is None else int(round(self.duration * info.samplerate))
        data, rate = sf.read(self.audio_path, start=start, frames=frames, dtype="float32", always_2d=True)
        return data.T, int(rate)


def _resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(int(rate), int(target))
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# readers


def _first_record(path: Path) -> dict | None:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"not JSON lines: {exc}", source=str(path)) from None
                return rec if isinstance(rec, dict) else None
    return None


def _is_shar_dir(path: Path) -> bool:
    return path.is_dir() and any(path.glob("cuts.*.jsonl*"))


def _from_cut(cut: Any, source: str) -> AudioItem:
    sups = sorted(cut.supervisions, key=lambda s: s.start)
    text = " ".join(s.text.strip() for s in sups if isinstance(s.text, str) and s.text.strip())
    custom = cut.custom or {}
    wild = custom.get("wild") or {}
    language = next((s.language for s in sups if s.language), None)
    return AudioItem(
        cut_id=str(cut.id),
        text=text,
        source=source,
        duration=float(cut.duration),
        sampling_rate=int(cut.sampling_rate),
        num_channels=int(cut.num_channels) if getattr(cut, "num_channels", None) else None,
        language=language,
        scenario=wild.get("scenario"),
        severity=_float_or_none(wild.get("severity")),
        base_wer=_float_or_none(custom.get("base_wer")),
        cut=cut,
    )


def _float_or_none(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _read_cutset(cuts: Iterable[Any], source: str) -> list[AudioItem]:
    return [_from_cut(cut, source) for cut in cuts]


def _read_nemo(path: Path) -> list[AudioItem]:
    items = []
    base = path.parent
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"malformed JSON: {exc}", source=str(path), line=lineno) from None
            if not isinstance(rec, dict) or not isinstance(rec.get("audio_filepath"), str):
                raise InputError("no 'audio_filepath' string", source=str(path), line=lineno)
            text = rec.get("text")
            if text is not None and not isinstance(text, str):
                raise InputError("'text' is not a string", source=str(path), line=lineno)
            audio = rec["audio_filepath"]
            audio_path = audio if os.path.isabs(audio) else str(base / audio)
            cut_id = str(rec.get("utt_id") or rec.get("id") or f"{Path(audio).stem}@{rec.get('offset', 0)}")
            items.append(
                AudioItem(
                    cut_id=cut_id,
                    text=(text or "").strip(),
                    source=where,
                    duration=_float_or_none(rec.get("duration")),
                    sampling_rate=None,
                    language=rec.get("lang") or rec.get("language"),
                    scenario=rec.get("scenario"),
                    severity=_float_or_none(rec.get("severity")),
                    base_wer=_float_or_none(rec.get("base_wer")),
                    audio_path=audio_path,
                    offset=_float_or_none(rec.get("offset")) or 0.0,
                )
            )
    return items


def load_items(sources: Sequence[Any] | Any) -> list[AudioItem]:
    """Index every utterance of the given manifests / Shar dirs / CutSets (no audio decoded)."""
    from lhotse import CutSet

    if isinstance(sources, str | os.PathLike) or not isinstance(sources, Sequence):
        sources = [sources]
    items: list[AudioItem] = []
    for src in sources:
        if isinstance(src, CutSet):
            items.extend(_read_cutset(src, "<CutSet>"))
            continue
        path = Path(os.fspath(src))
        if not path.exists():
            raise InputError("no such file or directory", source=str(path))
        if _is_shar_dir(path):
            items.extend(_read_cutset(CutSet.from_shar(in_dir=path).to_eager(), str(path)))
            continue
        if path.is_dir():
            raise InputError("a directory that is not Lhotse Shar (no cuts.*.jsonl[.gz])", source=str(path))
        first = _first_record(path)
        if first is None:
            raise InputError("empty manifest", source=str(path))
        if "audio_filepath" in first:
            items.extend(_read_nemo(path))
        elif "id" in first and ("recording" in first or "type" in first or "supervisions" in first):
            items.extend(_read_cutset(CutSet.from_file(path), str(path)))
        else:
            raise InputError(
                "neither a Lhotse cut manifest nor a NeMo manifest (first record has keys "
                f"{sorted(first)[:8]})",
                source=str(path),
            )
    return items


# ----------------------------------------------------------------------------------------------
# the verl dataset


class AudioASRDataset(Dataset):
    """verl ``data.custom_cls`` for audio LLM ASR (see the module docstring for the row layout)."""

    def __init__(
        self,
        data_files: Any,
        tokenizer: Any,
        config: Mapping[str, Any] | None,
        processor: Any = None,
        max_samples: int = -1,
    ):
        if processor is None or not is_audio_processor(processor):
            # Without the processor verl would train on the text template alone.
            raise InputError(
                f"needs the model's audio processor, got {type(processor).__name__ if processor is not None else None}; "
                "is verl_dgwgpo.rollout.patches applied (verl.plugins entry point) and the model an audio LLM?",
                source="AudioASRDataset",
            )
        self.tokenizer = tokenizer
        self.processor = processor
        self.config = config
        self.options = AudioDataOptions.from_config(config)
        self.family = family_for_processor(processor)
        self.sampling_rate = processor_sampling_rate(processor)
        self.max_seconds = max_audio_seconds(processor, self.options.max_audio_seconds)
        self.skipped: Counter[str] = Counter()
        self._check_prompt_budget()
        items = load_items(data_files)
        self.items = [it for it in items if self._keep(it)]
        if max_samples is not None and 0 < max_samples < len(self.items):
            self.items = self.items[:max_samples]
        if self.skipped:
            logger.warning("AudioASRDataset skipped %d cut(s): %s", sum(self.skipped.values()), dict(self.skipped))
        if not self.items:
            raise InputError("no usable utterances", source=str(data_files))

    # -- indexing ---------------------------------------------------------------------------

    def _problem(self, item: AudioItem) -> tuple[str, str] | None:
        if not item.text:
            return "empty_transcript", f"cut {item.cut_id!r} has an empty transcript"
        if item.duration is not None and item.duration > self.max_seconds + 1e-6:
            return "too_long", (
                f"cut {item.cut_id!r} lasts {item.duration:.2f} s, over the {self.max_seconds:g} s limit "
                "(data.max_audio_seconds)"
            )
        if item.sampling_rate is not None and item.sampling_rate != self.sampling_rate and not self.options.resample:
            return "sampling_rate", (
                f"cut {item.cut_id!r} is {item.sampling_rate} Hz but the processor expects {self.sampling_rate} Hz "
                "(set data.resample=true)"
            )
        if item.num_channels is not None and item.num_channels != 1:
            return "multichannel", f"cut {item.cut_id!r} has {item.num_channels} channels; the model takes mono"
        return None

    def _keep(self, item: AudioItem) -> bool:
        problem = self._problem(item)
        if problem is None and self.options.validate_audio:
            try:
                samples = item.load(self.sampling_rate, self.options.resample)
            except InputError as exc:
                problem = ("audio", str(exc))
            else:
                if samples.size / self.sampling_rate > self.max_seconds + 1e-6:
                    problem = ("too_long", f"cut {item.cut_id!r} audio is longer than {self.max_seconds:g} s")
        if problem is None:
            return True
        if self.options.skip_bad:
            self.skipped[problem[0]] += 1
            logger.info("skipping %s (%s)", item.cut_id, problem[1])
            return False
        raise InputError(problem[1], source=item.source)

    def _check_prompt_budget(self) -> None:
        """Fail at start-up when the longest allowed clip cannot fit ``data.max_prompt_length``."""
        limit = self.options.max_prompt_length
        if limit is None:
            return
        messages = build_messages(np.zeros(int(self.max_seconds * self.sampling_rate), np.float32), self)
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        out = self.processor(
            text=[text], audio=[messages_audio(messages)[0]], sampling_rate=self.sampling_rate, return_tensors="pt"
        )
        need = int(out["input_ids"].shape[-1]) + 16  # + forced-language prefix headroom
        if need > int(limit):
            raise InputError(
                f"a {self.max_seconds:g} s clip needs about {need} prompt tokens but data.max_prompt_length={limit}; "
                "raise it or lower data.max_audio_seconds",
                source="data.max_prompt_length",
            )

    # -- torch Dataset ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict:
        item = self.items[index]
        samples = item.load(self.sampling_rate, self.options.resample)
        seconds = samples.size / self.sampling_rate
        if seconds > self.max_seconds + 1e-6:
            raise InputError(
                f"cut {item.cut_id!r} audio lasts {seconds:.2f} s, over the {self.max_seconds:g} s limit",
                source=item.source,
            )
        extra_info = {
            "index": index,
            "cut_id": item.cut_id,
            "scenario": item.scenario,
            "severity": item.severity,
            "base_wer": item.base_wer,
            "duration": round(seconds, 4),
            "language": item.language,
            "source": item.source,
        }
        return {
            "data_source": self.options.data_source,
            "raw_prompt": build_messages(samples, self),
            "reward_model": {"style": "rule", "ground_truth": item.text},
            "extra_info": extra_info,
            "agent_name": AGENT_NAME,
            "index": index,
            "tools_kwargs": {},
            "interaction_kwargs": {},
            # verl needs one tensor per row so DataProto.batch is not empty.
            "dummy_tensor": torch.tensor([0], dtype=torch.uint8),
        }

    # -- hooks verl's agent loop calls on the dataset class ----------------------------------

    @classmethod
    def _process_multi_modal_info(cls, messages: list[dict], image_patch_size: Any = None, config: Any = None):
        return None, None, messages_audio(messages) or None

    @classmethod
    async def process_multi_modal_info(cls, messages: list[dict], image_patch_size: Any = None, config: Any = None):
        """(images, videos, audios) of a prompt: audio only, as float32 arrays."""
        return cls._process_multi_modal_info(messages, image_patch_size, config)

    @classmethod
    async def process_vision_info(cls, messages: list[dict], image_patch_size: Any = None, config: Any = None):
        return None, None

    def on_batch_end(self, batch: Any) -> None:  # verl calls this when present; nothing to update
        return None


def build_messages(samples: np.ndarray, dataset: AudioASRDataset) -> list[dict]:
    """The model's ASR chat: optional system turn, then a user turn holding the clip (+ instruction)."""
    family = dataset.family
    opts = dataset.options
    system = opts.system_prompt if opts.system_prompt is not None else (family.default_system if family else None)
    instruction = opts.instruction if opts.instruction is not None else (
        family.default_instruction if family else None
    )
    messages: list[dict] = []
    if system is not None:
        messages.append({"role": "system", "content": system})
    content: list[dict] = [{"type": "audio", "audio": samples}]
    if instruction:
        content.append({"type": "text", "text": instruction})
    messages.append({"role": "user", "content": content})
    return messages


def messages_audio(messages: Iterable[Mapping[str, Any]]) -> list[np.ndarray]:
    """The audio arrays of a chat, in order."""
    out = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, Mapping) and block.get("type") == "audio":
                audio = block.get("audio")
                if audio is None:
                    raise InputError("audio block without an 'audio' array", source="raw_prompt")
                out.append(np.asarray(audio, dtype=np.float32))
    return out

