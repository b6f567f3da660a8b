"""The five failures of stock verl 0.9.1 with audio LLMs: each fails stock and passes patched.

Every test states the correct behaviour once (a ``check`` function), runs it under
``patches.stock()`` (expecting the failure the issue describes) and then with the patches.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

pytest.importorskip("verl")

import verl  # noqa: E402,F401

from verl_dgwgpo.rollout import patches  # noqa: E402

patches.apply()

import verl.experimental.agent_loop.agent_loop as agent_loop_mod  # noqa: E402
import verl.utils.fsdp_utils  # noqa: E402,F401  (the fsdp_abc patch target)
import verl.utils.model as verl_model  # noqa: E402
import verl.utils.tokenizer.continuous_token_wiring as wiring  # noqa: E402
import verl.utils.tokenizer.tokenizer as verl_tokenizer  # noqa: E402
import verl.workers.rollout.utils as rollout_utils  # noqa: E402

from nemo_wild_eval.errors import InputError  # noqa: E402
from verl_dgwgpo.rollout.features import AudioTokenMismatch  # noqa: E402
from verl_dgwgpo.rollout.hf_server import DoubleExpansionError, HFAudioServer  # noqa: E402
from verl_dgwgpo.tiny_models import tiny_model_dir  # noqa: E402

FAMILY_TYPES = {"qwen3_asr": "qwen3_asr", "qwen2_audio": "qwen2_audio"}


@pytest.fixture(scope="module")
def paths(tmp_path_factory):
    root = tmp_path_factory.getbasetemp() / "rollout_tiny"
    return {family: tiny_model_dir(family, root) for family in FAMILY_TYPES}


@pytest.fixture(scope="module")
def processors(paths):
    from transformers import AutoProcessor

    return {family: AutoProcessor.from_pretrained(path) for family, path in paths.items()}


def _clip(seconds: float, seed: int = 0) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(int(seconds * 16000))).astype(np.float32)


def _expanded_prompt(processor, audios) -> list[int]:
    content = [{"type": "audio", "audio": a} for a in audios]
    text = processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True, tokenize=False)
    out = processor(text=[text], audio=list(audios), sampling_rate=16000, return_tensors="pt")
    return out["input_ids"][0].tolist()


def _stock_fails(check, *errors):
    with patches.stock():
        with pytest.raises(errors or (AssertionError,)):
            check()


# 1. processor silently dropped ----------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(FAMILY_TYPES))
def test_processor_is_kept(paths, family):
    def check():
        processor = verl_tokenizer.hf_processor(str(paths[family]))
        assert processor is not None, "processor dropped: the run would go text-only"
        assert processor.audio_token_id is not None

    with pytest.warns(UserWarning, match="Failed to create processor"):
        _stock_fails(check)
    check()


def test_dataset_refuses_a_missing_processor(paths, tmp_path):
    from verl_dgwgpo.rollout.dataset import AudioASRDataset

    with pytest.raises(InputError, match="needs the model's audio processor"):
        AudioASRDataset([], tokenizer=None, config={}, processor=None)


# 2. auto-class without LM head ----------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(FAMILY_TYPES))
def test_actor_class_has_lm_head(paths, family):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(paths[family])
    vocab = config.text_config.vocab_size

    def check():
        cls = verl_model.get_hf_auto_model_class(config)
        model = cls.from_config(config) if hasattr(cls, "from_config") else cls(config)
        head = model.get_output_embeddings()
        assert head is not None, f"{type(model).__name__} has no LM head"
        out = model(input_ids=torch.tensor([[1, 2, 3]]))
        assert out.logits.shape == (1, 3, vocab)

    _stock_fails(check, AssertionError, AttributeError)
    check()


# 3. Qwen2-Audio's processor count check on re-processing ---------------------------------------


def _worker(processor):
    worker = object.__new__(agent_loop_mod.AgentLoopWorker)
    worker.processor, worker.tokenizer, worker.mm_processor_kwargs = processor, processor.tokenizer, {}
    return worker


@pytest.mark.parametrize("family", sorted(FAMILY_TYPES))
def test_actor_features_from_reprocessing(processors, family):
    processor = processors[family]
    audios = [_clip(0.9)]  # ASR prompts hold one clip (Qwen3-ASR's processor takes one per text)
    prompt = _expanded_prompt(processor, audios)
    response = processor.tokenizer.encode("ok", add_special_tokens=False)
    input_ids = torch.tensor([prompt + response])
    output = agent_loop_mod.AgentLoopOutput(
        prompt_ids=prompt, response_ids=response, response_mask=[1] * len(response),
        multi_modal_data={"audios": audios}, num_turns=2, metrics={},
    )
    mask_key = "input_features_mask" if family == "qwen3_asr" else "feature_attention_mask"

    def check():
        feats = agent_loop_mod.AgentLoopWorker._compute_multi_modal_inputs(_worker(processor), output, input_ids)
        assert feats["input_features"].shape[0] == 1
        assert feats[mask_key].sum(dim=-1).tolist() == [90]

    if family == "qwen2_audio":  # the processor's own count check fires on the decoded text
        _stock_fails(check, ValueError)
    check()
    # A sequence whose placeholder count differs from the clips' is refused, not trained on.
    worse = torch.tensor([prompt[:-3] + [processor.audio_token_id] + response])
    with pytest.raises(AudioTokenMismatch, match="expand to"):
        agent_loop_mod.AgentLoopWorker._compute_multi_modal_inputs(_worker(processor), output, worse)


# 4. double pad-token expansion (processor, then the rollout engine) ----------------------------


@pytest.mark.parametrize("family", sorted(FAMILY_TYPES))
def test_engine_prompt_is_expanded_once(paths, processors, family):
    import transformers
    from transformers import AutoConfig

    processor = processors[family]
    audios = [_clip(1.5, seed=2)]
    prompt = _expanded_prompt(processor, audios)
    model_cls = getattr(transformers, AutoConfig.from_pretrained(paths[family]).architectures[0])
    engine = HFAudioServer(model_cls.from_pretrained(paths[family]), processor)

    def check():
        # What verl's vLLM server does to a prompt before handing it and the clips to the engine.
        sent = rollout_utils.qwen2_5_vl_dedup_image_tokens(prompt, processor)
        model_inputs = engine.expand(sent, audios, None)
        assert model_inputs["input_ids"][0].tolist() == prompt

    _stock_fails(check, DoubleExpansionError)
    check()
    # ...and the policy may not sample a placeholder (banned like verl bans image placeholders).
    assert processor.audio_token_id in rollout_utils.get_vision_placeholder_token_ids(processor)


# 5. Qwen3-ASR's feature mask is not a variable-length key ---------------------------------------


def test_mixed_length_qwen3_asr_features_batch(paths, processors):
    from transformers import Qwen3ASRForConditionalGeneration

    processor = processors["qwen3_asr"]
    model = Qwen3ASRForConditionalGeneration.from_pretrained(paths["qwen3_asr"]).eval()
    per_clip = []
    for seconds, seed in ((0.7, 0), (1.9, 1)):
        out = processor(text=[processor.audio_token], audio=[_clip(seconds, seed)], sampling_rate=16000, return_tensors="pt")
        per_clip.append({k: v for k, v in out.items() if k in ("input_features", "input_features_mask")})

    def check():
        batch = verl_model.extract_multi_modal_inputs(per_clip)
        assert batch["input_features_mask"].shape == (2, 200)
        assert batch["input_features_mask"].sum(dim=-1).tolist() == [70, 190]
        with torch.no_grad():
            together = model.get_audio_features(**batch).pooler_output
            apart = torch.cat([model.get_audio_features(**f).pooler_output for f in per_clip])
        torch.testing.assert_close(together, apart, atol=1e-5, rtol=0)

    _stock_fails(check, RuntimeError)
    check()


# builder + plugin mechanics ------------------------------------------------------------------------


@pytest.mark.parametrize("family", sorted(FAMILY_TYPES))
def test_continuous_token_builder_accepts_audio(processors, family):
    processor = processors[family]

    def check():
        builder = wiring.create_continuous_token_builder(processor.tokenizer, hf_model_type=family, processor=processor)
        assert builder.supports_multimodal()

    _stock_fails(check)
    check()


def test_apply_is_idempotent_and_revert_restores_stock():
    installed = patches.status()
    assert set(installed.values()) == {"installed"}, installed
    patched_fn = verl_model.get_hf_auto_model_class
    assert patches.apply() == []
    assert verl_model.get_hf_auto_model_class is patched_fn
    with patches.stock():
        assert set(patches.status().values()) == {"off"}
        assert not getattr(verl_model.get_hf_auto_model_class, "__wildasr_patch__", False)
        assert "audio_asr" not in agent_loop_mod._agent_loop_registry
        assert "input_features_mask" not in verl_model._VARLEN_MULTI_MODAL_KEYS
    assert patches.status() == installed
    assert verl_model.get_hf_auto_model_class is not patched_fn  # re-installed: a fresh wrapper
    assert agent_loop_mod._agent_loop_registry["audio_asr"]["_target_"].endswith("AudioASRAgentLoop")


def test_patches_install_lazily_when_verl_is_imported_later(paths):
    """What the ``verl.plugins`` entry point does: apply() first, verl modules imported afterwards."""
    code = textwrap.dedent(
        f"""
        import os, sys
        os.environ["VERL_USE_EXTERNAL_PLUGINS"] = "none"  # only our explicit apply() below
        from verl_dgwgpo.rollout import patches
        assert patches.apply() == [] and "verl" not in sys.modules
        assert set(patches.status().values()) == {{"pending"}}
        import verl.utils.model as m
        from verl.utils import hf_processor
        state = patches.status()
        assert all(state[k] == "installed" for k in ("processor", "auto_class", "varlen_mask")), state
        assert state["reprocess"] == "pending", state  # its module is not imported yet
        assert getattr(hf_processor, "__wildasr_patch__", False)
        assert hf_processor({str(paths['qwen3_asr'])!r}) is not None
        assert "input_features_mask" in m._VARLEN_MULTI_MODAL_KEYS
        print("LAZY-OK")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "LAZY-OK" in proc.stdout, proc.stderr[-3000:]


def test_fsdp2_wrapping_survives_lightning_import():
    """`import lightning` (NeMo does) makes every nn.Module an ``ABC`` instance; stock verl's FSDP2 wrap
    then fails with "object layout differs". Run in a fresh process: the ABC claim cannot be undone."""
    code = textwrap.dedent(
        """
        import os
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT="29533", RANK="0", WORLD_SIZE="1")
        from abc import ABC
        import torch, torch.distributed as dist
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import FSDPModule, fully_shard
        import verl.utils.fsdp_utils as fu
        from verl_dgwgpo.rollout import patches
        assert not isinstance(torch.nn.Linear(1, 1), ABC)
        import lightning_fabric.utilities.apply_func  # noqa: F401  (what `import nemo` pulls in)
        assert isinstance(torch.nn.Linear(1, 1), ABC)
        dist.init_process_group("gloo")
        mesh = init_device_mesh("cpu", (1,))

        def wrap():
            # fresh classes per call: torch caches the FSDP class per module class, a failed wrap too
            Lin = type("Lin", (torch.nn.Linear,), {})
            Seq = type("Seq", (torch.nn.Sequential,), {})
            torch.manual_seed(0)
            m = Seq(Lin(4, 4), Lin(4, 2))
            for sub in (m[0], m):
                with fu.maybe_patch_fsdp_module(sub):
                    fully_shard(sub, mesh=mesh)
            return m

        with patches.stock():
            try:
                wrap()
                print("STOCK-WRAPPED")
            except TypeError as exc:
                assert "layout differs" in str(exc), exc
                print("STOCK-FAILS")
        assert patches.status()["fsdp_abc"] == "installed"
        m = wrap()
        assert isinstance(m, FSDPModule) and isinstance(m[0], FSDPModule)
        y = m(torch.ones(3, 4))
        assert y.shape == (3, 2) and torch.isfinite(y).all()
        dist.destroy_process_group()
        print("PATCHED-OK")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "STOCK-FAILS" in proc.stdout and "PATCHED-OK" in proc.stdout, proc.stdout[-2000:] + proc.stderr[-3000:]


def test_fsdp2_units_for_qwen2_audio(paths):
    """Stock verl picks the attention inside the picked encoder layer and the direct-read position
    embedding (FSDP2 then mixes Tensor and DTensor); patched: outermost units only."""
    import verl.utils.fsdp_utils as fu
    from transformers import AutoConfig, Qwen2AudioForConditionalGeneration

    model = Qwen2AudioForConditionalGeneration(AutoConfig.from_pretrained(paths["qwen2_audio"]))
    classes = list(model._no_split_modules)
    names = {id(m): n for n, m in model.named_modules()}

    def picks():
        return [names[id(m)] for m in fu._select_fsdp2_wrap_targets(model, classes)]

    with patches.stock():
        stock = picks()
    patched = picks()
    emb = [n for n in stock if n.endswith("audio_tower.embed_positions")]
    assert emb and not set(emb) & set(patched)
    assert any(n.endswith(".self_attn") and "audio_tower.layers." in n for n in stock)
    assert not any(n.startswith(p + ".") for p in patched for n in patched)  # nothing nested
    assert set(patched) < set(stock) and any(n.endswith("audio_tower.layers.0") for n in patched)
    # Not an audio LLM of ours: verl's own choice is untouched.
    plain = torch.nn.Sequential(torch.nn.Embedding(4, 2))
    plain.config = type("Cfg", (), {"model_type": "llama", "tie_word_embeddings": False})()
    with patches.stock():
        stock_plain = fu._select_fsdp2_wrap_targets(plain, ["Nothing"])
    assert fu._select_fsdp2_wrap_targets(plain, ["Nothing"]) == stock_plain and len(stock_plain) == 1


# root_tie: Qwen2-Audio's tie_word_embeddings where verl's FSDP engine reads it ---------------------


def test_root_tie_word_embeddings_for_qwen2_audio(paths):
    import verl.workers.config.model as model_config_mod

    def check():
        cfg = model_config_mod.HFModelConfig(path=str(paths["qwen2_audio"]))
        # verl's _build_module: use_meta_tensor=not hf_config.tie_word_embeddings
        assert cfg.hf_config.tie_word_embeddings == cfg.hf_config.text_config.tie_word_embeddings

    _stock_fails(check, AttributeError)
    check()
