"""A2S-SFT step cost on CPU: the project's data path vs the same model fed by a plain DataLoader.

    python benchmarks/sft_step.py                  # qwen3_asr tiny, 24 steps, batch 4, 2-s clips
    python benchmarks/sft_step.py --family qwen2_audio --steps 16 --workers 2

Both variants run the same verl SFT trainer (:class:`verl_dgwgpo.sft.trainer.A2SSFTTrainer`, CPU
platform, FSDP2, one gloo rank), the same tiny model, LoRA and curriculum order. Only the feeding
differs:

- ``project``: verl's ``StatefulDataLoader`` over :class:`verl_dgwgpo.sft.data.AudioSFTDataset` (Lhotse
  cut manifest -> audio decode -> processor features -> tokens, every step) with the curriculum
  batch sampler; what a real run does.
- ``plain``: a plain ``torch.utils.data.DataLoader`` over a minimal hand-written dataset doing the
  same per-sample work the straightforward way (``soundfile.read`` of the WAV, the processor on the
  pre-rendered prompt + clip, the tokenizer on the target), with the same batches and verl's
  collator. The target ratio (project / plain <= 1.10) is against this row.
- ``cached``: every sample encoded once before training, then a plain ``DataLoader`` over that
  in-memory list: feeding at zero cost (a lower bound, shown for scale).

Each variant runs in its own process (so peak RSS is its own). Step time = wall time between the
ends of consecutive optimizer steps (data fetch + forward/backward + step), first ``--warmup`` steps
dropped; median reported. Before training each process also times one pass over its loader alone
(``data-only``: fetch + collate, no model), which is far less sensitive to a busy machine. Peak memory = ``ru_maxrss`` of the process (CPU has no device allocator
counters). verl's end-of-run checkpoint is skipped in both. Target: project/plain <= 1.10.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class PlainASRDataset:
    """What one would write by hand: WAV path + transcript in, model tensors out (no Lhotse, no verl)."""

    def __init__(self, project_dataset) -> None:
        import torch

        self.torch = torch
        ds = project_dataset
        self.processor, self.tokenizer, self.rate = ds.processor, ds.tokenizer, ds.rows.sampling_rate
        self.paths = [it.cut.recording.sources[0].source for it in ds.items]
        self.targets = [
            __import__("verl_dgwgpo.sft.data", fromlist=["x"]).target_text(ds.family, it.text, it.language)
            + ds.eos
            for it in ds.items
        ]
        messages = ds.rows[0]["raw_prompt"]  # the prompt is the same for every clip
        self.prompt = self.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict:
        import soundfile as sf

        torch = self.torch
        audio, _ = sf.read(self.paths[i], dtype="float32")
        out = self.processor(text=[self.prompt], audio=[audio], sampling_rate=self.rate, return_tensors="pt")
        prompt = out.pop("input_ids")[0]
        out.pop("attention_mask", None)
        target = self.tokenizer(self.targets[i], add_special_tokens=False, return_tensors="pt")["input_ids"][0]
        ids = torch.cat([prompt, target])
        return {
            "input_ids": ids,
            "position_ids": torch.arange(ids.numel()),
            "loss_mask": torch.cat([torch.zeros_like(prompt), torch.ones_like(target)]),
            "multi_modal_inputs": dict(out),
        }


def _child(args: argparse.Namespace) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    from verl_dgwgpo.sft import cpu
    from verl_dgwgpo.testing.sft import make_cuts, phase_overrides
    from verl_dgwgpo.tiny_models import tiny_model_dir
    from verl_dgwgpo.sft.trainer import A2SSFTTrainer, compose_config, prepare_config

    work = Path(args.work)
    model = tiny_model_dir(args.family, work / "models", output_scale=10.0)
    n = args.steps * args.batch
    wers = [round(0.7 * (i + 0.5) / n, 4) for i in range(n)]  # spread over every curriculum stage
    cuts = make_cuts(work / "data", wers, texts=["the quick brown fox", "jumps over the lazy dog"], seconds=args.seconds)
    cfg = compose_config(
        ROOT / "examples/sft/phase1.yaml",
        phase_overrides(
            model,
            cuts,
            work / f"out_{args.variant}",
            **{
                "data.train_batch_size": args.batch,
                "data.micro_batch_size_per_gpu": args.batch,
                "data.num_workers": args.workers,
                "a2s.train_groups": "[all]",
                "optim.lr": 1e-3,
            },
        ),
    )
    cfg, spec, layout = prepare_config(cfg)
    cpu.install()
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg.trainer.device = "cpu"
        cfg.engine.mixed_precision = {"param_dtype": "fp32", "reduce_dtype": "fp32", "buffer_dtype": "fp32"}

    ends: list[float] = []

    class Bench(A2SSFTTrainer):
        def _build_dataloader(self) -> None:
            super()._build_dataloader()
            from torch.utils.data import DataLoader

            if args.variant == "cached":
                data = [self.train_dataset[i] for i in range(len(self.train_dataset))]
            elif args.variant == "plain":
                data = PlainASRDataset(self.train_dataset)
            else:
                return
            self.train_dataloader = DataLoader(
                data, batch_sampler=self.curriculum, collate_fn=self.collate_fn, num_workers=args.workers
            )

        def _build_engine(self) -> None:
            super()._build_engine()
            inner = self.training_client.train_batch

            def timed(data):
                out = inner(data)
                ends.append(time.perf_counter())
                return out

            self.training_client.train_batch = timed

    with cpu.single_process_group():
        trainer = Bench(cfg, spec, layout)
        trainer.ckpt_handler.save_checkpoint = lambda *a, **k: None  # not part of a step
        # data only: one pass over the loader (fetch + collate), no model
        fetch: list[float] = []
        t0 = time.perf_counter()
        for _ in trainer.train_dataloader:
            t1 = time.perf_counter()
            fetch.append(t1 - t0)
            t0 = t1
        start = time.perf_counter()
        trainer.fit()
    steps = [b - a for a, b in zip([start, *ends[:-1]], ends)][args.warmup :]
    return {
        "variant": args.variant,
        "family": args.family,
        "steps_timed": len(steps),
        "step_s_median": statistics.median(steps),
        "step_s_mean": statistics.fmean(steps),
        "fetch_s_median": statistics.median(fetch),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loss_first": trainer.losses[0],
        "loss_last": trainer.losses[-1],
        "curriculum": trainer.report()["curriculum"]["stages"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", choices=["qwen3_asr", "qwen2_audio"], default="qwen3_asr")
    p.add_argument("--steps", type=int, default=24)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeat", type=int, default=1, help="alternate the variants this many times; best median kept")
    p.add_argument("--json", default=None, help="also write the results here")
    p.add_argument("--variant", choices=["project", "plain", "cached"], default=None, help=argparse.SUPPRESS)
    p.add_argument("--work", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.variant:
        print("RESULT " + json.dumps(_child(args)))
        return 0
    variants = ("cached", "plain", "project")
    results: dict[str, list[dict]] = {v: [] for v in variants}
    with tempfile.TemporaryDirectory() as work:
        for _ in range(args.repeat):
            for variant in variants:
                cmd = [sys.executable, __file__, "--variant", variant, "--work", work]
                for key in ("family", "steps", "batch", "seconds", "workers", "threads", "warmup"):
                    cmd += [f"--{key}", str(getattr(args, key))]
                env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
                out = subprocess.run(cmd, capture_output=True, text=True, env=env)
                line = next((ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")), None)
                if out.returncode != 0 or line is None:
                    print(out.stdout[-3000:], out.stderr[-3000:])
                    raise SystemExit(f"{variant} run failed (exit {out.returncode})")
                results[variant].append(json.loads(line[len("RESULT ") :]))
    best = {v: min(rs, key=lambda r: r["step_s_median"]) for v, rs in results.items()}
    for v, rs in results.items():  # data-only time: best of the repeats too
        best[v] = {**best[v], "fetch_s_median": min(r["fetch_s_median"] for r in rs)}
    ratio = best["project"]["step_s_median"] / best["plain"]["step_s_median"]
    mem_ratio = best["project"]["peak_rss_mib"] / best["plain"]["peak_rss_mib"]
    print(f"A2S-SFT step, {args.family} tiny on CPU, batch {args.batch} x {args.seconds:g}-s clips, "
          f"{args.workers} loader workers, {args.threads} thread(s)")
    print(f"{'variant':<10}{'median s/step':>15}{'mean s/step':>13}{'data-only s/batch':>19}{'peak RSS MiB':>14}"
          f"{'loss first->last':>20}")
    for v in variants:
        r = best[v]
        print(f"{v:<10}{r['step_s_median']:>15.4f}{r['step_s_mean']:>13.4f}{r['fetch_s_median']:>19.4f}"
              f"{r['peak_rss_mib']:>14.1f}{r['loss_first']:>11.3f} -> {r['loss_last']:.3f}")
    print(f"ratio project/plain: time {ratio:.3f} ({(ratio - 1) * 100:+.1f} %), peak RSS {mem_ratio:.3f}"
          f"  [target time <= 1.10: {'OK' if ratio <= 1.10 else 'OVER'}]")
    extra = best["project"]["fetch_s_median"] - best["plain"]["fetch_s_median"]
    print(f"data path cost over plain: {extra * 1000:+.1f} ms/batch = "
          f"{extra / best['plain']['step_s_median'] * 100:+.1f} % of a plain step (less noisy than the end-to-end ratio)")
    cached = best["cached"]["step_s_median"]
    print(f"ratio project/cached (all feeding, incl. log-mel + decode): {best['project']['step_s_median'] / cached:.3f}; "
          f"plain/cached: {best['plain']['step_s_median'] / cached:.3f}")
    print("curriculum (project run):", json.dumps(best["project"]["curriculum"]))
    if args.json:
        Path(args.json).write_text(json.dumps({"runs": results, "ratio_time": ratio, "ratio_rss": mem_ratio}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
