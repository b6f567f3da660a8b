"""`wildasr rl --tiny`: real DAPO steps of an audio policy in verl's own trainer, on CPU, resumed once.

Two runs of the CLI into one OUT: ``--steps 1`` then ``--steps 2`` (verl resumes from the step-1
checkpoint and trains step 2). Each run is verl's ``main_ppo`` with its Ray workers, the FSDP2 actor
on the ``cpu`` platform, the ``hf`` rollout server, the audio agent loop, the ``dgwgpo`` reward
manager and the ``dgwgpo_grpo`` estimator; the policy is a random tiny Qwen3-ASR and the RL split
is Piper speech degraded by lhotse_wild. About 2.5 minutes on 2 cores.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("verl")
pytest.importorskip("ray")

pytestmark = pytest.mark.slow

BATCH, GROUP = 4, 4


def _run(out: Path, steps: int) -> str:
    cmd = [sys.executable, "-m", "wildasr.cli", "rl", "--tiny", "--steps", str(steps), "--out", str(out),
           "--device", "cpu", "--batch-size", str(BATCH), "--group-size", str(GROUP)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


@pytest.fixture(scope="module")
def rl(tmp_path_factory):
    out = tmp_path_factory.mktemp("rl_e2e") / "out"
    first = _run(out, 1)
    second = _run(out, 2)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    trace = [json.loads(x) for x in (out / "logs" / "hf_rollout.jsonl").read_text().splitlines()]
    return {"out": out, "first": first, "second": second, "rows": rows, "trace": trace}


def _weights(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_two_steps_with_finite_loss_and_dgwgpo_metrics(rl):
    rows = rl["rows"]
    assert [r["step"] for r in rows] == [1, 2]
    for r in rows:
        assert math.isfinite(r["actor/pg_loss"])
        assert math.isfinite(r["critic/score/mean"])
        assert r["training/global_step"] == r["step"]
        for key in ("timing_s/gen", "timing_s/old_log_prob", "timing_s/update_actor", "timing_s/step"):
            assert r[key] > 0, key
        dg = [k for k in r if "dgwgpo" in k]
        assert "dgwgpo/zero_variance_share" in dg and "dgwgpo/mean_group_std" in dg
        assert "dgwgpo/dynamic_sampling/mean_samplings" in dg
    assert "step 1/1" in rl["first"] and "step 2/2" in rl["second"]


def test_reward_manager_scored_every_rollout(rl):
    """Every group of every step was scored, with the rollouts' WERs (the per-regime counts add up)."""
    for r in rl["rows"]:
        assert r["dgwgpo/n_groups"] == BATCH
        by_regime = sum(v for k, v in r.items() if k.startswith("dgwgpo/") and k.endswith("/n_groups") and k != "dgwgpo/n_groups")
        assert by_regime == BATCH
        assert 0.0 <= r["critic/score/max"] <= 1.0  # DG-WGPO in [0, 1] (before the overlong penalty)
        assert r["response_length/mean"] > 0


def test_policy_weights_changed(rl):
    out = rl["out"]
    base, final = _weights(out / "tiny" / "model"), _weights(out / "final" / "model")
    assert base.keys() == final.keys()
    moved = {k: float((final[k].float() - base[k].float()).abs().max()) for k in base}
    assert max(moved.values()) > 1e-4
    assert sum(v > 0 for v in moved.values()) > len(moved) // 2  # full fine-tuning moves most tensors


def test_rollout_server_samples_from_the_updated_policy(rl):
    """After resuming, verl pushes the step-1 actor to the rollout server before step 2: the server's
    weights move by exactly the actor's change, and step 2's rollout log-probs then match the actor's."""
    from verl_dgwgpo.rl.export import load_actor_state

    out, trace = rl["out"], rl["trace"]
    resumed = [u for u in trace if u["version"] == 1 and u["requests_before"] == 0]
    assert resumed, trace  # the first push of run 2: the resumed step-1 weights, before any rollout
    base = _weights(out / "tiny" / "model")
    step1 = load_actor_state(out / "checkpoints" / "global_step_1" / "actor")
    shared = [k for k in base if k in step1]
    expected = math.sqrt(sum(float((step1[k].float() - base[k].float()).double().pow(2).sum()) for k in shared))
    assert expected > 1e-3
    assert resumed[0]["delta_l2"] == pytest.approx(expected, rel=1e-4)
    assert resumed[0]["tensors"] == resumed[0]["of"]
    step2 = rl["rows"][1]
    assert step2["training/rollout_probs_diff_max"] < 1e-3  # rollout and actor: the same weights
    # every update after a training step changed the server's weights
    assert all(u["delta_l2"] > 0 for u in trace if u["requests_before"] > 0)


def test_resumed_run_continued_from_the_checkpoint(rl):
    out = rl["out"]
    assert "resuming after step 1" in rl["second"]
    assert (out / "checkpoints" / "latest_checkpointed_iteration.txt").read_text().strip() == "2"
    first_attempt = [json.loads(x)["step"] for x in (out / "logs" / "verl-1.jsonl").read_text().splitlines()]
    second_attempt = [json.loads(x)["step"] for x in (out / "logs" / "verl-2.jsonl").read_text().splitlines()]
    assert first_attempt == [1] and second_attempt == [2]
    run = json.loads((out / "run.json").read_text())
    assert run["resumed_from_step"] == 1 and run["final"].endswith("final/model")
