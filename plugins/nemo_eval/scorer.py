"""Score manifests: per-utterance counts, corpus metrics, breakdowns, hallucination/omission rates.

Corpus WER is ``sum(S + I + D) / sum(N)`` over all scored utterances (N = reference tokens after
normalisation), exactly like NeMo's ``word_error_rate_detail`` and jiwer: an utterance whose reference
is empty *after normalisation* adds its insertions to the errors and nothing to N. Such utterances are
counted (``empty_references``); a rate whose denominator is zero is ``None`` (JSON ``null``, ``n/a`` in
tables), never ``inf``.

Hot loop (see benchmarks/scorer.py): each distinct string is normalised once
(:func:`nemo_wild_eval.text.tokenize_many`), exact matches skip the aligner, the rest go through
count-only :func:`nemo_wild_eval.text.edit_counts`; counts live in numpy arrays, breakdowns are
``bincount`` sums (:mod:`nemo_wild_eval.breakdowns`); the result is a
:class:`nemo_wild_eval.result.ScoreResult`.
"""

from __future__ import annotations

import gc
import math
import os
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from nemo_wild_eval.breakdowns import (
    MISSING,
    _group_codes,
    _grouped_metrics,
    _label,
    _metrics,
    _natural_key,
    _ratio,
    _severity_bins,
)
from nemo_wild_eval.errors import InputError
from nemo_wild_eval.flags import (
    HALLUCINATION_FLAGS,
    OMISSION_FLAGS,
    FlagThresholds,
    char_rate_flags,
    compute_flags,
    find_repetition,
)
from nemo_wild_eval.manifest import get_path, read_manifests
from nemo_wild_eval.presets import Preset, get_preset, is_chinese_lang
from nemo_wild_eval.result import ScoreResult
from nemo_wild_eval.text import NORMALIZER_VERSIONS, NORMALIZERS, edit_counts, edit_counts_many, tokenize_many

__all__ = ["ScoreResult", "score_manifest", "wer", "SOURCE_KEY", "MISSING"]

SOURCE_KEY = "source_file"  # virtual breakdown key: the input file of each utterance
SEVERITY_KEYS = ("global_severity", "severity", "wild.severity")
DURATION_KEY = "duration"  # seconds (NeMo manifests): used by the char_rate hallucination flag
_PARALLEL_MIN = 4000  # distinct strings before a slow normaliser is spread over processes
_SLOW_NORMALIZERS = {"whisper_en"}


def _prefill(normalizer: str, strings: list[str], jobs: int | None, cache: dict, progress: bool) -> None:
    """Normalise the distinct strings of a slow normaliser up front: in ``jobs`` processes when asked
    (``None`` = up to 8 on big inputs), with a progress bar on big inputs."""
    if normalizer not in _SLOW_NORMALIZERS:
        return
    todo = [t for t in dict.fromkeys(strings) if t not in cache]
    if len(todo) < 256:
        return
    if jobs is None:
        jobs = min(8, os.cpu_count() or 1) if len(todo) >= _PARALLEL_MIN else 1
    bar = None
    if progress and len(todo) >= 2000:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="str", desc=f"normalise ({normalizer})", leave=False, disable=None)
    chunk = max(256, math.ceil(len(todo) / (max(1, jobs) * 8)))
    parts = [todo[k : k + chunk] for k in range(0, len(todo), chunk)]
    try:
        if jobs > 1:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            # spawned workers: safe after torch/NeMo imports (a forked OpenMP runtime can hang)
            with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as ex:
                for part, toks in zip(parts, ex.map(tokenize_many, parts, [normalizer] * len(parts))):
                    cache.update(zip(part, toks))
                    if bar is not None:
                        bar.update(len(part))
        else:
            for part in parts:
                tokenize_many(part, normalizer, cache)
                if bar is not None:
                    bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()


def _auto_normalizer(rec: Mapping[str, Any], ref: str, derived: Mapping[str, Any] | None) -> str:
    from nemo_wild_eval.normalizers import _is_cjk

    for key in ("lang", "language", "locale"):
        v = rec.get(key)
        if v is None and derived:
            v = derived.get(key)
        if isinstance(v, str) and v:
            return "zh" if is_chinese_lang(v.split("-")[0]) or is_chinese_lang(v) else "whisper_en"
    return "zh" if any(_is_cjk(ch) for ch in ref) else "whisper_en"


def _count(
    ref_toks: list[list[str]], hyp_toks: list[list[str]], progress: bool, thresholds: FlagThresholds
) -> tuple[list[int], list[int], list[int], dict[int, tuple[str, ...]]]:
    n = len(ref_toks)
    bar = None
    if progress and n > 200_000:
        from tqdm import tqdm

        bar = tqdm(total=n, unit="utt", desc="align", leave=False, disable=None)
    if bar is None:
        S, I, D = edit_counts_many(ref_toks, hyp_toks)
    else:
        S, I, D = [], [], []
        step = 1 << 16
        for a in range(0, n, step):
            s_, i_, d_ = edit_counts_many(ref_toks[a : a + step], hyp_toks[a : a + step])
            S += s_
            I += i_
            D += d_
            bar.update(len(s_))
        bar.close()
    # looping-decoder check, only where the output is wrong and repeats >= min_count-1 tokens
    reps: dict[int, tuple[str, ...]] = {}
    max_n, min_count = thresholds.repeat_max_n, thresholds.repeat_min_count
    for k in range(n):
        h = hyp_toks[k]
        if len(h) >= min_count and (S[k] or I[k] or D[k]) and len(h) - len(set(h)) >= min_count - 1:
            g = find_repetition(h, ref_toks[k], max_n, min_count)
            if g is not None:
                reps[k] = g
    return S, I, D, reps


def wer(
    references: str | Sequence[str], hypotheses: str | Sequence[str], normalizer: str = "whisper_en"
) -> float | None:
    """Corpus WER of parallel lists (or two strings), jiwer-style; None when every reference is empty."""
    if isinstance(references, str):
        references = [references]
    if isinstance(hypotheses, str):
        hypotheses = [hypotheses]
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    cache: dict = {}
    rt = tokenize_many(references, normalizer, cache)
    ht = tokenize_many(hypotheses, normalizer, cache)
    e = n = 0
    for r, h in zip(rt, ht):
        s, i, d = edit_counts(r, h)
        e += s + i + d
        n += len(r)
    return _ratio(e, n)


def score_manifest(
    inputs: str | os.PathLike | Iterable[Any],
    normalizer: str | None = None,
    by: Sequence[str] | None = None,
    *,
    preset: str | Preset | None = None,
    skip_bad: bool = False,
    fmt: str = "auto",
    ref_key: str | None = None,
    hyp_key: str | None = None,
    severity_key: str | None = None,
    thresholds: FlagThresholds | None = None,
    nemo_model: Any = None,
    batch_size: int = 16,
    jobs: int | None = 1,
    progress: bool = False,
) -> ScoreResult:
    """Score one or more manifests (paths) or in-memory records (dicts).

    Args:
        inputs: a path, a list of paths, or an iterable of dicts (NeMo / Voices-in-the-Wild-Bench).
        normalizer: ``whisper_en`` / ``zh`` / ``basic`` / ``none`` / ``nemo`` / ``auto``; default: the preset's,
            else ``whisper_en``.
        by: breakdown keys (manifest keys, dotted paths into nested dicts, derived preset keys,
            ``a+b`` crosses, ``source_file``); default: the preset's (plus ``source_file`` when
            several files are given).
        preset: a name from :data:`nemo_wild_eval.presets.PRESETS`; Voices-in-the-Wild-Bench files
            pick ``vitw`` on their own.
        skip_bad: report-and-skip bad lines (``result.skipped``) instead of raising InputError.
        nemo_model: a NeMo ASR model, ``.nemo`` path or pretrained name; its own transcription of
            each record's audio replaces the hypotheses (needs the ``nemo`` extra).
        jobs: processes for the slow ``whisper_en`` normaliser (~0.5 ms per distinct string); ``None``
            = up to 8 when there are 4000+ distinct strings (spawned workers: call it under
            ``if __name__ == "__main__":`` in scripts). The CLI uses ``None``.
    """
    thresholds = thresholds or FlagThresholds()
    if normalizer is not None and normalizer != "auto" and normalizer not in NORMALIZERS:
        raise InputError(f"unknown normalizer {normalizer!r}; choose one of {', '.join(sorted(NORMALIZERS))}, auto")
    explicit = preset if isinstance(preset, Preset) else (get_preset(preset) if preset else None)
    data = read_manifests(
        inputs, fmt=fmt, ref_key=ref_key, hyp_key=hyp_key, need_hyp=nemo_model is None,
        skip_bad=skip_bad, progress=progress,
    )
    model_name = None
    if nemo_model is not None:
        from nemo_wild_eval.nemo_asr import transcribe_data

        model_name = transcribe_data(data, nemo_model, batch_size=batch_size, skip_bad=skip_bad)
    # preset: explicit, or Voices-in-the-Wild-Bench by format
    p: Preset | None
    if explicit is not None:
        p = explicit
    elif data.formats and all(f == "vitw" for f in data.formats.values() if f != "empty") and any(
        f == "vitw" for f in data.formats.values()
    ):
        p = get_preset("vitw")
    else:
        p = None
    norm = normalizer or (p.normalizer if p else "whisper_en")
    if norm != "auto" and norm not in NORMALIZERS:
        raise InputError(f"unknown normalizer {norm!r}; choose one of {', '.join(sorted(NORMALIZERS))}, auto")
    notes: list[str] = []
    if data.raw_hyps_changed:
        notes.append(f"{data.raw_hyps_changed} Qwen3-ASR raw outputs reduced to their <asr_text> transcript")
    if not data.records:
        notes.append("no utterance was scored")

    records = data.records
    n_utt = len(records)
    derived: list[dict] | None = None
    if p is not None and p.derive is not None:
        want = p.derived_keys
        derive = p.derive
        derived = [derive(r) if any(k not in r for k in want) else {} for r in records]

    # --- normalise + align (the hot loop; GC paused: it only allocates acyclic lists/strings) ---
    gc_was = gc.isenabled()
    gc.disable()
    try:
        utt_norms: list[str] | None = None
        if norm == "auto":
            utt_norms = [
                _auto_normalizer(r, data.refs[k], derived[k] if derived else None) for k, r in enumerate(records)
            ]
            ref_toks: list = [None] * n_utt
            hyp_toks: list = [None] * n_utt
            for name in sorted(set(utt_norms)):
                idx = [k for k, u in enumerate(utt_norms) if u == name]
                cache: dict = {}
                _prefill(name, [data.refs[k] for k in idx] + [data.hyps[k] for k in idx], jobs, cache, progress)
                rt = tokenize_many([data.refs[k] for k in idx], name, cache)
                ht = tokenize_many([data.hyps[k] for k in idx], name, cache)
                for j, k in enumerate(idx):
                    ref_toks[k] = rt[j]
                    hyp_toks[k] = ht[j]
            used = sorted(set(utt_norms))
            version = "auto(" + ",".join(NORMALIZER_VERSIONS[u] for u in used) + ")"
        else:
            cache = {}
            _prefill(norm, data.refs + data.hyps, jobs, cache, progress)
            ref_toks = tokenize_many(data.refs, norm, cache)
            hyp_toks = tokenize_many(data.hyps, norm, cache)
            version = NORMALIZER_VERSIONS[norm]
            used = [norm]
        S, I, D, reps = _count(ref_toks, hyp_toks, progress, thresholds)
        N = np.fromiter(map(len, ref_toks), dtype=np.int64, count=n_utt)
        M = np.fromiter(map(len, hyp_toks), dtype=np.int64, count=n_utt)
    finally:
        if gc_was:
            gc.enable()
    S_a = np.asarray(S, dtype=np.int64)
    I_a = np.asarray(I, dtype=np.int64)
    D_a = np.asarray(D, dtype=np.int64)
    rep = np.zeros(n_utt, dtype=bool)
    if reps:
        rep[list(reps)] = True
    durations = [r.get(DURATION_KEY) for r in records]
    char_rate = char_rate_flags(ref_toks, hyp_toks, durations, thresholds) if any(durations) else None
    flags = compute_flags(S_a, I_a, D_a, N, M, rep, thresholds, char_rate)
    unit = "char" if used == ["zh"] else ("word" if "zh" not in used else "mixed")

    cols = {
        "utterances": np.ones(n_utt),
        "ref_words": N.astype(float),
        "hyp_words": M.astype(float),
        "substitutions": S_a.astype(float),
        "insertions": I_a.astype(float),
        "deletions": D_a.astype(float),
        "utts_with_errors": ((S_a + I_a + D_a) > 0).astype(float),
        "empty_references": (N == 0).astype(float),
        "empty_hypotheses": (M == 0).astype(float),
    }
    for k in HALLUCINATION_FLAGS + OMISSION_FLAGS + ("hallucination", "omission"):
        cols[k] = flags[k].astype(float)
    metrics = _metrics({k: float(v.sum()) for k, v in cols.items()})
    if metrics["empty_references"]:
        notes.append(
            f"{metrics['empty_references']} references are empty after normalisation: their output words "
            "count as insertions, their length as 0 (NeMo/jiwer convention)"
        )

    # --- breakdowns ---
    by_keys = list(by) if by is not None else list(p.by if p else ())
    if by is None and len(data.sources) > 1 and SOURCE_KEY not in by_keys:
        by_keys.append(SOURCE_KEY)

    def column(key: str) -> list[Any] | None:
        if key == SOURCE_KEY:
            names = [Path(s).name for s in data.sources]
            return [names[j] for j in data.source_index]
        head = key.split(".", 1)[0]
        in_records = head in all_keys()
        in_derived = derived is not None and any(key in d for d in derived if d)
        if not in_records and not in_derived:
            return None
        if in_records:
            col = [r.get(key) for r in records] if "." not in key else [get_path(r, key) for r in records]
        else:
            col = [None] * n_utt
        if in_derived:
            col = [v if v is not None else derived[k].get(key) for k, v in enumerate(col)]  # type: ignore[index]
        if all(v is None for v in col):
            return None
        canon = p.canonical.get(key) if p is not None else None
        if canon is not None and in_records:  # the file's own field may use an older name
            col = [canon(v) for v in col]
        return col

    key_set: set | None = None

    def all_keys() -> set:
        nonlocal key_set
        if key_set is None:
            from itertools import chain

            key_set = set(chain.from_iterable(records))
        return key_set

    breakdowns: dict[str, dict[str, dict]] = {}
    group_values: dict[str, list[str]] = {}
    missing_keys: list[str] = []
    for spec in by_keys:
        parts = [x.strip() for x in spec.split("+") if x.strip()]
        part_cols = [column(x) for x in parts]
        if not parts or any(c is None for c in part_cols):
            missing_keys.append(spec)
            continue
        if len(parts) == 1:
            labels = [_label(v) for v in part_cols[0]]
        else:
            labels = ["|".join(_label(c[k]) for c in part_cols) for k in range(n_utt)]
        codes, uniq = _group_codes(labels)
        breakdowns[spec] = _grouped_metrics(codes, uniq, cols)
        group_values[spec] = labels
    if missing_keys:
        notes.append("breakdown keys in no record, skipped: " + ", ".join(missing_keys))

    # --- severity ---
    severity = None
    sev_key = severity_key or (p.severity_key if p else None)
    candidates = [sev_key] if sev_key else list(SEVERITY_KEYS)
    for key in candidates:
        col = column(key) if n_utt else None
        if col is None:
            continue
        labels, bins = _severity_bins(col)
        if labels is None or not bins:
            continue
        codes, uniq = _group_codes(labels)
        per = _grouped_metrics(codes, uniq, cols)
        for b in bins:
            b.update(per.get(b["label"], _metrics({k: 0.0 for k in cols})))
        severity = {"key": key, "bins": bins, "series_key": None, "series": {}}
        series_key = p.series_key if p else None
        scol = column(series_key) if series_key else None
        if scol is not None:
            slabels = [_label(v) for v in scol]
            combo = [f"{a}\x1f{b}" for a, b in zip(slabels, labels)]
            codes2, uniq2 = _group_codes(combo)
            per2 = _grouped_metrics(codes2, uniq2, cols)
            series: dict[str, list[dict]] = {}
            for lab, met in per2.items():
                sv, bl = lab.split("\x1f", 1)
                series.setdefault(sv, []).append({"label": bl, **met})
            order = {b["label"]: j for j, b in enumerate(bins)}
            severity["series_key"] = series_key
            severity["series"] = {
                sv: sorted((x for x in rows if x["label"] in order), key=lambda x: order[x["label"]])
                for sv, rows in sorted(series.items(), key=lambda kv: _natural_key(kv[0]))
            }
        group_values[f"severity:{key}"] = labels
        break

    return ScoreResult(
        records=records,
        refs=data.refs,
        hyps=data.hyps,
        substitutions=S_a,
        insertions=I_a,
        deletions=D_a,
        ref_len=N,
        hyp_len=M,
        flags=flags,
        repetitions=reps,
        metrics=metrics,
        breakdowns=breakdowns,
        group_values=group_values,
        severity=severity,
        normalizer=norm,
        normalizer_version=version,
        unit=unit,
        preset=p.name if p else None,
        sources=data.sources,
        formats=data.formats,
        source_index=data.source_index,
        lines=data.lines,
        skipped=data.skipped,
        thresholds=thresholds,
        notes=notes,
        derived=derived,
        utt_normalizers=utt_norms,
        hyp_keys=data.hyp_keys,
        model=model_name,
    )
