"""Helpers for tests, benchmarks and smoke runs; nothing in training or inference imports them.

- :mod:`.rollout`  drive verl's own ``AgentLoopWorker`` and FSDP engine forward step on CPU with an
  HF model, plus a noise-clip cut manifest (``write_cuts``).
- :mod:`.sft`      cut manifests with chosen ``base_wer`` (``make_cuts``) and the overrides of a quick
  CPU SFT run (``phase_overrides``).

The tiny models themselves are not here: ``--tiny`` commands use them, so they are public API in
:mod:`verl_dgwgpo.tiny_models`.
"""
