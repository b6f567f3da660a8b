"""Router cost: latency per second of audio, and the cost of one LoRA switch, as fractions of ASR time.

    python benchmarks/router.py                          # CPU, "small" random-init Qwen2-Audio
    python benchmarks/router.py --preset base --device cuda
    python benchmarks/router.py --model DIR --adapter DIR --router OUT/router   # real checkpoints

Rows (medians over ``--repeats``; the clip is real Piper speech tiled to each length):

- router: seconds of router compute per second of audio (real-time factor), and the same time as a
  fraction of (a) pocketsphinx decoding the clip and (b) one forward pass (prefill) of the audio LLM
  on the clip.
- switch: one in-place LoRA switch (``LoraSwitch.on`` or ``off``: add/subtract the precomputed rank-r
  deltas of every adapted matrix) as a fraction of the audio LLM's prefill and of a greedy decode of
  ``--new-tokens`` tokens of the same clip. A routed batch pays at most two switches.

The audio LLM is a random-initialised Qwen2-Audio of the chosen size (no hub access here) with a
rank-8 LoRA on q/v/o and the encoder's fc1 (the paper's A2S-SFT rank); with ``--model`` a real checkpoint.
Numbers depend on the machine; the ratios are what transfers.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PRESETS = {  # (audio d_model, audio layers, audio heads, text hidden, text layers, text heads, window s)
    "tiny": (64, 2, 2, 128, 2, 4, 30),
    "small": (256, 4, 4, 512, 6, 8, 30),
    "base": (768, 12, 12, 1024, 24, 16, 30),  # ~0.4 B: a Qwen3-ASR-0.6B-sized stand-in
}


def speech(seconds: float) -> np.ndarray:
    from wild_corpus.synth import DEFAULT_STYLES, get_engine, load_sentences, synthesize_utterance

    engine = get_engine("auto")
    parts, total = [], 0
    for i, text in enumerate(load_sentences()[:6]):
        x = synthesize_utterance(engine, text, DEFAULT_STYLES[i % len(DEFAULT_STYLES)])
        parts.append(x)
        total += x.size
    base = np.concatenate(parts)
    reps = int(np.ceil(seconds * 16000 / base.size))
    return np.tile(base, reps)[: int(seconds * 16000)]


def build_model(preset: str, out: Path) -> Path:
    import torch
    from transformers import (Qwen2AudioConfig, Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor,
                              WhisperFeatureExtractor)

    from verl_dgwgpo.tiny_models import build_tokenizer, save_model_dir

    ad, al, ah, th, tl, tn, win = PRESETS[preset]
    tok = build_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"])
    fe = WhisperFeatureExtractor(feature_size=128, chunk_length=win)
    proc = Qwen2AudioProcessor(feature_extractor=fe, tokenizer=tok)
    cfg = Qwen2AudioConfig(
        audio_config=dict(model_type="qwen2_audio_encoder", num_mel_bins=128, d_model=ad, encoder_layers=al,
                          encoder_attention_heads=ah, encoder_ffn_dim=4 * ad, max_source_positions=fe.nb_max_frames // 2),
        text_config=dict(model_type="qwen2", vocab_size=len(tok), hidden_size=th, intermediate_size=3 * th,
                         num_hidden_layers=tl, num_attention_heads=tn, num_key_value_heads=max(1, tn // 4),
                         max_position_embeddings=4096),
        audio_token_id=proc.audio_token_id)
    torch.manual_seed(0)
    return save_model_dir(Qwen2AudioForConditionalGeneration(cfg), proc, out)


def build_adapter(model_dir: Path, out: Path) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen2AudioForConditionalGeneration

    torch.manual_seed(1)
    m = get_peft_model(Qwen2AudioForConditionalGeneration.from_pretrained(model_dir),
                       LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj", "fc1"],
                                  init_lora_weights=False))
    m.save_pretrained(out)
    return out


def timeit(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="small")
    ap.add_argument("--model", help="real transformers audio LLM directory (overrides --preset)")
    ap.add_argument("--adapter", help="LoRA adapter for --model")
    ap.add_argument("--router", help="trained router directory (default: an untrained one; same cost)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--lengths", default="1,4,10,30", help="clip lengths in seconds")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--no-pocketsphinx", action="store_true")
    args = ap.parse_args(argv)

    import torch

    from verl_dgwgpo.router.hf_asr import HFAudioASR
    from verl_dgwgpo.router.model import RouterModel

    lengths = [float(v) for v in args.lengths.split(",")]
    audio = speech(max(lengths))
    router = RouterModel.load(args.router) if args.router else RouterModel()
    router.net.to("cpu")
    tmp = Path(tempfile.mkdtemp(prefix="router-bench-"))
    model_dir = Path(args.model) if args.model else build_model(args.preset, tmp / "model")
    adapter = Path(args.adapter) if args.adapter else build_adapter(model_dir, tmp / "adapter")
    asr = HFAudioASR(model_dir, adapter, max_new_tokens=args.new_tokens, device=args.device)
    n_params = sum(p.numel() for p in asr.model.parameters())
    sw = asr.switch
    ps = None
    if not args.no_pocketsphinx:
        from wild_corpus.asr import PocketSphinxTranscriber
        from wild_corpus.synth import load_sentences

        ps = PocketSphinxTranscriber(lm_sentences=load_sentences())

    def prefill(x):
        inputs = asr.processor(text=[asr._prompt], audio=[x], sampling_rate=16000, return_tensors="pt")
        inputs = {k: v.to(asr.device) for k, v in inputs.items() if hasattr(v, "to")}
        with torch.inference_mode():
            asr.model(**inputs)
        if asr.device.startswith("cuda"):
            torch.cuda.synchronize()

    t_switch = timeit(lambda: (sw.on(), sw.off()), args.repeats) / 2
    print(f"device={args.device} torch threads={torch.get_num_threads()} audio LLM={model_dir.name if args.model else args.preset} "
          f"({n_params / 1e6:.1f} M params), LoRA deltas {sw.num_delta_parameters() / 1e6:.2f} M values in "
          f"{len(sw.deltas)} matrices; router {router.num_parameters() / 1e6:.2f} M params (CPU)")
    print(f"one switch: {t_switch * 1e3:.3f} ms")
    header = f"{'clip s':>6} {'router s/s':>10} {'router/psphinx':>14} {'router/prefill':>14} {'switch/prefill':>14} {'switch/decode':>13}"
    print(header)
    window = float(getattr(asr.processor.feature_extractor, "chunk_length", 30))
    for sec in lengths:
        x = audio[: int(sec * 16000)]
        t_router = timeit(lambda: router.route(x, 16000), args.repeats)
        xa = x[: int(min(sec, window) * 16000)]  # the audio LLM sees at most its window
        t_pre = timeit(lambda: prefill(xa), args.repeats)
        t_dec = timeit(lambda: asr.token_ids(xa, 16000), max(1, args.repeats // 2)) if sec <= 10 else float("nan")
        t_ps = timeit(lambda: ps.transcribe(x, 16000), max(1, args.repeats // 2)) if ps and sec <= 30 else float("nan")
        print(f"{sec:6.0f} {t_router / sec:10.4f} {t_router / t_ps:14.3f} {t_router / t_pre:14.3f} "
              f"{t_switch / t_pre:14.4f} {t_switch / t_dec:13.4f}")
    print("router s/s = router seconds per second of audio; other columns are ratios of times on the same clip "
          "(audio LLM clipped to its window; decode = greedy, --new-tokens tokens; nan = not measured)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
