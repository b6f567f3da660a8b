"""The end-to-end demo (issue 9): the whole recipe on a corpus it synthesises itself, no download.

Stages (each is the real library code; each writes its outputs plus a done-marker, so a rerun skips
finished stages and, inside a stage, finished items):

1. ``corpus``  — Piper TTS over the shipped sentence list, five voice styles (``wild_corpus.synth``).
2. ``wild``    — every one of the 54 scenarios, ``per_scenario`` times, linear severity, provenance in
   ``custom["wild"]`` (``lhotse_wild.degrade_cut`` + ``write_degraded``).
3. ``asr``     — pocketsphinx with an in-domain LM on clean + wild audio: ``base_wer``, n-best lists
   (``wild_corpus.asr``), > 70 % filter, curriculum buckets, RL split (``lhotse_wild.split``).
4. ``scores``  — ``nemo_wild_eval`` tables and plots: by condition, scenario, number of effects,
   effect, severity; hallucination/omission.
5. ``rewards`` — n-best lists as rollout groups; zero-variance share and group std under 1 − WER vs
   DG-WGPO by WER regime (``verl_dgwgpo``).
6. ``router``  — clean-vs-wild router trained briefly; held-out accuracy (``verl_dgwgpo.router``).
7. ``train``   — the training half in miniature (``wildasr.demo_train``): a small Qwen3-ASR trained
   from scratch, A2S-SFT phases 1-3, DAPO in verl's trainer with 1 − WER vs DG-WGPO, the router, WER
   per stage on held-out clean + wild speech. ``--training quick`` by default, ``none`` with ``--small``.
8. ``report``  — ``report.md`` + ``report.html`` + ``metrics.json``.

A stage whose library is not importable yet is recorded as missing (with the import error) and the
report says so; later stages run as far as they can. Wild cuts are assigned scenarios round-robin
(wild item ``k`` uses scenario ``k % 54`` and clean cut ``k % N``; ``lhotse_wild.degrade_round_robin``),
so every scenario is present.
"""

from __future__ import annotations

import errno
import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nemo_wild_eval.errors import InputError

__all__ = ["DemoConfig", "run_demo", "DEFAULT_NUM_UTTERANCES", "DEFAULT_PER_SCENARIO", "SMALL"]

# Default size: a fresh run measured 412 CPU-s (user + sys, TTS and ASR on 2 worker processes), i.e.
# about 5 minutes on 2 idle cores; --small measured 79 CPU-s (about 45 s).
DEFAULT_NUM_UTTERANCES = 240
DEFAULT_PER_SCENARIO = 5  # 54 x 5 = 270 wild cuts
SMALL = {"num_utterances": 12, "per_scenario": 1}  # 12 clean + 54 wild: every scenario once
NBEST = 8
ROUTER_STEPS = 150  # ~0.25 CPU-s a step: a short, deterministic training run (steps, not wall clock)
ROUTER_STEPS_SMALL = 30


@dataclass
class DemoConfig:
    """What ``wildasr demo`` runs; ``None`` sizes mean the default (or the ``--small`` size)."""

    out: Path = Path("out/demo")
    seed: int = 0
    num_utterances: int | None = None
    per_scenario: int | None = None
    small: bool = False
    workers: int = 1
    nbest: int = NBEST
    sentences: str | None = None
    rl_ratio: float | None = None
    router_steps: int | None = None
    training: str | None = None
    progress: bool = True

    def resolve(self) -> "DemoConfig":
        base = SMALL if self.small else {"num_utterances": DEFAULT_NUM_UTTERANCES, "per_scenario": DEFAULT_PER_SCENARIO}
        n = self.num_utterances if self.num_utterances is not None else base["num_utterances"]
        k = self.per_scenario if self.per_scenario is not None else base["per_scenario"]
        if n < 1:
            raise InputError(f"--num-utterances must be >= 1, got {n}")
        if k < 1:
            raise InputError(f"--per-scenario must be >= 1, got {k}")
        if self.nbest < 2:
            raise InputError(f"--nbest must be >= 2 (a rollout group), got {self.nbest}")
        from wildasr.demo_train import TRAININGS

        training = self.training if self.training is not None else ("none" if self.small else "quick")
        if training not in TRAININGS:
            raise InputError(f"--training must be one of {', '.join(TRAININGS)}, got {training!r}")
        return DemoConfig(
            out=Path(self.out), seed=int(self.seed), num_utterances=int(n), per_scenario=int(k), small=self.small,
            workers=max(1, int(self.workers)), nbest=int(self.nbest), sentences=self.sentences,
            rl_ratio=self.rl_ratio, router_steps=self.router_steps, training=training, progress=self.progress,
        )


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (the pool workers)."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _fp(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


def _probe(module: str, names: tuple[str, ...] = ()) -> tuple[Any | None, str | None]:
    """Import ``module`` and check ``names`` exist: (module, None) or (None, why not)."""
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        return None, f"`{module}` is not importable ({exc})"
    missing = [n for n in names if not hasattr(mod, n)]
    if missing:
        return None, f"`{module}` has no {', '.join(f'`{n}`' for n in missing)} yet"
    return mod, None


class Demo:
    """Runs the stages in order; keeps the metrics that the report is built from."""

    def __init__(self, cfg: DemoConfig, log: Callable[[str], None] = print):
        self.cfg = cfg.resolve()
        self.out = self.cfg.out
        self.log = log
        self.state = self.out / ".stages"
        self.metrics: dict[str, Any] = {
            "schema": "wildasr.demo/1",
            "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self.cfg).items()},
            "stages": {},
            "missing": {},
            "timings_s": {},  # wall clock per stage (as first computed; resumed stages keep theirs)
            "cpu_s": {},  # user + system CPU of this process and its worker processes per stage
        }
        self._sentences: list[str] | None = None

    # ------------------------------------------------------------------ helpers
    @property
    def sentences(self) -> list[str]:
        if self._sentences is None:
            from wild_corpus.synth import load_sentences

            self._sentences = load_sentences(self.cfg.sentences)
        return self._sentences

    def rel(self, p: Path | str) -> str:
        return os.path.relpath(Path(p), self.out)

    def stage(self, name: str, fingerprint: dict, fn: Callable[[], dict], clean_dirs: tuple[str, ...] = ()) -> dict:
        """Run ``fn`` unless a done-marker with the same fingerprint exists; record its summary."""
        marker = self.state / f"{name}.json"
        fp = _fp(fingerprint)
        if marker.exists():
            try:
                saved = json.loads(marker.read_text(encoding="utf-8"))
            except json.JSONDecodeError:
                saved = {}
            if saved.get("fingerprint") == fp:
                self.log(f"[{name}] done already (resume): skipped")
                self.metrics["stages"][name] = saved["summary"]
                self.metrics["timings_s"][name] = saved.get("seconds", 0.0)
                self.metrics["cpu_s"][name] = saved.get("cpu_seconds")
                if saved.get("missing"):
                    self.metrics["missing"][name] = saved["missing"]
                return saved["summary"]
            self.log(f"[{name}] settings changed since the last run: redoing this stage")
            for d in clean_dirs:
                shutil.rmtree(self.out / d, ignore_errors=True)
        self.log(f"[{name}] ...")
        t0, c0 = time.perf_counter(), _cpu_seconds()
        self.metrics["missing"].pop(name, None)
        summary = fn()
        seconds = round(time.perf_counter() - t0, 2)
        cpu = round(_cpu_seconds() - c0, 2)
        self.metrics["stages"][name] = summary
        self.metrics["timings_s"][name] = seconds
        self.metrics["cpu_s"][name] = cpu
        _write_json(marker, {"fingerprint": fp, "seconds": seconds, "cpu_seconds": cpu, "summary": summary,
                             "missing": self.metrics["missing"].get(name)})
        self.log(f"[{name}] finished in {seconds:.1f} s (CPU {cpu:.1f} s)")
        return summary

    def missing(self, stage: str, what: str) -> None:
        self.metrics["missing"].setdefault(stage, []).append(what)
        self.log(f"[{stage}] missing: {what}")

    # ------------------------------------------------------------------ 1. corpus
    def corpus_fp(self) -> dict:
        from wild_corpus.synth import DEFAULT_STYLES

        return {"seed": self.cfg.seed, "n": self.cfg.num_utterances, "sentences": _fp(self.sentences),
                "styles": [asdict(s) for s in DEFAULT_STYLES]}

    def run_corpus(self) -> dict:
        from wild_corpus.synth import DEFAULT_SENTENCES, DEFAULT_STYLES, plan_corpus, synthesize_corpus

        items = plan_corpus(self.sentences, self.cfg.num_utterances, DEFAULT_STYLES, self.cfg.seed)
        cuts = synthesize_corpus(items, self.out / "corpus", workers=self.cfg.workers, progress=self.cfg.progress)
        styles: dict[str, dict] = {}
        for c in cuts:
            s = styles.setdefault(c.custom["tts"]["style"], {"utterances": 0, "seconds": 0.0})
            s["utterances"] += 1
            s["seconds"] += c.duration
        params = {s.name: {k: v for k, v in asdict(s).items() if k != "name"} for s in DEFAULT_STYLES}
        first = cuts[0].custom["tts"]
        return {
            "utterances": len(cuts),
            "audio_seconds": round(sum(c.duration for c in cuts), 2),
            "engine": first["engine"],
            "voice": first["voice"],
            "sentences_available": len(self.sentences),
            "sentence_file": str(self.cfg.sentences or DEFAULT_SENTENCES),
            "styles": {k: {**v, "seconds": round(v["seconds"], 2), **params.get(k, {})} for k, v in styles.items()},
            "manifest": self.rel(self.out / "corpus" / "cuts.jsonl.gz"),
        }

    def clean_cuts(self):
        from lhotse import CutSet

        return CutSet.from_jsonl(self.out / "corpus" / "cuts.jsonl.gz").to_eager()

    # ------------------------------------------------------------------ 2. wild
    def wild_fp(self) -> dict:
        core, _ = _probe("lhotse_wild.core", ("PARAMS_VERSION",))
        return {"corpus": self.corpus_fp(), "per": self.cfg.per_scenario,
                "params_version": getattr(core, "PARAMS_VERSION", None)}

    def run_wild(self) -> dict:
        from wildasr.demo_wild import simulate_wild

        lw, why = _probe("lhotse_wild", ("SCENARIOS", "degrade_round_robin", "NoiseBank"))
        if lw is None:
            self.missing("wild", f"simulator: {why}")
            return {"status": "missing"}
        return simulate_wild(lw, self.clean_cuts(), self.out / "wild", self.rel, per_scenario=self.cfg.per_scenario,
                             seed=self.cfg.seed, progress=self.cfg.progress)

    def wild_cuts(self):
        from lhotse import CutSet

        p = self.out / "wild" / "cuts.jsonl.gz"
        return CutSet.from_jsonl(p).to_eager() if p.exists() else None

    # ------------------------------------------------------------------ 3. asr + split
    def asr_fp(self) -> dict:
        return {"wild": self.wild_fp(), "nbest": self.cfg.nbest, "rl_ratio": self.cfg.rl_ratio,
                "lm": _fp(self.sentences), "asr": "pocketsphinx"}

    def run_asr(self) -> dict:
        from wildasr.demo_asr import score_and_split

        return score_and_split(self.clean_cuts, self.wild_cuts, self.out / "asr", self.out / "split", self.rel,
                               lambda what: self.missing("asr", what), sentences=self.sentences,
                               nbest=self.cfg.nbest, workers=self.cfg.workers, progress=self.cfg.progress,
                               rl_ratio=self.cfg.rl_ratio, seed=self.cfg.seed)

    # ------------------------------------------------------------------ 4. scores
    def run_scores(self) -> dict:
        ne, why = _probe("nemo_wild_eval", ("score_manifest", "write_report"))
        plots_mod, why_plots = _probe("nemo_wild_eval.plots", ("plot_wer_by_condition", "plot_bars"))
        if ne is None or plots_mod is None:
            self.missing("scores", f"scorer: {why or why_plots}")
            return {"status": "missing"}
        from wildasr.demo_scores import score_stage

        return score_stage(ne, plots_mod, self.out / "asr" / "manifest.jsonl", self.out / "scores", self.rel)

    # ------------------------------------------------------------------ 5. rewards
    def _reward_libs(self) -> tuple[Any, Any, str | None]:
        rw, why = _probe("verl_dgwgpo.rewards", ("REWARDS", "score"))
        gs, why_gs = _probe("verl_dgwgpo.group_stats", ("group_dispersion",))
        return rw, gs, why or why_gs

    def rewards_fp(self) -> dict:
        rw, gs, why = self._reward_libs()
        return {"asr": self.asr_fp(), "available": why is None,
                "rewards": sorted(rw.REWARDS) if rw is not None else None,
                "lib": _module_stamp("verl_dgwgpo") if why is None else None}

    def run_rewards(self) -> dict:
        groups = _read_groups(self.out / "asr" / "nbest.jsonl")
        sizes = [len(g["nbest"]) for g in groups]
        base = {
            "groups": len(groups),
            "group_size": {"mean": float(np.mean(sizes)) if sizes else 0.0, "min": min(sizes, default=0),
                           "max": max(sizes, default=0)},
            "groups_with_2plus_distinct": int(sum(1 for s in sizes if s >= 2)),
        }
        rw, gs, why = self._reward_libs()
        if why is not None:
            self.missing("rewards", f"not yet available: reward library (issue 5): {why}; the n-best groups are "
                                    f"in {self.rel(self.out / 'asr' / 'nbest.jsonl')}")
            return {"status": "missing", **base}
        if not groups:
            self.missing("rewards", "no n-best groups (stage `asr` wrote none)")
            return {"status": "missing", **base}
        from wildasr import demo_rewards

        return {"status": "ok", **base,
                **demo_rewards.reward_stats(rw, groups, self.out, self.rel, gs.group_dispersion)}

    # ------------------------------------------------------------------ 6. router
    def router_fp(self) -> dict:
        mod, why = self._router_lib()
        return {"wild": self.wild_fp(), "available": why is None, "steps": self.router_steps(),
                "lib": _module_stamp("verl_dgwgpo.router") if why is None else None}

    def _router_lib(self) -> tuple[Any, str | None]:
        mod, why = _probe("verl_dgwgpo.router")
        if mod is None:
            return None, why
        for sub, names in (("verl_dgwgpo.router.train", ("train_router",)),
                           ("verl_dgwgpo.router.evaluate", ("evaluate_router",)),
                           ("verl_dgwgpo.router.data", ("make_splits",))):
            m, why = _probe(sub, names)
            if m is None:
                return None, why
        return mod, None

    def router_steps(self) -> int:
        if self.cfg.router_steps is not None:
            return int(self.cfg.router_steps)
        return ROUTER_STEPS_SMALL if self.cfg.small else ROUTER_STEPS

    def run_router(self) -> dict:
        mod, why = self._router_lib()
        if mod is None:
            self.missing("router", f"not yet available: router (issue 8): {why}")
            return {"status": "missing"}
        wild = self.wild_cuts()
        if wild is None:
            self.missing("router", "no wild corpus (stage `wild` did not run)")
            return {"status": "missing"}
        from wildasr import demo_router

        return demo_router.train_and_evaluate(mod, self.clean_cuts(), wild, self.out / "router", self.rel,
                                              steps=self.router_steps(), seed=self.cfg.seed,
                                              progress=self.cfg.progress)

    # ------------------------------------------------------------------ 7. training in miniature
    def train_fp(self) -> dict:
        return {"seed": self.cfg.seed, "training": self.cfg.training,
                "libs": [_module_stamp(m) for m in ("wildasr.miniature", "verl_dgwgpo.sft", "verl_dgwgpo.rl",
                                                    "lhotse_wild")]}

    def run_train(self) -> dict:
        if self.cfg.training == "none":
            return {"status": "skipped", "why": "--training none" + (" (the --small default)" if self.cfg.small else "")}
        for module in ("verl", "wildasr.miniature.recipe", "verl_dgwgpo.rl.runner"):
            mod, why = _probe(module)
            if mod is None:
                self.missing("train", f"{module}: {why}")
                return {"status": "missing"}
        from wildasr.demo_train import run_training

        return run_training(self.out / "train", self.cfg.training, self.cfg.seed, self.rel, log=self.log)

    # ------------------------------------------------------------------ all
    def run(self) -> dict:
        t0 = time.perf_counter()
        self.out.mkdir(parents=True, exist_ok=True)
        self.stage("corpus", self.corpus_fp(), self.run_corpus)
        self.stage("wild", self.wild_fp(), self.run_wild, clean_dirs=("wild",))
        self.stage("asr", self.asr_fp(), self.run_asr, clean_dirs=("asr", "split"))
        self.stage("scores", {"asr": self.asr_fp(), "lib": _module_stamp("nemo_wild_eval")}, self.run_scores,
                   clean_dirs=("scores",))
        self.stage("rewards", self.rewards_fp(), self.run_rewards, clean_dirs=("rewards",))
        self.stage("router", self.router_fp(), self.run_router, clean_dirs=("router",))
        self.stage("train", self.train_fp(), self.run_train, clean_dirs=("train",))
        self.metrics["timings_s"]["total_this_run"] = round(time.perf_counter() - t0, 2)
        from wildasr.report import write_demo_report

        _write_json(self.out / "metrics.json", self.metrics)
        paths = write_demo_report(self.metrics, self.out)
        self.metrics["report"] = {k: self.rel(v) for k, v in paths.items()}
        _write_json(self.out / "metrics.json", self.metrics)
        return self.metrics


# ---------------------------------------------------------------------- helpers


def _module_stamp(module: str) -> str | None:
    """Hash of a package's sources: a landed change re-runs the stages that use it (a touch does not)."""
    try:
        spec = importlib.util.find_spec(module)
    except ImportError:
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    h = hashlib.sha1()
    for p in sorted(root.glob("*.py")):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def _read_groups(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def run_demo(cfg: DemoConfig, log: Callable[[str], None] = print) -> dict:
    """Run (or resume) the demo; returns the metrics written to ``OUT/metrics.json``."""
    return Demo(cfg, log).run()


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno == errno.ENOSPC
