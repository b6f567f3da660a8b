"""``wildasr simulate``: degrade a clean Lhotse CutSet into an "in-the-wild" corpus (resumable)."""

from __future__ import annotations

import argparse


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "simulate",
        help="degrade a clean Lhotse CutSet with the 54 compound scenarios (resumable, progress bar)",
        description="Degrade every cut of a clean CutSet with a scenario and severity drawn from "
        "(seed, cut id); writes audio + OUT/cuts.jsonl with provenance in cut.custom['wild']. "
        "Rerun the same command to resume.",
    )
    p.add_argument("--cuts", help="input CutSet manifest (jsonl/jsonl.gz)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--scenarios", default="all",
                   help="'all', 'atomic', 'compound' or comma-separated scenario names (default: all)")
    p.add_argument("--sampler", default="linear",
                   choices=["linear", "sqrt_forward", "sqrt_backward", "gaussian_mid"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-per-cut", type=int, default=1, help="degraded variants per clean cut")
    p.add_argument("--noise-cuts", action="append", default=[],
                   help="noise CutSet manifest (MUSAN-style); repeat to combine several")
    p.add_argument("--config", help="YAML with per-parameter (easy, hard) overrides")
    p.add_argument("--format", default="flac", choices=["flac", "wav"], help="audio format (wav = float32)")
    p.add_argument("--no-babble", action="store_true", help="no babble noise from the corpus itself")
    p.add_argument("--babble-pool", type=int, default=500, help="cuts kept as babble talkers")
    p.add_argument("--shar", action="store_true", help="also write a Lhotse Shar copy to OUT/shar")
    p.add_argument("--shard-size", type=int, default=1000,
                   help="cuts per Shar shard (with --ray: input cuts per shard and Ray task)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="build on Ray: no ADDRESS = a local Ray on this machine, 'auto' or ray://HOST:10001 = "
                   "a cluster; writes Lhotse Shar shards to OUT/shar (resumable per shard)")
    p.add_argument("--max-in-flight", type=int, default=None,
                   help="with --ray: shards submitted at once (default 2 x cluster CPUs)")
    p.add_argument("--on-error", default="raise", choices=["raise", "skip"],
                   help="skip: record undegradable cuts in OUT/skipped.jsonl instead of stopping")
    p.add_argument("--preview", action="store_true",
                   help="only write OUT/preview.png: first cut (or a test signal) under the 7 effects "
                   "at severities 0, 0.5, 1")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)
    return p


def _load_cuts(path: str, what: str):
    from pathlib import Path

    from lhotse import CutSet

    from nemo_wild_eval.errors import InputError

    if not Path(path).exists():
        raise InputError("no such file", source=path)
    try:
        return CutSet.from_jsonl_lazy(path) if ".jsonl" in Path(path).name else CutSet.from_file(path)
    except Exception as exc:  # malformed manifest
        raise InputError(f"cannot read {what} manifest: {exc}", source=path) from None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    import lhotse_wild
    from nemo_wild_eval.errors import InputError

    out = Path(args.out)
    if args.preview:
        from lhotse_wild.preview import demo_signal, preview_grid

        if args.cuts:
            cut = next(iter(_load_cuts(args.cuts, "cuts")), None)
            if cut is None:
                raise InputError("no cut to preview", source=args.cuts)
            samples, sr, title = cut.load_audio(), cut.sampling_rate, f"cut {cut.id}"
        else:
            sr = 16000
            samples, title = demo_signal(sr), "synthetic voice"
        path = preview_grid(samples, sr, out / "preview.png", seed=args.seed, title=title)
        print(f"wrote {path}")
        return 0
    if not args.cuts:
        raise InputError("--cuts is required (except with --preview)", source="--cuts")
    cuts = _load_cuts(args.cuts, "cuts")
    noise = None
    if args.noise_cuts:
        from lhotse import CutSet

        noise = CutSet.from_cuts(c for path in args.noise_cuts for c in _load_cuts(path, "noise"))
    if args.ray is not None:
        from lhotse_wild.ray_build import count_built, degrade_cuts_ray

        degrade_cuts_ray(
            cuts, out, scenarios=args.scenarios, sampler=args.sampler, seed=args.seed, noise_cuts=noise,
            num_per_cut=args.num_per_cut, config=args.config, babble=not args.no_babble,
            babble_pool=args.babble_pool, audio_format=args.format, shard_size=args.shard_size,
            on_error=args.on_error, address=None if args.ray == "local" else args.ray,
            max_in_flight=args.max_in_flight, progress=not args.quiet,
        )
        n, skipped = count_built(out)  # from the shard markers: no need to read the audio back
        print(f"{n} degraded cuts in Shar shards under {out / 'shar'}" + (f"; {skipped} skipped (see "
              f"{out / 'skipped.jsonl'})" if skipped else ""))
        return 0
    result = lhotse_wild.degrade_cuts(
        cuts, scenarios=args.scenarios, sampler=args.sampler, seed=args.seed, noise_cuts=noise,
        num_per_cut=args.num_per_cut, output_dir=out, config=args.config, babble=not args.no_babble,
        babble_pool=args.babble_pool, audio_format=args.format, shar=args.shar, shard_size=args.shard_size,
        on_error=args.on_error, progress=not args.quiet,
    )
    n = sum(1 for _ in result)
    print(f"{n} degraded cuts in {out / 'cuts.jsonl'}" + (f"; Shar in {out / 'shar'}" if args.shar else ""))
    return 0
