"""Dataset -> agent-loop prompt -> rollout -> actor forward, through verl 0.9.1's own classes, on CPU.

Tiny randomly initialised Qwen3-ASR and Qwen2-Audio (real transformers classes, self-built tokenizer),
a mixed-length batch of clips, verl's ``create_rl_dataset``, ``AgentLoopWorker.generate_sequences``
(our agent loop behind it, an HF stand-in for vLLM) and ``FSDPEngineWithLMHead.forward_step``.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("verl")

import verl  # noqa: E402,F401  (entry points load; patches below are idempotent)

from verl_dgwgpo.rollout import patches  # noqa: E402

patches.apply()

from verl_dgwgpo.testing import rollout as testing  # noqa: E402
from verl_dgwgpo.rollout.hf_server import HFAudioServer  # noqa: E402
from verl_dgwgpo.tiny_models import tiny_model_dir  # noqa: E402

DURATIONS = (0.7, 1.9, 1.3)
FAMILIES = {
    "qwen3_asr": ("Qwen3ASRForConditionalGeneration", "Qwen3ASRProcessor", "input_features_mask"),
    "qwen2_audio": ("Qwen2AudioForConditionalGeneration", "Qwen2AudioProcessor", "feature_attention_mask"),
}


def _whisper_tokens(mel_frames: int) -> int:
    """Qwen2-Audio: stride-2 conv then stride-2 average pool over the valid mel frames."""
    after_conv = (mel_frames - 1) // 2 + 1
    return (after_conv - 2) // 2 + 1


@pytest.fixture(scope="module", params=sorted(FAMILIES))
def run(request, tmp_path_factory):
    """One rollout + actor pass per family, shared by the assertions below."""
    import transformers
    from verl.trainer.ppo.utils import create_rl_dataset
    from verl.utils import hf_processor, hf_tokenizer

    family = request.param
    model_cls, _, _ = FAMILIES[family]
    path = tiny_model_dir(family, tmp_path_factory.getbasetemp() / "rollout_tiny")
    manifest = testing.write_cuts(tmp_path_factory.mktemp(f"cuts_{family}"), DURATIONS)
    config = testing.make_config(response_length=12)
    processor = hf_processor(str(path))
    dataset = create_rl_dataset(str(manifest), config.data, hf_tokenizer(str(path)), processor)
    rows = [dataset[i] for i in range(len(dataset))]
    torch.manual_seed(0)
    model = getattr(transformers, model_cls).from_pretrained(path).eval()
    from verl.models.transformers.monkey_patch import apply_monkey_patch

    apply_monkey_patch(model, ulysses_sp_size=1, use_remove_padding=True)  # as the FSDP engine does
    server = HFAudioServer(model, processor, response_length=12)
    worker = testing.make_worker(config, path, server, processor=processor)
    output = testing.rollout(worker, rows)
    return {
        "family": family,
        "model": model,
        "processor": processor,
        "rows": rows,
        "output": output,
        "server": server,
        "actor": {
            "packed": testing.actor_log_probs(model, output, remove_padding=True),
            "padded": testing.actor_log_probs(model, output, remove_padding=False),
        },
    }


def test_processor_reaches_dataset_and_agent_loop(run):
    _, processor_cls, _ = FAMILIES[run["family"]]
    assert run["processor"] is not None
    assert type(run["processor"]).__name__ == processor_cls
    rows = run["rows"]
    assert [r["agent_name"] for r in rows] == ["audio_asr"] * 3
    blocks = [b for m in rows[0]["raw_prompt"] if isinstance(m["content"], list) for b in m["content"]]
    audio = [b["audio"] for b in blocks if b["type"] == "audio"]
    assert len(audio) == 1
    assert audio[0].dtype.name == "float32" and audio[0].shape == (int(DURATIONS[0] * 16000),)


def test_rows_carry_reference_and_provenance(run):
    out = run["output"].non_tensor_batch
    assert [r["ground_truth"] for r in out["reward_model"]] == [f"hello world number {i}" for i in range(3)]
    info = list(out["extra_info"])
    assert [i["cut_id"] for i in info] == ["cut0", "cut1", "cut2"]
    assert [i["scenario"] for i in info] == ["babble"] * 3
    assert [i["severity"] for i in info] == [0.25, 0.5, 0.75]
    assert [i["base_wer"] for i in info] == pytest.approx([0.0, 0.1, 0.2])
    assert [i["duration"] for i in info] == pytest.approx(list(DURATIONS))
    assert all(isinstance(t, str) for t in out["transcript"])


def test_mixed_lengths_batch_and_token_counts_match_features(run):
    _, _, mask_key = FAMILIES[run["family"]]
    out = run["output"]
    token_id = run["processor"].audio_token_id
    counts = (out.batch["input_ids"] == token_id).sum(dim=1).tolist()
    features = list(out.non_tensor_batch["multi_modal_inputs"])
    valid_frames = [int(f[mask_key].sum()) for f in features]
    # 10 ms mel hop: the valid frames are the clip lengths, the batch is truly mixed-length.
    assert valid_frames == [round(d * 100) for d in DURATIONS]
    if run["family"] == "qwen3_asr":
        # Each clip's feature mask is only as long as the clip (padded to the 1 s encoder chunk).
        assert [f[mask_key].shape[-1] for f in features] == [100, 200, 200]
        expected = [int(run["model"].get_audio_features(**f).pooler_output.shape[0]) for f in features]
    else:
        expected = [_whisper_tokens(n) for n in valid_frames]
    assert counts == expected
    assert len(set(counts)) == 3
    assert list(out.non_tensor_batch["num_audio_tokens"]) == counts


def test_engine_gets_one_placeholder_per_clip(run):
    token_id = run["processor"].audio_token_id
    sent = [r["prompt_ids"] for r in run["server"].requests]
    assert len(sent) == 3
    assert [sum(1 for t in ids if t == token_id) for ids in sent] == [1, 1, 1]
    # Training keeps the expanded prompt: collapsing it again gives exactly what the engine got.
    prompts = run["output"].batch["prompts"]
    for ids, prompt in zip(sent, prompts, strict=True):
        expanded = [t for t in prompt.tolist() if t != run["processor"].tokenizer.pad_token_id]
        collapsed = [t for i, t in enumerate(expanded) if not (t == token_id and i and expanded[i - 1] == token_id)]
        assert collapsed == ids


@pytest.mark.parametrize("mode", ["packed", "padded"])
def test_actor_log_probs_match_plain_transformers_forward(run, mode):
    """verl's actor forward (remove-padding on or off) equals transformers' forward of each sequence."""
    out, actor = run["output"], run["actor"][mode]
    mask = out.batch["response_mask"].bool()
    assert actor.shape == mask.shape
    assert mask.sum(dim=1).min() >= 1
    for row in range(3):
        ref = testing.reference_log_probs(run["model"], out, row)
        n = int(mask[row].sum())
        torch.testing.assert_close(actor[row, :n], ref, atol=1e-5, rtol=0)
        # The rollout's own log-probs (HF generate) agree too: same tokens, same model.
        torch.testing.assert_close(out.batch["rollout_log_probs"][row, :n], ref, atol=1e-4, rtol=0)
        assert bool((ref < 0).all())
