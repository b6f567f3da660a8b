"""Build an offline NeMo setup for ``wildasr score --nemo-model``: a tiny random CTC ``.nemo`` and a
NeMo manifest of synthetic speech (the shipped Piper voice; pure tones if no TTS is installed).

    python examples/eval/tiny_nemo_model.py out/eval/tiny_nemo
    wildasr score out/eval/tiny_nemo/manifest.json --nemo-model out/eval/tiny_nemo/tiny_ctc.nemo \\
        --normalizer basic --out out/eval/nemo

The model is randomly initialised, so its transcripts are random characters and the WER is ~100 %:
this shows the path a real NeMo checkpoint takes (``--nemo-model stt_en_fastconformer_ctc_large`` or
your own ``.nemo`` on a machine with the model), offline. Needs the ``nemo`` extra.
"""

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

from nemo_wild_eval.nemo_asr import build_tiny_ctc

SENTENCES = ["turn the lights off", "what is the weather like today", "call me back in ten minutes", "yes"]


def speech(texts: list[str]) -> list[np.ndarray]:
    try:
        from wild_corpus.synth import DEFAULT_STYLES, get_engine, synthesize_utterance

        engine = get_engine("auto", threads=1)
        return [synthesize_utterance(engine, t, DEFAULT_STYLES[k % len(DEFAULT_STYLES)]) for k, t in enumerate(texts)]
    except Exception as exc:  # no TTS here: tones of a plausible length stand in for speech
        print(f"(no TTS: {exc}; writing tones instead)")
        rng = np.random.default_rng(0)
        out = []
        for k, t in enumerate(texts):
            n = int(16000 * (0.4 + 0.06 * len(t)))
            x = 0.3 * np.sin(2 * np.pi * (180 + 40 * k) * np.arange(n) / 16000) + 0.02 * rng.standard_normal(n)
            out.append(x.astype(np.float32))
        return out


def main(out_dir: str) -> None:
    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    model = build_tiny_ctc(out / "tiny_ctc.nemo")
    rows = []
    for k, (text, x) in enumerate(zip(SENTENCES, speech(SENTENCES))):
        rel = f"audio/utt{k}.wav"
        sf.write(out / rel, x, 16000)
        rows.append({"audio_filepath": rel, "duration": round(len(x) / 16000, 3), "text": text,
                     "condition": "clean" if k % 2 == 0 else "fast"})
    manifest = out / "manifest.json"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    print(f"model: {model}\nmanifest: {manifest} ({len(rows)} utterances, audio paths relative to it)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/eval/tiny_nemo")
