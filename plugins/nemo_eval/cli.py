"""``wildasr score``: score NeMo / Voices-in-the-Wild-Bench manifests; write metrics, tables, plots.

Exit codes: 0 scored, 1 the job failed (e.g. the NeMo model could not run), 2 bad usage or bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """\
examples:
  wildasr score predictions.jsonl --out out/score
  wildasr score vitw_predictions.jsonl --out out/vitw            # Voices-in-the-Wild-Bench: preset vitw
  wildasr score chime4_et05.jsonl --preset chime4 --out out/chime4
  wildasr score a.jsonl b.jsonl --by condition snr --normalizer basic --out out/ab
  wildasr score test_manifest.json --nemo-model stt_en_conformer_ctc_small --out out/nemo

writes: OUT/metrics.json, OUT/report.md, OUT/manifest_scored.jsonl (NeMo fields wer, tokens,
ins_rate, del_rate, sub_rate + raw counts + hallucination/omission flags), OUT/wer_by_<key>.png,
OUT/wer_vs_severity.png (when the manifest has a severity).

exit codes: 0 scored; 1 the job failed (the --nemo-model could not load or transcribe);
2 bad usage or bad input (the message names file:line; --skip-bad reports and skips bad lines).
"""


def _pct(x: float | None, digits: int, unit: str = "") -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}{unit}"


def add_parser(subparsers) -> argparse.ArgumentParser:
    from nemo_wild_eval.presets import PRESETS

    p = subparsers.add_parser(
        "score",
        help="score ASR output manifests (WER, breakdowns, hallucination/omission, tables, plots)",
        description="Score NeMo manifests (text/pred_text; also NeMo speech_to_text_eval.py output), "
        "Voices-in-the-Wild-Bench files (answer/prediction) and NeMo-Skills output.jsonl "
        "(expected_answer/generation); the format is detected per file.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="JSONL manifest(s)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        metavar="NAME",
        help=f"benchmark preset: {', '.join(PRESETS)} (normaliser + breakdowns; vitw files pick vitw)",
    )
    p.add_argument(
        "--normalizer",
        metavar="NAME",
        help="whisper_en (default), zh, basic, none, nemo (NeMo's ignore_punctuation + ignore_capitalization "
        "rules), auto (zh for Chinese utterances, whisper_en otherwise)",
    )
    p.add_argument(
        "--by",
        nargs="+",
        action="extend",
        metavar="KEY",
        help="breakdown keys (replace the preset's); a+b crosses two keys; dotted paths reach nested keys",
    )
    p.add_argument("--skip-bad", action="store_true", help="report and skip bad lines instead of failing")
    p.add_argument("--format", dest="fmt", default="auto", choices=["auto", "nemo", "vitw", "skills"],
                   help="input format: nemo (text/pred_text), vitw (answer/prediction), skills (NeMo-Skills "
                   "expected_answer/generation); default: detected per file")
    p.add_argument("--ref-key", metavar="KEY", help="reference field (default: text / answer / expected_answer)")
    p.add_argument("--hyp-key", metavar="KEY", help="hypothesis field (default: pred_text / prediction / generation)")
    p.add_argument("--severity-key", metavar="KEY", help="numeric severity field for the WER-vs-severity plot")
    p.add_argument(
        "--nemo-model",
        metavar="NAME_OR_.nemo",
        help="transcribe the manifest audio with this NeMo ASR model first (needs the nemo extra)",
    )
    p.add_argument("--batch-size", type=int, default=16, help="--nemo-model batch size (default 16)")
    p.add_argument("--jobs", type=int, default=None, help="processes for the whisper_en normaliser (default: auto)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--quiet", action="store_true", help="no progress bars, no summary")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from nemo_wild_eval.errors import InputError
    from nemo_wild_eval.nemo_asr import NemoModelError
    from nemo_wild_eval.report import metric_name, write_report
    from nemo_wild_eval.scorer import score_manifest

    if args.batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError("--out must be a folder; this is a file", source=str(out))
    try:
        result = score_manifest(
            args.files,
            normalizer=args.normalizer,
            by=args.by,
            preset=args.preset,
            skip_bad=args.skip_bad,
            fmt=args.fmt,
            ref_key=args.ref_key,
            hyp_key=args.hyp_key,
            severity_key=args.severity_key,
            nemo_model=args.nemo_model,
            batch_size=args.batch_size,
            jobs=args.jobs,
            progress=not args.quiet,
        )
    except NemoModelError as exc:
        print(f"wildasr score: error: --nemo-model: {exc}", file=sys.stderr)
        return 1
    for note in result.notes:
        if note.startswith("breakdown keys in no record"):  # the user asked for them: say so even if --quiet
            print(f"wildasr score: warning: {note} (keys a preset derives need --preset)", file=sys.stderr)
    for b in result.skipped[:20]:
        print(f"wildasr score: skipped {b}", file=sys.stderr)
    if len(result.skipped) > 20:
        print(f"wildasr score: ... {len(result.skipped) - 20} more skipped lines, all in metrics.json", file=sys.stderr)
    try:
        paths = write_report(result, out, plots=not args.no_plots)
    except OSError as exc:  # unwritable folder, disk full: name the path, no traceback
        raise InputError(f"cannot write the report: {exc.strerror or exc}", source=str(exc.filename or out)) from exc
    if not args.quiet:
        m = result.metrics
        name = metric_name(result.unit)
        w, h, o = (_pct(m[k], 2, " %") for k in ("wer", "hallucination_rate", "omission_rate"))
        print(
            f"{name} {w} over {m['utterances']} utterances / {m['ref_words']} reference tokens "
            f"(S {m['substitutions']}, I {m['insertions']}, D {m['deletions']}); "
            f"hallucination {h}, omission {o}; normaliser {result.normalizer_version}"
            + (f"; {len(result.skipped)} lines skipped" if result.skipped else "")
        )
        for key, groups in result.breakdowns.items():
            cells = ", ".join(f"{lab}: {_pct(g['wer'], 1)}" for lab, g in list(groups.items())[:12])
            more = f", ... ({len(groups)} groups)" if len(groups) > 12 else ""
            print(f"  by {key}: {cells}{more}")
        print(f"report: {paths['report']}  metrics: {paths['metrics']}")
    if not result.records:
        print("wildasr score: error: no utterance could be scored", file=sys.stderr)
        return 2
    return 0
