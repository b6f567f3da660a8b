"""The ``hf`` rollout of verl's PPO/DAPO trainer: a transformers model served from a Ray actor.

verl 0.9.1 ships vLLM, SGLang and TRT-LLM rollouts, all CUDA-only. This is the same contract served by
``transformers.generate`` so the trainer runs where none of them does (CPU, tests, the miniature):

- :class:`HFReplica` (``RolloutReplicaRegistry`` name ``hf``) starts one :class:`HFRolloutServer`
  actor per replica, as ``vLLMReplica`` starts a ``vLLMHttpServer``; verl's load balancer and
  ``LLMServerClient`` call its ``generate`` exactly as they call vLLM's (token ids in, token ids and
  log-probs out; audio placeholders collapsed to one per clip and expanded by the server, see
  :class:`verl_dgwgpo.rollout.hf_server.HFAudioServer`).
- :class:`HFServerAdapter` (rollout class ``("hf", "async")``) lives in the actor worker. verl's
  hybrid engine hands it the actor's full weights after every update (``checkpoint_engine.backend:
  naive``); it pushes them to the server, so the next step samples from the updated policy.

The server counts the weight versions it received and the requests it served (``stats``), tags
every output with the version it was sampled from (``extra_fields["global_steps"]``) and, when
``WILDASR_HF_ROLLOUT_LOG`` names a file, appends one JSON line per weight update (version, tensors,
L2 distance to the weights it replaced, requests served with the previous weights): the evidence that
rollouts after an update come from the updated policy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, Generator

import ray
import torch

from nemo_wild_eval.errors import InputError

__all__ = ["HFReplica", "HFRolloutServer", "HFServerAdapter", "server_name"]

logger = logging.getLogger(__name__)


def server_name(replica_rank: int, suffix: str = "") -> str:
    """Ray actor name of a replica's server (the adapter in the worker finds it by this name)."""
    return f"wildasr_hf_rollout_{replica_rank}{suffix}"


class HFRolloutServer:
    """One rollout engine: a transformers model, its processor, and a lock (one generation at a time)."""

    def __init__(self, model_path: str, *, response_length: int, seed: int = 0, dtype: str = "float32"):
        from transformers import AutoConfig, AutoProcessor

        from verl_dgwgpo.rollout.hf_server import HFAudioServer
        from verl_dgwgpo.rollout.models import causal_lm_class

        config = AutoConfig.from_pretrained(model_path)
        model = causal_lm_class(config).from_pretrained(model_path, dtype=getattr(torch, dtype))
        processor = AutoProcessor.from_pretrained(model_path)
        self.engine = HFAudioServer(model, processor, response_length=response_length, seed=seed)
        self.version = 0
        self.updates: list[dict[str, Any]] = []
        self._lock = asyncio.Lock()

    def ready(self) -> bool:
        return True

    async def generate(self, request_id: str, *, prompt_ids: list[int], sampling_params: dict, **kwargs: Any):
        kwargs.pop("image_data", None)
        kwargs.pop("video_data", None)
        kwargs.pop("priority", None)
        async with self._lock:
            out = await asyncio.to_thread(
                self._generate_sync, request_id, prompt_ids, dict(sampling_params), kwargs
            )
        out.extra_fields["global_steps"] = self.version
        return out

    def _generate_sync(self, request_id: str, prompt_ids: list[int], sampling_params: dict, kwargs: dict):
        return asyncio.run(
            self.engine.generate(request_id, prompt_ids=prompt_ids, sampling_params=sampling_params, **kwargs)
        )

    def load_weights(self, weights: dict[str, torch.Tensor], global_steps: int | None = None) -> dict[str, Any]:
        """Replace the model's weights (full HF-keyed tensors). Unknown names are an error, not skipped."""
        model = self.engine.model
        own = model.state_dict()
        unknown = sorted(set(weights) - set(own))
        if unknown:
            raise KeyError(f"HF rollout got {len(unknown)} weights the model does not have, e.g. {unknown[:3]}")
        delta = 0.0
        with torch.no_grad():
            for name, tensor in weights.items():
                target = own[name]
                value = tensor.to(dtype=target.dtype).reshape(target.shape)
                delta += float((value - target).double().pow(2).sum())
                target.copy_(value)
        served = len(self.engine.requests) - sum(u["requests_before"] for u in self.updates)
        self.version = int(global_steps) if global_steps is not None else self.version + 1
        info = {
            "version": self.version,
            "tensors": len(weights),
            "of": len(own),
            "delta_l2": delta**0.5,
            "requests_before": served,
        }
        self.updates.append(info)
        trace = os.environ.get("WILDASR_HF_ROLLOUT_LOG")
        if trace:
            with open(trace, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(info) + "\n")
        return info

    def stats(self) -> dict[str, Any]:
        return {"version": self.version, "updates": list(self.updates), "requests": len(self.engine.requests)}

    # The control surface verl's replica and checkpoint manager call; nothing to free on CPU.
    async def wake_up(self) -> None:
        return None

    async def sleep(self) -> None:
        return None

    async def wait_for_requests_to_drain(self) -> None:
        async with self._lock:
            return None

    async def clear_kv_cache(self) -> None:
        return None

    async def release_kv_cache(self) -> None:
        return None

    async def resume_kv_cache(self) -> None:
        return None

    async def abort_all_requests(self, reject_request: bool = False) -> dict[str, Any]:
        return {"aborted_count": 0, "request_ids": []}

    async def resume_generation(self) -> None:
        return None

    async def start_profile(self, **kwargs: Any) -> None:
        return None

    async def stop_profile(self) -> None:
        return None


def _replica_base() -> type:
    from verl.workers.rollout.replica import RolloutReplica

    return RolloutReplica


class HFReplica(_replica_base()):
    """``RolloutReplica`` whose server is an :class:`HFRolloutServer` actor (hybrid or standalone)."""

    async def launch_servers(self) -> None:
        path = self.model_config.get("local_path", None) or self.model_config.path
        name = server_name(self.replica_rank, self.name_suffix)
        server = (
            ray.remote(HFRolloutServer)
            .options(name=name, num_cpus=0, max_concurrency=self.max_concurrency)
            .remote(
                str(path),
                response_length=int(self.config.response_length),
                seed=int(getattr(self.config, "seed", 0) or 0),
                dtype=_dtype_name(getattr(self.config, "dtype", "float32")),
            )
        )
        await server.ready.remote()
        self.servers = [server]
        self._server_handle = server
        self._server_address = name

    def rollout_worker_use_gpu(self) -> bool:
        return False


def _dtype_name(dtype: Any) -> str:
    """The rollout's dtype as a torch attribute name; bf16 on CPU generation is slow and lossy."""
    name = str(dtype or "float32").replace("torch.", "")
    return {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}.get(name, name)


def _adapter_base() -> type:
    from verl.workers.rollout.base import BaseRollout

    return BaseRollout


class HFServerAdapter(_adapter_base()):
    """The actor worker's handle on its replica's :class:`HFRolloutServer` (weight sync only)."""

    def __init__(self, config: Any, model_config: Any, device_mesh: Any, *args: Any, **kwargs: Any):
        super().__init__(config, model_config, device_mesh)
        import torch.distributed as dist

        rank = dist.get_rank() if dist.is_initialized() else 0
        world = (
            self.config.tensor_model_parallel_size
            * self.config.data_parallel_size
            * self.config.pipeline_model_parallel_size
        )
        self.replica_rank = rank // world
        self.is_leader_rank = rank % world == 0
        self._server = None

    def _server_handle(self) -> Any:
        if self._server is None:
            self._server = ray.get_actor(server_name(self.replica_rank))
        return self._server

    async def resume(self, tags: list[str]) -> None:
        return None

    async def release(self) -> None:
        return None

    async def update_weights(
        self,
        weights: Generator[tuple[str, torch.Tensor], None, None],
        wire_format: str = "named_tensors",
        **kwargs: Any,
    ) -> None:
        if wire_format != "named_tensors":
            raise InputError(
                f"the hf rollout takes full named tensors, got wire format {wire_format!r}",
                source="actor_rollout_ref.rollout.checkpoint_engine.backend",
            )
        if kwargs.get("peft_config") is not None:
            raise InputError(
                "the hf rollout loads merged weights: set actor_rollout_ref.model.lora.merge=true with LoRA",
                source="actor_rollout_ref.model.lora.merge",
            )
        state = {}
        for name, tensor in weights:
            if hasattr(tensor, "full_tensor"):
                tensor = tensor.full_tensor()
            state[name] = tensor.detach().to("cpu", copy=True)
        if not self.is_leader_rank:
            return None
        info = await self._server_handle().load_weights.remote(state, global_steps=kwargs.get("global_steps"))
        logger.info("hf rollout %d: weights v%s (%s tensors)", self.replica_rank, info["version"], info["tensors"])
        return None
