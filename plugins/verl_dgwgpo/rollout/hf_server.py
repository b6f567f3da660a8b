"""A CPU stand-in for verl's vLLM rollout server, for tests and the offline demo.

It honours the same token-in/token-out contract as ``vLLMHttpServer.generate``: prompt ids with ONE
audio placeholder per clip plus the clips as ``audio_data``; it expands each placeholder to the
processor's count (as vLLM does) and samples with transformers' ``generate``. A prompt whose
placeholders are already expanded is refused, so a double expansion cannot pass unnoticed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .models import audio_token_id, processor_sampling_rate

__all__ = ["HFAudioServer", "DoubleExpansionError"]


class DoubleExpansionError(ValueError):
    """The prompt reached the engine with audio placeholders already expanded."""


class HFAudioServer:
    """``await server.generate(request_id, prompt_ids=..., sampling_params=..., audio_data=...)``."""

    def __init__(self, model: Any, processor: Any, *, response_length: int = 32, seed: int = 0):
        self.model = model.eval()
        self.processor = processor
        self.response_length = int(response_length)
        self.seed = int(seed)
        self.requests: list[dict] = []

    def expand(self, prompt_ids: list[int], audios: list[np.ndarray], mm_kwargs: dict | None) -> dict:
        """Model inputs for a collapsed prompt: placeholders expanded, features computed."""
        import torch

        tid = audio_token_id(self.processor)
        ids = [int(t) for t in prompt_ids]
        singles = [i for i, t in enumerate(ids) if t == tid]
        if any(b == a + 1 for a, b in zip(singles, singles[1:], strict=False)):
            raise DoubleExpansionError("audio placeholders arrive expanded; the engine would expand them again")
        if len(singles) != len(audios):
            raise ValueError(f"{len(singles)} audio placeholders for {len(audios)} clips")
        kwargs = dict(mm_kwargs or {})
        kwargs.setdefault("sampling_rate", processor_sampling_rate(self.processor))
        feats = self.processor(
            text=[self.processor.audio_token] * len(audios), audio=list(audios), return_tensors="pt", **kwargs
        )
        counts = (feats["input_ids"] == tid).sum(dim=-1).tolist()
        expanded: list[int] = []
        k = 0
        for t in ids:
            if t == tid:
                expanded.extend([tid] * int(counts[k]))
                k += 1
            else:
                expanded.append(t)
        dtype = getattr(self.model, "dtype", torch.float32)  # features follow the model (bf16 checkpoints)
        inputs = {
            k2: v.to(dtype) if torch.is_tensor(v) and v.is_floating_point() else v
            for k2, v in feats.items()
            if k2 not in ("input_ids", "attention_mask", "num_audio_tokens")
        }
        inputs["input_ids"] = torch.tensor([expanded])
        inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])
        return inputs

    async def generate(
        self,
        request_id: str,
        *,
        prompt_ids: list[int],
        sampling_params: dict[str, Any],
        audio_data: list[np.ndarray] | None = None,
        mm_processor_kwargs: dict | None = None,
        **kwargs: Any,
    ):
        import torch
        from verl.workers.rollout.replica import TokenOutput

        self.requests.append(
            {"request_id": request_id, "prompt_ids": list(prompt_ids), "num_audios": len(audio_data or [])}
        )
        inputs = self.expand(prompt_ids, list(audio_data or []), mm_processor_kwargs)
        temperature = float(sampling_params.get("temperature", 1.0) or 0.0)
        gen_kwargs: dict[str, Any] = {"max_new_tokens": int(sampling_params.get("max_tokens", self.response_length))}
        if temperature > 0:
            top_k = int(sampling_params.get("top_k", -1) or -1)
            gen_kwargs.update(
                do_sample=True,
                temperature=temperature,
                top_p=float(sampling_params.get("top_p", 1.0)),
                top_k=top_k if top_k > 0 else None,
            )
        else:
            gen_kwargs.update(do_sample=False)
        tokenizer = self.processor.tokenizer
        torch.manual_seed(self.seed + len(self.requests))
        with torch.no_grad():
            out = self.model.generate(
                **inputs,
                **gen_kwargs,
                eos_token_id=tokenizer.eos_token_id,
                pad_token_id=tokenizer.pad_token_id,
                return_dict_in_generate=True,
                output_logits=True,
            )
        new = out.sequences[0, inputs["input_ids"].shape[1] :].tolist()
        logprobs = []
        for step, token in enumerate(new):
            logits = out.logits[step][0].float()
            logprobs.append(float(torch.log_softmax(logits, dim=-1)[token]))
        if tokenizer.eos_token_id in new:  # keep the EOS, drop anything after it
            cut = new.index(tokenizer.eos_token_id) + 1
            new, logprobs = new[:cut], logprobs[:cut]
        return TokenOutput(token_ids=new, log_probs=logprobs, stop_reason="completed", num_preempted=0)
