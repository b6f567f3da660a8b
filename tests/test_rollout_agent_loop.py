"""``AudioASRAgentLoop`` behaviour with a scripted engine: Qwen3-ASR output format, forced language,
placeholders in the response, prompts over budget. Runs through verl's ``generate_sequences``."""

from __future__ import annotations

import pytest

pytest.importorskip("verl")

import verl  # noqa: E402,F401

from verl_dgwgpo.rollout import patches  # noqa: E402

patches.apply()

from nemo_wild_eval.errors import InputError  # noqa: E402
from verl_dgwgpo.testing import rollout as testing  # noqa: E402
from verl_dgwgpo.rollout.hf_server import HFAudioServer  # noqa: E402
from verl_dgwgpo.tiny_models import tiny_model_dir  # noqa: E402


class ScriptedServer(HFAudioServer):
    """Checks the engine contract like the HF server (one placeholder per clip), answers a fixed text."""

    def __init__(self, processor, answer_ids):
        super().__init__(model=_NoModel(), processor=processor)
        self.answer_ids = list(answer_ids)

    async def generate(self, request_id, *, prompt_ids, sampling_params, audio_data=None, mm_processor_kwargs=None, **kw):
        from verl.workers.rollout.replica import TokenOutput

        self.requests.append({"prompt_ids": list(prompt_ids), "max_tokens": sampling_params.get("max_tokens")})
        self.expand(prompt_ids, list(audio_data or []), mm_processor_kwargs)  # raises on double expansion
        return TokenOutput(token_ids=self.answer_ids, log_probs=[-0.5] * len(self.answer_ids), stop_reason="completed")


class _NoModel:
    def eval(self):
        return self


@pytest.fixture(scope="module")
def qwen3(tmp_path_factory):
    from verl.utils import hf_processor

    path = tiny_model_dir("qwen3_asr", tmp_path_factory.getbasetemp() / "rollout_tiny")
    manifest = testing.write_cuts(tmp_path_factory.mktemp("cuts_agent"), [0.6, 1.1])
    return path, hf_processor(str(path)), manifest


def _run(qwen3, answer: str, rollout_prompt_length: int | None = None, **data):
    from verl.trainer.ppo.utils import create_rl_dataset

    path, processor, manifest = qwen3
    tok = processor.tokenizer
    config = testing.make_config(response_length=64, **data)
    if rollout_prompt_length is not None:
        config.actor_rollout_ref.rollout.prompt_length = rollout_prompt_length
    dataset = create_rl_dataset(str(manifest), config.data, tok, processor)
    ids = tok.encode(answer, add_special_tokens=False) + [tok.eos_token_id]
    server = ScriptedServer(processor, ids)
    worker = testing.make_worker(config, path, server, processor=processor)
    return testing.rollout(worker, [dataset[i] for i in range(len(dataset))]), server


def test_qwen3_asr_header_is_parsed_away(qwen3):
    out, _ = _run(qwen3, "language English<asr_text>Hello, wild world.")
    assert list(out.non_tensor_batch["transcript"]) == ["Hello, wild world."] * 2
    assert list(out.non_tensor_batch["raw_response"]) == ["language English<asr_text>Hello, wild world."] * 2
    # The training response keeps every sampled token, EOS included.
    tok = qwen3[1].tokenizer
    assert out.batch["responses"][0, : int(out.batch["response_mask"][0].sum())].tolist()[-1] == tok.eos_token_id


def test_header_survives_when_asr_text_is_a_special_token(qwen3):
    """Real checkpoints may mark ``<asr_text>`` special: decoding must not drop it."""
    path, processor, manifest = qwen3
    from transformers import AutoProcessor

    special = AutoProcessor.from_pretrained(path)
    special.tokenizer.add_special_tokens({"additional_special_tokens": ["<asr_text>"]})
    assert special.tokenizer.convert_tokens_to_ids("<asr_text>") in special.tokenizer.all_special_ids
    out, _ = _run((path, special, manifest), "language German<asr_text>guten tag")
    assert list(out.non_tensor_batch["transcript"]) == ["guten tag"] * 2


def test_forced_language_prefix_is_in_the_prompt(qwen3):
    tok = qwen3[1].tokenizer
    out, server = _run(qwen3, "hello", force_language="English")
    prefix = tok.encode("language English<asr_text>", add_special_tokens=False)
    for sent in server.requests:
        assert sent["prompt_ids"][-len(prefix) :] == prefix
    assert list(out.non_tensor_batch["transcript"]) == ["hello"] * 2
    # data.force_language=row takes each row's own language (the cut's supervision language).
    _, server = _run(qwen3, "hello", force_language="row")
    assert all(s["prompt_ids"][-len(prefix) :] == prefix for s in server.requests)


def test_sampled_audio_placeholder_truncates_the_response(qwen3):
    processor = qwen3[1]
    answer = "ab" + processor.audio_token + "cd"
    out, _ = _run(qwen3, answer)
    lengths = out.batch["response_mask"].sum(dim=1).tolist()
    assert lengths == [2, 2]  # "a", "b": cut before the placeholder, nothing after it kept
    assert list(out.non_tensor_batch["transcript"]) == ["ab"] * 2


def test_prompt_over_budget_is_refused_not_truncated(qwen3):
    # At start-up: the longest allowed clip (30 s) cannot fit the configured prompt length.
    with pytest.raises(InputError, match="30 s clip needs about .* data.max_prompt_length=100"):
        _run(qwen3, "x", prompt_length=100)
    # Per sample: verl would left-truncate into the audio placeholders; the loop refuses instead.
    with pytest.raises(InputError, match=r"cut\d: prompt of \d+ tokens exceeds rollout.prompt_length=20"):
        _run(qwen3, "x", rollout_prompt_length=20, max_audio_seconds=2.0)
