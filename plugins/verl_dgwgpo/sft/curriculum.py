"""WER curriculum for A2S-SFT phase 1: train on what the base model gets nearly right first.

Why: the paper widens phase 1's data through the base-model WER buckets ≤ 0.30 → ≤ 0.50 → ≤ 0.70,
so the acoustic adapter first learns from clips whose transcript is still recoverable. The buckets
are cumulative exactly like :func:`lhotse_wild.split.split_by_wer`'s ``wer_le_*`` parts (a cut is in
every bucket whose threshold it does not exceed, ``<=``); cuts above the last threshold are left out
(and counted).

The plan is a fixed list of batches: stage ``k`` shuffles its members (seeded by ``seed``, the stage
and the epoch), repeats them ``epochs_per_stage`` times, and rounds up to whole batches by repeating
its first shuffled members, so every batch belongs to one stage and no member is dropped. verl's
dataloader takes the plan as its ``batch_sampler``; :meth:`CurriculumPlan.seen` says how many samples
of each stage the first ``n`` optimizer steps consumed (the report written after training).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
from torch.utils.data import Sampler

from nemo_wild_eval.errors import InputError

__all__ = ["DEFAULT_THRESHOLDS", "CurriculumBatchSampler", "CurriculumPlan", "plan_curriculum"]

DEFAULT_THRESHOLDS = (0.30, 0.50, 0.70)


@dataclass
class CurriculumPlan:
    """Stage membership and the ordered batches of one epoch of the curriculum."""

    thresholds: tuple[float, ...]
    members: list[list[int]]
    """Dataset indices in each stage (cumulative buckets), in dataset order."""
    batches: list[list[int]]
    batch_stage: list[int]
    excluded: list[int] = field(default_factory=list)
    """Indices above the last threshold (never trained on)."""

    def stage_name(self, k: int) -> str:
        return f"wer_le_{self.thresholds[k]:.2f}"

    def seen(self, steps: int | None = None) -> dict[str, dict[str, int]]:
        """Samples and steps per stage in the first ``steps`` batches (the plan repeats per epoch)."""
        n = len(self.batches) if steps is None else int(steps)
        out = {self.stage_name(k): {"members": len(m), "samples_seen": 0, "steps": 0} for k, m in enumerate(self.members)}
        for i in range(n):
            b = i % len(self.batches)
            stage = out[self.stage_name(self.batch_stage[b])]
            stage["samples_seen"] += len(self.batches[b])
            stage["steps"] += 1
        return out


def _check_thresholds(thresholds: Sequence[float]) -> tuple[float, ...]:
    try:
        th = tuple(float(x) for x in thresholds)
    except (TypeError, ValueError):
        raise InputError(f"thresholds must be numbers, got {thresholds!r}", source="a2s.curriculum.thresholds") from None
    if not th or any(not (0 < x <= 1.0) for x in th) or any(b <= a for a, b in zip(th, th[1:])):
        raise InputError(
            f"thresholds must be increasing WERs in (0, 1], got {list(thresholds)}", source="a2s.curriculum.thresholds"
        )
    return th


def plan_curriculum(
    base_wers: Sequence[float | None],
    ids: Sequence[str],
    *,
    batch_size: int,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    epochs_per_stage: int = 1,
    seed: int = 0,
    epoch: int = 0,
    shuffle: bool = True,
) -> CurriculumPlan:
    """The curriculum over a dataset whose item ``i`` has ``base_wers[i]`` (cut id ``ids[i]``).

    Raises :class:`InputError` naming the cuts when any ``base_wer`` is missing or not a number in
    [0, inf): a curriculum cannot place them (run ``wildasr split`` first, or turn it off).
    """
    th = _check_thresholds(thresholds)
    if batch_size < 1:
        raise InputError(f"batch size must be >= 1, got {batch_size}", source="data.train_batch_size")
    if epochs_per_stage < 1:
        raise InputError(f"must be >= 1, got {epochs_per_stage}", source="a2s.curriculum.epochs_per_stage")
    bad = [
        ids[i]
        for i, w in enumerate(base_wers)
        if w is None or not isinstance(w, int | float) or not math.isfinite(float(w)) or float(w) < 0
    ]
    if bad:
        raise InputError(
            f"{len(bad)} cut(s) have no valid base_wer (e.g. {bad[:3]}); the WER curriculum needs "
            "cut.custom['base_wer'] from `wildasr split` (or set a2s.curriculum.enable=false)",
            source="a2s.curriculum",
        )
    wers = np.asarray([float(w) for w in base_wers], dtype=np.float64)
    members = [[int(i) for i in np.flatnonzero(wers <= t)] for t in th]
    excluded = [int(i) for i in np.flatnonzero(wers > th[-1])]
    if not any(members):
        raise InputError(f"no cut has base_wer <= {th[-1]}", source="a2s.curriculum")
    batches: list[list[int]] = []
    batch_stage: list[int] = []
    for k, stage in enumerate(members):
        if not stage:
            continue
        rng = np.random.default_rng([int(seed), k, int(epoch)])
        order: list[int] = []
        for _ in range(epochs_per_stage):
            order.extend(int(i) for i in (rng.permutation(stage) if shuffle else stage))
        pad = (-len(order)) % batch_size
        order.extend(order[j % len(order)] for j in range(pad))
        for start in range(0, len(order), batch_size):
            batches.append(order[start : start + batch_size])
            batch_stage.append(k)
    return CurriculumPlan(thresholds=th, members=members, batches=batches, batch_stage=batch_stage, excluded=excluded)


class CurriculumBatchSampler(Sampler[list[int]]):
    """verl dataloader ``batch_sampler`` yielding a :class:`CurriculumPlan`'s batches in order.

    ``set_epoch`` (verl's trainer calls it each epoch) reshuffles within stages; order across stages
    never changes.
    """

    def __init__(self, base_wers: Sequence[float | None], ids: Sequence[str], *, batch_size: int, **kwargs):
        self._args = (list(base_wers), list(ids))
        self._kwargs = dict(kwargs, batch_size=batch_size)
        self.plan = plan_curriculum(*self._args, **self._kwargs)

    def set_epoch(self, epoch: int) -> None:
        self.plan = plan_curriculum(*self._args, **{**self._kwargs, "epoch": int(epoch)})

    def __iter__(self) -> Iterator[list[int]]:
        return iter([list(b) for b in self.plan.batches])

    def __len__(self) -> int:
        return len(self.plan.batches)
