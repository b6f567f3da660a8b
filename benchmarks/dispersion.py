"""Reward dispersion on real rollout groups: 1 − WER vs DG-WGPO, by WER regime.

    python benchmarks/dispersion.py                      # 60 utterances (clean + one degraded copy each)
    python benchmarks/dispersion.py --num-utterances 200 --nbest 8 --work-dir /tmp/disp

What it does (nothing is re-implemented; this script only wires the project's pieces together):

1. ``wild_corpus.synth``: ``load_sentences`` -> ``plan_corpus`` -> ``synthesize_corpus`` (Piper voice).
2. ``lhotse_wild.degrade``: utterance ``k`` gets scenario ``SCENARIOS[k % 54]`` at a severity drawn by
   the ``linear`` sampler (``lhotse_wild.sample_severity``); babble comes from the corpus itself.
3. ``wild_corpus.asr.PocketSphinxTranscriber(lm_sentences=...).nbest``: each clip's n-best list
   (distinct word strings, 1-best first) is one rollout group. The clean clips are groups too, so
   the low-WER regime is populated.
4. ``wildasr.demo_rewards.reward_stats`` scores every hypothesis with every reward of
   ``verl_dgwgpo.rewards.score`` and summarises ``verl_dgwgpo.group_stats.group_dispersion``: share
   of zero-variance groups (no GRPO gradient) and mean within-group std (ddof=1), per regime of the
   group's mean WER (<=0.3, 0.3–0.7, >0.7).

The synthesized audio is kept in ``--work-dir`` (default: a temporary directory), so a second run
with the same directory only re-decodes.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))


def build_groups(num_utterances: int, nbest: int, seed: int, work: Path, progress: bool,
                 include_clean: bool = True) -> list[dict]:
    """Rollout groups ``{"cut_id", "condition", "scenario", "severity", "text", "nbest"}`` from real decodes."""
    import numpy as np
    from tqdm.auto import tqdm

    import lhotse_wild as lw
    from wild_corpus.asr import PocketSphinxTranscriber
    from wild_corpus.synth import DEFAULT_STYLES, load_sentences, plan_corpus, synthesize_corpus

    sentences = load_sentences()
    items = plan_corpus(sentences, num_utterances, DEFAULT_STYLES, seed)
    cuts = list(synthesize_corpus(items, work / "corpus", workers=1, progress=progress))
    bank = lw.NoiseBank(babble_cuts=cuts)
    names = list(lw.SCENARIOS)
    asr = PocketSphinxTranscriber(lm_sentences=sentences)
    groups: list[dict] = []
    for k, cut in enumerate(tqdm(cuts, desc="degrade + decode", unit="utt", disable=not progress)):
        audio = cut.load_audio()
        sr = cut.sampling_rate
        text = cut.supervisions[0].text
        if include_clean:
            groups.append({"cut_id": cut.id, "condition": "clean", "scenario": None, "severity": 0.0,
                           "text": text, "nbest": asr.nbest(audio, sr, nbest)})
        rng = np.random.default_rng([seed, 2, k])
        severity = float(lw.sample_severity("linear", rng))
        scenario = names[k % len(names)]
        wild, _ = lw.degrade(audio, sr, scenario, severity, int(rng.integers(0, 2**31 - 1)),
                             noise_source=bank, exclude_cut_id=cut.id)
        groups.append({"cut_id": f"{cut.id}_{scenario}", "condition": "wild", "scenario": scenario,
                       "severity": severity, "text": text, "nbest": asr.nbest(wild, sr, nbest)})
    return groups


def _print_table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n{title}")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for r in (header, ["-" * w for w in widths], *rows):
        print("  " + "  ".join(str(x).ljust(w) if i == 0 else str(x).rjust(w) for i, (x, w) in enumerate(zip(r, widths))))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num-utterances", type=int, default=60,
                    help="synthesized utterances; each gives a clean and a degraded group (default 60)")
    ap.add_argument("--nbest", type=int, default=8, help="n-best list size = rollout group size (default 8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-clean", action="store_true", help="degraded groups only")
    ap.add_argument("--work-dir", type=Path, default=None, help="keep audio and per-hypothesis rewards here")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    if args.num_utterances < 1 or args.nbest < 2:
        ap.error("--num-utterances must be >= 1 and --nbest >= 2 (a group needs two rollouts)")

    import verl_dgwgpo.group_stats as gs
    import verl_dgwgpo.rewards as rw
    from wildasr.demo_rewards import reward_stats

    tmp = None
    if args.work_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="wildasr-dispersion-")
        work = Path(tmp.name)
    else:
        work = args.work_dir
        work.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        groups = build_groups(args.num_utterances, args.nbest, args.seed, work, not args.no_progress,
                              include_clean=not args.no_clean)
        t1 = time.perf_counter()
        stats = reward_stats(rw, groups, work, lambda p: str(p), gs.group_dispersion)
        t2 = time.perf_counter()
    finally:
        if tmp is not None:
            tmp.cleanup()

    sizes = [len(g["nbest"]) for g in groups]
    print(f"\n{len(groups)} groups ({sum(g['condition'] == 'wild' for g in groups)} degraded over "
          f"{len({g['scenario'] for g in groups if g['scenario']})} scenarios, linear severity), n-best <= "
          f"{args.nbest} (mean {sum(sizes) / len(sizes):.2f} distinct hypotheses); audio + decode "
          f"{t1 - t0:.0f} s, rewards {t2 - t1:.1f} s")
    disp = stats["dispersion"]
    cols = [c for c in disp["wer"]]
    header = ["reward"] + [f"{c} (n={disp['wer'][c]['n_groups']})" for c in cols]

    def pct(x):
        return "n/a" if x is None else f"{100 * x:.1f} %"

    def num(x):
        return "n/a" if x is None else f"{x:.3f}"

    names = [("1 - WER", "wer"), ("DG-WGPO", "dgwgpo")]
    _print_table("Share of zero-variance groups (all rewards equal: no GRPO gradient), by the group's mean WER",
                 header, [[lab] + [pct(disp[n][c]["zero_variance_share"]) for c in cols] for lab, n in names])
    _print_table("Mean within-group reward std (ddof=1)",
                 header, [[lab] + [num(disp[n][c]["mean_std"]) for c in cols] for lab, n in names])
    for t in stats["tables"]:
        _print_table("All rewards — " + t["title"], t["header"], t["rows"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
