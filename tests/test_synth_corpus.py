"""Clean-corpus synthesis: the shipped sentences, the plan, resampling, real Piper audio, resume."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import soundfile as sf

from wild_corpus import synth
from nemo_wild_eval.errors import BackendUnavailable
from wild_corpus.synth import (
    DEFAULT_STYLES,
    PEAK,
    VoiceStyle,
    load_sentences,
    plan_corpus,
    resample,
    synthesize_corpus,
    synthesize_utterance,
)
from nemo_wild_eval.errors import InputError


def test_shipped_sentences_are_usable(shipped_sentences):
    assert len(shipped_sentences) >= 250
    assert len(set(shipped_sentences)) == len(shipped_sentences), "duplicate sentences"
    for s in shipped_sentences:
        assert not re.search(r"\d", s), f"digits make references normaliser-dependent: {s!r}"
        assert 5 <= len(s.split()) <= 14, s


def test_shipped_sentences_are_in_the_asr_dictionary(pocketsphinx_asr):
    # A word missing from cmudict can never be recognised: it would put a floor under clean WER.
    assert pocketsphinx_asr.oov_words == []


def test_load_sentences_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_sentences(tmp_path / "missing.txt")
    empty = tmp_path / "empty.txt"
    empty.write_text("# only a comment\n\n", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        load_sentences(empty)


def test_plan_is_deterministic_and_varies_styles():
    sents = [f"sentence number {w}" for w in ("one", "two", "three", "four")]
    a = plan_corpus(sents, num_utterances=10, seed=7)
    b = plan_corpus(sents, num_utterances=10, seed=7)
    assert a == b
    assert plan_corpus(sents, 10, seed=8) != a
    assert len({it.cut_id for it in a}) == 10
    # every sentence is used before any repeats, and a repeat gets a different style
    assert sorted(it.text for it in a[:4]) == sorted(sents)
    for i in range(4, 10):
        first = next(it for it in a[:4] if it.text == a[i].text)
        assert a[i].style != first.style
    assert [it.style for it in a[:4]] == list(DEFAULT_STYLES[:4])
    assert a[4].style == DEFAULT_STYLES[1]  # second pass shifts the style cycle by one
    with pytest.raises(InputError):
        plan_corpus(sents, num_utterances=0)
    with pytest.raises(InputError):
        plan_corpus([], num_utterances=3)


def test_resample_22050_to_16000_keeps_frequency_and_length():
    sr = 22050
    t = np.arange(sr * 2) / sr
    x = (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32)
    y = resample(x, sr, 16000)
    assert len(y) == 32000  # exactly 320/441 of the input
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak_hz = np.argmax(spec) * 16000 / len(y)
    assert abs(peak_hz - 1000.0) < 1.0
    assert abs(np.max(np.abs(y[1000:-1000])) - 0.5) < 0.01


def test_piper_fixture_is_real_speech(piper_clean_cuts, shipped_sentences):
    cuts = list(piper_clean_cuts)
    assert len(cuts) == 6
    styles = [c.custom["tts"]["style"] for c in cuts]
    assert styles[:5] == [s.name for s in DEFAULT_STYLES]
    for c in cuts:
        assert c.sampling_rate == 16000 and c.num_channels == 1
        assert c.supervisions[0].text in shipped_sentences
        assert c.custom["tts"]["engine"] == "piper"
        assert 1.0 < c.duration < 8.0
        x = c.load_audio()[0]
        assert abs(float(np.max(np.abs(x))) - PEAK) < 2e-3
        # speech, not a tone or silence: energy varies strongly across 50 ms frames
        frames = x[: len(x) // 800 * 800].reshape(-1, 800)
        rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-12)
        assert np.percentile(rms, 90) > 10 * np.percentile(rms, 10)


def _f0(x: np.ndarray, sr: int = 16000) -> float:
    """Median autocorrelation pitch over the loudest frames (60-400 Hz)."""
    hop, win = 320, 1024
    frames = [x[i : i + win] for i in range(0, len(x) - win, hop)]
    energy = np.array([np.sum(f**2) for f in frames])
    lo, hi = sr // 400, sr // 60
    f0s = []
    for f in (frames[i] for i in np.argsort(energy)[-30:]):
        f = f - f.mean()
        ac = np.correlate(f, f, "full")[win - 1 :]
        lag = lo + int(np.argmax(ac[lo:hi]))
        f0s.append(sr / lag)
    return float(np.median(f0s))


def test_pitch_styles_shift_pitch():
    # Piper's sampling noise off: synthesis is then deterministic, so the F0 comparison is exact.
    engine = synth.get_engine("piper", threads=1)
    text = "The old man walked his dog along the river."
    f0 = {}
    for st in (-2.5, 0.0, 2.5):
        style = VoiceStyle(f"st{st}", noise_scale=0.0, noise_w_scale=0.0, pitch_semitones=st)
        x = synthesize_utterance(engine, text, style)
        assert np.array_equal(x, synthesize_utterance(engine, text, style))
        f0[st] = _f0(x)
    assert f0[-2.5] < f0[0.0] < f0[2.5]
    # +2.5 vs -2.5 semitones = 2 ** (5 / 12) = 1.335 (measured 1.30 with this estimator)
    assert 1.2 < f0[2.5] / f0[-2.5] < 1.45, f0


def test_resume_reuses_files_and_redoes_broken_ones(tmp_path, shipped_sentences):
    items = plan_corpus(shipped_sentences, num_utterances=2, seed=5)
    cuts = synthesize_corpus(items, tmp_path, workers=1, progress=False)
    paths = [tmp_path / "audio" / f"{it.cut_id}.wav" for it in items]
    before = [p.read_bytes() for p in paths]
    assert (tmp_path / "cuts.jsonl.gz").is_file()
    # A valid stand-in file must survive a rerun untouched: that proves reuse (synthesis is seeded,
    # so identical bytes alone would not).
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    sf.write(paths[0], tone, 16000)
    marker = paths[0].read_bytes()
    again = synthesize_corpus(items, tmp_path, workers=1, progress=False)
    assert paths[0].read_bytes() == marker and paths[1].read_bytes() == before[1]
    before[0] = marker
    assert [c.id for c in again] == [c.id for c in cuts]
    paths[1].write_bytes(before[1][:30])  # truncated file from a killed run
    synthesize_corpus(items, tmp_path, workers=1, progress=False)
    assert paths[0].read_bytes() == before[0]
    info = sf.info(str(paths[1]))
    assert info.samplerate == 16000 and info.frames > 16000
    assert not any(p.name.endswith(".part") for p in (tmp_path / "audio").iterdir())


def test_missing_backends_give_clear_errors(monkeypatch):
    monkeypatch.setattr(synth.shutil, "which", lambda name: None)
    with pytest.raises(BackendUnavailable, match="espeak-ng"):
        synth.get_engine("espeak-ng")

    real_require = synth.require

    def no_piper(module, hint):
        if module == "piper":
            raise BackendUnavailable(f"{module!r} is not importable; {hint}")
        return real_require(module, hint)

    monkeypatch.setattr(synth, "require", no_piper)
    with pytest.raises(BackendUnavailable, match="no TTS backend.*piper.*espeak-ng"):
        synth.get_engine("auto")
    with pytest.raises(InputError, match="unknown TTS engine"):
        synth.get_engine("festival")


def test_parallel_synthesis_writes_the_same_corpus(tmp_path, shipped_sentences):
    items = plan_corpus(shipped_sentences, num_utterances=3, seed=11)
    cuts = synthesize_corpus(items, tmp_path / "par", workers=2, progress=False)
    assert [c.id for c in cuts] == [it.cut_id for it in items]
    assert [c.supervisions[0].text for c in cuts] == [it.text for it in items]
    assert all(os.path.isfile(c.recording.sources[0].source) for c in cuts)
    # Seeded per utterance: one worker, in reverse order, writes the very same samples.
    serial = synthesize_corpus(items[::-1], tmp_path / "ser", workers=1, progress=False)
    by_id = {c.id: c.load_audio() for c in serial}
    for c in cuts:
        assert np.array_equal(c.load_audio(), by_id[c.id]), c.id


def test_piper_seed_fixes_the_sampling_noise():
    engine_a, engine_b = synth.get_engine("piper", threads=1), synth.get_engine("piper", threads=1)
    style = VoiceStyle("noisy", noise_scale=0.8, noise_w_scale=1.0)
    text, other = "The old man walked his dog along the river.", "Turn the radio off."
    x = synthesize_utterance(engine_a, text, style, seed=3)
    synthesize_utterance(engine_a, other, style, seed=4)  # advances nothing for the next seeded call
    synthesize_utterance(engine_b, other, style, seed=4)
    assert np.array_equal(x, synthesize_utterance(engine_b, text, style, seed=3))
    assert np.array_equal(x, synthesize_utterance(engine_a, text, style, seed=3))
    y = synthesize_utterance(engine_a, text, style, seed=5)
    assert not (y.shape == x.shape and np.array_equal(x, y))  # the noise is real, and the seed moves it
    assert synth.utterance_seed("utt-1") == synth.utterance_seed("utt-1") != synth.utterance_seed("utt-2")
