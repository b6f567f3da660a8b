"""Build a degraded corpus on Ray as Lhotse Shar, resumably (same result as the in-process build).

    .venv/bin/python examples/lhotse/simulate_ray.py [--cuts clean.jsonl.gz] [--out out/wild_ray] [--address auto]

Same as ``wildasr simulate --cuts clean.jsonl.gz --out out/wild_ray --ray [ADDRESS]``. Without
``--address`` it starts a local Ray on this machine; with ``auto`` (inside a cluster) or
``ray://HEAD:10001`` it joins a cluster, whose nodes need this project installed (same versions)
and must see the input audio and OUT under the same paths (shared file system). Kill it at any time and rerun: finished shards are skipped.
Then read the Shar with any Lhotse dataloader:
``CutSet.from_shar(in_dir="out/wild_ray/shar", shuffle_shards=True, split_for_dataloading=True)``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lhotse import CutSet

from lhotse_wild.ray_build import count_built, degrade_cuts_ray


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cuts", help="clean CutSet manifest; default: a synthetic 6-cut corpus")
    ap.add_argument("--out", default="out/wild_ray")
    ap.add_argument("--address", default=None, help="Ray cluster address (default: local Ray)")
    args = ap.parse_args()
    out = Path(args.out)
    if args.cuts:
        cuts = CutSet.from_jsonl_lazy(args.cuts)  # lazy: the driver never holds the corpus
    else:
        from simulate_corpus import tiny_corpus  # the same synthetic corpus as the in-process example

        cuts = tiny_corpus(out / "clean")
    wild = degrade_cuts_ray(cuts, out, scenarios="all", sampler="linear", seed=0, num_per_cut=2,
                            shard_size=4, address=args.address)
    n, skipped = count_built(out)
    print(f"{n} degraded cuts ({skipped} skipped) in {out / 'shar'}")
    for cut in wild.subset(first=3):
        w = cut.custom["wild"]
        print(f"{cut.id:24s} {w['scenario']:45s} severity={w['severity']:.2f}")


if __name__ == "__main__":
    main()
