"""``ScoreResult``: what one scoring run produced, and its ``metrics.json`` form (``to_dict``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from nemo_wild_eval.flags import HALLUCINATION_FLAGS, OMISSION_FLAGS, FlagThresholds
from nemo_wild_eval.manifest import BadLine

__all__ = ["ALIGNER", "ScoreResult"]

ALIGNER = "rapidfuzz Levenshtein editops over tokens, unit costs (S/I/D split as jiwer 4)"


@dataclass
class ScoreResult:
    """Everything one scoring run produced. ``to_dict()`` is what ``metrics.json`` holds.

    Per-utterance counts are numpy arrays aligned with ``records`` (the input dicts, untouched):
    ``substitutions``, ``insertions``, ``deletions``, ``ref_len`` (N), ``hyp_len`` (M); ``flags`` maps
    each flag name (and ``hallucination``/``omission``) to a bool array.
    """

    records: list[dict]
    refs: list[str]
    hyps: list[str]
    substitutions: np.ndarray
    insertions: np.ndarray
    deletions: np.ndarray
    ref_len: np.ndarray
    hyp_len: np.ndarray
    flags: dict[str, np.ndarray]
    repetitions: dict[int, tuple[str, ...]]
    metrics: dict
    breakdowns: dict[str, dict[str, dict]]
    group_values: dict[str, list[str]]
    severity: dict | None
    normalizer: str
    normalizer_version: str
    unit: str
    preset: str | None
    sources: list[str]
    formats: dict[str, str]
    source_index: list[int]
    lines: list[int]
    skipped: list[BadLine]
    thresholds: FlagThresholds
    notes: list[str] = field(default_factory=list)
    derived: list[dict] | None = None
    utt_normalizers: list[str] | None = None
    hyp_keys: dict[str, str] = field(default_factory=dict)
    model: str | None = None

    # -- convenience -------------------------------------------------------------------------
    @property
    def wer(self) -> float | None:
        return self.metrics["wer"]

    def __len__(self) -> int:
        return len(self.records)

    def breakdown(self, key: str) -> dict[str, dict]:
        return self.breakdowns[key]

    def utterance_wer(self) -> np.ndarray:
        """Per-utterance WER; an empty reference gives 0.0 (empty output) or 1.0 (any output)."""
        e = (self.substitutions + self.insertions + self.deletions).astype(float)
        n = self.ref_len
        return np.where(n > 0, e / np.maximum(n, 1), (self.hyp_len > 0).astype(float))

    def utterances(self) -> Iterator[dict]:
        """Each input record plus the per-utterance fields (NeMo's names plus raw counts and flags).

        The output is always a NeMo manifest: ``text``/``pred_text``/``audio_filepath`` are added
        when the input used other names (Voices-in-the-Wild-Bench's ``answer``/``prediction``/
        ``audio_path``); a Qwen3-ASR raw hypothesis is kept as ``pred_text_raw`` next to the parsed
        ``pred_text``.
        """
        s = self.substitutions.tolist()
        i = self.insertions.tolist()
        d = self.deletions.tolist()
        n = self.ref_len.tolist()
        m = self.hyp_len.tolist()
        w = self.utterance_wer().tolist()
        hall = self.flags["hallucination"].tolist()
        omi = self.flags["omission"].tolist()
        names = HALLUCINATION_FLAGS + OMISSION_FLAGS
        cols = [self.flags[k] for k in names]
        any_flag = np.logical_or(self.flags["hallucination"], self.flags["omission"]).tolist()
        for k, rec in enumerate(self.records):
            out = dict(rec)
            if self.derived is not None and self.derived[k]:
                for dk, dv in self.derived[k].items():
                    out.setdefault(dk, dv)
            hk = self.hyp_keys.get(self.sources[self.source_index[k]], "pred_text")
            if "text" not in out or not isinstance(out.get("text"), str):
                out["text"] = self.refs[k]
            if "audio_filepath" not in out and isinstance(out.get("audio_path"), str):
                out["audio_filepath"] = out["audio_path"]
            raw = rec.get(hk)
            if self.model is not None:
                out["pred_text"] = self.hyps[k]  # the model's own transcription (replaces any old one)
            elif raw != self.hyps[k]:
                if hk == "pred_text" and isinstance(raw, str):
                    out["pred_text_raw"] = raw
                out["pred_text"] = self.hyps[k]
            elif "pred_text" not in out:
                out["pred_text"] = self.hyps[k]
            nk = n[k]
            out["wer"] = w[k]
            out["tokens"] = nk
            out["ins_rate"] = i[k] / nk if nk else float(m[k] > 0)
            out["del_rate"] = d[k] / nk if nk else 0.0
            out["sub_rate"] = s[k] / nk if nk else 0.0
            out["substitutions"] = s[k]
            out["insertions"] = i[k]
            out["deletions"] = d[k]
            out["correct"] = nk - s[k] - d[k]
            out["hyp_tokens"] = m[k]
            out["hallucination"] = hall[k]
            out["omission"] = omi[k]
            out["flags"] = [name for name, col in zip(names, cols) if col[k]] if any_flag[k] else []
            if k in self.repetitions:
                out["repeated_ngram"] = " ".join(self.repetitions[k])
            if self.utt_normalizers is not None:
                out["normalizer"] = self.utt_normalizers[k]
            yield out

    def to_dict(self) -> dict:
        from nemo_wild_eval.version import __version__

        reasons: dict[str, int] = {}
        for b in self.skipped:
            r = b.reason.split(" (")[0]
            reasons[r] = reasons.get(r, 0) + 1
        out = {
            "schema": "nemo_wild_eval.metrics/1",
            "tool": {"name": "nemo_wild_eval", "version": __version__},
            "sources": self.sources,
            "formats": self.formats,
            "model": self.model,
            "preset": self.preset,
            "normalizer": self.normalizer,
            "normalizer_version": self.normalizer_version,
            "unit": self.unit,
            "aligner": ALIGNER,
        }
        out.update(self.metrics)
        out["skipped_lines"] = len(self.skipped)
        out["skipped_by_reason"] = reasons
        out["empty_references_skipped"] = sum(1 for b in self.skipped if b.reason.startswith("empty reference"))
        out["skipped"] = [b.to_dict() for b in self.skipped]
        out["thresholds"] = self.thresholds.to_dict()
        out["breakdowns"] = self.breakdowns
        out["severity"] = self.severity
        out["notes"] = self.notes
        return out
