"""`wildasr rl` pieces that need no Ray: input checks, dynamic sampling, metrics merging, export.

The end-to-end training run is tests/test_rl_e2e.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("verl")

from verl_dgwgpo.group_stats import sampling_metrics  # noqa: E402
from verl_dgwgpo.rl import config, runner  # noqa: E402
from verl_dgwgpo.testing import rollout as testing  # noqa: E402
from verl_dgwgpo.tiny_models import tiny_model_dir  # noqa: E402
from wildasr.cli import main as wildasr  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("rl_units")
    model = tiny_model_dir("qwen3_asr", root / "models")
    cuts = testing.write_cuts(root / "cuts", [0.6, 0.8, 0.7, 0.9], texts=["a b", "c d", "e f", "g h"])
    return {"root": root, "model": model, "cuts": cuts}


def _rl(tmp_path, *args) -> int:
    return wildasr(["rl", "--out", str(tmp_path / "out"), "--device", "cpu", *map(str, args)])


# -- bad input: one clear error, exit code 2, before Ray starts (nothing written under OUT/logs)


@pytest.mark.parametrize(
    "case, args, message",
    [
        ("missing split", lambda t: ["--model", t["model"], "--train", t["root"] / "nope.jsonl.gz"], "no such train"),
        ("no processor", lambda t: ["--model", t["noproc"], "--train", t["cuts"]], "has no processor"),
        ("unknown reward", lambda t: ["--model", t["model"], "--train", t["cuts"], "--reward", "bleu"], "unknown reward"),
        (
            "batch does not divide",
            lambda t: ["--model", t["model"], "--train", t["cuts"], "--batch-size", "3", "--mini-batch-size", "2"],
            "not a multiple",
        ),
        ("split < batch", lambda t: ["--model", t["model"], "--train", t["cuts"], "--batch-size", "8"], "fewer than one batch"),
        ("group of one", lambda t: ["--model", t["model"], "--train", t["cuts"], "--group-size", "1"], "group needs"),
        ("no split at all", lambda t: ["--model", t["model"]], "no RL split"),
    ],
)
def test_bad_input_fails_before_ray(tiny, tmp_path, capsys, case, args, message):
    noproc = tmp_path / "noproc"
    noproc.mkdir()
    (noproc / "config.json").write_text((Path(tiny["model"]) / "config.json").read_text())
    t = {**tiny, "noproc": noproc}
    assert _rl(tmp_path, *args(t)) == 2, case
    err = capsys.readouterr().err
    assert message in err, err
    assert not (tmp_path / "out" / "logs").exists()


def test_print_command_is_verls_trainer(tiny, tmp_path, capsys):
    assert _rl(tmp_path, "--model", tiny["model"], "--train", tiny["cuts"], "--reward", "wer", "--print-command") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("VERL_PLATFORM=cpu ") or "VERL_PLATFORM=cpu" in line
    assert "-m verl.trainer.main_ppo" in line and "--config-name=wildasr_rl" in line
    for part in (
        "actor_rollout_ref.rollout.name=hf",
        "reward.reward_kwargs.reward_name=wer",
        "algorithm.filter_groups.enable=true",
        "trainer.device=cpu",
    ):
        assert part in line


def test_composed_config_is_dapo_with_dgwgpo(tiny, tmp_path):
    """The packaged recipe + overrides compose with verl's own ppo_trainer and validate as verl does."""
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    opts = config.RLOptions(model=Path(tiny["model"]), train=[Path(tiny["cuts"])], out=tmp_path)
    items = [o for o in config.overrides(opts, device="cpu", rollout="hf") if not o.startswith("hydra.")]
    with initialize_config_dir(config_dir=str(config.CONFIG_DIR), version_base=None):
        cfg = compose(config_name=config.CONFIG_NAME, overrides=items)
    assert cfg.algorithm.adv_estimator == "dgwgpo_grpo"
    assert cfg.reward.reward_manager.name == "dgwgpo"
    assert cfg.actor_rollout_ref.actor.clip_ratio_low == 0.2 and cfg.actor_rollout_ref.actor.clip_ratio_high == 0.28
    assert cfg.actor_rollout_ref.actor.loss_agg_mode == "token-mean"
    assert cfg.algorithm.filter_groups.enable is True
    assert cfg.trainer.use_v1 is False
    assert not need_reference_policy(cfg) and not need_critic(cfg)  # DAPO: no KL, no critic
    validate_config(config=cfg, use_reference_policy=False, use_critic=False)


# -- dynamic sampling


def test_flat_groups_by_group_of_n():
    from verl_dgwgpo.rl.dynamic_sampling import flat_groups

    values = np.array([0.0, 0.0, 0.0, 0.2, 0.5, 0.5, 0.5, 0.5, 0.1, 0.9, 0.9, 0.9])
    assert flat_groups(values, 4) == [1]
    assert flat_groups(values, 3) == [0, 3]
    with pytest.raises(ValueError, match="whole groups"):
        flat_groups(values, 5)


def test_replace_rows_writes_tensors_and_non_tensors():
    from verl import DataProto
    from verl_dgwgpo.rl.dynamic_sampling import _replace_rows

    out = DataProto.from_single_dict(
        {"responses": torch.zeros(6, 3, dtype=torch.long), "text": np.array(list("abcdef"), dtype=object)}
    )
    fresh = DataProto.from_single_dict(
        {"responses": torch.ones(2, 3, dtype=torch.long), "text": np.array(["X", "Y"], dtype=object)}
    )
    _replace_rows(out, np.array([2, 3]), fresh)
    assert out.batch["responses"].sum(dim=1).tolist() == [0, 0, 3, 3, 0, 0]
    assert list(out.non_tensor_batch["text"]) == ["a", "b", "X", "Y", "e", "f"]


def test_sampling_metrics_count_groups_once():
    index = ["u1"] * 4 + ["u2"] * 4 + ["u3"] * 4
    rounds = [1] * 4 + [3] * 4 + [2] * 4
    dropped = [0] * 4 + [1] * 4 + [0] * 4
    m = sampling_metrics(index, rounds, dropped)
    assert m["dgwgpo/dynamic_sampling/resampled_group_share"] == pytest.approx(2 / 3)
    assert m["dgwgpo/dynamic_sampling/mean_samplings"] == pytest.approx(2.0)
    assert m["dgwgpo/dynamic_sampling/dropped_group_share"] == pytest.approx(1 / 3)


# -- metrics of several attempts


def test_metrics_merge_attempts_later_wins(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "verl-1.jsonl").write_text(
        json.dumps({"step": 1, "data": {"actor/pg_loss": 0.5}})
        + "\n"
        + json.dumps({"step": 2, "data": {"actor/pg_loss": 0.4}})
        + "\n"
    )
    (logs / "verl-2.jsonl").write_text(json.dumps({"step": 2, "data": {"actor/pg_loss": 0.3}}) + "\n{partial")
    rows = runner.merge_metrics(tmp_path)
    assert rows == [{"step": 1, "actor/pg_loss": 0.5}, {"step": 2, "actor/pg_loss": 0.3}]
    assert [json.loads(x)["step"] for x in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    line = runner.progress_line(2, 5, {"actor/pg_loss": 0.3, "timing_s/step": 1.25})
    assert line == "step 2/5  pg_loss 0.3000  1.2 s"


# -- export of verl's actor checkpoint


def _fake_checkpoint(out: Path, state: dict, step: int = 3) -> None:
    actor = out / "checkpoints" / f"global_step_{step}" / "actor"
    actor.mkdir(parents=True)
    torch.save(state, actor / "model_world_size_1_rank_0.pt")
    (out / "checkpoints" / "latest_checkpointed_iteration.txt").write_text(str(step))


def test_export_lora_checkpoint_to_a_peft_adapter(tiny, tmp_path):
    """A LoRA actor state (as verl's FSDP engine saves it) becomes an adapter PEFT loads unchanged."""
    from peft import LoraConfig, PeftModel, get_peft_model

    from verl_dgwgpo.rl.export import export_final
    from verl_dgwgpo.sft.export import load_base

    model, _ = load_base(tiny["model"])
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_B" in name:
                p.normal_()  # a trained adapter: B no longer zero
    state = {k: v.clone() for k, v in peft.state_dict().items()}
    _fake_checkpoint(tmp_path, state)
    target = export_final(tmp_path, Path(tiny["model"]))
    assert target == tmp_path / "final" / "adapter"
    base, _ = load_base(tiny["model"])
    loaded = PeftModel.from_pretrained(base, str(target))
    got = {k: v for k, v in loaded.state_dict().items() if "lora_" in k}
    want = {k: v for k, v in state.items() if "lora_" in k}
    assert got.keys() == want.keys() and len(got) > 0
    assert all(torch.equal(got[k], want[k]) for k in want)


def test_export_full_checkpoint_and_bad_checkpoints(tiny, tmp_path):
    from verl_dgwgpo.rl.export import export_final
    from verl_dgwgpo.sft.export import load_base

    from nemo_wild_eval.errors import InputError

    with pytest.raises(InputError, match="no checkpoint yet"):
        export_final(tmp_path, Path(tiny["model"]))
    model, _ = load_base(tiny["model"])
    state = {k: v + 0.5 for k, v in model.state_dict().items()}
    _fake_checkpoint(tmp_path, state)
    target = export_final(tmp_path, Path(tiny["model"]))
    again, _ = load_base(target)
    assert all(torch.equal(again.state_dict()[k], state[k]) for k in state)
    bad = tmp_path / "bad"
    _fake_checkpoint(bad, {"not.a.weight": torch.zeros(2)})
    with pytest.raises(InputError, match="does not match the base model"):
        export_final(bad, Path(tiny["model"]))
