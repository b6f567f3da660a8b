"""Corpus build: clean CutSet in → degraded audio files + cuts manifest (+ optional Shar) out.

Resumable by construction: each finished cut is one line appended (and flushed) to ``cuts.jsonl`` after
its audio file is atomically in place; a rerun reads the manifest, skips every id it holds, drops a
half-written last line, and carries on. Per-cut work is ONE function, :func:`render_cut` (draw,
degrade, encode the audio), which both this in-process driver and the Ray build
(:mod:`lhotse_wild.ray_build`) call, so the two give the same cuts and the same audio bits. Memory
stays flat: cuts are streamed; only up to ``babble_pool`` cut manifests are kept for babble noise.
"""

from __future__ import annotations

import io
import json
import os
import zlib
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, Container, Iterable, Sequence

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
    except Exception as exc:  # unreadable/corrupt audio file, bad manifest: name the cut, not a traceback
        raise InputError(f"cut {cut.id!r}: cannot load audio ({type(exc).__name__}: {exc})", source="cuts") from None
    return new, samples


@dataclass(frozen=True)
class BuildSettings:
    """Everything that decides a degraded cut, validated once; picklable (sent to Ray workers)."""

    scenarios: tuple[str, ...]
    sampler: str
    seed: int
    num_per_cut: int
    config: dict
    audio_format: str = "flac"

    @classmethod
    def make(cls, scenarios: Any = "all", sampler: str = "linear", seed: int = 0, num_per_cut: int = 1,
             config: Any = None, audio_format: str = "flac") -> "BuildSettings":
        names = resolve_scenarios(scenarios)
        if sampler not in SAMPLERS:
            raise InputError(f"unknown severity sampler {sampler!r}; expected one of {sorted(SAMPLERS)}",
                             source="sampler")
        if isinstance(num_per_cut, bool) or not isinstance(num_per_cut, int) or num_per_cut < 1:
            raise InputError(f"num_per_cut must be an integer >= 1, got {num_per_cut!r}", source="num_per_cut")
        if audio_format not in AUDIO_FORMATS:
            raise InputError(f"audio format must be one of {sorted(AUDIO_FORMATS)}, got {audio_format!r}",
                             source="audio_format")
        return cls(names, sampler, check_seed(seed), num_per_cut, load_config(config), audio_format)

    def record(self) -> dict[str, Any]:
        """What ``simulate.json`` stores (a resumed run must match it)."""
        return {"version": PARAMS_VERSION, "scenarios": list(self.scenarios), "sampler": self.sampler,
                "seed": self.seed, "num_per_cut": self.num_per_cut, "audio_format": self.audio_format,
                "config": self.config}


@dataclass
class Rendered:
    """One degraded variant: the finished cut (its recording holds ``audio`` in memory) or the error.

    ``lazy`` is the same cut before rendering: the clean recording plus its ``WildDegradation``.
    """

    id: str
    cut: Any = None
    audio: bytes | None = None
    error: str | None = None
    lazy: Any = None


def variant_id(cut_id: str, index: int) -> str:
    return f"{cut_id}_wild{index}"


def encode_audio(samples: np.ndarray, sampling_rate: int, audio_format: str) -> bytes:
    """The degraded audio as file bytes (flac: 16-bit PCM; wav: float32, exact)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, samples.T, sampling_rate, format=audio_format.upper(), subtype=AUDIO_FORMATS[audio_format])
    return buf.getvalue()


def _finished_cut(new_cut: Any, num_channels: int, num_samples: int, source: Any) -> Any:
    """A plain cut over the rendered audio (no transform left), supervisions and provenance kept."""
    from lhotse import Recording
    from lhotse.utils import fastcopy

    rec = Recording(id=new_cut.id, sources=[source], sampling_rate=new_cut.sampling_rate,
                    num_samples=num_samples, duration=num_samples / new_cut.sampling_rate)
    sups = [fastcopy(s, recording_id=rec.id, channel=0 if num_channels == 1 else s.channel)
            for s in new_cut.supervisions]
    return fastcopy(rec.to_cut(), id=new_cut.id, supervisions=sups, custom=new_cut.custom)


def render_cut(cut: Any, settings: BuildSettings, bank: NoiseBank | None,
               skip: Container[str] = (), *, encode: bool = True) -> list[Rendered]:
    """THE per-cut step of every corpus build (in-process and Ray): all ``num_per_cut`` variants.

    Variants whose id is in ``skip`` (already built) are left out. A cut that cannot be degraded
    (too short, corrupt or missing audio) gives a :class:`Rendered` with ``error`` naming the cut;
    the caller decides whether that stops the build. ``encode=False``: only the lazy cut is kept.
    """
    from lhotse.audio import AudioSource

    out: list[Rendered] = []
    for k in range(settings.num_per_cut):
        new_id = variant_id(cut.id, k)
        if new_id in skip:
            continue
        try:
            new, samples = degrade_one_cut(cut, k, scenarios=settings.scenarios, sampler=settings.sampler,
                                           seed=settings.seed, noise_source=bank, config=settings.config)
        except InputError as exc:
            out.append(Rendered(new_id, error=str(exc)))
            continue
        if not encode:
            out.append(Rendered(new_id, lazy=new))
            continue
        data = encode_audio(samples, new.sampling_rate, settings.audio_format)
        c, n = samples.shape
        source = AudioSource(type="memory", channels=list(range(c)), source=data)
        out.append(Rendered(new_id, cut=_finished_cut(new, c, n, source), audio=data, lazy=new))
    return out


def _audio_path(audio_dir: Path, cut_id: str, audio_format: str) -> Path:
    bucket = f"{zlib.crc32(cut_id.encode('utf-8')) % 1000:03d}"
    safe = cut_id.replace("/", "_")
    return audio_dir / bucket / f"{safe}.{audio_format}"


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write to ``path.part`` then rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_degraded(new_cut: Any, samples: np.ndarray, audio_dir: str | Path, audio_format: str = "flac",
                   data: bytes | None = None) -> Any:
    """Write the audio (atomically) and return a cut that points at the file, provenance kept.

    flac stores 16-bit PCM (the output peak is ≤ 0.999, so nothing wraps); wav stores float32 exactly.
    ``data``: the already encoded bytes (from :func:`render_cut`), else ``samples`` are encoded here.
    """
    from lhotse.audio import AudioSource

    if audio_format not in AUDIO_FORMATS:
        raise InputError(f"audio format must be one of {sorted(AUDIO_FORMATS)}, got {audio_format!r}",
                         source="audio_format")
    path = _audio_path(Path(audio_dir), new_cut.id, audio_format)
    write_bytes_atomically(path, data if data is not None else encode_audio(samples, new_cut.sampling_rate,
                                                                            audio_format))
    c, n = samples.shape if samples is not None else (new_cut.num_channels, new_cut.num_samples)
    return _finished_cut(new_cut, c, n, AudioSource(type="file", channels=list(range(c)), source=str(path)))


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


def babble_stream(cuts: Iterable[Any], noise_cuts: Any, babble: bool,
                  babble_pool: int) -> tuple[Iterable[Any], NoiseBank]:
    """(every cut, in input order; the noise bank): babble talkers are the first ``babble_pool`` cuts.

    Only those cut manifests are held in memory; the same input always gives the same bank, in any
    process (the Ray build ships it to every worker).
    """
    if isinstance(babble_pool, bool) or not isinstance(babble_pool, int) or babble_pool < 0:
        raise InputError(f"babble_pool must be an integer >= 0, got {babble_pool!r}", source="babble_pool")
    iterator = iter(cuts)
    pool = list(islice(iterator, babble_pool)) if babble else []
    bank = NoiseBank(noise_cuts=noise_cuts, babble_cuts=pool if babble else None, max_babble=babble_pool)
    return _iter_with_babble(iterator, pool), bank


def check_settings_file(out_dir: Path, settings: dict[str, Any]) -> None:
    """Write ``simulate.json`` on the first run; on a rerun, refuse different settings (names them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    spath = out_dir / SETTINGS
    settings = json.loads(json.dumps(settings))  # compare as stored (tuples -> lists)
    if spath.exists():
        old = json.loads(spath.read_text())
        diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if diff:
            raise InputError(f"{spath} was written with different settings ({', '.join(diff)}); "
                             "use another output directory or the same options to resume", source=str(out_dir))
    else:
        write_bytes_atomically(spath, json.dumps(settings, indent=1, sort_keys=True).encode("utf-8"))


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

    settings = BuildSettings.make(scenarios, sampler, seed, num_per_cut, config, audio_format)
    if on_error not in ("raise", "skip"):
        raise InputError(f"on_error must be 'raise' or 'skip', got {on_error!r}", source="on_error")
    if shar and output_dir is None:
        raise InputError("shar=True needs an output_dir", source="shar")

    stream, bank = babble_stream(cuts, noise_cuts, babble, babble_pool)
    try:
        total = len(cuts)  # type: ignore[arg-type]
    except TypeError:
        total = None

    out_dir = Path(output_dir) if output_dir is not None else None
    done: set[str] = set()
    manifest = skipped = None
    if out_dir is not None:
        check_settings_file(out_dir, {**settings.record(), "babble": babble, "babble_pool": babble_pool,
                                      "noise_cuts": [c.id for c in bank.user]})
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
            for r in render_cut(cut, settings, bank, skip=done, encode=out_dir is not None):
                if r.error is not None:
                    if on_error == "raise":
                        raise InputError(r.error, source="cuts")
                    n_skipped += 1
                    if skipped is not None:
                        skipped.write(json.dumps({"id": r.id, "reason": r.error}) + "\n")
                        skipped.flush()
                    continue
                if out_dir is None:
                    results.append(r.lazy)
                    continue
                final = write_degraded(r.cut, None, out_dir / "audio", audio_format, data=r.audio)
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
