"""A transformers audio LLM (Qwen2-Audio, Qwen3-ASR) as a greedy transcriber, LoRA switchable.

Used by ``wildasr transcribe --backend hf`` and the routing tests. Each clip is generated on its own
(no padding), so a transcript depends only on that clip and the weights: the routed output is
token-for-token the base (or LoRA) model's output. The prompt is the family's ASR prompt
(``verl_dgwgpo.rollout.models.FAMILIES``) rendered with the processor's chat template.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from nemo_wild_eval.errors import InputError

__all__ = ["HFAudioASR", "asr_prompt"]


def asr_prompt(processor: Any, family: Any) -> str:
    """The family's ASR prompt (system turn, audio, instruction), rendered by the processor's template.

    One rendering for inference and for training a model from scratch on the same prompt
    (``wildasr.miniature``).
    """
    content: list[dict] = [{"type": "audio", "audio": "clip"}]
    if family.default_instruction:
        content.append({"type": "text", "text": family.default_instruction})
    messages = []
    if family.default_system is not None:
        messages.append({"role": "system", "content": family.default_system})
    messages.append({"role": "user", "content": content})
    return processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)


class HFAudioASR:
    """``HFAudioASR(model_dir, adapter=None)``; with an adapter, ``.switch`` toggles it in place."""

    def __init__(self, model_dir: str | Path, adapter: str | Path | None = None, *, max_new_tokens: int = 64,
                 device: str | None = None):
        import torch
        from transformers import AutoConfig, AutoProcessor

        from verl_dgwgpo.rollout.models import causal_lm_class, family_for_config, processor_sampling_rate

        p = Path(model_dir)
        if not (p / "config.json").is_file():
            raise InputError("not a transformers model directory (no config.json)", source=str(p))
        config = AutoConfig.from_pretrained(p)
        self.family = family_for_config(config)
        cls = causal_lm_class(config)
        self.processor = AutoProcessor.from_pretrained(p)
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.model = cls.from_pretrained(p).to(self.device).eval()
        self.sampling_rate = processor_sampling_rate(self.processor)
        self.max_new_tokens = int(max_new_tokens)
        self.switch = None
        if adapter is not None:
            from .switch import LoraSwitch

            self.switch = LoraSwitch.from_adapter(self.model, str(adapter))
            self.model = self.switch.model.eval()
        self.name = f"hf-{config.model_type}-{p.name}" + (f"+{Path(adapter).name}" if adapter else "")
        self._prompt = self._render_prompt()

    def _render_prompt(self) -> str:
        return asr_prompt(self.processor, self.family)

    def token_ids(self, samples: np.ndarray, sampling_rate: int) -> list[int]:
        """Greedy new-token ids for one clip (EOS and anything after it dropped)."""
        import torch

        from .features import check_audio

        x = check_audio(samples, sampling_rate, self.sampling_rate)
        inputs = self.processor(text=[self._prompt], audio=[x], sampling_rate=self.sampling_rate, return_tensors="pt")
        inputs = {k: v.to(self.device) for k, v in inputs.items() if hasattr(v, "to")}
        tok = self.processor.tokenizer
        with torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False,
                                      eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
        new = out[0, inputs["input_ids"].shape[1]:].tolist()
        return new[: new.index(tok.eos_token_id)] if tok.eos_token_id in new else new

    def transcribe(self, samples: np.ndarray, sampling_rate: int) -> str:
        from nemo_wild_eval.text import parse_asr_output

        text = self.processor.tokenizer.decode(self.token_ids(samples, sampling_rate), skip_special_tokens=True)
        return parse_asr_output(text)

    def transcribe_many(self, clips: Sequence[np.ndarray], sampling_rate: int) -> list[str]:
        return [self.transcribe(c, sampling_rate) for c in clips]
