"""Realism of the 7 effects, measured on Piper speech and printed beside the physical references.

    .venv/bin/python benchmarks/realism.py [--out realism.png] [--severities 0,0.5,1]

Per effect and severity: band energies (0-1, 1-2, 2-4, 4-8 kHz, dB relative to the clip's total),
level (dB vs clean), silent-frame share (20-ms frames 45 dB below the loudest). For far_field, the
RT60 per octave band and the DRR read back from the step's RIR (Schroeder backward integration),
beside the values the room was built from (lhotse_wild.acoustics: Sabine + ISO 9613-1 air). For
recording, its frequency response at the edges of an ITU-T G.712-like telephone mask. The PNG plots
band energies against severity per effect and the RT60s per band.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402

import numpy as np  # noqa: E402
import scipy.signal  # noqa: E402

import lhotse_wild  # noqa: E402
from lhotse_wild import acoustics as A  # noqa: E402
from lhotse_wild import primitives as P  # noqa: E402

SR = 16000
BANDS = ((0, 1000), (1000, 2000), (2000, 4000), (4000, 8000))
SENTENCES = ("the quick brown fox jumps over the lazy dog",
             "please call stella and ask her to bring these things with her from the store",
             "six spoons of fresh snow peas and five thick slabs of blue cheese")
#: the telephone mask the hard end of `recording` targets: (frequency, dB re 1 kHz, "≥"/"≤" bound)
#: after ITU-T G.712's PCM channel template (pass band 300-3400 Hz, stop bands below 60 Hz / above 4.6 kHz)
G712_MASK = ((60.0, -20.0, "≤"), (200.0, -3.0, "≤"), (300.0, -8.0, "≥"), (3000.0, -3.0, "≥"),
             (3400.0, -8.0, "≥"), (4600.0, -28.0, "≤"))


def speech(sr: int = SR) -> np.ndarray:
    """Three Piper sentences at ``sr`` with 0.3 s pauses between them (the silent-frame share needs some)."""
    from wild_corpus.synth import DEFAULT_STYLES, PiperEngine, synthesize_utterance

    engine = PiperEngine(threads=1)
    pause = np.zeros(int(0.3 * sr), dtype=np.float32)
    parts = []
    for i, text in enumerate(SENTENCES):
        parts += [pause, 0.5 * synthesize_utterance(engine, text, DEFAULT_STYLES[0], sr, seed=i)]
    return np.concatenate(parts + [pause])


def band_energies_db(y: np.ndarray, sr: int = SR) -> list[float]:
    """Energy of each of BANDS relative to the total (Welch PSD), dB."""
    f, p = scipy.signal.welch(np.asarray(y, dtype=np.float64).reshape(-1), sr, nperseg=1024)
    total = p.sum()
    return [float(10 * np.log10(max(p[(f >= lo) & (f < hi)].sum(), 1e-30) / total)) for lo, hi in BANDS]


def level_db(y: np.ndarray, x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(y, dtype=np.float64)) / np.mean(np.square(x, dtype=np.float64))))


def silent_share(y: np.ndarray, sr: int = SR, below_db: float = 45.0) -> float:
    """Share of 20-ms frames whose power is ``below_db`` under the loudest frame's."""
    flen = sr // 50
    v = np.asarray(y, dtype=np.float64).reshape(-1)
    fr = v[: v.size // flen * flen].reshape(-1, flen)
    p = np.mean(fr * fr, axis=1) + 1e-20
    return float(np.mean(10 * np.log10(p / p.max()) < -below_db))


def device_gain_db(step: dict, freqs_hz: np.ndarray, sr: int = SR) -> np.ndarray:
    """The recording step's linear response (dB re 1 kHz) at ``freqs_hz``, measured on white noise
    through the effect itself (AGC off, so only the filters act)."""
    x = np.random.default_rng(0).standard_normal((1, 8 * sr)).astype(np.float32) * 0.05
    y = P.device_chain(x, sr, *lhotse_wild.effects.step_device(step))
    f, px = scipy.signal.welch(x[0], sr, nperseg=2048)
    _, py = scipy.signal.welch(y[0], sr, nperseg=2048)
    g = 10 * np.log10(np.maximum(py, 1e-30) / px)
    return np.interp(freqs_hz, f, g) - np.interp(1000.0, f, g)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="realism.png")
    ap.add_argument("--severities", default="0,0.25,0.5,0.75,1")
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    sev = [float(s) for s in args.severities.split(",")]
    x = speech()
    clean = band_energies_db(x)
    print(f"Piper speech, {x.size / SR:.1f} s at {SR} Hz; band energies re total, dB: "
          + "  ".join(f"{lo // 1000}-{hi // 1000} kHz {v:6.1f}" for (lo, hi), v in zip(BANDS, clean))
          + f"; silent frames {silent_share(x):.0%}")
    rows: dict[str, list] = {}
    print(f"\n{'effect':12s} {'sev':>4s}  {'0-1k':>6s} {'1-2k':>6s} {'2-4k':>6s} {'4-8k':>6s}  {'level':>6s} {'silent':>6s}")
    rt_rows = []
    for effect in lhotse_wild.EFFECTS:
        rows[effect] = []
        for s in sev:
            y, params = lhotse_wild.degrade(x, SR, effect, s, seed=args.seed)
            be = band_energies_db(y)
            rows[effect].append(be)
            print(f"{effect:12s} {s:4.2f}  " + " ".join(f"{v:6.1f}" for v in be)
                  + f"  {level_db(y, x):6.1f} {silent_share(y):6.0%}")
            step = params["steps"][0]
            if effect == "far_field":
                h = lhotse_wild.effects.step_rir(step, SR)
                est = P.band_rt60_estimates(h, SR)
                ref = A.band_rt60(np.array(list(est)), step["rt60_s"], step["bass_ratio"], step["treble_ratio"])
                rt_rows.append((s, step, est, ref, P.drr_db(h, SR)))
            if effect == "recording" and s == sev[-1]:
                mask_step = step
    print("\nfar_field RT60 per octave band (s): measured back from the RIR (Schroeder, T20) / built from "
          "(Sabine walls + ISO 9613-1 air, 20 °C 50 % RH)")
    print(f"{'sev':>4s} " + " ".join(f"{int(f):>11d}" for f in rt_rows[0][2]) + "   DRR meas/param (dB)")
    for s, step, est, ref, drr in rt_rows:
        print(f"{s:4.2f} " + " ".join(f"{m:5.2f}/{r:5.2f}" for m, r in zip(est.values(), ref))
              + f"   {drr:5.1f}/{step['drr_db']:5.1f}")
    print("references: mid-band RT60 " + "; ".join(f"{k} {a}-{b} s" for k, (a, b) in A.ROOM_RT60_REFERENCES.items())
          + "; air absorption dB/km " + ", ".join(
              f"{int(f)} Hz {a * 1000:.1f}" for f, a in zip(A.OCTAVES_HZ, A.air_absorption_db_per_m(np.array(A.OCTAVES_HZ)))))
    print(f"\nrecording at severity {sev[-1]:g} (rate {mask_step['rate_hz']} Hz, band {mask_step['highpass_hz']:.0f}-"
          f"{mask_step['lowpass_hz']:.0f} Hz, resonance {mask_step['eq_gain_db']:+.1f} dB at {mask_step['eq_freq_hz']:.0f} Hz, "
          f"AGC up to {mask_step['agc_max_gain_db']:.0f} dB) against a G.712-like mask (dB re 1 kHz):")
    fm = np.array([m[0] for m in G712_MASK])
    g = device_gain_db(mask_step, fm)
    for (f, bound, kind), v in zip(G712_MASK, g):
        ok = v <= bound if kind == "≤" else v >= bound
        print(f"  {f:6.0f} Hz  {v:7.1f}  (mask {kind} {bound:g})  {'ok' if ok else 'OUTSIDE'}")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for ax, effect in zip(axes.flat, lhotse_wild.EFFECTS):
        arr = np.array(rows[effect])
        for j, (lo, hi) in enumerate(BANDS):
            ax.plot(sev, arr[:, j], marker="o", label=f"{lo // 1000}-{hi // 1000} kHz")
            ax.axhline(clean[j], color=f"C{j}", ls=":", lw=0.8)
        ax.set_title(effect)
        ax.set_xlabel("severity")
        ax.set_ylabel("dB re total")
    axes.flat[0].legend(fontsize=7)
    ax = axes.flat[-1]
    for k, (s, step, est, ref, _) in enumerate(rt_rows):
        ax.semilogx(list(est), list(est.values()), marker="o", color=f"C{k}", label=f"s={s:g} measured")
        ax.semilogx(list(est), ref, ls="--", color=f"C{k}")
    ax.set_xticks(list(rt_rows[0][2]), [f"{int(f)}" for f in rt_rows[0][2]])
    ax.minorticks_off()
    ax.set_title("far_field RT60 per band (-- built from)")
    ax.set_xlabel("Hz")
    ax.set_ylabel("s")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
