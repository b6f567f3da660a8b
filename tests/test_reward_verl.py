"""The reward inside the real verl 0.9.1: entry point, reward-loop manager, estimator, Hydra config.

One fresh interpreter checks the ``verl.plugins`` entry point; everything else shares this process's
``import verl`` (it costs seconds) and uses verl's own classes (DataProto, load_reward_manager,
compute_advantage, the ``ppo_trainer`` Hydra config).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.verl
verl = pytest.importorskip("verl")

import torch  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from verl_dgwgpo.reward import COMPONENT_KEYS, compute_score  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
VERL_CONFIG_DIR = str(Path(verl.__file__).parent / "trainer" / "config")


def test_entry_point_registers_both_in_a_fresh_interpreter():
    code = r"""
import json, sys
from importlib.metadata import entry_points
import verl
eps = [e.value for e in entry_points(group="verl.plugins")]
cheap = "verl.trainer.ppo.core_algos" not in sys.modules   # registering did not import it
from verl.experimental.reward_loop.reward_manager import get_reward_manager_cls
from verl.trainer.ppo.core_algos import get_adv_estimator_fn
print(json.dumps({"eps": eps, "cheap": cheap,
                  "manager": get_reward_manager_cls("dgwgpo").__name__,
                  "estimator": get_adv_estimator_fn("dgwgpo_grpo").__name__}))
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    env.pop("VERL_USE_EXTERNAL_PLUGINS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert "verl_dgwgpo.verl_plugin:register" in got["eps"]
    assert got["cheap"]
    assert got["manager"] == "DGWGPORewardManager"
    assert got["estimator"] == "compute_dgwgpo_grpo_advantage"


# ----------------------------------------------------------------------------- reward manager


@pytest.fixture(scope="module")
def tokenizer():
    from verl_dgwgpo.tiny_models import build_tokenizer

    # <asr_text> is a *special* token, as in Qwen3-ASR: decoding with skip_special_tokens=True drops it.
    return build_tokenizer(["<|endoftext|>", "<|im_end|>", "<asr_text>"])


REF = "the cat sat on the mat"
RESPONSES = [
    "language English<asr_text>The cat sat on the mat.<|im_end|>",  # exact
    "language English<asr_text>the cat sat on the hat<|im_end|>",  # near miss
    "language English<asr_text>the cat<|im_end|>",  # truncated
    "<|im_end|>",  # empty
]
HYPS = ["The cat sat on the mat.", "the cat sat on the hat", "the cat", ""]


def _batch(tokenizer, responses, ground_truths, resp_len=48):
    """A real verl DataProto laid out like the reward loop's: [prompt | response], right-padded."""
    from verl import DataProto

    pad = tokenizer.pad_token_id
    prompt = tokenizer("transcribe:")["input_ids"]
    P = len(prompt)
    rows_p, rows_r, masks = [], [], []
    for text in responses:
        ids = tokenizer(text)["input_ids"][:resp_len]
        rows_p.append(prompt)
        rows_r.append(ids + [pad] * (resp_len - len(ids)))
        masks.append([1] * P + [1] * len(ids) + [0] * (resp_len - len(ids)))
    n = len(responses)
    return DataProto.from_dict(
        tensors={
            "prompts": torch.tensor(rows_p),
            "responses": torch.tensor(rows_r),
            "attention_mask": torch.tensor(masks),
        },
        non_tensors={
            "data_source": np.array(["wild_asr"] * n, dtype=object),
            "reward_model": np.array([{"ground_truth": g} for g in ground_truths], dtype=object),
            "extra_info": np.array([{"index": i} for i in range(n)], dtype=object),
        },
    )


def _compose(config_dir: str, name: str, overrides: list[str]):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=config_dir, version_base=None):
        return compose(config_name=name, overrides=overrides)


def _run_all(manager, data):
    async def go():
        return [await manager.run_single(data[i : i + 1]) for i in range(len(data))]

    return manager.loop.run_until_complete(go())  # verl binds each manager to its event loop


def test_manager_through_verls_loader_with_reward_kwargs(tokenizer):
    from verl.trainer.ppo.reward import load_reward_manager

    from verl_dgwgpo.reward_manager import DGWGPORewardManager

    # stock verl config + the documented command-line keys
    cfg = _compose(
        VERL_CONFIG_DIR,
        "ppo_trainer",
        ["reward.reward_manager.name=dgwgpo", "+reward.reward_kwargs.tau=0.5", "+reward.reward_kwargs.alpha=0.2"],
    )
    manager = load_reward_manager(cfg, tokenizer)
    assert isinstance(manager, DGWGPORewardManager)
    assert manager.params.tau == 0.5 and manager.params.alpha == 0.2 and manager.params.beta == 0.7

    data = _batch(tokenizer, RESPONSES, [REF] * 4)
    outs = _run_all(manager, data)
    for out, hyp in zip(outs, HYPS):
        info = out["reward_extra_info"]
        assert set(COMPONENT_KEYS) <= set(info)
        expected = compute_score("wild_asr", hyp, REF, tau=0.5, alpha=0.2)
        assert out["reward_score"] == pytest.approx(expected["score"], abs=1e-12)
        assert info["r_fine"] == pytest.approx(expected["r_fine"], abs=1e-12)
    assert outs[0]["reward_score"] == 1.0 and outs[3]["reward_score"] == 0.0
    assert outs[3]["reward_extra_info"]["case"] == "empty_hyp"
    # near miss (WER 1/6 <= 0.5) with alpha 0.2: r_fine = 5 / (5 + 0.2) by hand
    assert outs[1]["reward_extra_info"]["r_fine"] == pytest.approx(5 / 5.2)
    # verl places each score on the last valid response token
    rm = type(manager).assemble_rm_scores(data, [o["reward_score"] for o in outs])
    assert torch.allclose(rm.sum(-1), torch.tensor([o["reward_score"] for o in outs], dtype=torch.float32))


def test_manager_baseline_overlong_and_bad_inputs(tokenizer):
    from verl_dgwgpo.reward_manager import DGWGPORewardManager

    cfg = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {"path": None},
                "reward_kwargs": {
                    "reward_name": "wer",
                    "max_resp_len": 128,
                    "overlong_buffer_cfg": {"enable": True, "len": 32, "penalty_factor": 1.0, "log": True},
                },
            }
        }
    )
    manager = DGWGPORewardManager(cfg, tokenizer, compute_score=None)
    # the tiny tokenizer is byte-level without merges: one token per byte
    long_resp = "language English<asr_text>" + "the cat " * 40  # cut at 128 tokens: 32 over 96
    data = _batch(tokenizer, [RESPONSES[1], long_resp, "\x00\x07\x1b[0m \ufeff<|im_end|>", RESPONSES[0]], [REF, REF, REF, None], resp_len=128)
    outs = _run_all(manager, data)
    near = outs[0]
    assert near["reward_extra_info"]["score"] == pytest.approx(5 / 6)  # 1 - WER baseline
    assert near["reward_extra_info"]["overlong_reward"] == 0.0
    over = outs[1]
    # DAPO: expected = 128 - 32 = 96 tokens; 128 valid -> exceed 32 -> penalty -32/32 * 1.0 = -1
    assert over["reward_extra_info"]["overlong_reward"] == pytest.approx(-1.0)
    assert over["reward_score"] == pytest.approx(over["reward_extra_info"]["score"] - 1.0)
    for out in outs[2:]:
        assert 0.0 <= out["reward_score"] <= 1.0 and np.isfinite(out["reward_score"])
    assert "missing_ref" in outs[3]["reward_extra_info"]["case"] and outs[3]["reward_score"] == 0.0
    keys = [set(o["reward_extra_info"]) for o in outs]
    assert all(k == keys[0] for k in keys)  # verl takes the first sample's keys for the batch


def test_manager_rejects_a_typo_in_reward_kwargs(tokenizer):
    from nemo_wild_eval.errors import InputError

    from verl_dgwgpo.reward_manager import DGWGPORewardManager

    cfg = OmegaConf.create({"reward": {"reward_kwargs": {"tua": 0.5}}})
    with pytest.raises(InputError, match="tua"):
        DGWGPORewardManager(cfg, tokenizer)


# ----------------------------------------------------------------------------- estimator


def _random_batch(seed=0, groups=6, n=8):
    from verl import DataProto

    g = torch.Generator().manual_seed(seed)
    bs, T = groups * n, 5
    scores = torch.rand(bs, generator=g)
    scores[:n] = 0.0  # group 0: all zero (1 - WER saturated)
    scores[n : 2 * n] = 0.37  # group 1: constant
    lengths = torch.randint(1, T + 1, (bs,), generator=g)
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()
    tlr = torch.zeros(bs, T)
    tlr[torch.arange(bs), lengths - 1] = scores
    uid = np.array([f"u{i // n}" for i in range(bs)], dtype=object)
    wer = np.repeat(np.array([0.95, 0.1, 0.5, 0.2, 0.9, 0.6]), n)[:bs]
    data = DataProto.from_dict(
        tensors={"token_level_rewards": tlr, "response_mask": mask},
        non_tensors={"uid": uid, "wer": wer},
    )
    return data, scores, uid, wer


def test_estimator_equals_grpo_and_reports_dispersion():
    from verl.trainer.config import AlgoConfig
    from verl.trainer.ppo.core_algos import compute_grpo_outcome_advantage
    from verl.trainer.ppo.ray_trainer import compute_advantage

    from verl_dgwgpo.group_stats import group_dispersion

    for norm in (True, False):
        data, scores, uid, wer = _random_batch(seed=3)
        ref_adv, ref_ret = compute_grpo_outcome_advantage(
            data.batch["token_level_rewards"].clone(), data.batch["response_mask"], uid, norm_adv_by_std_in_grpo=norm
        )
        metrics = {}  # found by the estimator in this frame, as in verl's trainers
        out = compute_advantage(data, adv_estimator="dgwgpo_grpo", config=AlgoConfig(norm_adv_by_std_in_grpo=norm))
        assert torch.equal(out.batch["advantages"], ref_adv)
        assert torch.equal(out.batch["returns"], ref_ret)
    # dispersion: 6 groups of 8; groups 0 and 1 constant -> share 2/6; regimes by the group's mean WER
    expected = group_dispersion(
        [scores[i * 8 : (i + 1) * 8].tolist() for i in range(6)], [wer[i * 8 : (i + 1) * 8].tolist() for i in range(6)]
    )
    assert metrics["dgwgpo/n_groups"] == 6.0
    assert metrics["dgwgpo/zero_variance_share"] == pytest.approx(2 / 6)
    assert metrics["dgwgpo/mean_group_std"] == pytest.approx(expected["all"]["mean_std"], rel=1e-6)
    # wer>0.7: groups 0 (constant) and 4 -> share 1/2; wer<=0.3: groups 1 (constant) and 3 -> 1/2
    assert metrics["dgwgpo/wer>0.7/n_groups"] == 2.0
    assert metrics["dgwgpo/wer>0.7/zero_variance_share"] == 0.5
    assert metrics["dgwgpo/wer<=0.3/zero_variance_share"] == 0.5
    assert metrics["dgwgpo/0.3<wer<=0.7/zero_variance_share"] == 0.0


def test_estimator_reads_wers_from_transfer_queue_in_the_v1_trainer(monkeypatch):
    import types

    from verl_dgwgpo import advantage

    tq = types.ModuleType("transfer_queue")  # verl's v1 trainer store; not needed on CPU
    monkeypatch.setitem(sys.modules, "transfer_queue", tq)

    class KV:  # the v1 trainer's KVBatchMeta: keys + partition, no non_tensor_batch
        keys = ["a_0_0", "a_0_1", "b_0_0", "b_0_1"]
        partition_id = "train"

    wers = [0.9, 0.8, 0.1, 0.0]

    def fake_get(keys, partition_id, select_fields):
        assert select_fields == ["extra_fields"] and partition_id == "train"
        return {"extra_fields": [{"reward_extra_info": {"wer": w}} for w in wers]}

    monkeypatch.setattr(tq, "kv_batch_get", fake_get, raising=False)

    def _compute_advantage(batch, metrics):  # shaped like verl's TrainerBase._compute_advantage
        tlr = torch.tensor([[0.0], [0.0], [0.5], [1.0]])
        return advantage.compute_dgwgpo_grpo_advantage(tlr, torch.ones(4, 1), np.array(["a", "a", "b", "b"]))

    metrics = {}
    _compute_advantage(KV(), metrics)
    assert metrics["dgwgpo/wer>0.7/zero_variance_share"] == 1.0
    assert metrics["dgwgpo/wer<=0.3/zero_variance_share"] == 0.0
    assert metrics["dgwgpo/zero_variance_share"] == 0.5


# ----------------------------------------------------------------------------- Hydra config


def test_example_yaml_composes_with_verls_config(tokenizer):
    from verl.trainer.ppo.core_algos import get_adv_estimator_fn
    from verl.trainer.ppo.reward import load_reward_manager
    from verl.utils.config import omega_conf_to_dataclass

    from verl_dgwgpo.reward_manager import DGWGPORewardManager

    cfg = _compose(str(ROOT / "examples" / "verl"), "dapo_dgwgpo", ["reward.reward_kwargs.tau=0.5"])
    a = cfg.actor_rollout_ref.actor
    assert (a.clip_ratio_low, a.clip_ratio_high, a.loss_agg_mode) == (0.2, 0.28, "token-mean")
    assert a.use_kl_loss is False and cfg.algorithm.use_kl_in_reward is False
    assert cfg.algorithm.filter_groups.enable is True and cfg.algorithm.filter_groups.metric == "score"
    assert cfg.actor_rollout_ref.rollout.n == 16
    assert cfg.reward.reward_manager.name == "dgwgpo" and cfg.algorithm.adv_estimator == "dgwgpo_grpo"
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER

    assert REWARD_MANAGER[cfg.reward.reward_manager.name] is DGWGPORewardManager
    algo = omega_conf_to_dataclass(cfg.algorithm)
    assert algo.filter_groups.enable and get_adv_estimator_fn(algo.adv_estimator).__name__.startswith("compute_dgwgpo")
    manager = load_reward_manager(cfg, tokenizer)
    assert isinstance(manager, DGWGPORewardManager)
    assert manager.params.tau == 0.5 and manager.max_resp_len == cfg.data.max_response_length == 256
    assert manager.overlong_enable and manager.overlong_len == 64
