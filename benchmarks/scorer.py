"""Scorer speed: ours vs jiwer vs NeMo on the same 100k-pair manifest, end to end, numbers identical.

    python benchmarks/scorer.py                 # 100k pairs, best of 3; NeMo rows when nemo_toolkit is installed
    python benchmarks/scorer.py --n 20000 --repeat 1 --no-nemo

The manifest is synthetic: 20k distinct reference sentences (capitalised, sentence punctuation) each
heard under 5 conditions with a different noisy hypothesis (~13 % WER: substitutions, deletions,
insertions, ~14 % exact matches), as in a robustness benchmark. Every tool reads the same JSONL
file and normalises with the same rule (lowercase, punctuation dropped), so the token sequences are
identical and the numbers must match:

- ours: ``score_manifest(path, normalizer="basic")`` — read, normalise, align, aggregate (plus, in a
  second row, writing the scored manifest).
- jiwer: ``json.loads`` per line, then ``jiwer.process_words`` with ToLowerCase / RemovePunctuation /
  RemoveMultipleSpaces / Strip / ReduceToListOfListOfWords.
- NeMo: ``json.loads`` + NeMo's own ``remove_punctuations`` + ``lower()`` + ``word_error_rate_detail``
  (compared with ours under ``normalizer="nemo"``, the same text rules by construction); and NeMo's
  end-to-end ``cal_write_wer(ignore_punctuation, ignore_capitalization)`` (which also writes the scored
  manifest, so compare it with our row that writes too).

Asserted: total S, I, D and WER equal to jiwer's; total errors, reference words and WER equal to
NeMo's (NeMo's kaldialign DP may split S/I/D differently on ties — the differing totals are printed).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import tempfile
import time
from pathlib import Path


def build_manifest(path: Path, n: int, unique_refs: int, seed: int) -> None:
    rng = random.Random(seed)
    vocab = sorted({"".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(4000)})
    refs = []
    for _ in range(unique_refs):
        words = rng.choices(vocab, k=rng.randint(4, 30))
        words[0] = words[0].capitalize()
        if rng.random() < 0.3:
            j = rng.randrange(len(words))
            words[j] = words[j] + ","
        refs.append(" ".join(words) + rng.choice([".", ".", "?", "!"]))
    with open(path, "w", encoding="utf-8") as f:
        for k in range(n):
            ref = refs[k % unique_refs]
            out = []
            for w in ref.split():
                x = rng.random()
                if x < 0.04:
                    continue  # deletion
                if x < 0.10:
                    out.append(rng.choice(vocab))  # substitution
                    continue
                out.append(w)
                if x > 0.97:
                    out.append(rng.choice(vocab))  # insertion
            rec = {
                "audio_filepath": f"/data/wild/{k:06d}.wav",
                "duration": round(len(ref) / rng.uniform(11.0, 17.0), 2),  # read speech, ~14 chars/s
                "text": ref,
                "pred_text": " ".join(out),
                "condition": f"c{k % 5}",
            }
            f.write(json.dumps(rec) + "\n")


def run_ours(path: Path, normalizer: str = "basic"):
    from nemo_wild_eval import score_manifest

    r = score_manifest(path, normalizer=normalizer)
    m = r.metrics
    return m["substitutions"], m["insertions"], m["deletions"], m["ref_words"], m["wer"]


def run_ours_write(path: Path, out_dir: Path):
    from nemo_wild_eval import score_manifest
    from nemo_wild_eval.report import write_manifest

    r = score_manifest(path, normalizer="basic")
    write_manifest(r, out_dir / "ours_scored.jsonl")
    return r.metrics["errors"], r.metrics["ref_words"]


def read_json(path: Path):
    refs, hyps = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                d = json.loads(line)
                refs.append(d["text"])
                hyps.append(d["pred_text"])
    return refs, hyps


def run_jiwer(path: Path):
    import jiwer

    t0 = time.perf_counter()
    refs, hyps = read_json(path)
    t1 = time.perf_counter()
    tr = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    o = jiwer.process_words(refs, hyps, reference_transform=tr, hypothesis_transform=tr)
    n = sum(len(r) for r in o.references)
    return (o.substitutions, o.insertions, o.deletions, n, o.wer), t1 - t0


def run_nemo_detail(path: Path):
    from nemo.collections.asr.metrics.wer import word_error_rate_detail
    from nemo.collections.asr.parts.utils.eval_utils import remove_punctuations

    refs, hyps = read_json(path)
    refs = [remove_punctuations(r).lower() for r in refs]
    hyps = [remove_punctuations(h).lower() for h in hyps]
    w, words, ins_rate, del_rate, sub_rate = word_error_rate_detail(hyps, refs)
    return w, words, round(ins_rate * words), round(del_rate * words), round(sub_rate * words)


def run_nemo_e2e(path: Path, out_dir: Path):
    from nemo.collections.asr.parts.utils.eval_utils import cal_write_wer

    _, total, _ = cal_write_wer(
        str(path), ignore_punctuation=True, ignore_capitalization=True,
        output_filename=str(out_dir / "nemo_scored.jsonl"),
    )
    return total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000, help="utterance pairs (default 100000)")
    ap.add_argument("--unique-refs", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="best of N round-robin runs per row (default 3)")
    ap.add_argument("--no-nemo", action="store_true", help="skip the NeMo rows")
    ap.add_argument("--no-jiwer", action="store_true", help="skip jiwer (the slowest row)")
    args = ap.parse_args(argv)

    import nemo_wild_eval.report  # noqa: F401  (imports are not what is timed)
    import nemo_wild_eval.scorer  # noqa: F401

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "bench.jsonl"
        build_manifest(path, args.n, min(args.unique_refs, args.n), args.seed)
        mb = path.stat().st_size / 1e6
        print(f"manifest: {args.n} pairs, {mb:.1f} MB, {min(args.unique_refs, args.n)} distinct references")
        # Round robin (ours, jiwer, NeMo, ours, jiwer, NeMo, ...), best of --repeat per row: every tool
        # sees the same background load, which matters on a shared machine.
        tasks = {"ours": lambda: run_ours(path), "ours_w": lambda: run_ours_write(path, tmp)}
        if not args.no_jiwer:
            tasks["jiwer"] = lambda: run_jiwer(path)
        have_nemo = False
        if not args.no_nemo:
            try:
                import nemo.collections.asr.metrics.wer  # noqa: F401  (import time excluded)
            except ImportError:
                print("NeMo not installed: NeMo rows skipped (pip install -e .[nemo])")
            else:
                have_nemo = True
                # NeMo's rules exactly (punctuation deleted, lowercase): our ``nemo`` normaliser
                tasks["ours_n"] = lambda: run_ours(path, "nemo")
                tasks["nemo"] = lambda: run_nemo_detail(path)
                tasks["nemo_e2e"] = lambda: run_nemo_e2e(path, tmp)
        best = {k: float("inf") for k in tasks}
        out: dict = {}
        for _ in range(max(1, args.repeat)):
            for k, fn in tasks.items():
                t0 = time.perf_counter()
                out[k] = fn()
                best[k] = min(best[k], time.perf_counter() - t0)
        rows = [("ours: score_manifest (read+normalise+align+aggregate)", best["ours"]),
                ("ours + write scored manifest", best["ours_w"])]
        t_ours, t_ours_w = best["ours"], best["ours_w"]
        s, i, d, n, w = out["ours"]
        print(f"ours : S={s} I={i} D={d} N={n} WER={w:.6f}")
        ok = True
        t_jiwer = t_ours_n = None
        if "jiwer" in tasks:
            jw, t_read = out["jiwer"]
            t_jiwer = best["jiwer"]
            rows.append(("jiwer: json + process_words", t_jiwer))
            rows.append(("  of which json reading (last run)", t_read))
            print(f"jiwer: S={jw[0]} I={jw[1]} D={jw[2]} N={jw[3]} WER={jw[4]:.6f}")
            same = (jw[0], jw[1], jw[2], jw[3]) == (s, i, d, n) and abs(jw[4] - w) <= 1e-12
            print(f"jiwer numbers identical: {same}")
            ok &= same
        if have_nemo:
            t_ours_n = best["ours_n"]
            rows.append(("ours, normalizer nemo (NeMo's text rules)", t_ours_n))
            rows.append(("NeMo: json + word_error_rate_detail", best["nemo"]))
            rows.append(("NeMo: cal_write_wer (reads, aligns, writes)", best["nemo_e2e"]))
            s, i, d, n, w = out["ours_n"]
            nw, nwords, ni, nd_, ns = out["nemo"]
            ne = out["nemo_e2e"]
            e = s + i + d
            same = nwords == n and round(nw * nwords) == e and abs(nw - w) <= 1e-12
            print(
                f"NeMo : S={ns} I={ni} D={nd_} N={nwords} WER={nw:.6f} "
                f"(S/I/D differ from ours by {ns - s:+d}/{ni - i:+d}/{nd_ - d:+d}: tie-breaking)"
            )
            same_e2e = ne["tokens"] == n and abs(ne["wer"] - w) <= 1e-12
            print(f"NeMo totals (errors, words, WER) identical: {same and same_e2e}")
            ok &= same and same_e2e
        print()
        print(f"{'':58s} {'seconds':>8s} {'utt/s':>10s} {'ours is':>9s}")
        for name, t in rows:
            if name.startswith("NeMo: cal_write"):
                ref_t = t_ours_w  # both read, score and write a scored manifest
            elif name.startswith("NeMo"):
                ref_t = t_ours_n  # both apply NeMo's text rules
            else:
                ref_t = t_ours
            ratio = "" if name.startswith(("ours", "  ")) else f"{t / ref_t:8.1f}x"
            print(f"{name:58s} {t:8.2f} {args.n / t:10.0f} {ratio:>9s}")
        if t_jiwer is not None:
            r = t_jiwer / t_ours
            print(f"\nend to end vs jiwer: {r:.1f}x faster (target >= 10x: {'met' if r >= 10 else 'NOT met'})")
        if not ok:
            print("NUMBERS DIFFER", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
