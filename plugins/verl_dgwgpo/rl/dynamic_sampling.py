"""DAPO's dynamic sampling (``algorithm.filter_groups``) for verl 0.9.1's legacy PPO trainer.

Why: in verl 0.9.1 only the v1 trainer (TransferQueue replay buffer) reads ``filter_groups``; the
legacy ``RayPPOTrainer.fit`` ignores it, so a group whose rewards are all equal (the ``1 - WER``
failure mode: every rollout wrong, or every rollout right) silently trains with zero advantage and
dilutes the token-mean loss. verl's public extension point for the rollout of a batch is
``actor_rollout_ref.rollout.agent.agent_loop_manager_class``; this manager is verl's own
``AgentLoopManager`` plus, per batch:

1. find the groups (``rollout.n`` consecutive rows of one prompt) whose ``filter_groups.metric``
   (``score``: the reward before overlong shaping; ``acc`` / ``seq_reward`` / any reward extra key)
   does not vary;
2. sample those groups again, up to ``max_num_gen_batches - 1`` more times (fresh samples of the
   same prompts: the legacy trainer aligns outputs with its own prompt rows, so the prompts cannot
   be swapped for new ones the way DAPO's replay buffer does);
3. drop the groups still flat afterwards from the loss (``response_mask`` zeroed: their advantage is
   zero anyway, and the token-mean no longer counts their tokens), unless that would drop every
   group (then the batch trains as is and the counts say so).

Per row it records ``dapo_rounds`` (samplings of the row's group) and ``dapo_dropped`` (0/1), which
the ``dgwgpo_grpo`` estimator logs as ``dgwgpo/dynamic_sampling/*`` each step.
"""

from __future__ import annotations

import logging
import numpy as np

from verl import DataProto
from verl.experimental.agent_loop import AgentLoopManager

from verl_dgwgpo.group_stats import DROPPED_KEY, ROUNDS_KEY

__all__ = ["DynamicSamplingAgentLoopManager", "flat_groups", "group_metric"]

logger = logging.getLogger(__name__)


def group_metric(output: DataProto, metric: str) -> np.ndarray:
    """Per-row value of the filter metric (``seq_reward``/``seq_final_reward``: summed token rewards)."""
    if metric in ("seq_reward", "seq_final_reward"):
        return output.batch["rm_scores"].sum(dim=-1).float().cpu().numpy()
    if metric in output.non_tensor_batch:
        return np.asarray(output.non_tensor_batch[metric], dtype=np.float64)
    if metric in ("score", "acc") and "rm_scores" in output.batch.keys():
        return output.batch["rm_scores"].sum(dim=-1).float().cpu().numpy()
    raise KeyError(
        f"algorithm.filter_groups.metric={metric!r} is neither a reward extra key "
        f"({sorted(output.non_tensor_batch)}) nor seq_reward"
    )


def flat_groups(values: np.ndarray, n: int, atol: float = 1e-9) -> list[int]:
    """Indices of the groups of ``n`` consecutive rows whose values do not vary."""
    if len(values) % n:
        raise ValueError(f"{len(values)} rollouts are not whole groups of {n}")
    groups = values.reshape(-1, n)
    return [int(g) for g in np.flatnonzero(groups.max(axis=1) - groups.min(axis=1) <= atol)]


def _rows(groups: list[int], n: int) -> np.ndarray:
    return np.concatenate([np.arange(g * n, (g + 1) * n) for g in groups]) if groups else np.zeros(0, int)


def _replace_rows(output: DataProto, rows: np.ndarray, fresh: DataProto) -> None:
    """Write ``fresh`` (len(rows) rows) into ``output`` at ``rows``, tensors and non-tensors alike."""
    import torch

    index = torch.as_tensor(rows, dtype=torch.long)
    for key in output.batch.keys():
        output.batch[key][index] = fresh.batch[key].to(output.batch[key].dtype)
    for key, values in output.non_tensor_batch.items():
        if key in fresh.non_tensor_batch:
            values[rows] = fresh.non_tensor_batch[key]


class DynamicSamplingAgentLoopManager(AgentLoopManager):
    """verl's ``AgentLoopManager`` with DAPO's group filtering (see the module docstring)."""

    def _filter_config(self) -> tuple[bool, str, int]:
        cfg = self.config.algorithm.get("filter_groups", None) or {}
        enabled = bool(cfg.get("enable", False))
        return enabled, str(cfg.get("metric", None) or "score"), max(1, int(cfg.get("max_num_gen_batches", 1) or 1))

    def generate_sequences(self, prompts: DataProto) -> DataProto:  # type: ignore[override]
        output = super().generate_sequences(prompts)
        enabled, metric, max_rounds = self._filter_config()
        validate = bool(prompts.meta_info.get("validate", False))
        n = int(self.rollout_config.n)
        if not enabled or validate or n < 2 or len(output) % n:
            return output
        rounds = np.ones(len(output), dtype=np.int64)
        flat = flat_groups(group_metric(output, metric), n)
        for _ in range(max_rounds - 1):
            if not flat:
                break
            rows = _rows(flat, n)
            again = prompts.select_idxs(rows)
            again.meta_info = dict(prompts.meta_info)
            fresh = super().generate_sequences(again)
            _replace_rows(output, rows, fresh)
            rounds[rows] += 1
            flat = flat_groups(group_metric(output, metric), n)
        dropped = np.zeros(len(output), dtype=np.int64)
        n_groups = len(output) // n
        if flat and len(flat) < n_groups:
            rows = _rows(flat, n)
            output.batch["response_mask"][rows] = 0
            dropped[rows] = 1
        elif flat:
            logger.warning(
                "dynamic sampling: all %d groups flat in %s after %d samplings; training on them as is",
                n_groups,
                metric,
                max_rounds,
            )
        output.non_tensor_batch[ROUNDS_KEY] = rounds
        output.non_tensor_batch[DROPPED_KEY] = dropped
        return output

