"""Audio rollout for verl's DAPO trainer: audio LLMs (Qwen3-ASR, Qwen2-Audio) as the policy.

Pieces (import what you need; nothing here imports verl at package import):

- :mod:`.dataset`   ``AudioASRDataset``, a verl ``data.custom_cls`` over Lhotse CutSets/Shar and NeMo
  manifests.
- :mod:`.agent_loop` ``AudioASRAgentLoop`` (registered as ``audio_asr``): prompt + audio to the
  rollout once, transcript back for the reward.
- :mod:`.patches`   the targeted verl patches (``apply()``), :mod:`.autopatch` applies them on import.
- :mod:`.models`    per-family facts (feature-mask key, LM-head class, placeholder handling).
- :mod:`.features`  actor-side audio features with a placeholder-count check.
- :mod:`.adapters`  ``qwen-asr`` LoRA key layout -> native transformers layout.

Tiny random models for ``--tiny`` runs: :mod:`verl_dgwgpo.tiny_models`; test helpers: :mod:`verl_dgwgpo.testing`.
"""

AGENT_NAME = "audio_asr"
DATASET_CLASS = "AudioASRDataset"

__all__ = ["AGENT_NAME", "DATASET_CLASS"]
