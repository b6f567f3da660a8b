"""Demo stage 2: every one of the 54 scenarios, ``per_scenario`` times, over the clean corpus.

Wild item ``k`` uses scenario ``k % 54`` and clean cut ``k % N`` (round-robin, so every scenario is
present), a linear-sampler severity and a clip seed both drawn from ``(seed, 2, k)``
(:func:`lhotse_wild.degrade_round_robin`). Each finished cut is appended to ``journal.jsonl`` at once,
so a killed run resumes at the next cut.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["simulate_wild"]


def simulate_wild(lw: Any, clean_cuts: Any, wdir: Path, rel: Callable[[Path], str], *, per_scenario: int,
                  seed: int, progress: bool) -> dict:
    """Degrade, write ``wdir/cuts.jsonl.gz`` (+ audio) and return the stage summary; ``lw`` is ``lhotse_wild``."""
    from lhotse import CutSet

    clean = list(clean_cuts)
    names = list(lw.SCENARIOS)
    wdir.mkdir(parents=True, exist_ok=True)
    wild = lw.degrade_round_robin(clean, wdir / "audio", seed=seed, stream=2, total=len(names) * per_scenario,
                                  suffix="_wild{k:04d}", noise_source=lw.NoiseBank(babble_cuts=clean[:500]),
                                  journal=wdir / "journal.jsonl", progress=progress)
    cuts = CutSet.from_cuts(wild)
    cuts.to_file(wdir / ".tmp-cuts.jsonl.gz")
    os.replace(wdir / ".tmp-cuts.jsonl.gz", wdir / "cuts.jsonl.gz")
    per_scn: dict[str, int] = {n: 0 for n in names}
    per_n: dict[str, int] = {}
    sev = []
    for c in cuts:
        w = c.custom["wild"]
        per_scn[w["scenario"]] += 1
        per_n[str(len(w["effects"]))] = per_n.get(str(len(w["effects"])), 0) + 1
        sev.append(w["severity"])
    return {
        "cuts": len(cuts),
        "scenarios_total": len(names),
        "scenarios_present": sum(1 for v in per_scn.values() if v > 0),
        "per_scenario": per_scn,
        "by_num_effects": dict(sorted(per_n.items())),
        "sampler": "linear",
        "severity": {"min": float(np.min(sev)), "mean": float(np.mean(sev)), "max": float(np.max(sev))},
        "params_version": cuts[0].custom["wild"]["version"],
        "manifest": rel(wdir / "cuts.jsonl.gz"),
    }

