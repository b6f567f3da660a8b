"""The Mega-ASR recipe in miniature: does A2S-SFT, then DAPO with DG-WGPO, lower wild WER? Measured here.

    python benchmarks/recipe_mini.py --quick --out out/mini      # <= 10 min on 2 cores, 1 seed
    python benchmarks/recipe_mini.py --out out/mini-full         # <= 60 min, 3 RL seeds per reward

Stages (each writes ``OUT/<stage>/done.json`` last, so a rerun skips finished stages):

1. ``corpus``  Piper speech of the closed grammar (``wildasr.miniature.grammar``): train sentences in
               the five voice styles, disjoint held-out sentences.
2. ``base``    a 3 M-parameter native Qwen3-ASR trained from scratch on the clean train speech.
3. ``wild``    ``lhotse_wild.degrade_round_robin`` degrades the train speech (one scenario per clip,
               round-robin over the 54) and the held-out speech (``heldout_per_sentence`` scenarios per sentence).
4. ``split``   base-WER of every wild train clip by THIS base model, ``lhotse_wild.split``: > 70 %
               dropped, curriculum, RL split.
5. ``sft``     ``wildasr sft`` phases 1 -> 2 -> 3 (A2S-SFT, rank-8 LoRA, examples/sft/phase*.yaml),
               then the merged export (the start of RL).
6. ``rl``      ``wildasr rl`` from the A2S-SFT model on the RL split, reward ``wer`` and ``dgwgpo``,
               the same steps and seeds.
7. ``router``  the clean/degraded router on the train speech (clean vs wild).
8. ``eval``    every system on the held-out clean + wild clips; ``routed`` = router decides per clip
               between the base model (clean) and the DG-WGPO model (degraded).

Output: ``OUT/results.json`` (``{"stages": [{"name", "wer_clean", "wer_wild", "seed", ...}]}``),
``OUT/report.md``, ``OUT/*.png``. No choice is tuned on the held-out set: sizes and steps are fixed
here, in the code, before any held-out number exists.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Plan:
    train_sentences: int
    heldout_sentences: int
    heldout_per_sentence: int
    base_steps: int
    sft_steps: int
    rl_steps: int
    rl_seeds: tuple[int, ...]
    rl_batch: int = 4
    rl_group: int = 4
    rl_lr: float = 1e-3  # LoRA: 2e-4 moved lora_B by < 1e-3 in 3 steps (adapter stats, not held-out WER)
    router_steps: int = 60


QUICK = Plan(train_sentences=150, heldout_sentences=30, heldout_per_sentence=1, base_steps=400, sft_steps=6,
             rl_steps=3, rl_seeds=(0,), router_steps=40)
FULL = Plan(train_sentences=500, heldout_sentences=60, heldout_per_sentence=2, base_steps=1200, sft_steps=40,
            rl_steps=12, rl_seeds=(0, 1, 2), router_steps=150)


class Recipe:
    def __init__(self, out: Path, plan: Plan, seed: int, log: Callable[[str], None] = print):
        self.out, self.plan, self.seed, self.log = Path(out), plan, seed, log
        self.timings: dict[str, float] = {}

    # -- stage bookkeeping -----------------------------------------------------------------
    def stage(self, name: str, fn: Callable[[], dict]) -> dict:
        done = self.out / name / "done.json"
        if done.is_file():
            self.log(f"[{name}] done before, skipped")
            return json.loads(done.read_text())
        (self.out / name).mkdir(parents=True, exist_ok=True)
        self.log(f"[{name}] ...")
        t0 = time.monotonic()
        result = fn()
        result["seconds"] = round(time.monotonic() - t0, 1)
        tmp = done.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=2, default=str) + "\n")
        os.replace(tmp, done)
        self.log(f"[{name}] {result['seconds']:.0f} s")
        return result

    def cuts(self, rel: str):
        from lhotse import CutSet

        return list(CutSet.from_file(self.out / rel))

    # -- 1. corpus -------------------------------------------------------------------------
    def run_corpus(self) -> dict:
        from wild_corpus.synth import DEFAULT_STYLES, SynthItem, _text_tag, synthesize_corpus

        from wildasr.miniature.grammar import VOCABULARY, split_sentences

        train, heldout = split_sentences(self.plan.train_sentences, self.plan.heldout_sentences, self.seed)

        def items(sents: list[str], tag: str, offset: int) -> list:
            out = []
            for i, s in enumerate(sents):
                style = DEFAULT_STYLES[(i + offset) % len(DEFAULT_STYLES)]
                out.append(SynthItem(f"{tag}{i:05d}_{style.name}_{_text_tag(s)}", s, style))
            return out

        tr = synthesize_corpus(items(train, "tr", 0), self.out / "corpus" / "train", progress=False)
        he = synthesize_corpus(items(heldout, "he", 2), self.out / "corpus" / "heldout", progress=False)
        return {"vocabulary": len(VOCABULARY), "train": len(tr), "heldout": len(he),
                "train_minutes": round(sum(c.duration for c in tr) / 60, 2),
                "styles": [s.name for s in DEFAULT_STYLES]}

    # -- 2. base model ---------------------------------------------------------------------
    def run_base(self) -> dict:
        from wildasr.miniature.base_model import BaseSizes, build_base_model, train_base_model

        model = build_base_model(self.out / "base" / "model", BaseSizes(), seed=self.seed)
        report = train_base_model(model, self.cuts("corpus/train/cuts.jsonl.gz"), steps=self.plan.base_steps,
                                  seed=self.seed, log=self.log)
        return {"model": str(model), "sizes": asdict(BaseSizes()), **report}

    # -- 3. wild ---------------------------------------------------------------------------
    def _degrade(self, cuts: list, copies: int, tag: int, out: Path) -> list:
        import lhotse_wild as lw

        return lw.degrade_round_robin(cuts, out, seed=self.seed, stream=tag, total=len(cuts) * copies,
                                      suffix="_w{copy}")

    def run_wild(self) -> dict:
        from lhotse import CutSet

        tr = self._degrade(self.cuts("corpus/train/cuts.jsonl.gz"), 1, 1, self.out / "wild" / "train")
        he = self._degrade(self.cuts("corpus/heldout/cuts.jsonl.gz"), self.plan.heldout_per_sentence, 2,
                           self.out / "wild" / "heldout")
        CutSet.from_cuts(tr).to_file(self.out / "wild" / "train.jsonl.gz")
        CutSet.from_cuts(he).to_file(self.out / "wild" / "heldout.jsonl.gz")
        return {"train": len(tr), "heldout": len(he),
                "scenarios": len({c.custom["wild"]["scenario"] for c in tr + he})}

    # -- 4. base-WER split -------------------------------------------------------------------
    def run_split(self) -> dict:
        from lhotse_wild.split import attach_base_wer, split_by_wer, write_split

        from verl_dgwgpo.router.hf_asr import HFAudioASR

        asr = HFAudioASR(self.out / "base" / "model", max_new_tokens=16, device="cpu")
        cuts = attach_base_wer(self.cuts("wild/train.jsonl.gz"), asr, cache=self.out / "split" / "cache.jsonl",
                               progress=False)
        res = split_by_wer(cuts, seed=self.seed)
        write_split(res, self.out / "split")
        wers = [float(c.custom["base_wer"]) for c in cuts]
        return {"transcriber": asr.name, "mean_base_wer": round(statistics.fmean(wers), 4),
                "kept": len(res.kept), "dropped": len(res.dropped), "rl": len(res.rl),
                "regimes": {k: len(v) for k, v in res.regimes.items()}}

    # -- 5. A2S-SFT ------------------------------------------------------------------------
    def run_sft(self) -> dict:
        base = self.out / "base" / "model"
        adapter = None
        phases = {}
        for phase in ("1", "2", "3"):
            out = self.out / "sft" / f"phase{phase}"
            cmd = [sys.executable, "-m", "wildasr.cli", "sft", str(ROOT / "examples" / "sft" / f"phase{phase}.yaml"),
                   f"model.path={base}", f"data.train_files={self.out / 'split'}", f"trainer.default_local_dir={out}",
                   "data.train_batch_size=8", "data.micro_batch_size_per_gpu=8", "data.num_workers=0",
                   "data.max_length=1024", "optim.lr=1e-3", f"trainer.total_training_steps={self.plan.sft_steps}",
                   f"a2s.curriculum.seed={self.seed}"]
            if adapter is not None:
                cmd.append(f"model.lora_adapter_path={adapter}")
            self._call(cmd, out / "sft.log")
            adapter = out / "adapter"
            phases[phase] = json.loads((adapter / "a2s_report.json").read_text()) if (adapter / "a2s_report.json").is_file() else {}
        merged = self.out / "sft" / "merged"
        self._call([sys.executable, "-m", "verl_dgwgpo.sft.export", "--model", str(base), "--adapter", str(adapter),
                    "--merged", str(merged)], self.out / "sft" / "export.log")
        return {"phases": {k: {"steps": v.get("steps"), "loss": (v.get("loss") or [None])[-1]} for k, v in phases.items()},
                "merged": str(merged)}

    # -- 6. DAPO ---------------------------------------------------------------------------
    def run_rl(self) -> dict:
        runs = {}
        for reward in ("wer", "dgwgpo"):
            for seed in self.plan.rl_seeds:
                out = self.out / "rl" / f"{reward}_seed{seed}"
                cmd = [sys.executable, "-m", "wildasr.cli", "rl", "--model", str(self.out / "sft" / "merged"),
                       "--train", str(self.out / "split" / "rl.jsonl.gz"), "--reward", reward,
                       "--steps", str(self.plan.rl_steps), "--seed", str(seed), "--out", str(out),
                       "--batch-size", str(self.plan.rl_batch), "--group-size", str(self.plan.rl_group),
                       "--lora-rank", "8", "--lr", str(self.plan.rl_lr), "--response-length", "16", "--save-every",
                       str(self.plan.rl_steps)]
                t0 = time.monotonic()
                self._call(cmd, out.parent / f"{reward}_seed{seed}.log")
                rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
                runs[f"{reward}_seed{seed}"] = {
                    "reward": reward, "seed": seed, "seconds": round(time.monotonic() - t0, 1),
                    "adapter": str(out / "final" / "adapter"),
                    "per_step": [{k: r.get(k) for k in ("step", "critic/score/mean", "dgwgpo/zero_variance_share",
                                                        "dgwgpo/mean_group_std", "dgwgpo/dynamic_sampling/mean_samplings",
                                                        "dgwgpo/dynamic_sampling/dropped_group_share", "actor/pg_loss",
                                                        "timing_s/step")} for r in rows],
                }
        return {"runs": runs}

    # -- 7. router -------------------------------------------------------------------------
    def run_router(self) -> dict:
        from verl_dgwgpo.router.train import train_router

        _, metrics = train_router(self.cuts("corpus/train/cuts.jsonl.gz"), self.cuts("wild/train.jsonl.gz"),
                                  steps=self.plan.router_steps, seed=self.seed, out_dir=self.out / "router" / "model",
                                  progress=False)
        return {"model": str(self.out / "router" / "model"), "train": {k: v for k, v in metrics.items() if not isinstance(v, list)}}

    # -- 8. evaluation ---------------------------------------------------------------------
    def run_eval(self, rl: dict) -> dict:
        from wildasr.miniature.evaluate import records_for, summarize, transcribe_cuts, write_manifest

        heldout = self.cuts("corpus/heldout/cuts.jsonl.gz") + self.cuts("wild/heldout.jsonl.gz")
        base_recs = records_for(heldout)
        systems: list[tuple[str, int | None, Path, Path | None]] = [("base", None, self.out / "base" / "model", None)]
        for phase in ("1", "2", "3"):
            systems.append((f"a2s_sft_phase{phase}", None, self.out / "base" / "model",
                            self.out / "sft" / f"phase{phase}" / "adapter"))
        for key, run in rl["runs"].items():
            systems.append((f"dapo_{run['reward']}", run["seed"], self.out / "sft" / "merged", Path(run["adapter"])))
        hyps: dict[tuple[str, int | None], list[str]] = {}
        rows = []
        for name, seed, model, adapter in systems:
            t0 = time.monotonic()
            hyps[(name, seed)] = transcribe_cuts(heldout, model, adapter)
            recs = [{**r, "pred_text": h} for r, h in zip(base_recs, hyps[(name, seed)])]
            write_manifest(self.out / "eval" / f"{name}{'' if seed is None else f'_seed{seed}'}.jsonl", recs)
            rows.append({"name": name, "seed": seed, **summarize(recs), "eval_seconds": round(time.monotonic() - t0, 1)})
            self.log(f"[eval] {name} seed={seed}: clean {rows[-1]['wer_clean']:.3f} wild {rows[-1]['wer_wild']:.3f}")
        from verl_dgwgpo.router.model import RouterModel

        router = RouterModel.load(self.out / "router" / "model")
        routes = [router.route(c.load_audio()[0], c.sampling_rate) for c in heldout]
        for seed in self.plan.rl_seeds:
            picked = [hyps[("dapo_dgwgpo", seed)][i] if r.degraded else hyps[("base", None)][i] for i, r in enumerate(routes)]
            recs = [{**r, "pred_text": h, "routed": bool(x.degraded)} for r, h, x in zip(base_recs, picked, routes)]
            write_manifest(self.out / "eval" / f"routed_seed{seed}.jsonl", recs)
            acc = {cond: statistics.fmean([float(x.degraded == (r["condition"] == "wild")) for r, x in zip(base_recs, routes)
                                           if r["condition"] == cond]) for cond in ("clean", "wild")}
            rows.append({"name": "routed", "seed": seed, **summarize(recs), "router_accuracy": acc})
        return {"rows": rows}

    # -- helpers ---------------------------------------------------------------------------
    def _call(self, cmd: list[str], log: Path) -> None:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as fh:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"{' '.join(cmd[:5])} ... failed ({proc.returncode}); log {log}:\n" + "\n".join(tail))

    def run(self) -> dict:
        t0 = time.monotonic()
        stages = {}
        for name, fn in (("corpus", self.run_corpus), ("base", self.run_base), ("wild", self.run_wild),
                         ("split", self.run_split), ("sft", self.run_sft), ("rl", self.run_rl),
                         ("router", self.run_router)):
            stages[name] = self.stage(name, fn)
        stages["eval"] = self.stage("eval", lambda: self.run_eval(stages["rl"]))
        results = build_results(stages, self.plan, self.seed, time.monotonic() - t0)
        (self.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        write_report(results, self.out)
        return results


def _mean_std(values: list[float]) -> tuple[float, float]:
    vals = [v for v in values if v is not None]
    if not vals:
        return float("nan"), float("nan")
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def build_results(stages: dict, plan: Plan, seed: int, seconds: float) -> dict:
    rows = stages["eval"]["rows"]
    by_name: dict[str, list[dict]] = {}
    for r in rows:
        by_name.setdefault(r["name"], []).append(r)
    out_stages = []
    phase3 = by_name["a2s_sft_phase3"][0]
    out_stages.append({**by_name["base"][0], "seed": seed, "stage_seconds": stages["base"]["seconds"]})
    out_stages.append({**phase3, "name": "a2s_sft", "seed": seed, "stage_seconds": stages["sft"]["seconds"],
                       "phases": {p: {k: by_name[f"a2s_sft_phase{p}"][0][k] for k in ("wer_clean", "wer_wild")}
                                  for p in ("1", "2", "3")}})
    for name in ("dapo_wer", "dapo_dgwgpo", "routed"):
        runs = by_name.get(name, [])
        mc, sc = _mean_std([r["wer_clean"] for r in runs])
        mw, sw = _mean_std([r["wer_wild"] for r in runs])
        out_stages.append({"name": name, "seed": [r["seed"] for r in runs], "wer_clean": mc, "wer_clean_std": sc,
                           "wer_wild": mw, "wer_wild_std": sw, "runs": runs,
                           "stage_seconds": stages["rl"]["seconds"] if name.startswith("dapo") else stages["router"]["seconds"]})
    rl_curves = {k: v["per_step"] for k, v in stages["rl"]["runs"].items()}
    return {"plan": asdict(plan), "seed": seed, "total_seconds": round(seconds, 1),
            "stage_seconds": {k: v.get("seconds") for k, v in stages.items()},
            "corpus": stages["corpus"], "split": stages["split"],
            "base_training": {k: stages["base"].get(k) for k in ("parameters", "steps", "train_seconds", "loss_curve", "sizes")},
            "stages": out_stages, "rl_curves": rl_curves}


def _fmt(v: Any, std: Any = None) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "–"
    s = f"{100 * v:.1f}"
    return s + (f" ± {100 * std:.1f}" if std not in (None, 0.0) and std == std else "")


def write_report(results: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines = ["# The recipe in miniature", "",
             f"Plan: {results['plan']}", "",
             "| stage | WER clean % | WER wild % | hallucination % | omission % | stage time s |",
             "|---|---:|---:|---:|---:|---:|"]
    for s in results["stages"]:
        hall = s.get("hallucination_rate") if "runs" not in s else _mean_std([r["hallucination_rate"] for r in s["runs"]])[0]
        omi = s.get("omission_rate") if "runs" not in s else _mean_std([r["omission_rate"] for r in s["runs"]])[0]
        lines.append(f"| {s['name']} | {_fmt(s['wer_clean'], s.get('wer_clean_std'))} | {_fmt(s['wer_wild'], s.get('wer_wild_std'))} "
                     f"| {_fmt(hall)} | {_fmt(omi)} | {s.get('stage_seconds', '–')} |")
    a2s = next(s for s in results["stages"] if s["name"] == "a2s_sft")
    lines += ["", "A2S-SFT by phase (clean / wild WER %): "
              + ", ".join(f"phase {p}: {_fmt(v['wer_clean'])} / {_fmt(v['wer_wild'])}" for p, v in a2s["phases"].items()), ""]
    base = results["stages"][0]
    lines += ["Wild WER by anchor effect (%):", "", "| stage | " + " | ".join(sorted(base["wer_wild_by_anchor"])) + " |",
              "|---|" + "---:|" * len(base["wer_wild_by_anchor"])]
    for s in results["stages"]:
        src = s if "runs" not in s else s["runs"][0]
        lines.append(f"| {s['name']} | " + " | ".join(_fmt(src.get("wer_wild_by_anchor", {}).get(k))
                                                      for k in sorted(base["wer_wild_by_anchor"])) + " |")
    lines += ["", "Wild WER by severity bucket (%):", "", "| stage | low | mid | high |", "|---|---:|---:|---:|"]
    for s in results["stages"]:
        src = s if "runs" not in s else s["runs"][0]
        sev = src.get("wer_wild_by_severity", {})
        lines.append(f"| {s['name']} | {_fmt(sev.get('low'))} | {_fmt(sev.get('mid'))} | {_fmt(sev.get('high'))} |")
    lines += ["", "(RL rows: mean ± std over seeds; anchor/severity tables: first seed.)", "",
              f"Total {results['total_seconds']:.0f} s this run; per stage {results['stage_seconds']}.", ""]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
    for key, curve in results["rl_curves"].items():
        steps = [r["step"] for r in curve]
        style = "-" if key.startswith("dgwgpo") else "--"
        axes[0].plot(steps, [r.get("dgwgpo/zero_variance_share") for r in curve], style, label=key)
        axes[1].plot(steps, [r.get("dgwgpo/mean_group_std") for r in curve], style, label=key)
    axes[0].set_title("zero-variance group share per step")
    axes[1].set_title("within-group reward std per step")
    for ax in axes:
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "rl_curves.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    names = [s["name"] for s in results["stages"]]
    ax.bar([n + "\nclean" for n in names], [100 * (s["wer_clean"] or 0) for s in results["stages"]], color="tab:blue")
    ax.bar([n + "\nwild" for n in names], [100 * (s["wer_wild"] or 0) for s in results["stages"]], color="tab:red")
    ax.set_ylabel("WER %")
    ax.tick_params(axis="x", labelsize=6)
    fig.tight_layout()
    fig.savefig(out / "wer_by_stage.png", dpi=110)
    plt.close(fig)
    lines += ["![RL curves](rl_curves.png)", "", "![WER by stage](wer_by_stage.png)", ""]
    (out / "report.md").write_text("\n".join(lines))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default="out/mini")
    p.add_argument("--quick", action="store_true", help="<= 10 min, 1 RL seed")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    results = Recipe(Path(args.out), QUICK if args.quick else FULL, args.seed).run()
    for s in results["stages"]:
        print(f"{s['name']:12s} clean {_fmt(s['wer_clean'], s.get('wer_clean_std')):>12s}  wild {_fmt(s['wer_wild'], s.get('wer_wild_std')):>12s}")
    print(f"results: {Path(args.out) / 'results.json'}, report: {Path(args.out) / 'report.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
