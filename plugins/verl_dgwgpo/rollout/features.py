"""Actor-side audio features: what the policy's forward pass needs besides the token ids.

The rollout keeps the processor-expanded prompt (one ``<|audio_pad|>`` per encoder output frame),
so the actor only needs ``input_features`` and the family's feature mask. verl 0.9.1 recomputes
them by decoding the whole sequence to text and re-running the processor on it, which breaks for
audio (the placeholders are special tokens and vanish, or are already expanded and Qwen2-Audio's
processor refuses them). Here the processor sees one placeholder per clip instead, and the number
of placeholders it expands to is checked against the sequence, so features and tokens cannot
drift apart silently.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .models import audio_token_id, processor_sampling_rate

__all__ = ["AudioTokenMismatch", "audio_features"]

# Processor outputs that are bookkeeping, not model inputs.
_DROP_KEYS = ("input_ids", "attention_mask", "num_audio_tokens", "mm_token_type_ids")


class AudioTokenMismatch(ValueError):
    """The sequence holds a different number of audio placeholders than the features need."""


def audio_features(
    processor: Any,
    audios: Sequence[np.ndarray],
    token_ids: Any,
    *,
    mm_processor_kwargs: dict | None = None,
) -> dict[str, Any]:
    """Features (``input_features`` + feature mask, batch = one row per clip) for ``token_ids``.

    ``token_ids`` is the full sequence the actor will see (any shape; padding allowed). Raises
    :class:`AudioTokenMismatch` when its placeholder count differs from what the processor expands
    the clips to.
    """
    import torch

    if not audios:
        raise ValueError("audio_features needs at least one clip")
    kwargs = dict(mm_processor_kwargs or {})
    kwargs.setdefault("sampling_rate", processor_sampling_rate(processor))
    kwargs["return_tensors"] = "pt"
    token = processor.audio_token
    out = processor(text=[token] * len(audios), audio=[np.asarray(a, dtype=np.float32) for a in audios], **kwargs)
    tid = audio_token_id(processor)
    expected = int((out["input_ids"] == tid).sum())
    ids = torch.as_tensor(token_ids).reshape(-1)
    found = int((ids == tid).sum())
    if found != expected:
        raise AudioTokenMismatch(
            f"sequence has {found} audio placeholder tokens (id {tid}) but its {len(audios)} clip(s) "
            f"expand to {expected}; the prompt was rendered with a different processor or the policy "
            f"sampled a placeholder"
        )
    return {k: v for k, v in out.items() if k not in _DROP_KEYS}
