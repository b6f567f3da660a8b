"""Packet loss over 20-ms frames: a Gilbert chain draws the lost bursts, concealment zeroes or repeats them."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from lhotse_wild.dsp import FRAME_MS, _check, seeded_rng
from nemo_wild_eval.errors import InputError


def frame_length(sampling_rate: int, frame_ms: float = FRAME_MS) -> int:
    return max(1, int(round(sampling_rate * frame_ms / 1000.0)))


def num_frames(num_samples: int, sampling_rate: int, frame_ms: float = FRAME_MS) -> int:
    flen = frame_length(sampling_rate, frame_ms)
    return -(-num_samples // flen)


def loss_runs(
    n_frames: int, loss_rate: float, burst_frames: float, repeat_prob: float, seed: int
) -> tuple[list[list[int]], list[list[int]]]:
    """Gilbert two-state Markov chain over frames → (dropped, repeated) runs ``[[start, length], ...]``.

    good→bad with probability p, bad→good with r = 1/burst_frames, p chosen so the stationary loss
    equals ``loss_rate`` (p = loss·r / (1 − loss)); the first state is drawn from the stationary
    distribution. Each lost burst is concealed by repeating the last good frame (a stutter) with
    probability ``repeat_prob``, else zeroed. A burst at the very start has nothing to repeat: zeroed.
    Both transitions read the same uniform per frame, so with one seed a higher loss/burst setting
    loses (almost always) a superset of frames: severity stays monotone per clip, not only on average.
    A plain loop over Python floats: clips have a few hundred 20-ms frames, fewer than numpy's per-call
    overheads would pay for.
    """
    if not 0.0 <= loss_rate < 1.0:
        raise InputError(f"loss rate must be in [0, 1), got {loss_rate}", source="dropout")
    if burst_frames < 1.0:
        raise InputError(f"mean burst length must be >= 1 frame, got {burst_frames}", source="dropout")
    rng = seeded_rng(seed)
    u = rng.random(n_frames).tolist()
    v = rng.random(n_frames).tolist()
    r = 1.0 / burst_frames
    p = min(1.0, loss_rate * r / (1.0 - loss_rate)) if loss_rate > 0.0 else 0.0
    dropped: list[list[int]] = []
    repeated: list[list[int]] = []
    bad, run = False, None
    for i in range(n_frames):
        bad = (u[i] < loss_rate) if i == 0 else ((u[i] >= r) if bad else (u[i] < p))
        if not bad:
            run = None
        elif run is None:  # a burst starts: stutter or silence for all of it
            run = [i, 1]
            (repeated if i > 0 and v[i] < repeat_prob else dropped).append(run)
        else:
            run[1] += 1
    return dropped, repeated


def loss_pattern(
    n_frames: int, loss_rate: float, burst_frames: float, repeat_prob: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`loss_runs` as (dropped, repeated) frame index arrays."""
    return tuple(_expand_runs(x) for x in loss_runs(n_frames, loss_rate, burst_frames, repeat_prob, seed))


def _expand_runs(runs: Sequence[Sequence[int]]) -> np.ndarray:
    """[[start, length], ...] → the sorted frame indices they cover."""
    if not len(runs):
        return np.zeros(0, dtype=np.int64)
    starts, lengths = np.asarray(runs, dtype=np.int64).reshape(-1, 2).T
    offsets = np.cumsum(lengths) - lengths  # position of each run's first index in the output
    return np.repeat(starts - offsets, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


def frame_dropout(
    x: np.ndarray,
    sampling_rate: int,
    dropped: Sequence[int],
    repeated: Sequence[int] = (),
    frame_ms: float = FRAME_MS,
) -> np.ndarray:
    """Zero the ``dropped`` frames and replace each ``repeated`` frame by the last intact frame.

    Frames are ``frame_ms`` long (the last may be partial); indices past the end are ignored, so a
    pattern drawn for a slightly longer clip still applies. A frame in both lists is repeated; a
    repeated frame with no intact frame before it is zeroed.
    """
    return frame_dropout_runs(x, sampling_rate, _single_runs(dropped), _single_runs(repeated), frame_ms)


def _single_runs(idx: Sequence[int]) -> list[list[int]]:
    return [[i, 1] for i in np.asarray(idx, dtype=np.int64).reshape(-1).tolist()]


def frame_dropout_runs(
    x: np.ndarray,
    sampling_rate: int,
    dropped: Sequence[Sequence[int]],
    repeated: Sequence[Sequence[int]] = (),
    frame_ms: float = FRAME_MS,
) -> np.ndarray:
    """:func:`frame_dropout` with frames given as runs ``[[start, length], ...]`` (as params store them):
    one copy of the clip, then one slice per lost stretch instead of fancy indexing over all frames."""
    _check(x)
    c, n = x.shape
    flen = frame_length(sampling_rate, frame_ms)
    nf = -(-n // flen)
    state = [0] * nf  # 0 intact, 1 zero, 2 repeat
    for value, runs in ((1, dropped), (2, repeated)):
        for start, length in runs:
            lo, hi = max(int(start), 0), min(int(start) + int(length), nf)
            if lo < hi:  # frames outside the clip are ignored
                state[lo:hi] = [value] * (hi - lo)
    out = x.astype(np.float32, copy=True)
    last_intact, i = -1, 0
    while i < nf:
        kind = state[i]
        if kind == 0:
            last_intact, i = i, i + 1
            continue
        j = i + 1
        while j < nf and state[j] == kind:  # a stretch of one kind has one source (no intact frame inside)
            j += 1
        lo, hi = i * flen, min(j * flen, n)
        if kind == 1 or last_intact < 0:
            out[:, lo:hi] = 0.0
        else:  # the source is a whole frame: an intact frame before a lost one is never the partial last
            frame = x[:, last_intact * flen:(last_intact + 1) * flen]
            out[:, lo:hi] = np.tile(frame, (1, j - i))[:, : hi - lo]
        i = j
    return out
