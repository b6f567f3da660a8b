"""The Mega-ASR recipe in miniature: does A2S-SFT, then DAPO with DG-WGPO, lower wild WER? Measured here.

    Recipe(Path("out/mini"), QUICK, seed=0).run()   # what `wildasr demo` and benchmarks/recipe_mini.py call

Plans: ``SMOKE`` (~5 min on 2 cores: every stage runs, numbers mean little; the test),
``QUICK`` (~9 min, 1 RL seed; the demo's default), ``FULL`` (~38 min, 3 RL seeds per reward; the
README's measured table).

Stages (each writes ``OUT/<stage>/done.json`` last, so a rerun skips finished stages):

1. ``corpus``  Piper speech of the closed grammar (``wildasr.miniature.grammar``): train sentences in
               the five voice styles, disjoint held-out sentences.
2. ``base``    a 3 M-parameter native Qwen3-ASR trained from scratch on the clean train speech.
3. ``wild``    ``lhotse_wild.degrade_round_robin`` degrades the train speech (one scenario per clip,
               round-robin over the 54) and the held-out speech (``heldout_per_sentence`` scenarios per sentence).
4. ``split``   base-WER of every wild train clip by THIS base model, ``lhotse_wild.split``: > 70 %
               dropped, curriculum, RL split.
5. ``sft``     ``wildasr sft`` phases 1 -> 2 -> 3 (A2S-SFT, rank-8 LoRA, the packaged phase1..3 YAMLs),
               then the merged export (the start of RL).
6. ``rl``      ``wildasr rl`` from the A2S-SFT model on the RL split, reward ``wer`` and ``dgwgpo``,
               the same steps and seeds.
7. ``router``  the clean/degraded router on the train speech (clean vs wild).
8. ``eval``    every system on the held-out clean + wild clips; ``routed`` = router decides per clip
               between the base model (clean) and the DG-WGPO model (degraded).

Output: ``OUT/results.json`` (``{"stages": [{"name", "wer_clean", "wer_wild", "seed", ...}]}``),
``OUT/report.md``, ``OUT/*.png``. The ``FULL`` plan (the README's table) was fixed here before any
of its held-out numbers existed. ``QUICK`` once had 150 train sentences; its base model then measured
43 % held-out clean WER (it memorised the train sentences), so it was raised to 300 (16.7 %); that
is the only change made after looking at held-out numbers, and it touched no stage after ``base``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

__all__ = ["FULL", "PLANS", "QUICK", "SMOKE", "Plan", "Recipe"]


@dataclass(frozen=True)
class Plan:
    train_sentences: int
    heldout_sentences: int
    heldout_per_sentence: int
    base_steps: int
    sft_steps: int
    rl_steps: int
    rl_seeds: tuple[int, ...]
    sft_batch: int = 8
    rl_batch: int = 4
    rl_group: int = 4
    rl_lr: float = 1e-3  # LoRA: 2e-4 moved lora_B by < 1e-3 in 3 steps (adapter stats, not held-out WER)
    router_steps: int = 60


QUICK = Plan(train_sentences=300, heldout_sentences=30, heldout_per_sentence=1, base_steps=400, sft_steps=6,
             rl_steps=3, rl_seeds=(0,), router_steps=40)
FULL = Plan(train_sentences=500, heldout_sentences=60, heldout_per_sentence=2, base_steps=1200, sft_steps=40,
            rl_steps=12, rl_seeds=(0, 1, 2), router_steps=150)
SMOKE = Plan(train_sentences=40, heldout_sentences=10, heldout_per_sentence=1, base_steps=120, sft_steps=2,
             sft_batch=4, rl_steps=1, rl_seeds=(0,), router_steps=10)
PLANS = {"smoke": SMOKE, "quick": QUICK, "full": FULL}


class Recipe:
    def __init__(self, out: Path, plan: Plan, seed: int, log: Callable[[str], None] = print):
        # absolute: the manifests written below hold audio paths, which must not depend on the CWD
        self.out, self.plan, self.seed, self.log = Path(out).resolve(), plan, seed, log
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
            cmd = [sys.executable, "-m", "wildasr.cli", "sft", f"phase{phase}",
                   f"model.path={base}", f"data.train_files={self.out / 'split'}", f"trainer.default_local_dir={out}",
                   f"data.train_batch_size={self.plan.sft_batch}", f"data.micro_batch_size_per_gpu={self.plan.sft_batch}", "data.num_workers=0",
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
                runs[f"{reward}_seed{seed}"] = self.rl_run(reward, seed, self.out / "sft" / "merged",
                                                           self.out / "rl" / f"{reward}_seed{seed}", self.plan.rl_steps)
        return {"runs": runs}

    def rl_run(self, reward: str, seed: int, model: Path, out: Path, steps: int) -> dict:
        """One ``wildasr rl`` run (rank-8 LoRA) from ``model`` on the RL split; a rerun resumes it."""
        cmd = [sys.executable, "-m", "wildasr.cli", "rl", "--model", str(model),
               "--train", str(self.out / "split" / "rl.jsonl.gz"), "--reward", reward,
               "--steps", str(steps), "--seed", str(seed), "--out", str(out),
               "--batch-size", str(self.plan.rl_batch), "--group-size", str(self.plan.rl_group),
               "--lora-rank", "8", "--lr", str(self.plan.rl_lr), "--response-length", "16", "--save-every", str(steps)]
        t0 = time.monotonic()
        if not self._rl_finished(out, steps):  # a finished run is not restarted (Ray start-up alone is ~1 min)
            self._call(cmd, out.parent / f"{out.name}.log")
        rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
        keys = ("step", "critic/score/mean", "dgwgpo/zero_variance_share", "dgwgpo/mean_group_std",
                "dgwgpo/dynamic_sampling/resampled_group_share", "dgwgpo/dynamic_sampling/mean_samplings",
                "dgwgpo/dynamic_sampling/dropped_group_share",
                "actor/pg_loss", "timing_s/step")
        return {"reward": reward, "seed": seed, "seconds": round(time.monotonic() - t0, 1),
                "adapter": str(out / "final" / "adapter"), "per_step": [{k: r.get(k) for k in keys} for r in rows]}

    @staticmethod
    def _rl_finished(out: Path, steps: int) -> bool:
        metrics = out / "metrics.jsonl"
        if not (out / "final" / "adapter").is_dir() or not metrics.is_file():
            return False
        done = [json.loads(x).get("step") for x in metrics.read_text().splitlines() if x.strip()]
        return steps in done

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
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT)
        if proc.returncode != 0:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError(f"{' '.join(cmd[:5])} ... failed ({proc.returncode}); log {log}:\n" + "\n".join(tail))

    def run(self) -> dict:
        """Run (or resume) every stage, then write ``results.json``, ``report.md`` and the plots."""
        from transformers.utils import logging as hf_logging

        t0 = time.monotonic()
        stages = {}
        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()  # a bar per model load/save would bury the stage log
        try:
            for name, fn in (("corpus", self.run_corpus), ("base", self.run_base), ("wild", self.run_wild),
                             ("split", self.run_split), ("sft", self.run_sft), ("rl", self.run_rl),
                             ("router", self.run_router)):
                stages[name] = self.stage(name, fn)
            stages["eval"] = self.stage("eval", lambda: self.run_eval(stages["rl"]))
        finally:
            if bars:
                hf_logging.enable_progress_bar()
        from wildasr.miniature.report import build_results, write_report

        results = build_results(stages, self.plan, self.seed, time.monotonic() - t0)
        (self.out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        write_report(results, self.out)
        return results
