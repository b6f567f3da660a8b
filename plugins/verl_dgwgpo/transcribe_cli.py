"""``wildasr transcribe``: NeMo manifest in, manifest with ``pred_text`` out, optionally router-switched.

The user-facing inference path of docs/design.md §5.2: each clip is scored by the router
(``--router DIR``); degraded clips are transcribed with the robust LoRA on, clean ones with the base
weights (in-place switching, one switch per batch at most). Every output line is the input record
plus ``pred_text``, ``routed`` (LoRA used), ``router_prob`` (P(degraded), ``null`` without a router)
and ``asr_backend``, so ``wildasr score --manifest OUT`` scores it directly and ``--by routed`` splits
the score by the route taken.

Backends:

* ``hf`` (``--model DIR`` [``--adapter DIR``]): a transformers audio LLM (Qwen3-ASR, Qwen2-Audio)
  with a peft LoRA adapter, greedy decoding. Without ``--router`` an adapter is always on (the
  "always-robust" baseline); with ``--router`` it is switched per clip.
* ``pocketsphinx`` ([``--lm-sentences FILE``]): the offline base ASR. It has no LoRA, so the router
  only annotates (``routed`` says where the clip *would* go); useful to check the router on a corpus.

Audio: ``audio_filepath`` (relative paths are relative to the manifest), optional ``offset`` /
``duration`` in seconds; multi-channel files are averaged to mono; any sampling rate is resampled
exactly to what the router and the model need.
"""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("transcribe", help="transcribe a NeMo manifest (router-switched robust LoRA)",
                              description="NeMo manifest in, manifest with pred_text + routed out (scoreable by "
                              "`wildasr score`). Backends: hf (model + LoRA adapter) and pocketsphinx.")
    p.add_argument("--manifest", required=True, help="input NeMo manifest (JSONL with audio_filepath)")
    p.add_argument("--out", required=True, help="output manifest (JSONL)")
    p.add_argument("--router", help="router directory from `wildasr router train` (OUT/router)")
    p.add_argument("--threshold", type=float, help="override the router's threshold (default: saved, 0.5)")
    p.add_argument("--backend", choices=["hf", "pocketsphinx"], default="hf")
    p.add_argument("--model", help="hf: transformers model directory")
    p.add_argument("--adapter", help="hf: peft LoRA adapter directory (the robust weights)")
    p.add_argument("--max-new-tokens", type=int, default=128, help="hf: generation limit")
    p.add_argument("--lm-sentences", help="pocketsphinx: sentence file for an in-domain LM")
    p.add_argument("--batch-size", type=int, default=16, help="clips routed together (one switch per batch)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _read_manifest(path):
    from pathlib import Path

    from nemo_wild_eval.errors import InputError

    src = Path(path)
    if not src.is_file():
        raise InputError("no such file", source=str(src))
    records = []
    with open(src, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"malformed JSON ({exc.msg})", source=str(src), line=n) from None
            if not isinstance(rec, dict) or not isinstance(rec.get("audio_filepath"), str):
                raise InputError("record needs a string 'audio_filepath'", source=str(src), line=n)
            audio = Path(rec["audio_filepath"])
            records.append((n, rec, audio if audio.is_absolute() else src.parent / audio))
    if not records:
        raise InputError("manifest has no records", source=str(src))
    return src, records


def _load_audio(path, rec: dict, source: str, line: int):
    import numpy as np
    import soundfile as sf

    from nemo_wild_eval.errors import InputError

    try:
        info = sf.info(str(path))
        start = int(round(float(rec.get("offset", 0) or 0) * info.samplerate))
        dur = rec.get("duration")
        frames = int(round(float(dur) * info.samplerate)) if dur is not None and rec.get("offset") is not None else -1
        x, sr = sf.read(str(path), start=start, frames=frames, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError, TypeError) as exc:
        raise InputError(f"cannot read audio {str(path)!r} ({exc})", source=source, line=line) from None
    return np.ascontiguousarray(x.mean(axis=1)), int(sr)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm.auto import tqdm

    from nemo_wild_eval.errors import InputError

    src, records = _read_manifest(args.manifest)
    if args.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {args.batch_size}", source="--batch-size")
    router = None
    if args.router:
        from verl_dgwgpo.router.model import RouterModel

        router = RouterModel.load(args.router, threshold=args.threshold)
    switch = None
    if args.backend == "hf":
        if not args.model:
            raise InputError("--backend hf needs --model DIR", source="--model")
        from verl_dgwgpo.router.hf_asr import HFAudioASR

        asr = HFAudioASR(args.model, args.adapter, max_new_tokens=args.max_new_tokens)
        switch = asr.switch
        if switch is not None and router is None:
            switch.on()  # no router: the adapter is always on
    else:
        if args.adapter:
            raise InputError("pocketsphinx has no LoRA adapter; use --backend hf", source="--adapter")
        from wild_corpus.asr import get_transcriber
        from wild_corpus.synth import load_sentences

        asr = get_transcriber("pocketsphinx", load_sentences(args.lm_sentences) if args.lm_sentences else None)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    n_routed = 0
    bar = tqdm(total=len(records), desc="transcribe", unit="utt", disable=args.quiet)
    with open(part, "w", encoding="utf-8") as fh:
        for b in range(0, len(records), args.batch_size):
            batch = records[b : b + args.batch_size]
            clips = [_load_audio(path, rec, str(src), n) for n, rec, path in batch]
            routes = [router.route(x, sr, what=f"{src}:{n}") if router else None
                      for (x, sr), (n, _, _) in zip(clips, batch)]
            if switch is not None and router is not None:
                from verl_dgwgpo.router.switch import route_batch

                res = route_batch(clips, 0, router, switch, lambda cs: [asr.transcribe(x, sr) for x, sr in cs],
                                  routes=routes)
                texts = res.outputs
            else:
                texts = [asr.transcribe(x, sr) for x, sr in clips]
            for (n, rec, _), text, r in zip(batch, texts, routes):
                routed = r.degraded if r is not None else bool(switch is not None and switch.active)
                n_routed += int(routed)
                fh.write(json.dumps({**rec, "pred_text": text, "routed": routed,
                                     "router_prob": None if r is None else round(r.prob, 6),
                                     "asr_backend": asr.name}, ensure_ascii=False) + "\n")
            bar.update(len(batch))
    bar.close()
    part.replace(out)
    print(f"wrote {len(records)} transcripts to {out} ({n_routed} with the robust route)")
    return 0
