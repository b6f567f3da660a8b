"""Transcribe the miniature's held-out clips with one system and score them like every other benchmark.

Hypotheses come from :class:`verl_dgwgpo.router.hf_asr.HFAudioASR` (greedy, the family's ASR prompt,
optionally a LoRA adapter), scores from :func:`nemo_wild_eval.scorer.score_manifest` (the project's one
normaliser and aligner): corpus WER clean and wild, wild WER by anchor effect (the first effect of the
scenario: far_field / strong_echo / obstructed, or the first modifier for modifier-only scenarios) and
by severity bucket, hallucination and omission rates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["SEVERITY_BUCKETS", "records_for", "summarize", "transcribe_cuts"]

SEVERITY_BUCKETS = ((0.0, 0.33, "low"), (0.33, 0.66, "mid"), (0.66, 1.01, "high"))


def _bucket(severity: float | None) -> str:
    if severity is None:
        return "clean"
    for lo, hi, name in SEVERITY_BUCKETS:
        if lo <= severity < hi:
            return name
    return "high"


def records_for(cuts: Sequence[Any]) -> list[dict]:
    """One NeMo-style record per cut (no hypothesis yet): condition, scenario, anchor, severity bucket."""
    out = []
    for c in cuts:
        wild = (c.custom or {}).get("wild")
        src = c.recording.sources[0].source if c.recording is not None else c.id
        rec = {"audio_filepath": str(src), "text": c.supervisions[0].text, "cut_id": c.id, "duration": c.duration}
        if wild:
            effects = list(wild.get("effects") or [wild["scenario"]])
            rec.update(condition="wild", scenario=wild["scenario"], anchor=effects[0],
                       severity=float(wild["severity"]), severity_bucket=_bucket(float(wild["severity"])))
        else:
            rec.update(condition="clean", scenario="clean", anchor="clean", severity=0.0, severity_bucket="clean")
        out.append(rec)
    return out


def transcribe_cuts(cuts: Sequence[Any], model_dir: str | Path, adapter: str | Path | None = None,
                    *, max_new_tokens: int = 16) -> list[str]:
    """Greedy transcripts of ``cuts`` by ``model_dir`` (+ ``adapter``)."""
    from verl_dgwgpo.router.hf_asr import HFAudioASR

    asr = HFAudioASR(model_dir, adapter, max_new_tokens=max_new_tokens, device="cpu")
    if asr.switch is not None:
        asr.switch.on()  # the router's switch loads with the adapter off (base weights)
    return [asr.transcribe(c.load_audio()[0], c.sampling_rate) for c in cuts]


def summarize(records: Sequence[dict]) -> dict[str, Any]:
    """WER clean / wild, wild WER by anchor and severity bucket, hallucination/omission (wild and all)."""
    from nemo_wild_eval.scorer import score_manifest

    def score(recs: list[dict], by: list[str] | None = None) -> dict:
        return score_manifest(recs, by=by or [], severity_key="severity").to_dict() if recs else {}

    clean = [r for r in records if r["condition"] == "clean"]
    wild = [r for r in records if r["condition"] == "wild"]
    s_clean, s_wild = score(clean), score(wild, ["anchor", "severity_bucket"])
    s_all = score(list(records))

    def table(key: str) -> dict[str, float]:
        return {k: round(float(v["wer"]), 4) for k, v in (s_wild.get("breakdowns", {}).get(key) or {}).items()}

    return {
        "wer_clean": s_clean.get("wer"),
        "wer_wild": s_wild.get("wer"),
        "wer_wild_by_anchor": table("anchor"),
        "wer_wild_by_severity": table("severity_bucket"),
        "hallucination_rate": s_all.get("hallucination_rate"),
        "omission_rate": s_all.get("omission_rate"),
        "hallucination_rate_wild": s_wild.get("hallucination_rate"),
        "omission_rate_wild": s_wild.get("omission_rate"),
        "utterances": {"clean": len(clean), "wild": len(wild)},
    }


def write_manifest(path: Path, records: Sequence[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
