"""Lhotse integration: the ``WildDegradation`` audio transform and the per-cut random transform.

How Lhotse applies it (lhotse 1.33): a ``Recording`` keeps a list of ``AudioTransform`` objects and runs
them on whatever chunk ``load_audio(offset, duration)`` reads, i.e. on exactly the samples of the cut
that asked — so a cut that is a segment of a long recording is degraded on its own samples. A
``MixedCut`` runs its own ``transforms`` after mixing its tracks, which is where a degradation of a mix
belongs (DESIGN §3: the room degrades the mix, not each talker). ``degrade_cut`` picks the right place.

Lhotse registers ``AudioTransform`` subclasses by bare class name, first one wins silently: hence the
``Wild`` prefix. Registration happens when this module is imported; ``import lhotse_wild`` arranges
that (immediately if lhotse is loaded, else as soon as it is), so manifests holding
``{"name": "WildDegradation", ...}`` deserialise after ``import lhotse_wild``.

Shar drops recording transforms (the audio it stores is already transformed) but keeps
``cut.custom``, so the provenance is also stored in ``cut.custom["wild"]``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence, Tuple

import numpy as np
from lhotse.augmentation.transform import AudioTransform
from lhotse.utils import Seconds, fastcopy

from lhotse_wild.core import PARAMS_VERSION, check_params, check_seed, replay, resolve_params
from lhotse_wild.effects import load_config
from lhotse_wild.noise import NoiseBank
from lhotse_wild.scenarios import resolve_scenarios
from lhotse_wild.severity import SAMPLERS, sample_severity
from nemo_wild_eval.errors import InputError


@dataclass
class WildDegradation(AudioTransform):
    """One resolved degradation: scenario, severity, seed, working rate and every parameter.

    Calling it on audio replays ``params`` (bit-identical every time). Build one with
    :meth:`create`; ``to_dict``/``from_dict`` (Lhotse's) round-trip it through any manifest.
    """

    scenario: str
    severity: float
    seed: int
    sampling_rate: int
    params: dict = field(default_factory=dict)
    sampler: str = "fixed"

    def __post_init__(self) -> None:
        check_params(self.params)
        for key in ("scenario", "severity", "seed", "sampling_rate"):
            if self.params.get(key) != getattr(self, key):
                raise InputError(f"WildDegradation.{key}={getattr(self, key)!r} disagrees with "
                                 f"params[{key!r}]={self.params.get(key)!r}", source="WildDegradation")

    @classmethod
    def create(
        cls,
        scenario: str,
        severity: float,
        seed: int,
        sampling_rate: int,
        num_samples: int,
        num_channels: int = 1,
        *,
        noise_source: Any = None,
        config: Any = None,
        exclude_cut_id: str | None = None,
        sampler: str = "fixed",
    ) -> "WildDegradation":
        """Resolve every parameter for a clip of ``num_samples`` at ``sampling_rate``."""
        params = resolve_params(scenario, severity, seed, sampling_rate, num_samples, num_channels,
                                noise_source=noise_source, config=config, exclude_cut_id=exclude_cut_id)
        return cls(scenario=params["scenario"], severity=params["severity"], seed=params["seed"],
                   sampling_rate=params["sampling_rate"], params=params, sampler=sampler)

    def __call__(self, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
        if int(sampling_rate) != self.sampling_rate:
            raise InputError(f"WildDegradation works at {self.sampling_rate} Hz but got {sampling_rate} Hz audio "
                             "(resample before degrading, or create it for this rate)", source="sampling_rate")
        if hasattr(samples, "numpy"):  # a torch tensor from a custom pipeline
            samples = samples.detach().cpu().numpy()
        return replay(samples, self.sampling_rate, self.params)

    def reverse_timestamps(
        self, offset: Seconds, duration: Optional[Seconds], sampling_rate: int
    ) -> Tuple[Seconds, Optional[Seconds]]:
        """No timing change: offsets and durations map to themselves."""
        return offset, duration

    def provenance(self) -> dict[str, Any]:
        """What goes into ``cut.custom["wild"]``."""
        return {
            "version": PARAMS_VERSION,
            "scenario": self.scenario,
            "effects": list(self.params["effects"]),
            "severity": self.severity,
            "sampler": self.sampler,
            "seed": self.seed,
            "sampling_rate": self.sampling_rate,
            "params": self.params,
        }


def _with_custom(cut: Any, key: str, value: Any) -> Any:
    custom = dict(cut.custom or {})
    custom[key] = value
    return fastcopy(cut, custom=custom)


def attach(cut: Any, transform: WildDegradation, suffix: str = "") -> Any:
    """A copy of ``cut`` that loads degraded audio, with provenance in ``custom["wild"]``.

    ``suffix`` is appended to the cut id (and to the recording and supervision ids of a data cut).
    Pre-computed features are dropped: they describe the clean audio.
    """
    from lhotse.cut import MixedCut, PaddingCut

    prov = transform.provenance()
    if isinstance(cut, PaddingCut):
        raise InputError(f"cut {cut.id!r} is padding: nothing to degrade", source="cut")
    if isinstance(cut, MixedCut):
        tracks = list(cut.tracks)
        for i, track in enumerate(tracks):
            if not isinstance(track.cut, PaddingCut):
                tracks[i] = fastcopy(track, cut=_with_custom(track.cut, "wild", prov))
                break
        return fastcopy(cut, id=cut.id + suffix, tracks=tracks,
                        transforms=[*(cut.transforms or []), transform])
    if not cut.has_recording:
        raise InputError(f"cut {cut.id!r} has no recording to degrade", source="cut")
    rec = cut.recording
    new_rec = fastcopy(rec, id=rec.id + suffix, transforms=[*(rec.transforms or []), transform])
    sups = [fastcopy(s, id=s.id + suffix, recording_id=new_rec.id) for s in cut.supervisions]
    custom = dict(cut.custom or {})
    custom["wild"] = prov
    return fastcopy(cut, id=cut.id + suffix, recording=new_rec, supervisions=sups, features=None, custom=custom)


def degrade_cut(
    cut: Any,
    scenario: str,
    severity: float,
    seed: int,
    *,
    noise_source: Any = None,
    config: Any = None,
    suffix: str = "",
    sampler: str = "fixed",
) -> Any:
    """Lazily degrade one cut (MonoCut, MultiCut, segment of a long recording, or MixedCut)."""
    t = WildDegradation.create(scenario, severity, seed, cut.sampling_rate, cut.num_samples,
                               cut.num_channels, noise_source=noise_source, config=config,
                               exclude_cut_id=cut.id, sampler=sampler)
    return attach(cut, t, suffix=suffix)


def _id_hash(cut_id: str) -> int:
    return int.from_bytes(hashlib.blake2b(cut_id.encode("utf-8"), digest_size=8).digest(), "little")


def draw_spec(seed: int, cut_id: str, index: int, scenarios: Sequence[str], sampler: str) -> tuple[float, str, float, int]:
    """Deterministic per-(seed, cut id, index) draw: (u for the p test, scenario, severity, clip seed)."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), _id_hash(cut_id), int(index)]))
    u = float(rng.random())
    scenario = scenarios[int(rng.integers(0, len(scenarios)))]
    severity = sample_severity(sampler, rng)
    return u, scenario, severity, int(rng.integers(0, 2**31 - 1))


class RandomWildDegradation:
    """Cut transform: draws a scenario and a severity per cut from ``(seed, cut.id)``.

    Use in ``K2SpeechRecognitionDataset(cut_transforms=[...])`` (called with a CutSet) or
    ``CutSet.map`` (called with a cut). The draw depends only on the seed and the cut id, never on
    batch order or worker; change ``seed`` (e.g. per epoch) for fresh draws. With probability
    ``1 − p`` a cut is returned unchanged.
    """

    def __init__(
        self,
        scenarios: str | Sequence[str] = "all",
        sampler: str = "linear",
        seed: int = 0,
        p: float = 1.0,
        noise_cuts: Any = None,
        *,
        babble_cuts: Any = None,
        config: Any = None,
        affix_id: bool = False,
    ):
        self.scenarios = resolve_scenarios(scenarios)
        if sampler not in SAMPLERS:
            raise InputError(f"unknown severity sampler {sampler!r}; expected one of {sorted(SAMPLERS)}",
                             source="sampler")
        self.sampler = sampler
        self.seed = check_seed(seed)
        if not isinstance(p, (int, float)) or not 0.0 <= float(p) <= 1.0:
            raise InputError(f"p must be a probability in [0, 1], got {p!r}", source="p")
        self.p = float(p)
        self.bank = noise_cuts if isinstance(noise_cuts, NoiseBank) else (
            NoiseBank(noise_cuts=noise_cuts, babble_cuts=babble_cuts)
            if noise_cuts is not None or babble_cuts is not None else None)
        self.config = load_config(config)
        self.affix_id = affix_id

    def apply(self, cut: Any, index: int = 0) -> Any:
        from lhotse.cut import PaddingCut

        if isinstance(cut, PaddingCut):
            return cut
        u, scenario, severity, clip_seed = draw_spec(self.seed, cut.id, index, self.scenarios, self.sampler)
        if u >= self.p:
            return cut
        return degrade_cut(cut, scenario, severity, clip_seed, noise_source=self.bank, config=self.config,
                           suffix=f"_wild{index}" if self.affix_id else "", sampler=self.sampler)

    def __call__(self, cuts: Any) -> Any:
        from lhotse import CutSet

        if isinstance(cuts, CutSet):
            return cuts.map(self.apply)
        return self.apply(cuts)
