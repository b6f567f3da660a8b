"""Audio-LLM families the rollout supports, and the facts verl needs about each.

verl 0.9.1 knows vision-language models only; everything it must know about an audio LLM (which
class carries the LM head, which processor key holds the feature mask, which token is the audio
placeholder) lives here, keyed by the root ``config.json`` ``model_type``. Nothing in this module
imports verl, so the dataset and the converter can use it without the verl extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nemo_wild_eval.errors import InputError

__all__ = [
    "AudioFamily",
    "FAMILIES",
    "audio_token_id",
    "causal_lm_class",
    "collapse_audio_runs",
    "count_audio_tokens",
    "family_for_config",
    "family_for_model_type",
    "family_for_processor",
    "is_audio_processor",
    "processor_sampling_rate",
    "max_audio_seconds",
]


@dataclass(frozen=True)
class AudioFamily:
    """What differs between audio-LLM families on the verl path."""

    model_type: str
    """Root ``config.json`` ``model_type``."""
    processor_class: str
    """Class name of the family's Hugging Face processor."""
    causal_lm_class: str
    """transformers class with the LM head (what the actor must load)."""
    feature_mask_key: str
    """Processor output key of the per-frame feature mask (a variable-length key in verl)."""
    min_transformers: str
    """First transformers release with a native implementation."""
    default_system: str | None
    """System message of the ASR prompt (``None``: no system turn)."""
    default_instruction: str | None
    """User text after the audio (``None``: the audio alone is the request)."""
    default_max_audio_seconds: float
    """Default clip limit when the processor itself declares none (*ours*, configurable)."""
    hub_ids: tuple[str, ...]


FAMILIES: dict[str, AudioFamily] = {
    "qwen3_asr": AudioFamily(
        model_type="qwen3_asr",
        processor_class="Qwen3ASRProcessor",
        causal_lm_class="Qwen3ASRForConditionalGeneration",
        feature_mask_key="input_features_mask",
        min_transformers="5.13.0",
        # Qwen3-ASR's template renders an (empty) system turn as its context slot.
        default_system="",
        default_instruction=None,
        default_max_audio_seconds=30.0,
        hub_ids=("Qwen/Qwen3-ASR-0.6B-hf", "Qwen/Qwen3-ASR-1.7B-hf"),
    ),
    "qwen2_audio": AudioFamily(
        model_type="qwen2_audio",
        processor_class="Qwen2AudioProcessor",
        causal_lm_class="Qwen2AudioForConditionalGeneration",
        feature_mask_key="feature_attention_mask",
        min_transformers="4.45.0",
        default_system=None,
        default_instruction="Transcribe the speech into text. Output only the transcript.",
        default_max_audio_seconds=30.0,
        hub_ids=("Qwen/Qwen2-Audio-7B-Instruct",),
    ),
}


def family_for_model_type(model_type: str | None) -> AudioFamily | None:
    """The family of a root ``model_type``, or ``None`` for models this module does not handle."""
    if not isinstance(model_type, str):
        return None
    return FAMILIES.get(model_type.strip().lower())


def family_for_config(config: Any) -> AudioFamily | None:
    """The family of a ``PretrainedConfig`` (``None`` when it is not an audio LLM we know)."""
    return family_for_model_type(getattr(config, "model_type", None))


def family_for_processor(processor: Any) -> AudioFamily | None:
    """The family of a loaded processor, by its class name."""
    if processor is None:
        return None
    name = type(processor).__name__
    for family in FAMILIES.values():
        if family.processor_class == name:
            return family
    return None


def is_audio_processor(processor: Any) -> bool:
    """True for a processor that turns audio into features behind an audio placeholder token.

    Vision processors carry an ``image_processor``; an audio LLM's carries a ``feature_extractor``
    and an ``audio_token``. verl 0.9.1 only checks for the former.
    """
    if processor is None:
        return False
    if family_for_processor(processor) is not None:
        return True
    return (
        getattr(processor, "feature_extractor", None) is not None
        and getattr(processor, "audio_token", None) is not None
        and getattr(processor, "image_processor", None) is None
    )


def audio_token_id(processor: Any) -> int:
    """The id of the audio placeholder token the processor expands (one per feature frame group)."""
    token_id = getattr(processor, "audio_token_id", None)
    if token_id is None:
        token = getattr(processor, "audio_token", None)
        tokenizer = getattr(processor, "tokenizer", None)
        if token is None or tokenizer is None:
            raise InputError(f"{type(processor).__name__} has no audio placeholder token", source="processor")
        token_id = tokenizer.convert_tokens_to_ids(token)
    return int(token_id)


def processor_sampling_rate(processor: Any) -> int:
    """Sampling rate the processor's feature extractor was trained at."""
    rate = getattr(getattr(processor, "feature_extractor", None), "sampling_rate", None)
    if rate is None:
        raise InputError(f"{type(processor).__name__} declares no sampling rate", source="processor")
    return int(rate)


def max_audio_seconds(processor: Any, override: float | None = None) -> float:
    """Longest clip the model accepts.

    Qwen2-Audio pads/truncates to the feature extractor's window (30 s): a longer clip would be cut
    silently, so the window is a hard limit. Qwen3-ASR has no fixed window; the family default is
    used unless the caller overrides it.
    """
    fe = getattr(processor, "feature_extractor", None)
    family = family_for_processor(processor)
    hard = None
    if family is not None and family.model_type == "qwen2_audio" and fe is not None:
        hard = float(getattr(fe, "n_samples", 0)) / float(fe.sampling_rate) or None
    if override is not None:
        if hard is not None and override > hard:
            raise InputError(
                f"max_audio_seconds={override} exceeds the model's {hard:g} s window", source="data.max_audio_seconds"
            )
        return float(override)
    if hard is not None:
        return hard
    return family.default_max_audio_seconds if family is not None else 30.0


def causal_lm_class(config: Any) -> type:
    """The transformers class with the LM head for an audio-LLM config.

    verl's ``get_hf_auto_model_class`` falls back to ``AutoModel`` for these configs, which builds the
    bare model (no ``lm_head``) and silently initialises the head weights at random.
    """
    family = family_for_config(config)
    if family is None:
        raise InputError(
            f"model_type {getattr(config, 'model_type', None)!r} is not an audio LLM this plugin knows "
            f"(known: {sorted(FAMILIES)})",
            source="actor_rollout_ref.model.path",
        )
    import transformers

    cls = getattr(transformers, family.causal_lm_class, None)
    if cls is None:
        raise InputError(
            f"transformers {transformers.__version__} has no {family.causal_lm_class}; "
            f"{family.model_type} needs transformers >= {family.min_transformers}",
            source="actor_rollout_ref.model.path",
        )
    return cls


def count_audio_tokens(token_ids: Sequence[int], token_id: int) -> int:
    """Number of audio placeholder tokens in a sequence of ids."""
    return sum(1 for t in token_ids if int(t) == token_id)


def collapse_audio_runs(token_ids: Sequence[int], token_id: int) -> list[int]:
    """Collapse each run of audio placeholders to one, as a rollout engine expects its input.

    The processor already expanded ``<|audio_pad|>`` to one token per feature frame group; vLLM
    expands the placeholder again from ``multi_modal_data``. Sending the expanded ids would expand
    twice, so the engine gets one placeholder per clip while training keeps the expanded ids.
    """
    out: list[int] = []
    prev_audio = False
    for t in token_ids:
        t = int(t)
        is_audio = t == token_id
        if is_audio and prev_audio:
            continue
        out.append(t)
        prev_audio = is_audio
    return out
