"""Environment-aware router: turn the robust LoRA on only for degraded audio (docs/design.md §5.2).

    from verl_dgwgpo.router import make_splits, train_router, evaluate_router, LoraSwitch
    splits = make_splits(clean_cuts)                     # held-out speech, scenarios, severities
    router, m = train_router(splits.train_clean, splits.train_degraded, seconds=60)
    report = evaluate_router(router, splits.test_clean, splits.test_degraded, out_dir="eval/")
    switch = LoraSwitch.from_peft(peft_model)            # base model + precomputed LoRA deltas
    outputs = route_batch(clips, 16000, router, switch, asr_fn)

Modules: :mod:`.features` (log-mel), :mod:`.model` (network, ``RouterModel``), :mod:`.data` (clips,
simulation, held-out splits), :mod:`.train`, :mod:`.evaluate`, :mod:`.switch` (in-place LoRA
switching, batch routing, vLLM ``LoRARequest`` routing), :mod:`.cli` (``wildasr router``).
Importing this package is cheap: torch, lhotse and transformers load on first use of a name.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "RouterConfig": "verl_dgwgpo.router.model",
    "RouterModel": "verl_dgwgpo.router.model",
    "RouteResult": "verl_dgwgpo.router.model",
    "log_mel": "verl_dgwgpo.router.features",
    "Clips": "verl_dgwgpo.router.data",
    "load_clips": "verl_dgwgpo.router.data",
    "make_splits": "verl_dgwgpo.router.data",
    "simulate_degraded": "verl_dgwgpo.router.data",
    "DEFAULT_HOLDOUT_SCENARIOS": "verl_dgwgpo.router.data",
    "DEFAULT_HOLDOUT_SEVERITY": "verl_dgwgpo.router.data",
    "train_router": "verl_dgwgpo.router.train",
    "evaluate_router": "verl_dgwgpo.router.evaluate",
    "auc_score": "verl_dgwgpo.router.evaluate",
    "LoraSwitch": "verl_dgwgpo.router.switch",
    "route_batch": "verl_dgwgpo.router.switch",
    "vllm_lora_requests": "verl_dgwgpo.router.switch",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'verl_dgwgpo.router' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
