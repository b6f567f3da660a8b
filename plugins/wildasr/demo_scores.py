"""Demo stage 4: the scorer's tables and plots over the stage-3 NeMo manifest.

Breakdowns by condition (clean / wild), number of effects, scenario, voice and fixed 0.2-wide severity
bands; WER by effect counts every wild utterance once per effect it contains; hallucination and
omission rates clean vs wild. Everything is computed by :mod:`nemo_wild_eval`; this module only lays
the numbers out for the report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

__all__ = ["score_stage"]


def score_stage(ne: Any, plots_mod: Any, manifest: Path, sdir: Path, rel: Callable[[Path], str]) -> dict:
    """Score ``manifest`` into ``sdir``; ``ne`` is ``nemo_wild_eval``, ``plots_mod`` its plots module."""
    records = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in records:  # fixed 0.2-wide severity bands (centre value), so every run bins alike
        r["severity_band"] = _severity_band(r.get("severity"))
    res = ne.score_manifest(records, normalizer="whisper_en",
                            by=["condition", "num_effects", "scenario", "voice"], severity_key="severity_band")
    written = ne.write_report(res, sdir)
    plots = {k: rel(v) for k, v in written.items() if str(v).endswith(".png")}
    summary: dict[str, Any] = {
        "overall": _pick(res.metrics),
        "by_condition": {k: _pick(v) for k, v in res.breakdowns.get("condition", {}).items()},
        "by_num_effects": {k: _pick(v) for k, v in res.breakdowns.get("num_effects", {}).items()},
        "by_scenario": {k: _pick(v) for k, v in res.breakdowns.get("scenario", {}).items()},
        "by_voice": {k: _pick(v) for k, v in res.breakdowns.get("voice", {}).items()},
        "severity": [{"label": _band_label(b.get("center")), "center": b.get("center"), **_pick(b)}
                     for b in (res.severity or {}).get("bins", [])],
        "normalizer_version": res.normalizer_version,
        "report": rel(written["report"]),
        "metrics": rel(written["metrics"]),
        "manifest": rel(written["manifest"]),
    }
    # WER by effect: every wild utterance counts once for each effect it contains.
    exploded = [dict(r, effect=e) for r in records if r["condition"] == "wild"
                for e in r["effects"].split("+")]
    if exploded:
        res_e = ne.score_manifest(exploded, normalizer="whisper_en", by=["effect"])
        by_effect = res_e.breakdowns["effect"]
        summary["by_effect"] = {k: _pick(v) for k, v in by_effect.items()}
        p = plots_mod.plot_wer_by_condition(by_effect, sdir / "wer_by_effect.png", key="effect",
                                            title="WER by effect (wild utterances that contain it)")
        plots["wer_by:effect"] = rel(p)
    cond = summary["by_condition"]
    labels, values, counts = [], [], []
    for c in ("clean", "wild"):
        if c in cond:
            for metric, name in (("hallucination_rate", "hallucination"), ("omission_rate", "omission")):
                labels.append(f"{c} {name}")
                values.append(cond[c][metric])
                counts.append(cond[c]["utterances"])
    if labels:
        p = plots_mod.plot_bars(labels, values, sdir / "hallucination_omission.png",
                                title="Hallucination and omission: clean vs wild", ylabel="% of utterances",
                                counts=counts)
        plots["hallucination_omission"] = rel(p)
    summary["plots"] = plots
    scen = [(k, v) for k, v in summary["by_scenario"].items() if k != "clean" and v["wer"] is not None]
    scen.sort(key=lambda kv: -kv[1]["wer"])
    summary["hardest_scenarios"] = [{"scenario": k, **v} for k, v in scen[:5]]
    summary["easiest_scenarios"] = [{"scenario": k, **v} for k, v in scen[::-1][:5]]
    return summary


SEVERITY_BAND = 0.2


def _severity_band(severity: float | None) -> float | None:
    """Centre of the fixed band ``[k*0.2, (k+1)*0.2)`` holding ``severity`` (1.0 goes to the last band)."""
    if severity is None:
        return None
    k = min(int(float(severity) / SEVERITY_BAND), int(round(1 / SEVERITY_BAND)) - 1)
    return round((k + 0.5) * SEVERITY_BAND, 3)


def _band_label(center: float | None) -> str:
    if center is None:
        return "?"
    return f"{center - SEVERITY_BAND / 2:.1f}–{center + SEVERITY_BAND / 2:.1f}"


_PICK = ("utterances", "ref_words", "wer", "sub_rate", "ins_rate", "del_rate", "hallucination_rate", "omission_rate")


def _pick(m: dict) -> dict:
    return {k: m.get(k) for k in _PICK}
