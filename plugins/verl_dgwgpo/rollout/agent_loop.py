"""``AudioASRAgentLoop``: one ASR turn of an audio LLM inside verl's agent-loop rollout.

Registered in verl's agent-loop registry as ``audio_asr`` (rows of :class:`AudioASRDataset` name it in
``agent_name``). Per sample it

1. renders the model's ASR chat through the processor, which expands the audio placeholder to one
   token per encoder frame (these expanded ids are what the actor trains on);
2. optionally appends a forced-language prefix (Qwen3-ASR: ``language English<asr_text>``);
3. sends the rollout engine the same prompt with each placeholder run collapsed to ONE token plus
   the clip as ``multi_modal_data`` (the engine expands it itself: no double expansion);
4. returns the response tokens, and the parsed transcript (Qwen3-ASR's
   ``language X<asr_text>...`` header removed) in ``extra_fields["transcript"]``, which verl hands
   the reward manager as ``extra_info`` (``tool_extra_fields``).

Actor features for the expanded prompt come from the patched
``AgentLoopWorker._compute_multi_modal_inputs`` (:mod:`.patches`, :func:`.features.audio_features`).
"""

from __future__ import annotations

import logging
import os
from typing import Any
from uuid import uuid4

import numpy as np

from nemo_wild_eval.errors import InputError
from nemo_wild_eval.text import parse_asr_output
from verl.experimental.agent_loop.agent_loop import AgentLoopBase, AgentLoopOutput, register
from verl.utils.profiler import simple_timer

from . import AGENT_NAME
from .models import audio_token_id, collapse_audio_runs, family_for_processor, is_audio_processor

__all__ = ["AudioASRAgentLoop", "FORCED_LANGUAGE_ROW"]

logger = logging.getLogger(__name__)
logger.setLevel(os.getenv("VERL_LOGGING_LEVEL", "WARN"))

FORCED_LANGUAGE_ROW = "row"
"""``data.force_language: row`` takes each row's ``extra_info.language``."""


@register(AGENT_NAME)
class AudioASRAgentLoop(AgentLoopBase):
    """Single-turn ASR with the clip passed to the rollout once (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if self.processor is None or not is_audio_processor(self.processor):
            raise InputError(
                f"the audio agent loop needs the model's audio processor, got "
                f"{type(self.processor).__name__ if self.processor is not None else None}; is "
                "verl_dgwgpo.rollout.patches applied in this process (verl.plugins entry point)?",
                source="actor_rollout_ref.model.path",
            )
        self.family = family_for_processor(self.processor)
        self.audio_token_id = audio_token_id(self.processor)
        self.prompt_length = int(self.rollout_config.prompt_length)
        self.response_length = int(self.rollout_config.response_length)
        self.force_language = self.data_config.get("force_language", None)
        if self.force_language is not None and (self.family is None or self.family.model_type != "qwen3_asr"):
            raise InputError("only Qwen3-ASR takes a forced language prefix", source="data.force_language")

    # -- prompt ---------------------------------------------------------------------------------

    def language_prefix(self, extra_info: dict | None) -> list[int]:
        """Token ids of the forced ``language X<asr_text>`` prefix (empty when not forced)."""
        language = self.force_language
        if language == FORCED_LANGUAGE_ROW:
            language = (extra_info or {}).get("language")
            if not language:
                raise InputError(
                    "data.force_language=row but the row has no language",
                    source=str((extra_info or {}).get("cut_id")),
                )
        if not language:
            return []
        return list(self.tokenizer.encode(f"language {language}<asr_text>", add_special_tokens=False))

    def render_prompt(self, messages: list[dict], audios: list[np.ndarray], mm_kwargs: dict) -> list[int]:
        """Processor-expanded prompt ids (what the actor sees)."""
        text = self.processor.apply_chat_template(
            messages, add_generation_prompt=True, tokenize=False, **dict(self.apply_chat_template_kwargs or {})
        )
        kwargs = dict(mm_kwargs)
        kwargs["return_tensors"] = "pt"
        out = self.processor(text=[text], audio=audios, **kwargs)
        return [int(t) for t in out["input_ids"][0].tolist()]

    def decode_response(self, response_ids: list[int]) -> str:
        """Response text with special tokens dropped, except Qwen3-ASR's ``<asr_text>`` marker.

        Real checkpoints may register ``<asr_text>`` as a special token; skipping it would glue the
        ``language X`` header to the transcript and the header could no longer be parsed away.
        """
        tok = self.tokenizer
        marker = tok.convert_tokens_to_ids("<asr_text>") if "<asr_text>" in tok.get_vocab() else None
        special = set(tok.all_special_ids)
        special.update(i for i, added in getattr(tok, "added_tokens_decoder", {}).items() if added.special)
        special.discard(marker)
        return tok.decode([t for t in response_ids if t not in special], skip_special_tokens=False)

    # -- the loop -------------------------------------------------------------------------------

    async def run(self, sampling_params: dict[str, Any], priority: int = 0, **kwargs: Any) -> AgentLoopOutput:
        priority = int(priority)
        messages = list(kwargs["raw_prompt"])
        extra_info = dict(kwargs.get("extra_info") or {})
        cut_id = str(extra_info.get("cut_id", "?"))

        mm = await self.process_multi_modal_info(messages)
        audios = mm.get("audios")
        if not audios:
            raise InputError("row holds no audio: refusing a text-only ASR rollout", source=cut_id)
        if any(not isinstance(a, np.ndarray) for a in audios):
            raise InputError("audio must be float32 arrays (use AudioASRDataset)", source=cut_id)
        mm_kwargs = self._get_mm_processor_kwargs(audios)

        prompt_ids = await self.loop.run_in_executor(None, self.render_prompt, messages, audios, mm_kwargs)
        prompt_ids = prompt_ids + self.language_prefix(extra_info)
        if len(prompt_ids) > self.prompt_length:
            # verl would left-truncate, cutting into the audio placeholders: refuse instead.
            raise InputError(
                f"prompt of {len(prompt_ids)} tokens exceeds rollout.prompt_length={self.prompt_length} "
                "(lower data.max_audio_seconds or raise data.max_prompt_length)",
                source=cut_id,
            )
        engine_ids = collapse_audio_runs(prompt_ids, self.audio_token_id)

        metrics: dict[str, Any] = {}
        with simple_timer("generate_sequences", metrics):
            output = await self.server_manager.generate(
                request_id=uuid4().hex,
                prompt_ids=engine_ids,
                sampling_params=sampling_params,
                audio_data=audios,
                mm_processor_kwargs=mm_kwargs,
                priority=priority,
            )
        metrics["num_preempted"] = output.num_preempted if output.num_preempted is not None else -1

        response_ids = [int(t) for t in output.token_ids][: self.response_length]
        logprobs = list(output.log_probs)[: self.response_length] if output.log_probs else None
        if self.audio_token_id in response_ids:
            # A sampled placeholder would desynchronise features and tokens in the actor.
            cut = response_ids.index(self.audio_token_id)
            logger.warning("%s: response sampled an audio placeholder; truncated at %d", cut_id, cut)
            response_ids = response_ids[:cut]
            logprobs = logprobs[:cut] if logprobs is not None else None

        raw_text = self.decode_response(response_ids)
        transcript = parse_asr_output(raw_text)
        extra_fields = dict(output.extra_fields or {})
        extra_fields.update(
            {
                "transcript": transcript,
                "raw_response": raw_text,
                "cut_id": cut_id,
                "num_audio_tokens": sum(1 for t in prompt_ids if t == self.audio_token_id),
                "turn_scores": [],
                "tool_rewards": [],
            }
        )
        return AgentLoopOutput(
            prompt_ids=prompt_ids,
            response_ids=response_ids,
            response_mask=[1] * len(response_ids),
            response_logprobs=logprobs,
            multi_modal_data={"audios": audios},
            mm_processor_kwargs=mm_kwargs,
            num_turns=2,
            metrics=metrics,
            extra_fields=extra_fields,
        )
