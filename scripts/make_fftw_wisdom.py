"""Measure FFTW plans for the simulator's FFT sizes once and store them as wisdom in the package.

    .venv/bin/python scripts/make_fftw_wisdom.py [--max-size 327680]

Why: ``FFTW_ESTIMATE`` plans are deterministic but ~25-35 % slower than measured ones, and measured
plans are chosen by timing, so two processes could pick different plans and round differently.
Shipping the measured plans as wisdom gives every process the same (fast) plan: ``lhotse_wild.fft``
imports this file and then plans with ``FFTW_ESTIMATE``, which takes a plan from wisdom when there
is one. Sizes: every ``fast_len`` size (2^a·{1, 3, 5, 9, 15}) up to ``--max-size`` (the default
covers 20-s clips plus reverb tails at 16 kHz), one channel, real-to-complex and complex-to-real
with the flags ``lhotse_wild.fft`` uses. Run it on the reference machine; commit the JSON. A machine
whose FFTW cannot use an entry (another SIMD set) plans that size by estimate, as before.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyfftw
from tqdm import tqdm

from lhotse_wild import fft as F


def fast_sizes(lo: int, hi: int) -> list[int]:
    out = set()
    for r in (1, 3, 5, 9, 15):
        m = r
        while m < lo:
            m *= 2
        while m <= hi:
            out.add(m)
            m *= 2
    return sorted(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--min-size", type=int, default=512)
    ap.add_argument("--max-size", type=int, default=327680)
    ap.add_argument("--out", type=Path, default=F.WISDOM_PATH)
    args = ap.parse_args()
    pyfftw.forget_wisdom()
    t0 = time.time()
    for n in tqdm(fast_sizes(args.min_size, args.max_size), desc="measure plans", unit="size"):
        for kind in ("r2c", "c2r"):
            F.make_plan(kind, 1, n, effort="FFTW_MEASURE")
    double, single, longdouble = pyfftw.export_wisdom()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "pyfftw": pyfftw.__version__, "sizes": [args.min_size, args.max_size],
        "double": double.decode("ascii"), "single": single.decode("ascii"),
        "longdouble": longdouble.decode("ascii"),
    }, indent=1) + "\n")
    print(f"{args.out}: {len(single)} bytes of single-precision wisdom in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
