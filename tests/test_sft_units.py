"""A2S-SFT pieces that need no training: module maps, curriculum plan, config checks, split guard."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nemo_wild_eval.errors import InputError
from verl_dgwgpo.sft.config import PhaseSpec, check_adapter_dir
from verl_dgwgpo.sft.curriculum import plan_curriculum
from verl_dgwgpo.sft.data import resolve_train_files, target_text
from verl_dgwgpo.sft.groups import LAYOUTS, expand_groups, target_regex
from verl_dgwgpo.testing.sft import make_cuts

# Every Linear of the tiny models (transformers 5.14 names) and the group it must land in.
QWEN3_NATIVE = {
    "model.audio_tower.layers.0.self_attn.q_proj": "audio_tower",
    "model.audio_tower.layers.0.self_attn.out_proj": "audio_tower",
    "model.audio_tower.layers.0.fc2": "audio_tower",
    "model.audio_tower.conv_out": "audio_tower",
    "model.multi_modal_projector.linear_1": "aligner",
    "model.multi_modal_projector.linear_2": "aligner",
    "model.language_model.layers.1.self_attn.o_proj": "llm",
    "model.language_model.layers.0.mlp.gate_proj": "llm",
}
QWEN_ASR_PKG = {
    "thinker.audio_tower.layers.3.self_attn.k_proj": "audio_tower",
    "thinker.audio_tower.conv_out": "audio_tower",
    "thinker.audio_tower.proj1": "aligner",
    "thinker.audio_tower.proj2": "aligner",
    "thinker.model.layers.0.mlp.down_proj": "llm",
}
QWEN2_AUDIO = {
    "model.audio_tower.layers.0.fc1": "audio_tower",
    "model.multi_modal_projector.linear": "aligner",
    "model.language_model.layers.0.self_attn.v_proj": "llm",
}


@pytest.mark.parametrize(
    "layout,table",
    [("qwen3_asr", QWEN3_NATIVE), ("qwen-asr", QWEN_ASR_PKG), ("qwen2_audio", QWEN2_AUDIO)],
)
def test_module_map_groups_and_lora_targets(layout, table):
    lay = LAYOUTS[layout]
    for name, group in table.items():
        assert lay.group(name) == group, name
        # PEFT / FSDP wrapper prefixes are stripped
        assert lay.group(f"base_model.model.{name}.lora_A.default.weight") == group
        for g in ("audio_tower", "aligner", "llm"):
            assert bool(re.fullmatch(target_regex(lay, [g]), name)) == (g == group), (name, g)
        assert re.fullmatch(target_regex(lay, ["acoustic"]), name) is not None or group == "llm"
    # never adapted: head, embeddings, norms, the encoder's conv stem
    for name in ("lm_head", "model.language_model.embed_tokens", "model.audio_tower.conv2d1", "thinker.lm_head"):
        assert re.fullmatch(target_regex(lay, ["all"]), name) is None


def test_group_aliases_and_unknown_group():
    assert expand_groups(["acoustic"]) == ("audio_tower", "aligner")
    assert expand_groups(["llm", "aligner"]) == ("aligner", "llm")
    assert expand_groups("all") == ("audio_tower", "aligner", "llm")
    with pytest.raises(InputError, match=r"a2s.train_groups: unknown module group 'encoder'"):
        PhaseSpec.from_config({"train_groups": ["encoder"]})
    with pytest.raises(InputError, match="a2s.group_lr_scale"):
        PhaseSpec.from_config({"train_groups": ["all"], "group_lr_scale": {"decoder": 0.1}})
    with pytest.raises(InputError, match="have no LoRA"):
        PhaseSpec.from_config({"lora_groups": ["acoustic"], "train_groups": ["llm"]})
    with pytest.raises(InputError, match="unknown key"):
        PhaseSpec.from_config({"train_groups": ["llm"], "curriculm": {}})
    spec = PhaseSpec.from_config({"train_groups": ["all"], "group_lr_scale": {"acoustic": 0.1}})
    assert spec.lr_scale("audio_tower") == spec.lr_scale("aligner") == 0.1 and spec.lr_scale("llm") == 1.0


def test_curriculum_exact_on_hand_made_cutset(tmp_path):
    from verl_dgwgpo.rollout.dataset import load_items

    # boundaries are inclusive (<=), as in lhotse_wild.split; 0.71 is above every bucket
    wers = [0.30, 0.05, 0.71, 0.50, 0.2999, 0.70, 0.31]
    items = load_items(str(make_cuts(tmp_path, wers)))
    assert [it.base_wer for it in items] == wers  # read from cut.custom by the shared data path
    plan = plan_curriculum([it.base_wer for it in items], [it.cut_id for it in items], batch_size=2, seed=3)
    assert plan.members == [[0, 1, 4], [0, 1, 3, 4, 6], [0, 1, 3, 4, 5, 6]]
    assert plan.excluded == [2]
    # stages in order; each batch inside one stage; padding repeats the stage's own first members
    assert plan.batch_stage == [0, 0, 1, 1, 1, 2, 2, 2]
    for b, k in zip(plan.batches, plan.batch_stage):
        assert set(b) <= set(plan.members[k])
    flat = [i for b, k in zip(plan.batches, plan.batch_stage) if k == 0 for i in b]
    assert sorted(flat[:3]) == [0, 1, 4] and flat[3] == flat[0]
    for k, members in enumerate(plan.members):
        got = [i for b, s in zip(plan.batches, plan.batch_stage) if s == k for i in b]
        assert set(got) == set(members)
    assert plan.seen() == {
        "wer_le_0.30": {"members": 3, "samples_seen": 4, "steps": 2},
        "wer_le_0.50": {"members": 5, "samples_seen": 6, "steps": 3},
        "wer_le_0.70": {"members": 6, "samples_seen": 6, "steps": 3},
    }
    # after 4 optimizer steps: both stage-1 batches and the first two of stage 2
    assert plan.seen(4)["wer_le_0.50"] == {"members": 5, "samples_seen": 4, "steps": 2}
    assert plan.seen(4)["wer_le_0.70"]["samples_seen"] == 0
    # same seed -> same plan; another epoch reshuffles within stages only
    again = plan_curriculum(wers, [it.cut_id for it in items], batch_size=2, seed=3)
    assert again.batches == plan.batches
    other = plan_curriculum(wers, [it.cut_id for it in items], batch_size=2, seed=3, epoch=1)
    assert other.batch_stage == plan.batch_stage and other.members == plan.members


def test_curriculum_needs_base_wer(tmp_path):
    with pytest.raises(InputError, match=r"2 cut\(s\) have no valid base_wer \(e.g. \['b', 'c'\]\)"):
        plan_curriculum([0.1, None, float("nan")], ["a", "b", "c"], batch_size=1)
    with pytest.raises(InputError, match="increasing"):
        plan_curriculum([0.1], ["a"], batch_size=1, thresholds=[0.5, 0.3])
    with pytest.raises(InputError, match="no cut has base_wer <= 0.7"):
        plan_curriculum([0.9], ["a"], batch_size=1)


def test_split_dir_resolves_to_kept_and_refuses_rl(tmp_path):
    split = tmp_path / "split"
    split.mkdir()
    (split / "split_summary.json").write_text("{}")
    (split / "kept.jsonl.gz").write_bytes(b"")
    (split / "rl.jsonl.gz").write_bytes(b"")
    assert resolve_train_files(str(split)) == [str(split / "kept.jsonl.gz")]
    with pytest.raises(InputError, match="RL split.*allow_rl_split"):
        resolve_train_files([str(split / "rl.jsonl.gz")])
    assert resolve_train_files(str(split / "rl.jsonl.gz"), allow_rl_split=True) == [str(split / "rl.jsonl.gz")]


def test_adapter_path_checks(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        check_adapter_dir(tmp_path / "nope")
    with pytest.raises(InputError, match="no adapter_config.json"):
        check_adapter_dir(tmp_path)
    (tmp_path / "adapter_config.json").write_text(json.dumps({"r": 8}))
    with pytest.raises(InputError, match="adapter_model.safetensors"):
        check_adapter_dir(tmp_path)


def test_target_text_per_family():
    assert target_text("qwen3_asr", "hi there", "en") == "language English<asr_text>hi there"
    assert target_text("qwen3_asr", "hi", None) == "language English<asr_text>hi"
    assert target_text("qwen2_audio", "hi there", "en") == "hi there"


def test_packaged_phase_names_compose_like_the_example_files():
    from omegaconf import OmegaConf

    from verl_dgwgpo.sft.trainer import PHASE_CONFIGS, compose_config

    examples = Path(__file__).resolve().parents[1] / "examples" / "sft"
    for name in ("phase1", "phase2", "phase3"):
        assert PHASE_CONFIGS[name].is_file()
        by_name = OmegaConf.to_container(compose_config(name, ["model.path=/m"]))
        by_path = OmegaConf.to_container(compose_config(examples / f"{name}.yaml", ["model.path=/m"]))
        assert by_name == by_path
        assert by_name["a2s"]["phase"] == name[-1]
    with pytest.raises(InputError, match="phase4.*packaged phases"):
        compose_config("phase4")
