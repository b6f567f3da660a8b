"""A2S-SFT: three-phase rank-8 LoRA fine-tuning of audio LLMs on verl's SFT trainer (docs/design.md §5.1).

Phase 1 adapts the acoustic side (audio tower incl. Qwen3-ASR's ``conv_out`` + the aligner) on a WER
curriculum (≤0.30 → ≤0.50 → ≤0.70); phase 2 the LLM on the full split; phase 3 both, the acoustic
side at a lower LR. One PEFT adapter covers every group from phase 1 on, so each phase starts from
the previous one through verl's ``model.lora_adapter_path``.

- :mod:`.groups`     module groups per layout (Qwen3-ASR native / ``qwen-asr`` package, Qwen2-Audio).
- :mod:`.config`     the ``a2s`` section of a phase YAML, checked before any model is built.
- :mod:`.data`       ``AudioSFTDataset``: verl SFT ``custom_cls`` over the rollout's ``AudioASRDataset``.
- :mod:`.curriculum` the WER curriculum batch sampler and its per-stage report.
- :mod:`.trainer`    ``A2SSFTTrainer`` (verl ``SFTTrainer`` + documented hooks), ``run_phase``.
- :mod:`.cli`        ``wildasr sft`` / ``python -m verl_dgwgpo.sft`` (also under ``torchrun -m``).
- :mod:`.cpu`        verl's ``cpu`` platform + one-rank gloo group (tests, CPU demo, benchmark).
- :mod:`.export`     LoRA-only and merged-weights exports, greedy transcripts to compare them.

Nothing here imports verl at package import.
"""
