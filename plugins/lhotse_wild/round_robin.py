"""Round-robin degradation: every scenario present in a small corpus, each item reproducible on its own.

:func:`lhotse_wild.degrade_cuts` draws a scenario per cut at random, so a corpus of a few hundred
clips can miss some of the 54 and the mix shifts with the number of cuts. Here item ``k`` is
assigned, with no randomness in the assignment:

- clean cut ``cuts[k % len(cuts)]``, copy ``k // len(cuts)``;
- scenario ``SCENARIOS[(k * scenario_stride) % 54]`` (any ``total >= 54`` holds every scenario
  when the stride is coprime with 54);
- a linear-sampler severity, then a clip seed, both drawn from
  ``np.random.default_rng([seed, stream, k])``: item ``k`` depends on ``(seed, stream, k)`` only,
  not on the other items, the order they run in, or an interruption.

The demo (``wildasr.demo_wild``), ``wildasr rl --tiny`` (``verl_dgwgpo.rl.tiny``) and the recipe in
miniature (``benchmarks/recipe_mini.py``) build their wild corpora with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

from lhotse_wild.build import AUDIO_FORMATS, write_degraded
from lhotse_wild.noise import NoiseBank
from lhotse_wild.scenarios import SCENARIOS
from lhotse_wild.severity import sample_severity
from lhotse_wild.transform import degrade_cut
from nemo_wild_eval.errors import InputError

if TYPE_CHECKING:
    from lhotse.cut import Cut

__all__ = ["degrade_round_robin"]

SAMPLER = "linear"


def degrade_round_robin(
    cuts: Iterable[Cut],
    audio_dir: str | Path,
    *,
    seed: int,
    stream: int,
    total: int | None = None,
    scenario_stride: int = 1,
    suffix: str = "_w{copy}",
    noise_source: Any = None,
    audio_format: str = "flac",
    journal: str | Path | None = None,
    progress: bool = False,
) -> list[Cut]:
    """Degrade ``total`` items (default ``len(cuts)``) round-robin over cuts and scenarios; write the audio.

    Item ``k`` is described in the module docstring; its id is the clean id plus
    ``suffix.format(k=k, copy=k // len(cuts))``, and its audio goes to ``audio_dir`` via
    :func:`lhotse_wild.write_degraded`. ``noise_source``: anything :func:`degrade_cut` takes
    (default ``NoiseBank(babble_cuts=cuts)``, babble from the corpus itself). ``stream`` separates
    corpora built from one ``seed`` (e.g. train and held-out).

    ``journal``: a JSONL file that gets one cut dict per finished item (flushed); a rerun skips every
    id it already holds (a torn last line from a killed run is dropped), so nothing is written twice,
    and the result equals an uninterrupted run's. A journal line whose scenario, severity or seed is
    not what this call draws for that item (another seed or stride) is an error. With a journal the
    returned cuts are read back from their dicts. Returns the cuts in item order.
    """
    clean = list(cuts)
    if not clean:
        raise InputError("degrade_round_robin: no cuts to degrade (got an empty cut list)", source="cuts")
    seed = _non_negative_int(seed, "seed")
    stream = _non_negative_int(stream, "stream")
    total = len(clean) if total is None else _non_negative_int(total, "total")
    if isinstance(scenario_stride, bool) or not isinstance(scenario_stride, (int, np.integer)) or scenario_stride < 1:
        raise InputError(f"scenario_stride must be a positive integer, got {scenario_stride!r}",
                         source="scenario_stride")
    if audio_format not in AUDIO_FORMATS:
        raise InputError(f"audio format must be one of {sorted(AUDIO_FORMATS)}, got {audio_format!r}",
                         source="audio_format")
    n = len(clean)
    ids = [clean[k % n].id + _suffix(suffix, k, k // n) for k in range(total)]
    if len(set(ids)) != total:
        seen: set[str] = set()
        dup = next(i for i in ids if i in seen or seen.add(i))
        raise InputError(f"suffix {suffix!r} gives duplicate cut ids (e.g. {dup!r}) for {total} items over "
                         f"{n} cuts: use {{k}} or {{copy}} in it, or give cuts unique ids", source="suffix")
    names = list(SCENARIOS)
    bank = NoiseBank(babble_cuts=clean) if noise_source is None else noise_source
    done = _read_journal(Path(journal)) if journal is not None else {}

    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=sum(1 for i in ids if i in done), desc="simulate", unit="cut",
               disable=not progress)
    fh = None
    if journal is not None:
        Path(journal).parent.mkdir(parents=True, exist_ok=True)
        fh = Path(journal).open("a", encoding="utf-8")
    out: list[Any] = []
    try:
        for k in range(total):
            src = clean[k % n]
            rng = np.random.default_rng([seed, stream, k])
            scenario = names[(k * scenario_stride) % len(names)]
            severity = float(sample_severity(SAMPLER, rng))
            clip_seed = int(rng.integers(0, 2**31 - 1))
            if ids[k] in done:
                _check_journaled(done[ids[k]], journal, scenario, severity, clip_seed)
                continue
            new = degrade_cut(src, scenario, severity, clip_seed, noise_source=bank,
                              suffix=ids[k][len(src.id):], sampler=SAMPLER)
            final = write_degraded(new, new.load_audio(), audio_dir, audio_format)
            if fh is None:
                out.append(final)
            else:
                d = final.to_dict()
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
                fh.flush()
                done[ids[k]] = d
            bar.update(1)
    finally:
        bar.close()
        if fh is not None:
            fh.close()
    if journal is None:
        return out
    from lhotse import CutSet

    return list(CutSet.from_dicts([done[i] for i in ids]))


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise InputError(f"{name} must be a non-negative integer, got {value!r}", source=name)
    return int(value)


def _suffix(template: str, k: int, copy: int) -> str:
    if not isinstance(template, str):
        raise InputError(f"suffix must be a format string, got {template!r}", source="suffix")
    try:
        return template.format(k=k, copy=copy)
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(f"suffix {template!r} is not a format string over {{k}} and {{copy}} ({exc!r})",
                         source="suffix") from None


def _check_journaled(d: dict, journal: Any, scenario: str, severity: float, clip_seed: int) -> None:
    wild = (d.get("custom") or {}).get("wild")
    if not isinstance(wild, dict):  # e.g. a MixedCut: provenance sits on a track, not checked here
        return
    if (wild.get("scenario"), wild.get("severity"), wild.get("seed")) != (scenario, severity, clip_seed):
        raise InputError(
            f"journal {journal} holds {d.get('id')!r} as {wild.get('scenario')!r} severity {wild.get('severity')!r} "
            f"seed {wild.get('seed')!r}, but this call draws {scenario!r} {severity!r} {clip_seed!r} for it "
            "(another seed, stream or scenario_stride?): use a fresh journal", source="journal")


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
