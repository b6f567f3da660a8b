"""``wildasr split``: base-WER pass + > max-WER filter + curriculum buckets + RL split.

Resumable: per-cut results go to ``OUT/base_wer_cache.jsonl`` as they are computed; a rerun reuses
them (same ASR and normaliser) and only transcribes the rest.
"""

from __future__ import annotations

import argparse
import sys


def _floats(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def add_parser(subparsers) -> argparse.ArgumentParser:
    from lhotse_wild.split import DEFAULT_BUCKETS, DEFAULT_MAX_WER, DEFAULT_RL_RATIO

    p = subparsers.add_parser(
        "split",
        help="attach base-model WER to cuts; drop > max WER; curriculum buckets and RL split",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--cuts", required=True, help="input CutSet manifest (.jsonl/.jsonl.gz) with supervision texts")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--asr", default="pocketsphinx", choices=["pocketsphinx"], help="base ASR backend")
    lm = p.add_mutually_exclusive_group()
    lm.add_argument("--lm-sentences", help="text file, one sentence a line: in-domain LM for pocketsphinx")
    lm.add_argument("--lm-from-cuts", action="store_true",
                    help="build the in-domain LM from the cuts' own transcripts (demo/oracle setting)")
    p.add_argument("--normalizer", default="whisper_en", help="text normaliser for WER (nemo_wild_eval.text)")
    p.add_argument("--max-wer", type=float, default=DEFAULT_MAX_WER, help="drop cuts above this WER")
    p.add_argument("--buckets", type=_floats, default=list(DEFAULT_BUCKETS),
                   help="three thresholds low,medium,high (default %(default)s)")
    p.add_argument("--rl-ratio", type=float, default=DEFAULT_RL_RATIO,
                   help="share of medium/high-WER cuts in the RL split (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling low-WER cuts into the RL split")
    p.add_argument("--workers", type=int, default=1, help="processes for transcription")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="transcribe on Ray actors (--workers = actors): a local Ray, or 'auto' / ray://HOST:10001")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lhotse import CutSet

    from wild_corpus.asr import get_transcriber
    from nemo_wild_eval.errors import BackendUnavailable
    from lhotse_wild.split import attach_base_wer, cut_reference, split_by_wer, write_split
    from wild_corpus.synth import load_sentences
    from nemo_wild_eval.errors import InputError

    src = Path(args.cuts)
    if not src.is_file():
        raise InputError("CutSet manifest not found", source=str(src))
    try:
        cuts = CutSet.from_jsonl(src)
    except Exception as exc:
        raise InputError(f"not a readable CutSet manifest ({exc})", source=str(src)) from exc
    if len(cuts) == 0:
        raise InputError("CutSet is empty", source=str(src))
    lm = None
    if args.lm_sentences:
        lm = load_sentences(args.lm_sentences)
    elif args.lm_from_cuts:
        lm = [cut_reference(c) for c in cuts]
    try:
        asr = get_transcriber(args.asr, lm_sentences=lm)
    except BackendUnavailable as exc:
        print(f"wildasr split: ASR backend unavailable: {exc}", file=sys.stderr)
        return 1
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.ray is not None:  # same records and cache, computed on Ray actors
        from functools import partial

        from lhotse_wild.ray_split import attach_base_wer_ray

        attach_base_wer = partial(attach_base_wer_ray, address=None if args.ray == "local" else args.ray)
    scored = attach_base_wer(
        cuts, asr, args.normalizer, cache=out / "base_wer_cache.jsonl",
        workers=args.workers, progress=not args.no_progress,
    )
    scored.to_file(out / "cuts_with_wer.jsonl.gz")
    result = split_by_wer(scored, max_wer=args.max_wer, buckets=args.buckets, rl_ratio=args.rl_ratio, seed=args.seed)
    write_split(result, out)
    print(result.table())
    print(f"wrote {out}/ (cuts_with_wer, kept, dropped, curriculum_*, rl, split_summary.md/json)")
    return 0
