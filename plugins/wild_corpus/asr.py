"""Offline base ASR (pocketsphinx): what writes ``cut.custom["base_wer"]`` and gives n-best groups.

The split needs only a 1-best transcript and an n-best list for one mono float32 waveform; it states
that as :class:`lhotse_wild.split.Transcriber`, which ``PocketSphinxTranscriber`` satisfies (as would an
HF/NeMo/vLLM model with the same two methods and a ``name``).

``PocketSphinxTranscriber`` uses pocketsphinx's shipped US-English acoustic model and dictionary. With
``lm_sentences`` it builds an in-domain trigram LM in-process (``pocketsphinx.lm.ArpaBoLM``, fixed
back-off) from those sentences, which is what makes it usable as a "base model" on the demo corpus:
good on clean speech, poor on degraded speech. Without sentences it uses the shipped generic LM.

Audio conversion matters: pocketsphinx wants 16 kHz 16-bit PCM. Samples are resampled exactly
(rational polyphase) when needed, clipped to [-1, 1], scaled by 32767, rounded and cast to int16.
The whole utterance is decoded in one call (``full_utt=True``: batch CMN) and the cepstral mean is
reset before each utterance, so a transcript depends on that audio only, not on buffering or on what
was decoded before (results are identical across processes and orders).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Sequence

import numpy as np

from nemo_wild_eval.errors import BackendUnavailable, InputError, require

__all__ = ["PocketSphinxTranscriber", "to_pcm16", "get_transcriber", "ASR_BACKENDS"]

ASR_RATE = 16000


def to_pcm16(samples: np.ndarray, sampling_rate: int, target_rate: int = ASR_RATE) -> np.ndarray:
    """Mono float waveform -> int16 PCM at ``target_rate`` (clip to [-1, 1], x32767, round)."""
    x = np.asarray(samples)
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1:
        raise InputError(f"expected mono audio (samples,) or (1, samples), got shape {x.shape}")
    if x.dtype.kind not in "fiu":
        raise InputError(f"expected numeric audio samples, got dtype {x.dtype}")
    if x.dtype.kind in "iu":  # already integer PCM: bring to [-1, 1] first
        x = x.astype(np.float64) / float(np.iinfo(x.dtype).max)
    if not np.all(np.isfinite(x)):
        raise InputError("audio contains NaN or infinite samples")
    if sampling_rate <= 0:
        raise InputError(f"sampling rate must be positive, got {sampling_rate}")
    if sampling_rate != target_rate:
        from wild_corpus.synth import resample

        x = resample(x, int(sampling_rate), target_rate)
    return np.round(np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)


def _lm_text(sentences: Sequence[str]) -> str:
    """Sentences -> one lowercase, punctuation-free line each (what ArpaBoLM and the dictionary want)."""
    from nemo_wild_eval.text import normalize

    lines = [normalize(s, "basic") for s in sentences]
    lines = [ln for ln in lines if ln]
    if not lines:
        raise InputError("lm_sentences has no words")
    return "\n".join(lines) + "\n"


class PocketSphinxTranscriber:
    """pocketsphinx 5 with its shipped en-us model and, optionally, an in-domain LM.

    Picklable (the decoder is rebuilt lazily in each process), so it can be shipped to process pools
    or Ray workers. ``oov_words`` lists LM words the pronunciation dictionary lacks (pocketsphinx
    skips them, so they can never be recognised).
    """

    def __init__(
        self,
        lm_sentences: Sequence[str] | None = None,
        *,
        beam: float | None = None,
        max_nbest_paths: int = 200,
    ):
        self._ps = require("pocketsphinx", "install the audio extra: pip install pocketsphinx")
        self.lm_text = _lm_text(lm_sentences) if lm_sentences is not None else None
        self.beam = beam
        self.max_nbest_paths = int(max_nbest_paths)
        model_dir = os.path.join(self._ps.get_model_path(), "en-us")
        self._dict_path = os.path.join(model_dir, "cmudict-en-us.dict")
        if not os.path.isfile(self._dict_path):
            raise BackendUnavailable(f"pocketsphinx model files missing under {model_dir}")
        version = getattr(self._ps, "__version__", None) or _dist_version("pocketsphinx")
        lm_id = hashlib.sha1(self.lm_text.encode()).hexdigest()[:10] if self.lm_text else "generic"
        # "-s2": per-utterance stream reset (decodes differ from the order-dependent first version,
        # so base-WER caches keyed by this name are not reused across it).
        self.name = f"pocketsphinx-{version}-en-us-lm_{lm_id}-s2"
        self.oov_words = self._find_oov() if self.lm_text else []
        self._decoder = None

    # pickling: drop the native decoder and module handle
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_decoder"] = None
        state["_ps"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._ps = require("pocketsphinx", "install the audio extra: pip install pocketsphinx")

    def _find_oov(self) -> list[str]:
        known = set()
        with open(self._dict_path, encoding="utf-8") as fh:
            for line in fh:
                known.add(line.split(" ", 1)[0].split("(", 1)[0])
        words = set(self.lm_text.split())
        return sorted(w for w in words if w not in known)

    @property
    def decoder(self):
        if self._decoder is None:
            kwargs = {"loglevel": "FATAL"}
            if self.beam is not None:
                kwargs["beam"] = self.beam
            if self.lm_text is None:
                self._decoder = self._ps.Decoder(**kwargs)
            else:
                from pocketsphinx.lm import ArpaBoLM

                lm = ArpaBoLM(text=self.lm_text, add_start=True)
                lm.compute()
                fd, path = tempfile.mkstemp(suffix=".arpa", prefix="wildasr-lm-")
                try:
                    with os.fdopen(fd, "w", encoding="utf-8") as fh:
                        lm.write(fh)
                    self._decoder = self._ps.Decoder(lm=path, **kwargs)
                except RuntimeError as exc:
                    raise BackendUnavailable(f"pocketsphinx could not load the in-domain LM: {exc}") from exc
                finally:
                    os.unlink(path)
            self._cmn_init = self._decoder.get_cmn(False)
        return self._decoder

    def _decode(self, samples: np.ndarray, sampling_rate: int) -> bool:
        pcm = to_pcm16(samples, sampling_rate)
        if pcm.size == 0:
            return False
        d = self.decoder
        # The decoder carries state over from the previous utterance: its cepstral mean and the
        # front end's noise tracking (measured: 6 of 20 degraded clips decoded differently in reverse
        # order with the CMN reset alone; pocketsphinx 5.1.1 ignores cmn/remove_noise overrides).
        # A new stream plus the initial CMN makes a transcript depend on this audio only (same result
        # in any order, process or worker).
        d.start_stream()
        d.set_cmn(self._cmn_init)
        d.start_utt()
        d.process_raw(pcm.tobytes(), full_utt=True)
        d.end_utt()
        return True

    def transcribe(self, samples: np.ndarray, sampling_rate: int) -> str:
        """1-best word string (lowercase, no fillers); ``""`` when nothing was recognised."""
        if not self._decode(samples, sampling_rate):
            return ""
        hyp = self.decoder.hyp()
        return _clean(hyp.hypstr) if hyp is not None else ""

    def nbest(self, samples: np.ndarray, sampling_rate: int, n: int) -> list[str]:
        """Up to ``n`` DISTINCT word strings: the 1-best first, then lattice n-best paths in order.

        Distinct because many lattice paths differ only in timing or fillers; those are the same
        rollout for a reward. Fewer than ``n`` come back when the lattice (scanned up to
        ``max_nbest_paths`` paths) has fewer distinct word strings.
        """
        if n < 1:
            raise InputError(f"n must be >= 1, got {n}")
        if not self._decode(samples, sampling_rate):
            return [""]
        d = self.decoder
        best = d.hyp()
        out = [_clean(best.hypstr) if best is not None else ""]
        seen = set(out)
        if n == 1:
            return out
        for k, hyp in enumerate(d.nbest()):
            if k >= self.max_nbest_paths or len(out) >= n:
                break
            if hyp is None:
                continue
            text = _clean(hyp.hypstr)
            if text not in seen:
                seen.add(text)
                out.append(text)
        return out


def _clean(hypstr: str) -> str:
    """Drop sentence markers and fillers (``<s>``, ``</s>``, ``<sil>``, ``[NOISE]``, ``++x++``)."""
    words = [
        w
        for w in hypstr.split()
        if not (w.startswith("<") and w.endswith(">"))
        and not (w.startswith("[") and w.endswith("]"))
        and not (w.startswith("++") and w.endswith("++"))
    ]
    return " ".join(w.split("(", 1)[0] for w in words)


def _dist_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


ASR_BACKENDS = ("pocketsphinx",)


def get_transcriber(name: str, lm_sentences: Sequence[str] | None = None) -> PocketSphinxTranscriber:
    """Build a transcriber by name (``pocketsphinx``); more backends plug in here."""
    if name == "pocketsphinx":
        return PocketSphinxTranscriber(lm_sentences=lm_sentences)
    raise InputError(f"unknown ASR backend {name!r}; choose one of {list(ASR_BACKENDS)}")
