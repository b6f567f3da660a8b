"""``nemo_wild_eval``: benchmark scorers over NeMo manifests and Voices-in-the-Wild-Bench files.

Also home of the project's single text-normalisation + alignment module (:mod:`nemo_wild_eval.text`),
which the RL reward reuses so training is scored exactly like evaluation.

Public scoring API (plain functions, like jiwer's)::

    from nemo_wild_eval import score_manifest, write_report
    result = score_manifest("predictions.jsonl", normalizer="whisper_en", by=["condition"])
    result.wer, result.metrics, result.breakdowns["condition"]
    paths = write_report(result, "out/score")   # metrics.json, report.md, manifest, PNGs

Heavy modules (numpy-backed scorer, matplotlib plots) load on first use, so importing this package
stays cheap for the reward workers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nemo_wild_eval.errors import InputError
from nemo_wild_eval.text import (
    NORMALIZER_VERSIONS,
    NORMALIZERS,
    Alignment,
    align,
    align_words,
    edit_counts,
    normalize,
    parse_asr_output,
    tokenize,
    tokenize_many,
)

from nemo_wild_eval.version import __version__

_LAZY = {
    "ScoreResult": "nemo_wild_eval.scorer",
    "score_manifest": "nemo_wild_eval.scorer",
    "wer": "nemo_wild_eval.scorer",
    "write_report": "nemo_wild_eval.report",
    "render_markdown": "nemo_wild_eval.report",
    "plot_wer_by_condition": "nemo_wild_eval.plots",
    "plot_wer_vs_severity": "nemo_wild_eval.plots",
    "plot_bars": "nemo_wild_eval.plots",
    "PRESETS": "nemo_wild_eval.presets",
    "Preset": "nemo_wild_eval.presets",
    "FlagThresholds": "nemo_wild_eval.flags",
    "read_manifests": "nemo_wild_eval.manifest",
}

if TYPE_CHECKING:  # pragma: no cover
    from nemo_wild_eval.flags import FlagThresholds
    from nemo_wild_eval.manifest import read_manifests
    from nemo_wild_eval.plots import plot_bars, plot_wer_by_condition, plot_wer_vs_severity
    from nemo_wild_eval.presets import PRESETS, Preset
    from nemo_wild_eval.report import render_markdown, write_report
    from nemo_wild_eval.scorer import ScoreResult, score_manifest, wer


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'nemo_wild_eval' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "InputError",
    "NORMALIZERS",
    "NORMALIZER_VERSIONS",
    "Alignment",
    "align",
    "align_words",
    "edit_counts",
    "normalize",
    "parse_asr_output",
    "tokenize",
    "tokenize_many",
    *_LAZY,
]
