"""Demo stage 3: base-model WER of every clean and wild cut, n-best lists, the WER split.

The base model is pocketsphinx with an in-domain LM built from the demo's sentences
(:class:`wild_corpus.asr.PocketSphinxTranscriber`); the split is :mod:`lhotse_wild.split` (> 70 %
filter, curriculum buckets, RL split). Outputs: scored CutSets, a NeMo manifest for the scorer, the
n-best groups for the reward stage, the split folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["score_and_split"]


def score_and_split(clean_cuts: Callable[[], Any], wild_cuts: Callable[[], Any | None], adir: Path, split_dir: Path,
                    rel: Callable[[Path], str], missing: Callable[[str], None], *, sentences: Sequence[str],
                    nbest: int, workers: int, progress: bool, rl_ratio: float | None, seed: int) -> dict:
    """Transcribe, score and split; writes under ``adir`` and ``split_dir``, returns the stage summary.

    ``clean_cuts`` / ``wild_cuts`` load the stage-1 and stage-2 CutSets (``wild_cuts`` gives None when
    stage 2 did not run: then only clean audio is scored and ``missing`` records why).
    """
    from lhotse import CutSet

    from lhotse_wild.split import DEFAULT_RL_RATIO, apply_base_wer, compute_records, split_by_wer, write_split
    from wild_corpus.asr import PocketSphinxTranscriber

    asr = PocketSphinxTranscriber(lm_sentences=sentences)
    clean = list(clean_cuts())
    wild_set = wild_cuts()
    wild = list(wild_set) if wild_set is not None else []
    if not wild:
        missing("no wild corpus (stage `wild` did not run): clean audio only")
    adir.mkdir(parents=True, exist_ok=True)
    recs = compute_records(clean + wild, asr, "whisper_en", nbest=nbest,
                           cache=adir / "base_wer_cache.jsonl", workers=workers,
                           progress=progress, desc="pocketsphinx")
    clean_s = CutSet.from_cuts(apply_base_wer(c, recs[c.id]) for c in clean)
    clean_s.to_file(adir / "clean_scored.jsonl.gz")
    out: dict[str, Any] = {"asr": asr.name, "oov_words": asr.oov_words, "normalizer": "whisper_en",
                           "nbest": nbest,
                           "clean_manifest": rel(adir / "clean_scored.jsonl.gz")}
    manifest = adir / "manifest.jsonl"
    with manifest.open("w", encoding="utf-8") as fh:
        for c in clean + wild:
            fh.write(json.dumps(_nemo_record(c, recs[c.id]), ensure_ascii=False) + "\n")
    with (adir / "nbest.jsonl").open("w", encoding="utf-8") as fh:
        for c in clean + wild:
            r = recs[c.id]
            fh.write(json.dumps({"cut_id": c.id, "condition": "wild" if "wild" in (c.custom or {}) else "clean",
                                 "text": c.supervisions[0].text, "base_wer": r["wer"], "nbest": r["nbest"]},
                                ensure_ascii=False) + "\n")
    out["nemo_manifest"] = rel(manifest)
    out["nbest_groups"] = rel(adir / "nbest.jsonl")
    out["clean_wer"] = _corpus_wer(recs[c.id] for c in clean)
    if wild:
        wild_s = CutSet.from_cuts(apply_base_wer(c, recs[c.id]) for c in wild)
        wild_s.to_file(adir / "wild_scored.jsonl.gz")
        out["wild_manifest"] = rel(adir / "wild_scored.jsonl.gz")
        out["wild_wer"] = _corpus_wer(recs[c.id] for c in wild)
        rl_ratio = rl_ratio if rl_ratio is not None else DEFAULT_RL_RATIO
        res = split_by_wer(wild_s, rl_ratio=rl_ratio, seed=seed)
        paths = write_split(res, split_dir)
        out["split"] = res.summary()
        out["split_table"] = res.table()
        out["split_files"] = {k: rel(v) for k, v in paths.items()}
    return out


def _nemo_record(cut, rec: dict) -> dict:
    """One NeMo manifest line: audio, reference, hypothesis and the metadata the breakdowns use."""
    wild = (cut.custom or {}).get("wild")
    tts = (cut.custom or {}).get("tts") or {}
    src = cut.recording.sources[0].source if cut.has_recording else None
    return {
        "audio_filepath": src,
        "duration": round(cut.duration, 3),
        "text": " ".join(s.text for s in cut.supervisions),
        "pred_text": rec["hyp"],
        "cut_id": cut.id,
        "condition": "wild" if wild else "clean",
        "scenario": wild["scenario"] if wild else "clean",
        "effects": "+".join(wild["effects"]) if wild else "",
        "num_effects": len(wild["effects"]) if wild else 0,
        "severity": wild["severity"] if wild else None,
        "voice": tts.get("style"),  # degraded cuts keep the clean cut's custom["tts"]
        "base_wer": rec["wer"],
    }


def _corpus_wer(recs) -> float | None:
    e = n = 0
    for r in recs:
        e += r["errors"]
        n += r["ref_len"]
    return e / n if n else None
