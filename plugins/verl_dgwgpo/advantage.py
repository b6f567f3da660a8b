"""Advantage estimator ``dgwgpo_grpo``: verl's GRPO advantages, unchanged, plus group-dispersion metrics.

``algorithm.adv_estimator=dgwgpo_grpo`` computes exactly what ``grpo`` computes (it calls verl's
``compute_grpo_outcome_advantage``) and additionally reports, per step, how many groups carry no
signal: share of zero-variance groups and mean within-group reward std, overall and by WER regime
(:func:`verl_dgwgpo.group_stats.group_dispersion`). That is the paper's claim, visible in a user's own
run: under ``1 - WER`` failed groups collapse to zero variance, under DG-WGPO they keep ranking.

How the numbers reach the logger. verl 0.9 calls an estimator with rewards, mask, uid index and the
algorithm config only; the step's ``metrics`` dict and the per-rollout WERs (the reward manager puts
``wer`` into ``reward_extra_info``) live in the caller. The estimator therefore looks a few frames up
the stack for them: a ``metrics`` dict (verl's ``_compute_advantage(batch, metrics)`` in the v1
trainer, ``fit()`` in the legacy one) and either a ``DataProto`` carrying ``non_tensor_batch["wer"]``
(legacy trainer, tests) or the v1 ``KVBatchMeta`` whose ``extra_fields.reward_extra_info.wer`` is read
from TransferQueue. Each step is best effort: without WERs only the ``all`` statistics are logged;
without a ``metrics`` dict they are kept in :data:`LAST_METRICS` and logged at INFO. Pass ``wers=`` or
``metrics=`` explicitly to skip the search.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Optional, Sequence

import numpy as np
import torch

from verl.trainer.ppo.core_algos import ADV_ESTIMATOR_REGISTRY, compute_grpo_outcome_advantage

from .group_stats import DROPPED_KEY, ROUNDS_KEY, group_dispersion, sampling_metrics

__all__ = ["NAME", "LAST_METRICS", "compute_dgwgpo_grpo_advantage", "dispersion_metrics", "register_estimator"]

NAME = "dgwgpo_grpo"
METRIC_PREFIX = "dgwgpo"
LAST_METRICS: dict[str, float] = {}
logger = logging.getLogger(__name__)


def _groups(index: Sequence[Any], values: Sequence[float]) -> tuple[list[Any], list[list[float]]]:
    order: dict[Any, list[float]] = {}
    for uid, v in zip(index, values):
        order.setdefault(uid, []).append(float(v))
    return list(order), list(order.values())


def dispersion_metrics(
    scores: Sequence[float], index: Sequence[Any], wers: Sequence[float] | None = None
) -> dict[str, float]:
    """Flat ``dgwgpo/...`` metrics of one step from per-rollout scores, group ids and optional WERs."""
    uids, reward_groups = _groups(index, scores)
    wer_groups = None
    if wers is not None:
        _, wer_groups = _groups(index, wers)
    stats = group_dispersion(reward_groups, wer_groups)
    out: dict[str, float] = {}
    for regime, s in stats.items():
        base = METRIC_PREFIX if regime == "all" else f"{METRIC_PREFIX}/{regime}"
        out[f"{base}/n_groups"] = float(s["n_groups"])
        if s["n_groups"]:
            out[f"{base}/zero_variance_share"] = float(s["zero_variance_share"])
            out[f"{base}/mean_group_std"] = float(s["mean_std"])
    return out


def _wers_from_kv_batch(batch: Any, n: int) -> list[float] | None:
    """WERs of a v1 ``KVBatchMeta`` from TransferQueue (``extra_fields`` or a ``wer`` field)."""
    keys = getattr(batch, "keys", None)
    partition = getattr(batch, "partition_id", None)
    if keys is None or partition is None or len(keys) != n:
        return None
    import transfer_queue as tq

    for field in ("extra_fields", "wer"):
        try:
            data = tq.kv_batch_get(keys=list(keys), partition_id=partition, select_fields=[field])
            values = list(data[field])
        except Exception:  # field absent in this backend/path
            continue
        out = []
        for v in values:
            if field == "extra_fields":
                v = getattr(v, "data", v)
                v = (v.get("reward_extra_info") or {}).get("wer") if isinstance(v, dict) else None
            v = getattr(v, "data", v)
            if v is None:
                break
            out.append(float(v.item() if hasattr(v, "item") else v))
        else:
            return out
    return None


def _find_context(n: int, depth: int = 8) -> tuple[Optional[dict], Optional[list[float]], Optional[dict]]:
    """Search the callers' frames for the step's ``metrics`` dict, the rollouts' WERs and, when DAPO's
    dynamic sampling ran, its per-row record (``non_tensor_batch`` of the batch)."""
    metrics: Optional[dict] = None
    wers: Optional[list[float]] = None
    sampled: Optional[dict] = None
    kv_batch = None
    frame = sys._getframe(2)
    try:
        for _ in range(depth):
            if frame is None:
                break
            loc = frame.f_locals
            if wers is None:
                for name in ("data", "batch"):
                    ntb = getattr(loc.get(name), "non_tensor_batch", None)
                    if isinstance(ntb, dict) and "wer" in ntb and len(ntb["wer"]) == n:
                        wers = [float(x) for x in ntb["wer"]]
                        if ROUNDS_KEY in ntb and len(ntb[ROUNDS_KEY]) == n:
                            sampled = ntb
                        break
            if metrics is None and isinstance(loc.get("metrics"), dict):
                metrics = loc["metrics"]
                kv_batch = loc.get("batch")
            if metrics is not None and wers is not None:
                break
            frame = frame.f_back
    finally:
        del frame
    if wers is None and kv_batch is not None and getattr(kv_batch, "non_tensor_batch", None) is None:
        try:
            wers = _wers_from_kv_batch(kv_batch, n)
        except Exception as exc:  # never fail a training step for a metric
            logger.debug("dgwgpo_grpo: no WERs from TransferQueue: %s", exc)
    return metrics, wers, sampled


def compute_dgwgpo_grpo_advantage(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    index: np.ndarray,
    epsilon: float = 1e-6,
    norm_adv_by_std_in_grpo: Optional[bool] = None,
    config: Optional[Any] = None,
    wers: Optional[Sequence[float]] = None,
    metrics: Optional[dict] = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GRPO's outcome advantages (identical to verl's ``grpo``) + dispersion metrics of the step.

    ``norm_adv_by_std_in_grpo`` defaults to ``config.norm_adv_by_std_in_grpo`` (verl does not pass it to
    registered estimators). Extra keyword arguments verl may add are ignored.
    """
    if norm_adv_by_std_in_grpo is None:
        norm_adv_by_std_in_grpo = True
        if config is not None and hasattr(config, "get"):
            norm_adv_by_std_in_grpo = bool(config.get("norm_adv_by_std_in_grpo", True))
    scores = token_level_rewards.sum(dim=-1).detach().float().cpu().numpy()
    advantages, returns = compute_grpo_outcome_advantage(
        token_level_rewards=token_level_rewards,
        response_mask=response_mask,
        index=index,
        epsilon=epsilon,
        norm_adv_by_std_in_grpo=norm_adv_by_std_in_grpo,
        config=config,
    )
    try:
        found_metrics, found_wers, sampled = (None, None, None)
        if metrics is None or wers is None:
            found_metrics, found_wers, sampled = _find_context(len(scores))
        metrics = metrics if metrics is not None else found_metrics
        wers = wers if wers is not None else found_wers
        stats = dispersion_metrics(scores.tolist(), list(index), None if wers is None else list(wers))
        if sampled is not None:
            stats.update(sampling_metrics(list(index), list(sampled[ROUNDS_KEY]), None if DROPPED_KEY not in sampled else list(sampled[DROPPED_KEY])))
        LAST_METRICS.clear()
        LAST_METRICS.update(stats)
        if metrics is not None:
            metrics.update(stats)
        else:
            logger.info("dgwgpo_grpo dispersion: %s", stats)
    except Exception as exc:  # metrics are diagnostics: never break the update
        logger.warning("dgwgpo_grpo: dispersion metrics failed: %s", exc)
    return advantages, returns


def register_estimator() -> None:
    """Put the estimator into verl's registry under ``dgwgpo_grpo`` (idempotent)."""
    current = ADV_ESTIMATOR_REGISTRY.get(NAME)
    if current is None or current.__qualname__ == compute_dgwgpo_grpo_advantage.__qualname__:
        ADV_ESTIMATOR_REGISTRY[NAME] = compute_dgwgpo_grpo_advantage
    else:
        logger.warning("verl advantage estimator %r is already taken by %r; not replacing it", NAME, current)


register_estimator()
