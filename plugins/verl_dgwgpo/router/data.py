"""Router data: clean and degraded clips from CutSets or arrays, simulation, held-out splits.

Held-out protocol (what makes the router's accuracy mean something): the test set uses speech the
router never heard (a seeded ``test_fraction`` of the clean utterances, with every degraded copy of
them), scenarios it never saw (``holdout_scenarios``, default :data:`DEFAULT_HOLDOUT_SCENARIOS`:
compound scenarios whose effects it saw only in other combinations) and a severity band it never saw
(``holdout_severity``). Training draws severities from ``[MIN_SEVERITY, 1]`` minus that band:
below ``MIN_SEVERITY`` some effects are (near) identity (``dropout`` at 0 % loss, ``distortion`` at
0 dB drive), so a "degraded" label there would be noise; test items go down to 0 and the
per-severity accuracy shows where the router stops seeing a difference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from nemo_wild_eval.errors import InputError

from .features import SAMPLING_RATE, check_audio

__all__ = [
    "DEFAULT_HOLDOUT_SCENARIOS", "DEFAULT_HOLDOUT_SEVERITY", "MIN_SEVERITY", "ATOMIC_SCENARIOS", "ATOMIC_AUGMENT",
    "Clips", "load_clips", "simulate_degraded", "make_splits", "RouterSplits",
]

DEFAULT_HOLDOUT_SCENARIOS: tuple[str, ...] = (
    "far_field_dropout",
    "noise_recording",
    "obstructed_noise_distortion",
    "strong_echo_noise_recording",
    "noise_recording_dropout",
    "far_field_recording_distortion_dropout",
    "strong_echo_noise_recording_distortion_dropout",
)
DEFAULT_HOLDOUT_SEVERITY: tuple[float, float] = (0.4, 0.55)
MIN_SEVERITY = 0.1
#: single-effect copies added to the training data: the router must recognise each effect on its own,
#: not only the compound scenarios where another effect gives it away (measured: without them,
#: clipping and time masks rendered by other tools were mostly routed as clean)
ATOMIC_SCENARIOS: tuple[str, ...] = ("far_field", "strong_echo", "obstructed", "noise", "recording",
                                     "distortion", "dropout")
ATOMIC_PER_CLIP = 2
#: wider ranges than the simulator's defaults for those copies (wider augmentation, not other tools):
#: longer loss bursts, no concealment by repetition, stronger overdrive, longer and wetter rooms
ATOMIC_AUGMENT: dict = {"dropout": {"loss_rate": [0.05, 0.4], "burst_frames": [1.0, 10.0], "repeat_prob": 0.0},
                        "distortion": {"drive_db": [6.0, 36.0]},
                        "far_field": {"rt60_s": [0.3, 2.5], "drr_db": [6.0, -8.0], "gain_db": [0.0, -10.0]}}
_WILD_SUFFIX = re.compile(r"_wild\d+$")


@dataclass
class Clips:
    """Mono float32 clips at one rate, with per-clip metadata (``id``, ``source``, ``scenario``, ...)."""

    audio: list[np.ndarray] = field(default_factory=list)
    meta: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.audio)

    def add(self, other: "Clips") -> "Clips":
        return Clips(self.audio + other.audio, self.meta + other.meta)

    def subset(self, idx: Iterable[int]) -> "Clips":
        idx = list(idx)
        return Clips([self.audio[i] for i in idx], [self.meta[i] for i in idx])


def _is_cut(obj: Any) -> bool:
    return hasattr(obj, "load_audio") and hasattr(obj, "sampling_rate") and hasattr(obj, "id")


def load_clips(items: Any, sampling_rate: int = SAMPLING_RATE, *, what: str = "clips", meta: Sequence[dict] | None = None) -> Clips:
    """Clips from a CutSet / iterable of cuts / list of arrays (arrays must be at ``sampling_rate``).

    Cut metadata: ``id``, ``source`` (the clean cut id: ``_wildN`` stripped), and, for
    ``lhotse_wild`` output, ``scenario`` and ``severity`` from ``cut.custom["wild"]``.
    """
    if isinstance(items, Clips):
        return items
    if items is None:
        raise InputError("no clips given", source=what)
    out = Clips()
    for i, item in enumerate(items):
        if _is_cut(item):
            audio = item.load_audio()
            audio = audio.mean(axis=0) if audio.ndim == 2 else audio
            x = check_audio(audio, item.sampling_rate, sampling_rate, what=f"{what}: cut {item.id}")
            m = {"id": item.id, "source": _WILD_SUFFIX.sub("", item.id)}
            wild = (item.custom or {}).get("wild") if getattr(item, "custom", None) else None
            if wild:
                m.update(scenario=wild.get("scenario"), severity=float(wild.get("severity")))
        else:
            x = check_audio(item, sampling_rate, sampling_rate, what=f"{what}[{i}]")
            m = {"id": f"{what}-{i}", "source": f"{what}-{i}"}
        out.audio.append(x)
        out.meta.append(m)
    if meta is not None:
        if len(meta) != len(out):
            raise InputError(f"{len(meta)} metadata rows for {len(out)} clips", source=what)
        for m, extra in zip(out.meta, meta):
            m.update(extra)
    if not len(out):
        raise InputError("no clips given", source=what)
    return out


def _draw_severity(rng: np.random.Generator, lo: float, hi: float, exclude: tuple[float, float] | None) -> float:
    """Uniform on [lo, hi] minus the ``exclude`` band."""
    if exclude is None:
        return float(rng.uniform(lo, hi))
    a, b = max(lo, exclude[0]), min(hi, exclude[1])
    if b <= a:
        return float(rng.uniform(lo, hi))
    u = rng.uniform(0.0, (hi - lo) - (b - a))
    return float(lo + u if lo + u < a else b + (u - (a - lo)))


def simulate_degraded(
    clean: Clips,
    scenarios: Sequence[str],
    *,
    per_clip: int = 4,
    severity_range: tuple[float, float] = (MIN_SEVERITY, 1.0),
    exclude_severity: tuple[float, float] | None = None,
    seed: int = 0,
    sampling_rate: int = SAMPLING_RATE,
    config: Any = None,
) -> Clips:
    """``per_clip`` degraded copies of each clean clip via ``lhotse_wild.degrade`` (seeded, replayable;
    ``config``: the simulator's ranges, see ``lhotse_wild.load_config``)."""
    import lhotse_wild

    names = list(lhotse_wild.resolve_scenarios(list(scenarios)))
    if per_clip < 1:
        raise InputError(f"per_clip must be >= 1, got {per_clip}", source="per_clip")
    rng = np.random.default_rng(seed)
    out = Clips()
    for x, m in zip(clean.audio, clean.meta):
        if x.size < 0.1 * sampling_rate:  # the simulator's own minimum
            continue
        for k in range(per_clip):
            scenario = names[int(rng.integers(len(names)))]
            sev = _draw_severity(rng, *severity_range, exclude_severity)
            clip_seed = int(rng.integers(2**31 - 1))
            y, _ = lhotse_wild.degrade(x, sampling_rate, scenario, sev, clip_seed, config=config)
            out.audio.append(y)
            out.meta.append({"id": f"{m['id']}_wild{k}", "source": m["source"], "scenario": scenario,
                             "severity": sev, "seed": clip_seed})
    return out


@dataclass
class RouterSplits:
    train_clean: Clips
    train_degraded: Clips
    test_clean: Clips
    test_degraded: Clips  # meta["group"]: seen | heldout_scenario | heldout_severity

    def summary(self) -> dict:
        groups: dict[str, int] = {}
        for m in self.test_degraded.meta:
            groups[m["group"]] = groups.get(m["group"], 0) + 1
        return {"train_clean": len(self.train_clean), "train_degraded": len(self.train_degraded),
                "test_clean": len(self.test_clean), "test_degraded": len(self.test_degraded), "test_groups": groups}


def _group(m: dict, holdout: set[str], band: tuple[float, float]) -> str:
    if m.get("scenario") in holdout:
        return "heldout_scenario"
    sev = m.get("severity")
    if sev is not None and band[0] <= sev <= band[1]:
        return "heldout_severity"
    return "seen"


def make_splits(
    clean: Any,
    degraded: Any = None,
    *,
    holdout_scenarios: Sequence[str] = DEFAULT_HOLDOUT_SCENARIOS,
    holdout_severity: tuple[float, float] = DEFAULT_HOLDOUT_SEVERITY,
    test_fraction: float = 0.25,
    per_clip: int = 4,
    atomic_per_clip: int = ATOMIC_PER_CLIP,
    seed: int = 0,
    sampling_rate: int = SAMPLING_RATE,
) -> RouterSplits:
    """Train/test clips under the held-out protocol (module docstring).

    With ``degraded`` (``lhotse_wild`` output with ``custom["wild"]``): copies of test utterances and
    every held-out condition go to test, the rest to train. Without it: degraded clips are simulated,
    training ones from the training scenarios and severities only; test ones alternate between
    held-out and seen scenarios over severities in [0, 1]. Either way ``atomic_per_clip`` more copies
    of every training utterance get ONE effect each (:data:`ATOMIC_AUGMENT`).
    """
    import lhotse_wild

    holdout = set(lhotse_wild.resolve_scenarios(list(holdout_scenarios))) if holdout_scenarios else set()
    lo, hi = float(holdout_severity[0]), float(holdout_severity[1])
    if not 0.0 <= lo <= hi <= 1.0:
        raise InputError(f"holdout_severity must be 0 <= lo <= hi <= 1, got {holdout_severity}", source="holdout_severity")
    if not 0.0 < test_fraction < 1.0:
        raise InputError(f"test_fraction must be in (0, 1), got {test_fraction}", source="test_fraction")
    clean = load_clips(clean, sampling_rate, what="clean")
    if len(clean) < 2:
        raise InputError("need at least 2 clean clips to hold some out", source="clean")
    order = np.random.default_rng(seed).permutation(len(clean))
    n_test = max(1, int(round(test_fraction * len(clean))))
    test_idx, train_idx = sorted(order[:n_test].tolist()), sorted(order[n_test:].tolist())
    train_clean, test_clean = clean.subset(train_idx), clean.subset(test_idx)
    test_sources = {m["source"] for m in test_clean.meta}
    if degraded is not None:
        deg = load_clips(degraded, sampling_rate, what="degraded")
        missing = [m["id"] for m in deg.meta if m.get("scenario") is None]
        if missing:
            raise InputError(f"degraded cut {missing[0]!r} has no custom['wild'] provenance (lhotse_wild output expected)",
                             source="degraded")
        tr, te = [], []
        for i, m in enumerate(deg.meta):
            m["group"] = _group(m, holdout, (lo, hi))
            (te if m["source"] in test_sources or m["group"] != "seen" else tr).append(i)
        train_deg, test_deg = deg.subset(tr), deg.subset(te)
    else:
        train_names = [s for s in lhotse_wild.SCENARIOS if s not in holdout]
        train_deg = simulate_degraded(train_clean, train_names, per_clip=per_clip, exclude_severity=(lo, hi),
                                      seed=seed + 1, sampling_rate=sampling_rate)
        held = sorted(holdout) or train_names
        a = simulate_degraded(test_clean, held, per_clip=max(1, per_clip // 2), severity_range=(0.0, 1.0),
                              seed=seed + 2, sampling_rate=sampling_rate)
        b = simulate_degraded(test_clean, train_names, per_clip=max(1, per_clip - per_clip // 2),
                              severity_range=(0.0, 1.0), seed=seed + 3, sampling_rate=sampling_rate)
        test_deg = a.add(b)
        for m in test_deg.meta:
            m["group"] = _group(m, holdout, (lo, hi))
    if atomic_per_clip > 0:
        train_deg = train_deg.add(simulate_degraded(train_clean, ATOMIC_SCENARIOS, per_clip=atomic_per_clip,
                                                    exclude_severity=(lo, hi), seed=seed + 4,
                                                    sampling_rate=sampling_rate, config=ATOMIC_AUGMENT))
    if not len(train_deg):
        raise InputError("no degraded training clips left after holding out", source="degraded")
    return RouterSplits(train_clean, train_deg, test_clean, test_deg)
