"""Turn a clean Lhotse CutSet into compound-degraded training data, two ways.

    .venv/bin/python examples/lhotse/simulate_corpus.py [--cuts clean_cuts.jsonl.gz] [--out out/wild_example]

1. Offline: ``lhotse_wild.degrade_cuts`` writes degraded audio + a manifest (resumable; same as
   ``wildasr simulate``), each cut carrying its provenance in ``cut.custom["wild"]``.
2. On the fly: ``RandomWildDegradation`` as a cut transform of ``K2SpeechRecognitionDataset``.

Without ``--cuts`` it synthesises a tiny corpus (a test voice signal) so the script runs anywhere.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
from lhotse import CutSet, Recording, SupervisionSegment

import lhotse_wild
from lhotse_wild.preview import demo_signal

HERE = Path(__file__).parent


def tiny_corpus(folder: Path, n: int = 6) -> CutSet:
    folder.mkdir(parents=True, exist_ok=True)
    cuts = []
    for i in range(n):
        path = folder / f"clean{i}.flac"
        sf.write(path, np.roll(demo_signal(16000, 2.0 + 0.25 * i), 1234 * i), 16000)
        cut = Recording.from_file(path, recording_id=f"clean{i}").to_cut()
        cut.supervisions = [SupervisionSegment(id=f"clean{i}", recording_id=f"clean{i}", start=0.0,
                                               duration=cut.duration, text="a test utterance")]
        cuts.append(cut)
    return CutSet.from_cuts(cuts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuts", help="clean CutSet manifest; default: a synthetic 6-cut corpus")
    ap.add_argument("--out", default="out/wild_example")
    args = ap.parse_args()
    out = Path(args.out)
    cuts = CutSet.from_file(args.cuts) if args.cuts else tiny_corpus(out / "clean")

    # 1. offline corpus: 2 variants per cut, every scenario, ranges from the YAML
    wild = lhotse_wild.degrade_cuts(cuts, scenarios="all", sampler="linear", seed=0, num_per_cut=2,
                                    output_dir=out / "wild", config=HERE / "wild_ranges.yaml")
    for cut in wild.subset(first=4):
        w = cut.custom["wild"]
        print(f"{cut.id:24s} {w['scenario']:45s} severity={w['severity']:.2f}")

    # 2. on the fly, deterministic per (seed, cut id); change the seed per epoch for fresh draws
    from lhotse.dataset import K2SpeechRecognitionDataset, SimpleCutSampler
    from lhotse.dataset.input_strategies import AudioSamples

    dataset = K2SpeechRecognitionDataset(
        input_strategy=AudioSamples(),
        cut_transforms=[lhotse_wild.RandomWildDegradation(scenarios="compound", sampler="linear", seed=0)],
        return_cuts=True,
    )
    sampler = SimpleCutSampler(cuts, max_duration=10.0)
    batch = dataset[next(iter(sampler))]
    print("on-the-fly batch:", tuple(batch["inputs"].shape),
          [c.custom["wild"]["scenario"] for c in batch["supervisions"]["cut"]])


if __name__ == "__main__":
    main()
