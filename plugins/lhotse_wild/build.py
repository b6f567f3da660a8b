"""Corpus build: clean CutSet in → degraded audio files + cuts manifest (+ optional Shar) out.

Resumable by construction: each finished cut is one line appended (and flushed) to ``cuts.jsonl`` after
its audio file is atomically in place; a rerun reads the manifest, skips every id it holds, drops a
half-written last line, and carries on. Per-cut work is the pure function :func:`degrade_one_cut`
(+ :func:`write_degraded`), which the Ray build reuses. Memory stays flat: cuts are streamed; only up to
``babble_pool`` cut manifests are kept for babble noise.
"""

from __future__ import annotations

import json
import os
import zlib
from itertools import islice
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from lhotse_wild.core import PARAMS_VERSION, check_seed
from lhotse_wild.effects import load_config
from lhotse_wild.noise import NoiseBank
from lhotse_wild.scenarios import resolve_scenarios
from lhotse_wild.severity import SAMPLERS
from lhotse_wild.transform import degrade_cut, draw_spec
from nemo_wild_eval.errors import InputError

MANIFEST = "cuts.jsonl"
SKIPPED = "skipped.jsonl"
SETTINGS = "simulate.json"
AUDIO_FORMATS = {"flac": "PCM_16", "wav": "FLOAT"}


def degrade_one_cut(
    cut: Any,
    index: int = 0,
    *,
    scenarios: str | Sequence[str] = "all",
    sampler: str = "linear",
    seed: int = 0,
    noise_source: Any = None,
    config: Any = None,
    affix_id: bool = True,
) -> tuple[Any, np.ndarray]:
    """Degrade variant ``index`` of one cut: returns (lazy degraded cut, its float32 audio).

    Scenario, severity and clip seed come from (seed, cut.id, index) only, so any worker on any
    machine produces the same result. The cut carries the ``WildDegradation`` transform and
    ``custom["wild"]``; its id gets ``_wild{index}`` when ``affix_id``.
    """
    if sampler not in SAMPLERS:
        raise InputError(f"unknown severity sampler {sampler!r}; expected one of {sorted(SAMPLERS)}", source="sampler")
    names = resolve_scenarios(scenarios)
    _, scenario, severity, clip_seed = draw_spec(check_seed(seed), cut.id, index, names, sampler)
    try:
        new = degrade_cut(cut, scenario, severity, clip_seed, noise_source=NoiseBank.coerce(noise_source),
                          config=config, suffix=f"_wild{index}" if affix_id else "", sampler=sampler)
        samples = new.load_audio()
    except InputError as exc:
        raise InputError(f"cut {cut.id!r}: {exc}", source="cuts") from None
    return new, samples


def _audio_path(audio_dir: Path, cut_id: str, audio_format: str) -> Path:
    bucket = f"{zlib.crc32(cut_id.encode('utf-8')) % 1000:03d}"
    safe = cut_id.replace("/", "_")
    return audio_dir / bucket / f"{safe}.{audio_format}"


def write_degraded(new_cut: Any, samples: np.ndarray, audio_dir: str | Path, audio_format: str = "flac") -> Any:
    """Write the audio (atomically) and return a cut that points at the file, provenance kept.

    flac stores 16-bit PCM (the output peak is ≤ 0.999, so nothing wraps); wav stores float32 exactly.
    """
    import soundfile as sf
    from lhotse import Recording
    from lhotse.audio import AudioSource
    from lhotse.utils import fastcopy

    if audio_format not in AUDIO_FORMATS:
        raise InputError(f"audio format must be one of {sorted(AUDIO_FORMATS)}, got {audio_format!r}",
                         source="audio_format")
    path = _audio_path(Path(audio_dir), new_cut.id, audio_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    sf.write(str(tmp), samples.T, new_cut.sampling_rate, format=audio_format.upper(),
             subtype=AUDIO_FORMATS[audio_format])
    os.replace(tmp, path)
    c, n = samples.shape
    rec = Recording(id=new_cut.id, sources=[AudioSource(type="file", channels=list(range(c)), source=str(path))],
                    sampling_rate=new_cut.sampling_rate, num_samples=n, duration=n / new_cut.sampling_rate)
    sups = [fastcopy(s, recording_id=rec.id, channel=0 if c == 1 else s.channel) for s in new_cut.supervisions]
    return fastcopy(rec.to_cut(), id=new_cut.id, supervisions=sups, custom=new_cut.custom)


def _read_done(path: Path) -> set[str]:
    """Ids already in a JSONL file; a torn last line (interrupted write) is cut off the file."""
    done: set[str] = set()
    if not path.exists():
        return done
    good = 0
    with path.open("rb") as f:
        for raw in f:
            try:
                item = json.loads(raw)
            except json.JSONDecodeError:
                break
            if not raw.endswith(b"\n"):
                break
            done.add(item["id"])
            good += len(raw)
    if good != path.stat().st_size:
        with path.open("r+b") as f:
            f.truncate(good)
    return done


def _iter_with_babble(cuts: Iterable[Any], pool: list[Any]) -> Iterable[Any]:
    yield from pool
    yield from cuts


def degrade_cuts(
    cuts: Iterable[Any],
    scenarios: str | Sequence[str] = "all",
    sampler: str = "linear",
    seed: int = 0,
    noise_cuts: Any = None,
    num_per_cut: int = 1,
    output_dir: str | Path | None = None,
    *,
    config: Any = None,
    babble: bool = True,
    babble_pool: int = 500,
    audio_format: str = "flac",
    shar: bool = False,
    shard_size: int = 1000,
    on_error: str = "raise",
    progress: bool = True,
) -> Any:
    """Degrade every cut ``num_per_cut`` times; returns the degraded CutSet.

    Without ``output_dir`` nothing is written: the returned cuts degrade lazily when loaded. With it,
    audio goes to ``output_dir/audio/`` and cuts to ``output_dir/cuts.jsonl`` (resumable; the returned
    CutSet reads it lazily) and, with ``shar=True``, a Shar copy to ``output_dir/shar/`` at the end.
    Babble noise comes from the first ``babble_pool`` cuts of the corpus itself (never a cut's own
    audio). ``on_error="skip"`` records cuts that cannot be degraded (too short, unreadable) in
    ``skipped.jsonl`` with the reason instead of stopping.
    """
    from lhotse import CutSet
    from tqdm.auto import tqdm

    names = resolve_scenarios(scenarios)
    if sampler not in SAMPLERS:
        raise InputError(f"unknown severity sampler {sampler!r}; expected one of {sorted(SAMPLERS)}", source="sampler")
    seed = check_seed(seed)
    if not isinstance(num_per_cut, int) or num_per_cut < 1:
        raise InputError(f"num_per_cut must be an integer >= 1, got {num_per_cut!r}", source="num_per_cut")
    if on_error not in ("raise", "skip"):
        raise InputError(f"on_error must be 'raise' or 'skip', got {on_error!r}", source="on_error")
    if audio_format not in AUDIO_FORMATS:
        raise InputError(f"audio format must be one of {sorted(AUDIO_FORMATS)}, got {audio_format!r}",
                         source="audio_format")
    if shar and output_dir is None:
        raise InputError("shar=True needs an output_dir", source="shar")
    cfg = load_config(config)

    iterator = iter(cuts)
    pool = list(islice(iterator, babble_pool)) if babble else []
    stream = _iter_with_babble(iterator, pool)
    bank = NoiseBank(noise_cuts=noise_cuts, babble_cuts=pool if babble else None, max_babble=babble_pool)
    try:
        total = len(cuts)  # type: ignore[arg-type]
    except TypeError:
        total = None

    out_dir = Path(output_dir) if output_dir is not None else None
    done: set[str] = set()
    manifest = skipped = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        settings = {"version": PARAMS_VERSION, "scenarios": list(names), "sampler": sampler, "seed": seed,
                    "num_per_cut": num_per_cut, "audio_format": audio_format, "babble": babble,
                    "babble_pool": babble_pool, "config": cfg,
                    "noise_cuts": [c.id for c in bank.user]}
        spath = out_dir / SETTINGS
        if spath.exists():
            old = json.loads(spath.read_text())
            diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            if diff:
                raise InputError(f"{spath} was written with different settings ({', '.join(diff)}); "
                                 "use another output directory or the same options to resume", source=str(out_dir))
        else:
            spath.write_text(json.dumps(settings, indent=1, sort_keys=True))
        done = _read_done(out_dir / MANIFEST) | _read_done(out_dir / SKIPPED)
        manifest = (out_dir / MANIFEST).open("a", encoding="utf-8")
        skipped = (out_dir / SKIPPED).open("a", encoding="utf-8")

    results: list[Any] = []
    seen: set[str] = set()
    n_new = n_skipped = 0
    try:
        bar = tqdm(stream, total=total, desc="simulate", unit="cut", disable=not progress)
        for cut in bar:
            if cut.id in seen:
                raise InputError(f"duplicate cut id {cut.id!r} in the input: ids must be unique", source="cuts")
            seen.add(cut.id)
            for k in range(num_per_cut):
                new_id = f"{cut.id}_wild{k}"
                if new_id in done:
                    continue
                try:
                    new, samples = degrade_one_cut(cut, k, scenarios=names, sampler=sampler, seed=seed,
                                                   noise_source=bank, config=cfg)
                except InputError as exc:
                    if on_error == "raise":
                        raise
                    n_skipped += 1
                    if skipped is not None:
                        skipped.write(json.dumps({"id": new_id, "reason": str(exc)}) + "\n")
                        skipped.flush()
                    continue
                if out_dir is None:
                    results.append(new)
                    continue
                final = write_degraded(new, samples, out_dir / "audio", audio_format)
                manifest.write(json.dumps(final.to_dict(), ensure_ascii=False) + "\n")
                manifest.flush()
                n_new += 1
            bar.set_postfix(new=n_new, skipped=n_skipped, refresh=False)
    finally:
        for f in (manifest, skipped):
            if f is not None:
                f.close()
    if out_dir is None:
        return CutSet.from_cuts(results)
    out = CutSet.from_jsonl_lazy(out_dir / MANIFEST)
    if shar:  # rebuilt from the finished manifest each run: interrupted Shar writes never count
        (out_dir / "shar").mkdir(exist_ok=True)
        out.to_shar(out_dir / "shar", fields={"recording": audio_format}, shard_size=shard_size)
    return out
