"""Reward speed: DG-WGPO ``compute_score`` vs jiwer-based rewards on the same GRPO groups.

    python benchmarks/reward.py                    # 200 references x 16 rollouts, both normalisers
    python benchmarks/reward.py --groups 50 --normalizer basic

Inputs: the project's shipped sentences as references, 16 sampled "rollouts" each (exact copies,
near-miss spellings, hard substitutions, deletions, truncations, insertions, runaway repeats, empty
outputs), seeded. Every implementation scores the same (reference, hypothesis) pairs in one run:

- ``ours``            ``verl_dgwgpo.reward.compute_score`` as verl calls it, once per rollout. Its bounded
                      per-process caches (normalised words per distinct string, components per distinct
                      (reference, rollout) pair) are emptied before every pass, so they only serve what
                      one training step reuses: the group's shared reference and identical rollouts. One
                      rapidfuzz alignment per pair gives C/S/I/D and the substituted pairs; rapidfuzz LCS;
                      a duplicate-word pre-check skips the repeat scan. ``ours, caches off``: the same
                      with both caches switched off (every string normalised again, as in the baseline).
- ``jiwer formulas``  a straightforward implementation of the same DG-WGPO formulas on jiwer:
                      ``jiwer.process_words`` for C/S/I/D and the aligned pairs, ``jiwer.process_characters``
                      for each substitution's character similarity, a plain dynamic-programming LCS, a
                      plain n-gram repeat scan. Same normaliser, so values must agree to 1e-9 (asserted).
- ``1 - jiwer.wer``   the plain baseline reward users start from (jiwer's default transform, raw text).
- ``jiwer-based, project's whisper_en route`` (whisper_en only): the jiwer implementation again, but
                      normalising through ``nemo_wild_eval.text.normalize`` (the exact fast route of
                      whisper's normaliser): shows how much of the ratio is the normaliser route alone.

The jiwer side normalises the reference and the rollout on every call (what a naive user does), with
whisper_normalizer's own ``EnglishTextNormalizer`` for ``whisper_en`` and the project's ``normalize``
for the project's own normalisers (``basic``: its plain per-character version), and is otherwise
unchanged. All four run once per round, rounds interleaved (so load from other
processes hits them alike), best round kept. Prints rewards/second and ratios. The ratios, not the absolute numbers, are what carries to other
machines.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))


# ------------------------------------------------------------------------------------ inputs


def _near_miss(word: str, rng: random.Random) -> str:
    if len(word) < 3:
        return word + "s"
    i = rng.randrange(1, len(word))
    return word[:i] + rng.choice("aeiou") + word[i + 1 :]


def make_groups(n_groups: int, group_size: int, seed: int) -> list[tuple[str, list[str]]]:
    from wild_corpus.synth import load_sentences

    sentences = load_sentences()
    rng = random.Random(seed)
    filler = "um well okay you know like yeah so".split()
    groups = []
    for g in range(n_groups):
        ref = sentences[g % len(sentences)]
        words = ref.split()
        hyps = []
        for _ in range(group_size):
            kind = rng.random()
            w = list(words)
            if kind < 0.15:
                pass  # exact
            elif kind < 0.35:
                for _ in range(rng.randint(1, 3)):
                    j = rng.randrange(len(w))
                    w[j] = _near_miss(w[j], rng)
            elif kind < 0.5:
                for _ in range(rng.randint(1, 3)):
                    w[rng.randrange(len(w))] = rng.choice(filler)
            elif kind < 0.62:
                w = w[: rng.randint(0, len(w))]  # truncation
            elif kind < 0.72:
                for _ in range(rng.randint(1, 4)):
                    w.insert(rng.randrange(len(w) + 1), rng.choice(filler))
            elif kind < 0.8:
                w = w + [w[-1]] * rng.randint(4, 30)  # runaway repeat
            elif kind < 0.9:
                w = []
            else:
                w = rng.sample(filler, k=min(len(filler), len(words)))  # fluent fabrication
            hyps.append(" ".join(w))
        groups.append((ref, hyps))
    return groups


# ----------------------------------------------------------------------- jiwer-based reference


def _lcs(a: list[str], b: list[str]) -> int:
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _max_run(tokens: list[str], gram: list[str]) -> int:
    n, best, i = len(gram), 0, 0
    while i + n <= len(tokens):
        run = 0
        while tokens[i + run * n : i + (run + 1) * n] == gram:
            run += 1
        best = max(best, run)
        i += max(1, run * n)
    return best


def _collapse(h: list[str], r: list[str], k: int) -> bool:
    for n in range(1, 5):
        for i in range(len(h) - n + 1):
            gram = h[i : i + n]
            run = 0
            while h[i + run * n : i + (run + 1) * n] == gram:
                run += 1
            if run >= k and run > _max_run(r, gram):
                return True
    return False


_WHISPER = []


def library_normalize(text: str, normalizer: str) -> str:
    """What a straightforward implementation calls: whisper_normalizer's ``EnglishTextNormalizer`` itself
    for ``whisper_en`` (the project's ``normalize`` runs an exact faster route of it), the project's
    ``normalize`` for the normalisers the project defines (``basic``: its plain per-character version)."""
    if normalizer == "whisper_en":
        if not _WHISPER:
            from whisper_normalizer.english import EnglishTextNormalizer

            _WHISPER.append(EnglishTextNormalizer())
        return " ".join(_WHISPER[0](text).split())
    from nemo_wild_eval.text import normalize

    return normalize(text, normalizer)


def jiwer_dgwgpo(hyp: str, ref: str, normalizer: str, tau=0.3, alpha=0.4, thr=0.5, beta=0.7, lam=0.6, rho=2.0, k=4,
                 norm=library_normalize):
    import jiwer

    from nemo_wild_eval.text import parse_asr_output

    r_n, h_n = norm(ref, normalizer), norm(parse_asr_output(hyp), normalizer)
    r, h = r_n.split(), h_n.split()
    N = len(r)
    if N == 0:
        return 1.0 if not h else 0.0
    if not h:
        C, n_soft, edits = 0, 0, N
    else:
        out = jiwer.process_words(r_n, h_n)
        C, edits = out.hits, out.substitutions + out.insertions + out.deletions
        n_soft = 0
        for chunk in out.alignments[0]:
            if chunk.type == "substitute":
                for t in range(chunk.ref_end_idx - chunk.ref_start_idx):
                    a, b = r[chunk.ref_start_idx + t], h[chunk.hyp_start_idx + t]
                    c = jiwer.process_characters(a, b)
                    lev = c.substitutions + c.insertions + c.deletions
                    if 1 - lev / max(len(a), len(b)) >= thr:
                        n_soft += 1
    wer = edits / N
    n_hard = edits - n_soft
    r_rep = 0.0 if _collapse(h, r, k) else 1.0
    r_static = r_rep * max(0.0, 1 - wer)
    r_fine = C / (C + n_hard + alpha * n_soft)
    ratio = len(h) / N
    L = ratio if ratio <= 1 else max(0.0, 1 - (ratio - 1) / (rho - 1))
    r_struc = 0.5 * _lcs(h, r) / N + 0.5 * L
    w_fine = beta if wer <= tau else 1 - beta
    return lam * (w_fine * r_fine + (1 - w_fine) * r_struc) + (1 - lam) * r_static


def plain_wer_reward(hyp: str, ref: str) -> float:
    import jiwer

    if not ref.strip():
        return 1.0 if not hyp.strip() else 0.0
    return max(0.0, 1.0 - jiwer.wer(ref, hyp))


# --------------------------------------------------------------------------------- timing


def _timed(fn, pairs, before=None) -> tuple[float, list[float]]:
    """Seconds for one pass over ``pairs`` (after ``before()``, untimed) and the pass's values."""
    if before is not None:
        before()
    t0 = time.perf_counter()
    values = [fn(h, r) for r, h in pairs]
    return time.perf_counter() - t0, values


def _no_cache_scores(rw, fn):
    """``fn`` with ours' string and pair caches switched off (every string normalised again)."""

    def run(h, r):
        saved = rw._CACHEABLE_CHARS
        rw._CACHEABLE_CHARS = -1
        try:
            return fn(h, r)
        finally:
            rw._CACHEABLE_CHARS = saved

    return run


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--groups", type=int, default=200)
    ap.add_argument("--group-size", type=int, default=16)
    ap.add_argument("--normalizer", nargs="+", default=["basic", "whisper_en"])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import verl_dgwgpo.reward_components as rw
    from verl_dgwgpo.reward import compute_score

    groups = make_groups(args.groups, args.group_size, args.seed)
    pairs = [(ref, h) for ref, hyps in groups for h in hyps]
    n_distinct = len(set(pairs))
    print(f"{len(groups)} groups x {args.group_size} rollouts = {len(pairs)} rewards per pass "
          f"({n_distinct} distinct (reference, rollout) pairs); every implementation runs once per round, "
          f"rounds interleaved, best of {args.repeats} rounds (warm-up pass first, untimed)")
    for norm in args.normalizer:
        ours_fn = lambda h, r: compute_score("asr", h, r, normalizer=norm)["score"]  # noqa: E731
        impls = {
            # caches emptied before every pass: within a pass they serve what one training step reuses
            # (one reference per group of rollouts, identical rollouts), nothing from earlier passes
            "ours: compute_score": (ours_fn, rw.clear_caches),
            "ours, caches off": (_no_cache_scores(rw, ours_fn), rw.clear_caches),
            "jiwer-based, same formulas": (lambda h, r: jiwer_dgwgpo(h, r, norm), None),
            "plain 1 - jiwer.wer (raw text)": (plain_wer_reward, None),
        }
        if norm == "whisper_en":  # how much of the gain is the normaliser route alone
            from nemo_wild_eval.text import normalize

            impls["jiwer-based, project's whisper_en route"] = (
                lambda h, r: jiwer_dgwgpo(h, r, norm, norm=normalize), None)
        warm = pairs[: 2 * args.group_size]
        for fn, before in impls.values():  # imports, regex compilation, whisper's normaliser construction
            _timed(fn, warm, before)
        best = {name: math.inf for name in impls}
        values: dict[str, list[float]] = {}
        for _ in range(args.repeats):
            for name, (fn, before) in impls.items():
                dt, values[name] = _timed(fn, pairs, before)
                best[name] = min(best[name], dt)
        rates = {name: len(pairs) / dt for name, dt in best.items()}
        ours, ref = values["ours: compute_score"], values["jiwer-based, same formulas"]
        diff = max(abs(a - b) for a, b in zip(ours, ref))
        assert diff <= 1e-9, f"values differ from the jiwer implementation by {diff}"
        assert ours == values["ours, caches off"]
        if "jiwer-based, project's whisper_en route" in values:
            assert values["jiwer-based, project's whisper_en route"] == ref
        print(f"\nnormalizer={norm}  (max |ours - jiwer formulas| = {diff:.1e})")
        print(f"  {'implementation':<40} {'rewards/s':>10} {'ours / it':>10}")
        for name, rate in rates.items():
            print(f"  {name:<40} {rate:>10.0f} {rates['ours: compute_score'] / rate:>9.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
