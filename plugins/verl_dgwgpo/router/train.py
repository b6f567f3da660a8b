"""Train the router: balanced clean/degraded mini-batches of random 1.5-s log-mel crops, AdamW.

Reproducibility: everything random (crop positions, batch draws, dropout, initialisation) comes
from ``seed``. With ``steps`` the run is exactly reproducible on the same machine/thread count; with
only a wall-clock budget (``seconds``) the number of steps depends on the machine, and the metrics
record it (``steps``) so ``steps=metrics["steps"]`` replays the run.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from nemo_wild_eval.errors import InputError

from .data import Clips, load_clips, simulate_degraded
from .features import SAMPLING_RATE, router_features
from .model import RouterConfig, RouterModel, build_net, pad_batch

__all__ = ["train_router"]

CROP_FRAMES = 150  # 1.5 s: short crops = more steps per CPU second; inference chunks are longer
BATCH = 16  # half clean, half degraded
LR = 2e-3
WARMUP = 20



def _features(clips: Clips, sampling_rate: int, wave: int) -> list[np.ndarray]:
    return [router_features(x, sampling_rate, wave) for x in clips.audio]


def _crop(f: np.ndarray, rng: np.random.Generator, frames: int) -> np.ndarray:
    if f.shape[0] <= frames:
        return f
    s = int(rng.integers(0, f.shape[0] - frames + 1))
    return f[s : s + frames]


def train_router(
    clean: Any,
    degraded: Any = None,
    *,
    sampling_rate: int = SAMPLING_RATE,
    seconds: float = 60,
    steps: int | None = None,
    seed: int = 0,
    out_dir: str | Path | None = None,
    config: RouterConfig | None = None,
    progress: bool = True,
    batch: int = BATCH,
    crop_frames: int = CROP_FRAMES,
    lr: float = LR,
) -> tuple[RouterModel, dict]:
    """Train a router on ``clean`` vs ``degraded`` clips; returns ``(model, metrics)``.

    ``clean`` / ``degraded``: CutSets, iterables of cuts, lists of float arrays at ``sampling_rate``,
    or :class:`~verl_dgwgpo.router.data.Clips`. Pass only *training* data: hold out with
    :func:`~verl_dgwgpo.router.data.make_splits`. ``degraded=None`` simulates 4 copies of every clean
    clip with all 54 scenarios. Training stops after ``steps`` steps, else after ``seconds`` of wall
    clock, feature extraction included. ``batch`` (even), ``crop_frames`` and ``lr`` tune the optimisation. ``out_dir``: the model (``config.json``, ``router.safetensors``) and ``train_metrics.json``.
    """
    import torch
    from tqdm.auto import tqdm

    if steps is None and not seconds > 0:
        raise InputError(f"seconds must be > 0 (or give steps), got {seconds}", source="seconds")
    if batch < 2 or batch % 2:
        raise InputError(f"batch must be an even number >= 2, got {batch}", source="batch")
    if steps is not None and steps < 1:
        raise InputError(f"steps must be >= 1, got {steps}", source="steps")
    clean_c = load_clips(clean, sampling_rate, what="clean")
    if degraded is None:
        import lhotse_wild

        degraded_c = simulate_degraded(clean_c, list(lhotse_wild.SCENARIOS), seed=seed + 1, sampling_rate=sampling_rate)
    else:
        degraded_c = load_clips(degraded, sampling_rate, what="degraded")
    t0 = time.perf_counter()
    cfg = config or RouterConfig()
    f_clean = _features(clean_c, sampling_rate, cfg.wave_features)
    f_deg = _features(degraded_c, sampling_rate, cfg.wave_features)
    allf = np.concatenate([np.concatenate(f_clean), np.concatenate(f_deg)])
    cfg.sampling_rate = int(sampling_rate)
    cfg.feat_mean = [float(v) for v in allf.mean(axis=0)]
    cfg.feat_std = [float(v) for v in np.maximum(allf.std(axis=0), 1e-3)]
    cfg.validate()

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_net(cfg)
    net.train()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    half = batch // 2
    labels = torch.cat([torch.zeros(half), torch.ones(half)])
    recent_loss: list[float] = []
    recent_acc: list[float] = []
    step = 0
    deadline = t0 + float(seconds)
    bar = tqdm(total=steps, desc="router train", unit="step", disable=not progress)
    while (step < steps) if steps is not None else (time.perf_counter() < deadline):
        ci = rng.integers(len(f_clean), size=half)
        di = rng.integers(len(f_deg), size=half)
        crops = [_crop(f_clean[i], rng, crop_frames) for i in ci] + [_crop(f_deg[i], rng, crop_frames) for i in di]
        x, lengths = pad_batch(crops)
        logits = net(x, lengths)
        loss = loss_fn(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        # Warm-up, then cosine decay over the budget (steps, or wall clock): the last steps are small,
        # so the final weights are not one noisy step away from a good point.
        done = step / steps if steps is not None else (time.perf_counter() - t0) / float(seconds)
        scale = min(1.0, (step + 1) / WARMUP) * max(0.05, 0.5 * (1.0 + math.cos(math.pi * min(1.0, done))))
        for group in opt.param_groups:
            group["lr"] = lr * scale
        opt.step()
        step += 1
        recent_loss = (recent_loss + [loss.item()])[-20:]
        recent_acc = (recent_acc + [((logits.detach() > 0).float() == labels).float().mean().item()])[-20:]
        bar.update(1)
        if step % 10 == 0:
            bar.set_postfix(loss=f"{np.mean(recent_loss):.3f}", acc=f"{np.mean(recent_acc):.3f}")
    bar.close()
    net.eval()
    model = RouterModel(cfg, net)
    metrics = {
        "steps": step,
        "train_seconds": round(time.perf_counter() - t0, 3),
        "final_loss": float(np.mean(recent_loss)),
        "train_batch_accuracy": float(np.mean(recent_acc)),
        "n_clean": len(clean_c),
        "n_degraded": len(degraded_c),
        "clean_audio_seconds": round(sum(x.size for x in clean_c.audio) / sampling_rate, 2),
        "degraded_audio_seconds": round(sum(x.size for x in degraded_c.audio) / sampling_rate, 2),
        "parameters": model.num_parameters(),
        "seed": seed,
        "batch": batch,
        "crop_frames": crop_frames,
        "lr": lr,
    }
    if out_dir is not None:
        out = model.save(out_dir)
        (out / "train_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return model, metrics
