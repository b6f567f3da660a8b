"""Drive verl's own rollout and actor code in-process on CPU with an HF model (tests, benchmarks).

The full trainer runs through ``wildasr rl`` (Ray, several processes); to check one piece in
isolation, these helpers call exactly the methods an audio batch passes through, without Ray:
``AgentLoopWorker.generate_sequences`` (agent loop, post-processing, multimodal inputs) and
``FSDPEngineWithLMHead.forward_step`` (input packing, the model call, log-probs), with
:class:`verl_dgwgpo.rollout.hf_server.HFAudioServer` in place of vLLM and an unwrapped module in
place of FSDP; nothing of verl is re-implemented.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["actor_log_probs", "make_config", "make_worker", "reference_log_probs", "rollout", "write_cuts"]


def make_config(*, prompt_length: int = 512, response_length: int = 16, temperature: float = 1.0, **data: Any):
    """The slice of verl's trainer config the agent loop reads (an ``OmegaConf`` DictConfig)."""
    from omegaconf import OmegaConf

    return OmegaConf.create(
        {
            "data": {
                "max_prompt_length": prompt_length,
                "custom_cls": {"path": "pkg://verl_dgwgpo.rollout.dataset", "name": "AudioASRDataset"},
                **data,
            },
            "actor_rollout_ref": {
                "rollout": {
                    "prompt_length": prompt_length,
                    "response_length": response_length,
                    "temperature": temperature,
                    "top_p": 1.0,
                    "top_k": -1,
                    "calculate_log_probs": True,
                    "val_kwargs": {"top_p": 1.0, "top_k": -1, "temperature": 0.0},
                    "agent": {"default_agent_loop": "single_turn_agent"},
                    "multi_turn": {"tool_config_path": None},
                    "trace": {},
                }
            },
        }
    )


def make_worker(config: Any, model_path: str | Path, llm_client: Any, *, processor: Any = None) -> Any:
    """A verl ``AgentLoopWorker`` wired like ``AgentLoopWorker.__init__`` does, minus Ray and tools."""
    from transformers import AutoConfig
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
    from verl.utils import hf_processor, hf_tokenizer
    from verl.utils.dataset.rl_dataset import get_dataset_class

    worker = object.__new__(AgentLoopWorker)
    worker.config = config
    worker.rollout_config = config.actor_rollout_ref.rollout
    worker.llm_client = llm_client
    worker.tokenizer = hf_tokenizer(str(model_path))
    worker.processor = processor if processor is not None else hf_processor(str(model_path))
    worker.hf_model_type = AutoConfig.from_pretrained(model_path).model_type
    worker.dataset_cls = get_dataset_class(config.data)
    worker.mm_processor_kwargs = dict(config.data.get("mm_processor_kwargs", {}) or {})
    worker.reward_loop_worker_handles = None
    worker.distillation_enabled = False
    worker.tools = []
    return worker


def rollout(worker: Any, rows: Sequence[dict], *, validate: bool = False) -> Any:
    """``AgentLoopWorker.generate_sequences`` on dataset rows (collated like verl's dataloader)."""
    from verl.protocol import DataProto
    from verl.utils.dataset.rl_dataset import collate_fn

    batch = DataProto.from_single_dict(collate_fn(list(rows)))
    batch.meta_info["validate"] = validate
    return asyncio.run(worker.generate_sequences(batch))


def actor_log_probs(model: Any, output: Any, *, remove_padding: bool = True) -> Any:
    """Response log-probs ``[batch, response_length]`` through verl's FSDP engine forward step.

    The same conversion the trainer applies before ``compute_log_prob`` (``to_tensordict`` +
    ``left_right_2_no_padding``), then ``FSDPEngineWithLMHead.forward_step`` with the bare module
    (no FSDP wrapper, fp32). ``remove_padding`` (verl's default) packs the batch into one row;
    transformers' SDPA path recovers the sequence boundaries from the position ids on CPU.
    """
    import torch
    import verl.workers.engine.fsdp.transformer_impl as impl
    from verl.utils import tensordict_utils as tu
    from verl.workers.utils.padding import left_right_2_no_padding, no_padding_2_padding

    td = left_right_2_no_padding(output.to_tensordict())
    tu.assign_non_tensor(td, use_remove_padding=remove_padding, calculate_entropy=False, temperature=1.0)
    engine = object.__new__(impl.FSDPEngineWithLMHead)
    engine.module = model
    engine._autocast_dtype = torch.float32
    engine.pad_to_length = False
    engine.use_ulysses_sp = False
    saved = impl.get_device_id, impl.get_device_name
    impl.get_device_id = impl.get_device_name = lambda: "cpu"
    try:
        with torch.no_grad():
            _, out = engine.forward_step(td, loss_function=None, forward_only=True)
    finally:
        impl.get_device_id, impl.get_device_name = saved
    return no_padding_2_padding(out["model_output"]["log_probs"], td)


def reference_log_probs(model: Any, output: Any, row: int) -> Any:
    """Plain transformers forward of one unpadded sequence: its response tokens' log-probs."""
    import torch

    keep = output.batch["attention_mask"][row].bool()
    ids = output.batch["input_ids"][row][keep].unsqueeze(0)
    n_resp = int(output.batch["response_mask"][row].sum())
    n_prompt = ids.shape[1] - n_resp
    features = output.non_tensor_batch["multi_modal_inputs"][row]
    with torch.no_grad():
        logits = model(input_ids=ids, **features).logits[0].float()
    logp = torch.log_softmax(logits, dim=-1)[n_prompt - 1 : n_prompt - 1 + n_resp]
    return logp.gather(-1, ids[0, n_prompt:].unsqueeze(-1)).squeeze(-1)


def write_cuts(
    out_dir: str | Path,
    durations: Sequence[float],
    *,
    sampling_rate: int = 16000,
    texts: Sequence[str] | None = None,
    seed: int = 0,
) -> Path:
    """A Lhotse cut manifest of noise clips (WAV files) with ``lhotse_wild`` provenance and base WER."""
    import soundfile as sf
    from lhotse import CutSet, Recording, SupervisionSegment

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cuts = []
    for i, seconds in enumerate(durations):
        wav = out / f"clip{i}.wav"
        sf.write(wav, (0.1 * rng.standard_normal(int(round(seconds * sampling_rate)))).astype(np.float32), sampling_rate)
        rec = Recording.from_file(wav, recording_id=f"rec{i}")
        cut = rec.to_cut().with_id(f"cut{i}")
        text = texts[i] if texts is not None else f"hello world number {i}"
        cut.supervisions = [
            SupervisionSegment(f"sup{i}", rec.id, 0.0, rec.duration, text=text, language="English")
        ]
        cut.custom = {"wild": {"scenario": "babble", "severity": 0.25 * (i + 1)}, "base_wer": 0.1 * i}
        cuts.append(cut)
    path = out / "cuts.jsonl.gz"
    CutSet.from_cuts(cuts).to_file(path)
    return path
