"""Base-WER pass and the WER split: filter > 70 %, curriculum buckets, RL split.

Why: Mega-ASR trains on what the base model gets wrong but can still learn from. Every cut gets the
base model's WER (``cut.custom["base_wer"]``, computed with :mod:`nemo_wild_eval.text` so it is the
same number the scorer and the reward compute), then:

* **dropped**: ``base_wer > max_wer`` (default 0.70): too damaged to learn from.
* **curriculum** (cumulative, for A2S-SFT phase 1): ``wer_le_0.30`` ⊂ ``wer_le_0.50`` ⊂ ``wer_le_0.70``;
  a cut belongs to every bucket whose threshold it does not exceed (``<=``).
* **regimes** (disjoint, used for the RL split and reporting): ``low`` = WER ≤ b0,
  ``medium`` = b0 < WER ≤ b1, ``high`` = b1 < WER ≤ b2 (b = ``buckets``).
* **RL split** (enriched in medium/high WER): every kept medium and high cut, plus a seeded random
  sample of low cuts sized so medium+high make up ``rl_ratio`` of the split:
  ``n_low = min(#low, floor(n_mh * (1 - rl_ratio) / rl_ratio + 0.5))`` (``rl_ratio=1`` → no low cuts).
  With no medium/high cuts the RL split is empty (reported, not padded). The RL split may overlap the
  curriculum (A2S-SFT phase 2 uses the full kept set anyway).

Per-cut work is a pure function (:func:`base_wer_record`) plus :func:`apply_base_wer`, so a Ray build
can map them over shards; :func:`attach_base_wer` is the in-process driver with a resumable JSONL
cache keyed by cut id (entries from another ASR or normaliser are not reused).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Protocol, Sequence, runtime_checkable

import numpy as np

from nemo_wild_eval.errors import InputError
from wild_corpus.workers import exit_with_parent

if TYPE_CHECKING:  # pragma: no cover
    from lhotse import CutSet
    from lhotse.cut import Cut

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_MAX_WER",
    "DEFAULT_RL_RATIO",
    "SplitResult",
    "Transcriber",
    "apply_base_wer",
    "attach_base_wer",
    "base_wer_record",
    "cut_reference",
    "load_cache",
    "regime_of",
    "split_by_wer",
    "write_split",
]

DEFAULT_MAX_WER = 0.70
DEFAULT_BUCKETS = (0.30, 0.50, 0.70)
DEFAULT_RL_RATIO = 0.75  # ours: 3 of 4 RL cuts from the medium/high regimes
REGIMES = ("low", "medium", "high")


@runtime_checkable
class Transcriber(Protocol):
    """Any base ASR model the split can score cuts with: 1-best and n-best of one mono waveform.

    ``name`` keys the base-WER cache, so it must change whenever the model's output can.
    ``wild_corpus.asr.PocketSphinxTranscriber`` is the shipped one.
    """

    name: str

    def transcribe(self, samples: np.ndarray, sampling_rate: int) -> str: ...

    def nbest(self, samples: np.ndarray, sampling_rate: int, n: int) -> list[str]: ...


def cut_reference(cut: "Cut") -> str:
    """The cut's transcript: its supervisions' texts joined by a space."""
    texts = [s.text for s in cut.supervisions]
    if not texts or any(t is None for t in texts):
        raise InputError("cut has no supervision text (needed as the WER reference)", source=f"cut {cut.id}")
    return " ".join(texts)


def base_wer_record(
    cut: "Cut", transcriber: "Transcriber", normalizer: str = "whisper_en", nbest: int = 0
) -> dict[str, Any]:
    """Transcribe one cut and score it. Pure (given the transcriber); JSON-serialisable result.

    With ``nbest > 0`` the transcriber's n-best list (best first) is kept too (one decode gives both).
    """
    from nemo_wild_eval.text import align_words

    ref = cut_reference(cut)
    try:
        audio = cut.load_audio()
    except Exception as exc:  # corrupt/missing file: name the cut
        raise InputError(f"cannot load audio ({type(exc).__name__}: {exc})", source=f"cut {cut.id}") from exc
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim == 2:
        if samples.shape[0] != 1:
            raise InputError(f"expected mono audio, got {samples.shape[0]} channels", source=f"cut {cut.id}")
        samples = samples[0]
    rec: dict[str, Any] = {"cut_id": cut.id, "asr": transcriber.name, "normalizer": normalizer}
    if nbest > 0:
        hyps = transcriber.nbest(samples, cut.sampling_rate, nbest)
        rec["nbest"] = list(hyps)
        hyp = hyps[0] if hyps else ""
    else:
        hyp = transcriber.transcribe(samples, cut.sampling_rate)
    a = align_words(ref, hyp, normalizer, with_pairs=False)
    rec.update(
        hyp=hyp,
        wer=a.wer,
        errors=a.errors,
        ref_len=a.ref_len,
        substitutions=a.substitutions,
        insertions=a.insertions,
        deletions=a.deletions,
    )
    return rec


def apply_base_wer(cut: "Cut", record: dict[str, Any]) -> "Cut":
    """Return the cut with ``custom["base_wer"]`` (float), ``base_hyp`` and ``base_asr`` set."""
    if record.get("cut_id") != cut.id:
        raise InputError(f"base-WER record is for {record.get('cut_id')!r}", source=f"cut {cut.id}")
    custom = dict(cut.custom or {})
    custom["base_wer"] = float(record["wer"])
    custom["base_hyp"] = record["hyp"]
    custom["base_asr"] = record["asr"]
    from lhotse.utils import fastcopy

    return fastcopy(cut, custom=custom)


def load_cache(path: str | os.PathLike, asr: str, normalizer: str) -> dict[str, dict[str, Any]]:
    """Cached records for this ASR + normaliser; a truncated last line (killed run) is ignored."""
    p = Path(path)
    out: dict[str, dict[str, Any]] = {}
    if not p.exists():
        return out
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("asr") == asr and rec.get("normalizer") == normalizer:
                out[rec["cut_id"]] = rec
    return out


_WORKER_TRANSCRIBER = None


def _init_worker(transcriber) -> None:
    global _WORKER_TRANSCRIBER
    exit_with_parent()
    _WORKER_TRANSCRIBER = transcriber


def _worker_record(cut, normalizer: str, nbest: int) -> dict[str, Any]:
    return base_wer_record(cut, _WORKER_TRANSCRIBER, normalizer, nbest)


def compute_records(
    cuts: Iterable["Cut"],
    transcriber: "Transcriber",
    normalizer: str = "whisper_en",
    *,
    nbest: int = 0,
    cache: str | os.PathLike | None = None,
    workers: int = 1,
    progress: bool = True,
    desc: str = "base WER",
) -> dict[str, dict[str, Any]]:
    """Base-WER records for every cut (cached ones reused; new ones appended to ``cache``)."""
    from tqdm.auto import tqdm

    cuts = list(cuts)
    ids = [c.id for c in cuts]
    if len(set(ids)) != len(ids):
        raise InputError("duplicate cut ids in the input CutSet")
    done = load_cache(cache, transcriber.name, normalizer) if cache else {}
    if nbest > 0:  # an entry without (enough of) an n-best list cannot serve an n-best request
        done = {k: r for k, r in done.items() if "nbest" in r}
    todo = [c for c in cuts if c.id not in done]
    bar = tqdm(total=len(cuts), initial=len(cuts) - len(todo), desc=desc, unit="cut", disable=not progress)
    fh = None
    if cache and todo:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        fh = open(cache, "a", encoding="utf-8")
    try:

        def keep(rec: dict[str, Any]) -> None:
            done[rec["cut_id"]] = rec
            if fh is not None:
                fh.write(json.dumps(rec) + "\n")
                fh.flush()
            bar.update(1)

        workers = max(1, min(int(workers), len(todo)))
        if workers == 1:
            for c in todo:
                keep(base_wer_record(c, transcriber, normalizer, nbest))
        elif todo:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            from concurrent.futures import as_completed

            with ProcessPoolExecutor(
                workers, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(transcriber,)
            ) as pool:
                # one cut per task, cached as soon as it is done: a killed run loses at most `workers` cuts
                futs = [pool.submit(_worker_record, c, normalizer, nbest) for c in todo]
                try:
                    for f in as_completed(futs):
                        keep(f.result())
                except BaseException:
                    for f in futs:
                        f.cancel()
                    raise
    finally:
        bar.close()
        if fh is not None:
            fh.close()
    return {i: done[i] for i in ids}


def attach_base_wer(
    cuts: "CutSet | Iterable[Cut]",
    transcriber: "Transcriber",
    normalizer: str = "whisper_en",
    *,
    cache: str | os.PathLike | None = None,
    workers: int = 1,
    progress: bool = True,
) -> "CutSet":
    """Transcribe every cut and return a CutSet with ``custom["base_wer"]`` (+ ``base_hyp``, ``base_asr``)."""
    from lhotse import CutSet

    cuts = list(cuts)
    recs = compute_records(cuts, transcriber, normalizer, cache=cache, workers=workers, progress=progress)
    return CutSet.from_cuts(apply_base_wer(c, recs[c.id]) for c in cuts)


def _check_thresholds(max_wer: float, buckets: Sequence[float], rl_ratio: float) -> tuple[float, ...]:
    b = tuple(float(x) for x in buckets)
    if len(b) != 3:
        raise InputError(f"buckets must be three thresholds (low, medium, high), got {list(b)}")
    if not all(0 < x for x in b) or list(b) != sorted(set(b)):
        raise InputError(f"buckets must be positive and strictly increasing, got {list(b)}")
    if not (0 < max_wer) or b[-1] > max_wer:
        raise InputError(f"the last bucket ({b[-1]}) must not exceed max_wer ({max_wer})")
    if not (0 < rl_ratio <= 1):
        raise InputError(f"rl_ratio must be in (0, 1], got {rl_ratio}")
    return b


def regime_of(wer: float, buckets: Sequence[float] = DEFAULT_BUCKETS) -> str | None:
    """``low`` / ``medium`` / ``high`` for a kept WER; None above the last bucket."""
    for name, thr in zip(REGIMES, buckets):
        if wer <= thr:
            return name
    return None


@dataclass
class SplitResult:
    """The split, as lists of cuts plus a summary (see the module docstring for the rules)."""

    kept: list = field(default_factory=list)
    dropped: list = field(default_factory=list)
    curriculum: dict[str, list] = field(default_factory=dict)  # "wer_le_0.30" -> cuts (cumulative)
    regimes: dict[str, list] = field(default_factory=dict)  # low/medium/high (disjoint)
    rl: list = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        total = len(self.kept) + len(self.dropped)
        mh = sum(1 for c in self.rl if regime_of(c.custom["base_wer"], self.params["buckets"]) != "low")

        def mean_wer(cs: list) -> float | None:
            return float(np.mean([c.custom["base_wer"] for c in cs])) if cs else None

        return {
            "params": self.params,
            "total": total,
            "kept": len(self.kept),
            "dropped": len(self.dropped),
            "curriculum": {k: len(v) for k, v in self.curriculum.items()},
            "regimes": {k: len(v) for k, v in self.regimes.items()},
            "rl": len(self.rl),
            "rl_medium_high_share": (mh / len(self.rl)) if self.rl else None,
            "mean_base_wer": {
                "all": mean_wer(self.kept + self.dropped),
                "kept": mean_wer(self.kept),
                "rl": mean_wer(self.rl),
            },
        }

    def table(self) -> str:
        """Markdown table of split sizes."""
        s = self.summary()
        total = max(1, s["total"])
        rows = [("all cuts", s["total"]), (f"dropped (WER > {self.params['max_wer']:.2f})", s["dropped"]),
                ("kept", s["kept"])]
        rows += [(f"curriculum WER ≤ {k.removeprefix('wer_le_')}", v) for k, v in s["curriculum"].items()]
        b = self.params["buckets"]
        bounds = {"low": f"≤ {b[0]:.2f}", "medium": f"{b[0]:.2f}–{b[1]:.2f}", "high": f"{b[1]:.2f}–{b[2]:.2f}"}
        rows += [(f"regime {k} ({bounds[k]})", v) for k, v in s["regimes"].items()]
        share = s["rl_medium_high_share"]
        rl_note = f" ({share:.0%} medium/high)" if share is not None else " (no medium/high cuts)"
        rows.append((f"RL split (target {self.params['rl_ratio']:.0%} medium/high){rl_note}", s["rl"]))
        lines = ["| split | cuts | share |", "|---|---:|---:|"]
        lines += [f"| {name} | {n} | {n / total:.1%} |" for name, n in rows]
        return "\n".join(lines)


def split_by_wer(
    cuts: "CutSet | Iterable[Cut]",
    max_wer: float = DEFAULT_MAX_WER,
    buckets: Sequence[float] = DEFAULT_BUCKETS,
    rl_ratio: float = DEFAULT_RL_RATIO,
    seed: int = 0,
) -> SplitResult:
    """Split cuts carrying ``custom["base_wer"]`` (rules in the module docstring). Input order kept."""
    b = _check_thresholds(max_wer, buckets, rl_ratio)
    res = SplitResult(params={"max_wer": float(max_wer), "buckets": list(b), "rl_ratio": float(rl_ratio), "seed": seed})
    res.curriculum = {f"wer_le_{x:.2f}": [] for x in b}
    res.regimes = {r: [] for r in REGIMES}
    for cut in cuts:
        wer = (cut.custom or {}).get("base_wer")
        if wer is None:
            raise InputError("cut has no custom['base_wer']; run attach_base_wer first", source=f"cut {cut.id}")
        wer = float(wer)
        if not math.isfinite(wer) or wer < 0:
            raise InputError(f"base_wer must be a finite number >= 0, got {wer}", source=f"cut {cut.id}")
        if wer > max_wer:
            res.dropped.append(cut)
            continue
        res.kept.append(cut)
        for x in b:
            if wer <= x:
                res.curriculum[f"wer_le_{x:.2f}"].append(cut)
        regime = regime_of(wer, b)
        if regime is not None:  # None only when b[-1] < wer <= max_wer: kept, outside the buckets
            res.regimes[regime].append(cut)
    mh = res.regimes["medium"] + res.regimes["high"]
    low = res.regimes["low"]
    n_low = min(len(low), int(math.floor(len(mh) * (1 - rl_ratio) / rl_ratio + 0.5))) if mh else 0
    pick = set(np.random.default_rng(seed).choice(len(low), size=n_low, replace=False).tolist()) if n_low else set()
    chosen = {c.id for c in mh} | {low[i].id for i in pick}
    res.rl = [c for c in res.kept if c.id in chosen]
    return res


def write_split(result: SplitResult, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write every part as a CutSet manifest plus ``split_summary.{md,json}``; returns name -> path."""
    from lhotse import CutSet

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    parts: dict[str, list] = {"kept": result.kept, "dropped": result.dropped, "rl": result.rl}
    parts.update({f"curriculum_{k}": v for k, v in result.curriculum.items()})
    paths: dict[str, Path] = {}
    for name, cuts in parts.items():
        p = out / f"{name}.jsonl.gz"
        tmp = out / f".tmp-{name}.jsonl.gz"  # keep the suffix: lhotse picks gzip from it
        CutSet.from_cuts(cuts).to_file(tmp)
        os.replace(tmp, p)
        paths[name] = p
    (out / "split_summary.md").write_text(result.table() + "\n", encoding="utf-8")
    (out / "split_summary.json").write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    paths["summary_md"] = out / "split_summary.md"
    paths["summary_json"] = out / "split_summary.json"
    return paths
