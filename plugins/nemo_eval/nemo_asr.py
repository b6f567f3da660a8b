"""NeMo in the loop: a NeMo ASR model's own transcription of a manifest's audio, then scoring.

``wildasr score --nemo-model NAME_OR_.nemo MANIFEST`` loads the model with
``ASRModel.restore_from`` (a ``.nemo`` file) or ``ASRModel.from_pretrained`` (a name), calls its
``transcribe(paths, batch_size=...)`` exactly as NeMo's ``transcribe_speech.py`` does, and scores the
result. Relative ``audio_filepath`` values are resolved against the manifest's folder (NeMo's rule).
Needs the ``nemo`` extra (``pip install -e .[nemo]``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nemo_wild_eval.errors import InputError
from nemo_wild_eval.manifest import BadLine, ManifestData

__all__ = ["NemoModelError", "build_tiny_ctc", "load_model", "transcribe", "transcribe_data"]


class NemoModelError(RuntimeError):
    """The NeMo model could not be loaded or could not transcribe (``wildasr score`` exits 1)."""

AUDIO_KEYS = ("audio_filepath", "audio_path")


def load_model(name_or_path: str, device: str | None = None):
    """A NeMo ``ASRModel`` from a ``.nemo`` file or a pretrained name (``nvidia/...``), in eval mode."""
    try:
        import torch
        from nemo.collections.asr.models import ASRModel
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise NemoModelError(
            f"--nemo-model needs the nemo extra (nemo_toolkit[asr]); install it with "
            f"`pip install -e .[nemo]` ({exc})"
        ) from exc
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    path = Path(name_or_path)
    if path.suffix == ".nemo" or path.exists():
        if not path.is_file():
            raise InputError("no such .nemo file", source=str(name_or_path))
        model = ASRModel.restore_from(str(path), map_location=torch.device(device))
    else:
        model = ASRModel.from_pretrained(str(name_or_path), map_location=torch.device(device))
    model.eval()
    return model


def _text(h: Any) -> str:
    if isinstance(h, str):
        return h
    text = getattr(h, "text", None)
    if isinstance(text, str):
        return text
    if isinstance(h, (list, tuple)) and h:  # n-best list: the best first
        return _text(h[0])
    return "" if text is None else str(text)


def transcribe(model, paths: list[str], batch_size: int = 16) -> list[str]:
    """``model.transcribe(paths)`` reduced to one string per file (CTC, RNN-T, AED, hybrid outputs)."""
    if not paths:
        return []
    out = model.transcribe(paths, batch_size=batch_size, verbose=len(paths) > batch_size)
    if isinstance(out, tuple):  # older RNN-T API: (best, all)
        out = out[0]
    texts = [_text(h) for h in out]
    if len(texts) != len(paths):
        raise RuntimeError(f"model returned {len(texts)} transcripts for {len(paths)} files")
    return texts


def transcribe_data(data: ManifestData, model: Any, batch_size: int = 16, skip_bad: bool = False) -> str:
    """Fill ``data.hyps`` with the model's transcripts; returns the model's name for the report."""
    paths: list[str] = []
    keep: list[int] = []
    for k, rec in enumerate(data.records):
        source = data.sources[data.source_index[k]]
        audio = next((rec[a] for a in AUDIO_KEYS if isinstance(rec.get(a), str)), None)
        reason = None
        if audio is None:
            reason = "missing 'audio_filepath' (needed by --nemo-model)"
        else:
            p = Path(audio)
            if not p.is_absolute() and source != "<records>":
                p = Path(source).parent / p
            if not p.is_file():
                reason = f"audio file not found: {audio}"
        if reason is not None:
            if not skip_bad:
                raise InputError(reason, source=source, line=data.lines[k])
            data.skipped.append(BadLine(source, data.lines[k], reason))
            continue
        keep.append(k)
        paths.append(str(p))
    if len(keep) != len(data.records):
        for name in ("records", "refs", "hyps", "source_index", "lines"):
            col = getattr(data, name)
            setattr(data, name, [col[k] for k in keep])
    if isinstance(model, (str, Path)):
        name = str(model)
        try:
            model = load_model(name)
        except (InputError, NemoModelError):
            raise
        except Exception as exc:  # NeMo raises many kinds (hub, tar, config, CUDA)
            raise NemoModelError(f"could not load {name!r}: {type(exc).__name__}: {exc}") from exc
    else:
        name = type(model).__name__
    try:
        data.hyps = transcribe(model, paths, batch_size=batch_size)
    except Exception as exc:
        raise NemoModelError(f"{name} failed to transcribe: {type(exc).__name__}: {exc}") from exc
    data.raw_hyps_changed = 0
    return name


TINY_VOCABULARY = tuple(" abcdefghijklmnopqrstuvwxyz'")


def build_tiny_ctc(path: str | Path, seed: int = 0) -> Path:
    """Save a tiny randomly initialised NeMo CTC model (char vocabulary, one separable conv block) as
    ``path`` (``.nemo``): NeMo in the loop without a model hub, for tests and the offline example.

    Its transcripts are random characters: it exercises the loading/transcription path, not accuracy.
    """
    try:
        import torch
        from nemo.collections.asr.models import EncDecCTCModel
        from omegaconf import DictConfig
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise NemoModelError(f"building a NeMo model needs the nemo extra (pip install -e .[nemo]) ({exc})") from exc
    vocab = list(TINY_VOCABULARY)
    cfg = DictConfig({
        "sample_rate": 16000,
        "labels": vocab,
        "preprocessor": {
            "_target_": "nemo.collections.asr.modules.AudioToMelSpectrogramPreprocessor",
            "sample_rate": 16000, "features": 64, "dither": 0.0, "pad_to": 0,
        },
        "encoder": {
            "_target_": "nemo.collections.asr.modules.ConvASREncoder",
            "feat_in": 64, "activation": "relu", "conv_mask": True,
            "jasper": [{"filters": 32, "repeat": 1, "kernel": [3], "stride": [1], "dilation": [1],
                        "dropout": 0.0, "residual": False, "separable": True, "se": False}],
        },
        "decoder": {
            "_target_": "nemo.collections.asr.modules.ConvASRDecoder",
            "feat_in": 32, "num_classes": len(vocab), "vocabulary": vocab,
        },
    })
    torch.manual_seed(seed)
    model = EncDecCTCModel(cfg=cfg)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save_to(str(path))
    return path
