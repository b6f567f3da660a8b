"""Demo stage 2: every one of the 54 scenarios, ``per_scenario`` times, over the clean corpus.

Wild item ``k`` uses scenario ``k % 54`` and clean cut ``k % N`` (round-robin, so every scenario is
present), a linear-sampler severity and a clip seed both drawn from ``(seed, 2, k)``. Each finished cut
is appended to ``journal.jsonl`` at once, so a killed run resumes at the next cut.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["simulate_wild"]


def simulate_wild(lw: Any, clean_cuts: Any, wdir: Path, rel: Callable[[Path], str], *, per_scenario: int,
                  seed: int, progress: bool) -> dict:
    """Degrade, write ``wdir/cuts.jsonl.gz`` (+ audio) and return the stage summary; ``lw`` is ``lhotse_wild``."""
    from lhotse import CutSet
    from tqdm.auto import tqdm

    clean = list(clean_cuts)
    names = list(lw.SCENARIOS)
    total = len(names) * per_scenario
    wdir.mkdir(parents=True, exist_ok=True)
    journal = wdir / "journal.jsonl"
    done = _read_journal(journal)
    bank = lw.NoiseBank(babble_cuts=clean[:500])
    bar = tqdm(total=total, initial=sum(1 for k in range(total) if _wild_id(clean, k) in done),
               desc="simulate", unit="cut", disable=not progress)
    with journal.open("a", encoding="utf-8") as fh:
        for k in range(total):
            src = clean[k % len(clean)]
            wid = _wild_id(clean, k)
            if wid in done:
                continue
            rng = np.random.default_rng([seed, 2, k])
            severity = float(lw.sample_severity("linear", rng))
            clip_seed = int(rng.integers(0, 2**31 - 1))
            new = lw.degrade_cut(src, names[k % len(names)], severity, clip_seed, noise_source=bank,
                                 suffix=wid[len(src.id):], sampler="linear")
            final = lw.write_degraded(new, new.load_audio(), wdir / "audio", "flac")
            d = final.to_dict()
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
            fh.flush()
            done[wid] = d
            bar.update(1)
    bar.close()
    cuts = CutSet.from_dicts([done[_wild_id(clean, k)] for k in range(total)])
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


def _wild_id(clean: list, k: int) -> str:
    return f"{clean[k % len(clean)].id}_wild{k:04d}"


def _read_journal(path: Path) -> dict[str, dict]:
    """Cut dicts already written; a torn last line (killed run) is dropped and the file repaired."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    good = 0
    with path.open("rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            try:
                d = json.loads(raw)
            except json.JSONDecodeError:
                break
            done[d["id"]] = d
            good += len(raw)
    if good != path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good)
    return done
