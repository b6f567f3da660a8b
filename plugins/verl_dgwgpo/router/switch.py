"""Switch the robust LoRA on and off in place, route batches, and route vLLM requests.

In-place switching (no reload, no second model copy): :class:`LoraSwitch` takes a peft LoRA model,
precomputes every adapted layer's dense delta ``ΔW = scale · B A`` with peft's own
``get_delta_weight`` (which knows rsLoRA scaling, ``fan_in_fan_out`` and conv layers), then
``unload()``\\ s the LoRA wrappers, leaving the plain base model. ``on()`` adds the deltas to the base
weights, ``off()`` subtracts them (both ``torch.no_grad`` in-place ``add_``/``sub_``). The cost is one
pass over the adapted weights; memory is one dense delta per adapted matrix (for rank-8 q/v LoRA on
Qwen3-ASR-1.7B about 0.2 GB in bf16). In float32 ``w + Δ - Δ`` is not always bit-exact, but the same
rounding repeats identically each round trip, so 1000 round trips stay within ~1 ulp of the original
(tests check 1e-6); in bf16/fp16 prefer a float32 master copy or vLLM's per-request LoRA.
DoRA, LoRA biases and ``modules_to_save`` are not pure additive deltas and are refused.

Batch routing (:func:`route_batch`): the router decides each clip; the batch is split into the clean
half (base weights) and the degraded half (LoRA on), each half is transcribed in one call, and the
results come back in input order. The half that matches the current state goes first, so a batch
costs at most one switch (plus one to restore the entry state when ``restore=True``).

vLLM (GPU extra; not installed on CPU machines): vLLM keeps the base weights and applies LoRA per
request, so routing is a per-request ``LoRARequest`` or ``None``::

    from vllm import LLM, SamplingParams
    llm = LLM(model="Qwen/Qwen3-ASR-1.7B-hf", enable_lora=True, max_lora_rank=8)
    routes = router.route_many(clips, 16000)
    requests = vllm_lora_requests(routes, "robust", "/ckpt/a2s_phase3_adapter")
    outputs = llm.generate(prompts, SamplingParams(temperature=0), lora_request=requests)

``LLM.generate`` takes a list with one entry per prompt; ``None`` entries run the base model.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

from nemo_wild_eval.errors import BackendUnavailable
from nemo_wild_eval.errors import InputError

from .model import RouteResult, RouterModel

__all__ = ["LoraSwitch", "BatchRouting", "route_batch", "vllm_lora_requests"]


class LoraSwitch:
    """Precomputed LoRA deltas applied to / removed from a loaded base model in place."""

    def __init__(self, model: Any, deltas: Sequence[tuple[str, Any, Any]]):
        """``deltas``: ``(name, weight parameter, delta tensor)`` triples; the model starts OFF."""
        if not deltas:
            raise InputError("no LoRA layers found: nothing to switch", source="adapter")
        for name, w, d in deltas:
            if tuple(w.shape) != tuple(d.shape):
                raise InputError(f"delta for {name} has shape {tuple(d.shape)}, weight {tuple(w.shape)}", source="adapter")
        self.model = model
        self.deltas = list(deltas)
        self.active = False
        self.switches = 0
        self.last_switch_seconds = 0.0

    @classmethod
    def from_peft(cls, peft_model: Any, adapter_name: str | None = None) -> "LoraSwitch":
        """Take over a peft LoRA model: deltas precomputed, wrappers removed (``unload``), LoRA OFF."""
        import torch
        from peft.tuners.lora import LoraLayer

        name = adapter_name or getattr(peft_model, "active_adapter", None) or "default"
        cfg = getattr(peft_model, "peft_config", {}).get(name)
        if cfg is None:
            raise InputError(f"the model has no adapter named {name!r}", source="adapter")
        if getattr(cfg, "modules_to_save", None):
            raise InputError(f"adapter {name!r} has modules_to_save={cfg.modules_to_save}: not an additive delta",
                             source="adapter")
        deltas = []
        with torch.no_grad():
            for mod_name, module in peft_model.named_modules():
                if not isinstance(module, LoraLayer) or name not in getattr(module, "lora_A", {}):
                    continue
                if getattr(module, "use_dora", {}).get(name):
                    raise InputError(f"{mod_name}: DoRA is not an additive delta; cannot switch in place", source="adapter")
                if getattr(module, "lora_bias", {}).get(name):
                    raise InputError(f"{mod_name}: LoRA bias is not supported by in-place switching", source="adapter")
                weight = module.get_base_layer().weight
                delta = module.get_delta_weight(name).detach().to(weight.dtype).contiguous()
                deltas.append((mod_name.removeprefix("base_model.model."), weight, delta))
        base = peft_model.unload()
        return cls(base, deltas)

    @classmethod
    def from_adapter(cls, model: Any, adapter_path: str, adapter_name: str = "default") -> "LoraSwitch":
        """Load a saved peft LoRA adapter onto ``model`` (a loaded transformers model) and take it over."""
        from pathlib import Path

        from peft import PeftModel

        if not (Path(adapter_path) / "adapter_config.json").is_file():
            raise InputError("not a peft adapter directory (no adapter_config.json)", source=str(adapter_path))
        return cls.from_peft(PeftModel.from_pretrained(model, adapter_path, adapter_name=adapter_name), adapter_name)

    # -- switching ------------------------------------------------------------------------
    def _apply(self, sign: int) -> None:
        import torch

        t0 = time.perf_counter()
        with torch.no_grad():
            for _, w, d in self.deltas:
                if sign > 0:
                    w.add_(d)
                else:
                    w.sub_(d)
        if self.deltas and self.deltas[0][1].is_cuda:
            torch.cuda.synchronize()
        self.last_switch_seconds = time.perf_counter() - t0
        self.switches += 1

    def on(self) -> None:
        """Robust LoRA on (no-op when already on)."""
        if not self.active:
            self._apply(+1)
            self.active = True

    def off(self) -> None:
        """Back to the base weights (no-op when already off)."""
        if self.active:
            self._apply(-1)
            self.active = False

    def set(self, active: bool) -> None:
        self.on() if active else self.off()

    @contextmanager
    def enabled(self, active: bool = True) -> Iterator["LoraSwitch"]:
        """Temporarily set the state; the previous one comes back on exit (also on error)."""
        before = self.active
        self.set(active)
        try:
            yield self
        finally:
            self.set(before)

    def num_delta_parameters(self) -> int:
        return sum(d.numel() for _, _, d in self.deltas)


@dataclass
class BatchRouting:
    """Outputs in input order, the router's decisions and how many switches the batch cost."""

    outputs: list[Any]
    routes: list[RouteResult]
    switches: int


def route_batch(
    clips: Sequence[Any],
    sampling_rate: int,
    router: RouterModel,
    switch: LoraSwitch,
    transcribe: Callable[[list[Any]], Sequence[Any]],
    *,
    routes: Sequence[RouteResult] | None = None,
    restore: bool = True,
) -> BatchRouting:
    """Route a batch: clean clips through the base model, degraded ones with the LoRA on.

    ``transcribe(list_of_clips) -> outputs`` runs the ASR on one half (the model inside ``switch``).
    ``routes`` skips the router when decisions are already known.
    """
    clips = list(clips)
    routes = list(routes) if routes is not None else router.route_many(clips, sampling_rate)
    if len(routes) != len(clips):
        raise InputError(f"{len(routes)} routes for {len(clips)} clips", source="routes")
    entry, start = switch.active, switch.switches
    groups = {False: [i for i, r in enumerate(routes) if not r.degraded],
              True: [i for i, r in enumerate(routes) if r.degraded]}
    outputs: list[Any] = [None] * len(clips)
    for state in (entry, not entry):
        idx = groups[state]
        if not idx:
            continue
        switch.set(state)
        got = list(transcribe([clips[i] for i in idx]))
        if len(got) != len(idx):
            raise RuntimeError(f"transcribe returned {len(got)} outputs for {len(idx)} clips")
        for i, o in zip(idx, got):
            outputs[i] = o
    if restore:
        switch.set(entry)
    return BatchRouting(outputs, routes, switch.switches - start)


def vllm_lora_requests(
    routes: Sequence[RouteResult | bool],
    lora_name: str,
    lora_path: str,
    lora_int_id: int = 1,
    *,
    request_class: Any = None,
) -> list[Any]:
    """One ``vllm.lora.request.LoRARequest`` per degraded clip, ``None`` per clean one.

    Pass the list as ``LLM.generate(..., lora_request=...)`` (module docstring). ``request_class``
    overrides the class (tests; other engines with the same constructor).
    """
    if request_class is None:
        try:
            from vllm.lora.request import LoRARequest as request_class
        except ImportError as exc:
            raise BackendUnavailable(
                f"vLLM is not importable ({exc}); per-request LoRA routing needs the GPU extra: pip install vllm"
            ) from exc
    if lora_int_id < 1:
        raise InputError(f"lora_int_id must be >= 1 (vLLM reserves 0), got {lora_int_id}", source="lora_int_id")
    request = request_class(lora_name, lora_int_id, lora_path)
    return [request if (r.degraded if isinstance(r, RouteResult) else bool(r)) else None for r in routes]
