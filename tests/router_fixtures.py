"""Session fixtures for the router tests: real Piper speech, a trained router, a tiny LoRA model.

Import the fixtures into a test module with ``from router_fixtures import *``. The Piper corpus is
cached in pytest's cache directory (``.pytest_cache/d/wildasr_router_piper``), so only the first
run synthesises it (~20 s); the router is trained once per run (60 fixed steps, ~35-40 s on one CPU thread).
"""

from __future__ import annotations

import numpy as np
import pytest

N_UTTERANCES = 24
TRAIN_STEPS = 60  # fixed steps: the same router on any machine (~35-40 s on one busy CPU thread)

__all__ = ["router_corpus", "router_splits", "trained_router", "tiny_lora"]

# Fixtures imported into several test modules get one pytest definition per module (and so one
# "session" cache each); this per-process memo makes the expensive work happen once per run.
_MEMO: dict[str, object] = {}


def _once(key: str, build):
    if key not in _MEMO:
        _MEMO[key] = build()
    return _MEMO[key]


@pytest.fixture(scope="session")
def router_corpus(request, tmp_path_factory):
    """24 real Piper utterances (5 voice styles), 16 kHz, as an eager CutSet."""
    from wild_corpus.synth import load_sentences, plan_corpus, synthesize_corpus

    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    out = cache.mkdir("wildasr_router_piper") if cache is not None else tmp_path_factory.mktemp("router_piper")
    items = plan_corpus(load_sentences(), num_utterances=N_UTTERANCES, seed=7)
    return _once("corpus", lambda: synthesize_corpus(items, out, workers=1, progress=False))


@pytest.fixture(scope="session")
def router_splits(router_corpus):
    """Held-out protocol: 1/3 of utterances, 7 scenarios and severities 0.4-0.55 never trained on."""
    from verl_dgwgpo.router.data import make_splits

    return _once("splits", lambda: make_splits(router_corpus, per_clip=4, seed=0, test_fraction=1 / 3))


@pytest.fixture(scope="session")
def trained_router(router_splits, tmp_path_factory):
    """(RouterModel, train metrics, saved directory)."""
    import torch

    from verl_dgwgpo.router.train import train_router

    def build():
        torch.set_num_threads(1)
        out = tmp_path_factory.mktemp("router") / "router"
        model, metrics = train_router(router_splits.train_clean, router_splits.train_degraded,
                                      steps=TRAIN_STEPS, seed=0, out_dir=out, progress=False)
        return model, metrics, out

    return _once("router", build)


@pytest.fixture(scope="session")
def tiny_lora(tmp_path_factory):
    """(tiny Qwen2-Audio dir, peft LoRA adapter dir with random non-zero A and B)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2AudioForConditionalGeneration

    from verl_dgwgpo.tiny_models import build_tiny_qwen2_audio

    def build():
        root = tmp_path_factory.mktemp("tiny_lora")
        model_dir = build_tiny_qwen2_audio(root / "model", seed=0)
        torch.manual_seed(1)
        base = Qwen2AudioForConditionalGeneration.from_pretrained(model_dir)
        cfg = LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj", "fc1", "o_proj"],
                         init_lora_weights=False)
        peft_model = get_peft_model(base, cfg)
        assert any(float(p.detach().abs().sum()) > 0 for n, p in peft_model.named_parameters() if "lora_B" in n)
        peft_model.save_pretrained(root / "adapter")
        return model_dir, root / "adapter"

    return _once("tiny_lora", build)


def tone(freq: float, seconds: float, sr: int = 16000, amp: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def clearest_clean(router, clips, k: int = 2, sr: int = 16000) -> list[int]:
    """Indices of the ``k`` held-out clean clips the router is surest are clean, asserted below threshold.

    A clip near the threshold may flip with a different BLAS/thread count (or a corpus cached by an
    older, unseeded synthesis). Tests about switching/transcription pick the clips the router is
    clearly right about; the router's accuracy is asserted in test_router_train.
    """
    probs = [router.prob(x, sr)[0] for x in clips]
    order = sorted(range(len(clips)), key=lambda i: probs[i])[:k]
    assert all(probs[i] < router.threshold for i in order), [round(probs[i], 3) for i in order]
    return order
