"""The figure a user wants first: one utterance under the 7 effects at three severities."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from lhotse_wild.scenarios import EFFECTS


def demo_signal(sampling_rate: int = 16000, seconds: float = 3.0) -> np.ndarray:
    """A speech-like test signal (gliding harmonic voice with syllable rhythm), when no cut is given."""
    t = np.arange(int(seconds * sampling_rate)) / sampling_rate
    f0 = 120.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sampling_rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 30) if k * 150 < sampling_rate / 2)
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0.0, None) ** 0.5
    x = voice * envelope
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32)


def preview_grid(
    samples: np.ndarray,
    sampling_rate: int,
    path: str | Path,
    *,
    seed: int = 0,
    severities: Sequence[float] = (0.0, 0.5, 1.0),
    noise_source=None,
    title: str = "",
) -> Path:
    """Save a PNG: rows = clean + the 7 effects, columns = severities; log-power spectrograms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import scipy.signal

    from lhotse_wild.core import degrade

    x = np.asarray(samples, dtype=np.float32).reshape(-1, np.shape(samples)[-1])[0]
    rows = ["clean", *EFFECTS]
    fig, axes = plt.subplots(len(rows), len(severities), figsize=(3.2 * len(severities), 1.5 * len(rows)),
                             sharex=True, sharey=True, squeeze=False)
    for r, name in enumerate(rows):
        for c, s in enumerate(severities):
            ax = axes[r][c]
            if name == "clean":
                if c:
                    ax.axis("off")
                    continue
                y = x
            else:
                y, _ = degrade(x, sampling_rate, name, s, seed, noise_source=noise_source)
            f, t, sxx = scipy.signal.spectrogram(y, sampling_rate, nperseg=512, noverlap=384)
            ax.pcolormesh(t, f / 1000.0, 10 * np.log10(sxx + 1e-12), shading="auto", vmin=-110, vmax=-20,
                          cmap="magma")
            if c == 0:
                ax.set_ylabel(f"{name}\nkHz", fontsize=8)
            if r <= 1:
                ax.set_title("clean" if name == "clean" else f"severity {s:g}", fontsize=9)
    fig.suptitle(title or "lhotse_wild: the 7 effects at three severities", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
