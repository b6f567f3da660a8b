"""Small inputs for A2S-SFT tests, the ``--tiny`` example and the step benchmark (no hub, no TTS needed).

:func:`make_cuts` writes a Lhotse cut manifest of short clips with chosen ``base_wer`` values (as
``wildasr split`` leaves them); :func:`phase_overrides` is the config a tiny CPU run needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["make_cuts", "phase_overrides"]


def make_cuts(
    out_dir: str | Path,
    base_wers: Sequence[float | None],
    *,
    texts: Sequence[str] | None = None,
    seconds: float = 0.5,
    sampling_rate: int = 16000,
    seed: int = 0,
    name: str = "cuts.jsonl.gz",
) -> Path:
    """Cuts ``c0..cN`` of tone+noise clips (a different pitch per cut) with ``custom['base_wer']``.

    ``None`` leaves ``base_wer`` out (what a corpus looks like before ``wildasr split``).
    """
    import soundfile as sf
    from lhotse import CutSet, Recording, SupervisionSegment

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sampling_rate))) / sampling_rate
    cuts = []
    for i, wer in enumerate(base_wers):
        wav = out / f"c{i}.wav"
        x = 0.3 * np.sin(2 * np.pi * (200 + 150 * i) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(wav, x.astype(np.float32), sampling_rate)
        rec = Recording.from_file(wav, recording_id=f"r{i}")
        cut = rec.to_cut().with_id(f"c{i}")
        text = texts[i % len(texts)] if texts else f"word {i}"
        cut.supervisions = [SupervisionSegment(f"s{i}", rec.id, 0.0, rec.duration, text=text, language="English")]
        custom = {"wild": {"scenario": "noise", "severity": 0.5}}
        if wer is not None:
            custom["base_wer"] = float(wer)
        cut.custom = custom
        cuts.append(cut)
    path = out / name
    CutSet.from_cuts(cuts).to_file(path)
    return path


def phase_overrides(model_dir: str | Path, train_files: str | Path, out_dir: str | Path, **extra: object) -> list[str]:
    """Hydra overrides for a quick CPU run of a phase YAML on a tiny model."""
    base = {
        "model.path": str(model_dir),
        "data.train_files": str(train_files),
        "data.train_batch_size": 2,
        "data.micro_batch_size_per_gpu": 2,
        "data.num_workers": 0,
        "data.max_length": 1024,
        "trainer.default_local_dir": str(out_dir),
        "checkpoint.save_contents": "[model]",
    }
    base.update({k: v for k, v in extra.items()})
    return [f"{k}={v}" for k, v in base.items()]
