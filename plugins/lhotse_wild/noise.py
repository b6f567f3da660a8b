"""Noise sources backed by audio: a user noise CutSet (MUSAN-style) and babble from a speech corpus.

Params reference a noise segment by cut id and offset, and also embed the noise cut's manifest
(recording source, no supervisions) so a transform stored in a manifest can render itself without the
bank. Colored noises need no bank: they are generated from the recorded seed (primitives.colored_noise).
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Iterable, Mapping

import numpy as np

from nemo_wild_eval.errors import InputError


def _minimal_dict(cut: Any) -> dict:
    from lhotse.utils import fastcopy

    if hasattr(cut, "supervisions") and not hasattr(cut, "tracks"):
        cut = fastcopy(cut, supervisions=[], custom=None)
    return cut.to_dict()


class NoiseBank:
    """Audio noise for the ``noise`` effect.

    ``noise_cuts``: any CutSet/iterable of cuts with recordings (MUSAN noise, your own recordings);
    ``babble_cuts``: speech cuts of the same corpus; up to ``max_babble`` of them (the first ones, in
    order) are kept so memory stays flat in corpus size. Cut order matters for reproducibility: the
    same cuts in the same order give the same picks.
    """

    def __init__(self, noise_cuts: Iterable[Any] | None = None, babble_cuts: Iterable[Any] | None = None,
                 *, max_babble: int = 500):
        self.user: list[Any] = self._collect(noise_cuts, None, "noise_cuts")
        self.babble: list[Any] = self._collect(babble_cuts, max_babble, "babble_cuts")
        self._by_id = {c.id: c for c in self.user + self.babble}

    @staticmethod
    def _collect(cuts: Iterable[Any] | None, limit: int | None, name: str) -> list[Any]:
        if cuts is None:
            return []
        out = []
        for cut in cuts:
            if limit is not None and len(out) >= limit:
                break
            if not getattr(cut, "has_recording", False):
                raise InputError(f"cut {getattr(cut, 'id', cut)!r} has no recording", source=name)
            out.append(cut)
        return out

    @classmethod
    def coerce(cls, source: Any) -> "NoiseBank | None":
        """None → None; a NoiseBank → itself; a CutSet or list of cuts → user noise."""
        if source is None or isinstance(source, NoiseBank):
            return source
        return cls(noise_cuts=source)

    def kinds_available(self, exclude_cut_id: str | None = None) -> set[str]:
        kinds = set()
        if self.user:
            kinds.add("user")
        if sum(1 for c in self.babble if c.id != exclude_cut_id) >= 2:
            kinds.add("babble")
        return kinds

    @staticmethod
    def _ref(cut: Any, rng: np.random.Generator, clip_s: float) -> dict[str, Any]:
        offset = float(rng.uniform(0.0, max(0.0, cut.duration - clip_s)))
        return {"cut_id": cut.id, "offset": round(offset, 3), "cut": _minimal_dict(cut)}

    def pick_user(self, rng: np.random.Generator, clip_s: float) -> dict[str, Any]:
        cut = self.user[int(rng.integers(0, len(self.user)))]
        return self._ref(cut, rng, clip_s)

    def pick_babble(self, rng: np.random.Generator, lo: int, hi: int, clip_s: float, gain_spread_db: float,
                    exclude_cut_id: str | None) -> list[dict[str, Any]]:
        pool = [c for c in self.babble if c.id != exclude_cut_id]
        n = min(int(rng.integers(lo, hi + 1)), len(pool))
        talkers = []
        for i in rng.choice(len(pool), size=n, replace=False):
            ref = self._ref(pool[int(i)], rng, clip_s)
            ref["gain_db"] = round(float(rng.uniform(-gain_spread_db, gain_spread_db)), 3)
            talkers.append(ref)
        return talkers

    def get(self, cut_id: str) -> Any | None:
        return self._by_id.get(cut_id)


@lru_cache(maxsize=256)
def _cut_from_json(text: str) -> Any:
    from lhotse.cut.set import deserialize_cut

    return deserialize_cut(json.loads(text))


def load_segment(ref: Mapping[str, Any], sampling_rate: int, num_samples: int, bank: NoiseBank | None) -> np.ndarray:
    """Mono float32 noise of exactly ``num_samples`` starting at ``ref['offset']`` (looped if short)."""
    cut_id = ref.get("cut_id")
    cut = bank.get(cut_id) if bank is not None else None
    if cut is None:
        if "cut" not in ref:
            raise InputError(f"noise cut {cut_id!r} is not in the noise source and params do not embed it",
                             source="noise_source")
        cut = _cut_from_json(json.dumps(ref["cut"], sort_keys=True))
    if cut.sampling_rate != sampling_rate:
        cut = cut.resample(sampling_rate)
    offset = float(ref.get("offset", 0.0))
    dur = num_samples / sampling_rate
    try:
        if offset + dur <= cut.duration:
            audio = cut.truncate(offset=offset, duration=dur, preserve_id=True).load_audio()
        else:
            audio = cut.load_audio()
            start = min(int(round(offset * sampling_rate)), max(audio.shape[-1] - 1, 0))
            audio = np.roll(audio, -start, axis=-1)
    except InputError:
        raise
    except Exception as exc:  # file missing, unreadable...: name the cut
        raise InputError(f"cannot load noise cut {cut_id!r}: {exc}", source="noise_source") from None
    mono = np.asarray(audio, dtype=np.float32).reshape(-1, audio.shape[-1]).mean(axis=0)
    if mono.size == 0 or not np.any(mono):
        raise InputError(f"noise cut {cut_id!r} is silent or empty", source="noise_source")
    if not np.all(np.isfinite(mono)):
        raise InputError(f"noise cut {cut_id!r} contains NaN/inf", source="noise_source")
    if mono.size < num_samples:
        mono = np.tile(mono, -(-num_samples // mono.size))
    return mono[:num_samples]
