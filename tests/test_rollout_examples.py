"""examples/verl/qwen3_asr_*: the composed Hydra config is valid for verl 0.9.1 and wires the audio path."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("verl")

import verl  # noqa: E402,F401

from verl_dgwgpo.rollout import patches  # noqa: E402

patches.apply()

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "verl"


def _compose(size: str):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(EXAMPLES), version_base=None):
        return compose(
            config_name="dapo_dgwgpo",
            overrides=[
                f"+qwen3_asr@_global_={size}",
                "data.train_files=[train.jsonl.gz]",
                "data.val_files=[val.jsonl.gz]",
                "actor_rollout_ref.model.path=/models/qwen3-asr",
            ],
        )


@pytest.mark.parametrize(("size", "gpus", "prompts"), [("0.6b_1gpu", 1, 16), ("1.7b_8gpu", 8, 64)])
def test_composed_config(size, gpus, prompts):
    from omegaconf import OmegaConf
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
    from verl.utils.config import omega_conf_to_dataclass
    from verl.utils.dataset.rl_dataset import get_dataset_class

    from verl_dgwgpo.rollout.dataset import AudioASRDataset

    cfg = _compose(size)
    OmegaConf.resolve(cfg)
    assert cfg.trainer.n_gpus_per_node == gpus and cfg.trainer.nnodes == 1
    assert cfg.data.train_batch_size == prompts
    # The DAPO settings of docs/design.md §4.5 survive the composition.
    actor = cfg.actor_rollout_ref.actor
    assert (actor.clip_ratio_low, actor.clip_ratio_high, actor.loss_agg_mode) == (0.2, 0.28, "token-mean")
    assert actor.use_kl_loss is False and cfg.algorithm.use_kl_in_reward is False
    assert cfg.algorithm.filter_groups.enable is True
    assert cfg.reward.reward_manager.name == "dgwgpo"
    rollout = cfg.actor_rollout_ref.rollout
    assert rollout.n == 16 and rollout.name == "vllm"
    # The audio wiring: our dataset class, our agent loop (known to verl by name), the 30 s budget.
    assert get_dataset_class(cfg.data) is AudioASRDataset
    assert rollout.agent.default_agent_loop in _agent_loop_registry
    assert cfg.data.max_audio_seconds == 30 and cfg.data.max_prompt_length >= 30 * 13 + 32
    # verl's own dataclasses accept the rollout section (no unknown or mistyped keys).
    rollout_dc = omega_conf_to_dataclass(rollout)
    assert rollout_dc.prompt_length == cfg.data.max_prompt_length
    assert 0 < rollout_dc.gpu_memory_utilization < 1


def test_launch_scripts_and_smoke_script_exist_and_are_executable():
    for name in ("qwen3_asr_0.6b_1gpu.sh", "qwen3_asr_1.7b_8gpu.sh", "smoke_gpu.sh"):
        path = EXAMPLES / name
        assert path.is_file() and path.stat().st_mode & 0o111, name
        text = path.read_text()
        assert "verl.trainer.main_ppo" in text and "+qwen3_asr@_global_=" in text
