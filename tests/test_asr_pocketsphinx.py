"""Base ASR: PCM conversion, real pocketsphinx on real Piper speech, n-best groups, pickling."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from lhotse_wild.split import Transcriber
from wild_corpus.asr import PocketSphinxTranscriber, get_transcriber, to_pcm16
from wild_corpus.synth import resample
from nemo_wild_eval.errors import InputError
from nemo_wild_eval.text import align_words


def _corpus_wer(cuts, hyps) -> float:
    errs = refs = 0
    for c, h in zip(cuts, hyps):
        a = align_words(c.supervisions[0].text, h, "whisper_en")
        errs, refs = errs + a.errors, refs + a.ref_len
    return errs / refs


def test_to_pcm16_exact_values():
    x = np.array([-1.5, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5], dtype=np.float32)
    got = to_pcm16(x, 16000)
    assert got.dtype == np.int16
    # clip to [-1, 1], x32767, round half to even
    assert got.tolist() == [-32767, -32767, -16384, 0, 8192, 16384, 32767, 32767]
    assert to_pcm16(x[None, :], 16000).tolist() == got.tolist()  # (1, n) accepted
    ints = np.array([0, 16384, -32767], dtype=np.int16)
    assert to_pcm16(ints, 16000).tolist() == [0, 16384, -32767]


def test_to_pcm16_resamples_to_16k():
    sr = 22050
    x = np.sin(2 * np.pi * 440 * np.arange(sr) / sr).astype(np.float32) * 0.5
    y = to_pcm16(x, sr)
    assert len(y) == 16000
    spec = np.abs(np.fft.rfft(y.astype(np.float64)))
    assert abs(np.argmax(spec) - 440) <= 1


@pytest.mark.parametrize(
    "bad, match",
    [(np.zeros((2, 100), np.float32), "mono"), (np.array([0.0, np.nan], np.float32), "NaN"),
     (np.array(["a"]), "numeric")],
)
def test_to_pcm16_rejects_bad_audio(bad, match):
    with pytest.raises(InputError, match=match):
        to_pcm16(bad, 16000)


def test_protocol_and_factory(pocketsphinx_asr):
    assert isinstance(pocketsphinx_asr, Transcriber)
    assert pocketsphinx_asr.name.startswith("pocketsphinx-5.1.1-en-us-lm_")
    with pytest.raises(InputError, match="unknown ASR backend"):
        get_transcriber("whisper-nonexistent")


def test_clean_piper_speech_is_transcribed_well(piper_clean_cuts, pocketsphinx_asr):
    cuts = list(piper_clean_cuts)
    hyps = [pocketsphinx_asr.transcribe(c.load_audio()[0], c.sampling_rate) for c in cuts]
    wer = _corpus_wer(cuts, hyps)
    # measured 0.03 on 20 utterances across all five styles; a broken audio path gives > 0.8
    assert wer <= 0.12, list(zip([c.supervisions[0].text for c in cuts], hyps))


def test_in_domain_lm_beats_generic_lm(piper_clean_cuts, pocketsphinx_asr):
    cuts = list(piper_clean_cuts)
    generic = PocketSphinxTranscriber()
    assert generic.name.endswith("lm_generic-s2") and generic.name != pocketsphinx_asr.name
    w_in = _corpus_wer(cuts, [pocketsphinx_asr.transcribe(c.load_audio()[0], 16000) for c in cuts])
    w_gen = _corpus_wer(cuts, [generic.transcribe(c.load_audio()[0], 16000) for c in cuts])
    assert w_gen > w_in + 0.05, (w_in, w_gen)


def test_other_sampling_rates_give_the_same_words(piper_clean_cuts, pocketsphinx_asr):
    cut = piper_clean_cuts[0]
    x = cut.load_audio()[0]
    ref = pocketsphinx_asr.transcribe(x, 16000)
    up = resample(x, 16000, 44100)
    hyp = pocketsphinx_asr.transcribe(up, 44100)
    assert align_words(ref, hyp).wer <= 0.2, (ref, hyp)


def test_noise_raises_wer(piper_clean_cuts, pocketsphinx_asr):
    cuts = list(piper_clean_cuts)
    rng = np.random.default_rng(0)
    clean, noisy = [], []
    for c in cuts:
        x = c.load_audio()[0]
        p = float(np.mean(x**2))
        n = rng.normal(0.0, np.sqrt(p / 10 ** (-5 / 10)), len(x)).astype(np.float32)  # SNR -5 dB
        clean.append(pocketsphinx_asr.transcribe(x, 16000))
        noisy.append(pocketsphinx_asr.transcribe(np.clip(x + n, -1, 1), 16000))
    assert _corpus_wer(cuts, noisy) > _corpus_wer(cuts, clean) + 0.4


def test_nbest_is_a_real_group(piper_clean_cuts, shipped_sentences):
    from wild_corpus.asr import PocketSphinxTranscriber

    # A decoder of its own: CI once saw the shared session decoder give a different 1-best between two
    # consecutive decodes of the same clip after other tests had used it (not reproduced in isolation).
    pocketsphinx_asr = PocketSphinxTranscriber(lm_sentences=shipped_sentences)
    c = piper_clean_cuts[1]
    x = c.load_audio()[0]
    best = pocketsphinx_asr.transcribe(x, 16000)
    group = pocketsphinx_asr.nbest(x, 16000, 8)
    assert group[0] == best
    assert 2 <= len(group) <= 8
    assert len(set(group)) == len(group)  # distinct word strings
    assert all(not any(t in h for t in ("<s>", "</s>", "<sil>", "[")) for h in group)
    # the alternatives are near misses of the same sentence, not random text
    ref = c.supervisions[0].text
    assert np.mean([align_words(ref, h).wer for h in group]) < 0.5
    assert pocketsphinx_asr.nbest(x, 16000, 1) == [best]
    with pytest.raises(InputError):
        pocketsphinx_asr.nbest(x, 16000, 0)


def test_empty_audio_and_pickling(piper_clean_cuts, pocketsphinx_asr):
    assert pocketsphinx_asr.transcribe(np.zeros(0, np.float32), 16000) == ""
    assert pocketsphinx_asr.nbest(np.zeros(0, np.float32), 16000, 4) == [""]
    x = piper_clean_cuts[2].load_audio()[0]
    clone = pickle.loads(pickle.dumps(pocketsphinx_asr))
    assert clone.transcribe(x, 16000) == pocketsphinx_asr.transcribe(x, 16000)


def test_transcripts_do_not_depend_on_decode_order(piper_clean_cuts, shipped_sentences):
    """The decoder's front end tracks noise across utterances; each decode must start fresh
    (measured before the fix: 6 of 20 degraded clips changed when decoded in reverse order)."""
    import lhotse_wild

    cuts = list(piper_clean_cuts)
    clips = [lhotse_wild.degrade(c.load_audio()[0], 16000, sc, 0.7, k)[0]
             for k, (c, sc) in enumerate(zip(cuts, ["noise", "far_field_noise", "noise_recording", "noise_distortion"] * 4))]
    fwd = PocketSphinxTranscriber(lm_sentences=shipped_sentences)
    rev = PocketSphinxTranscriber(lm_sentences=shipped_sentences)
    a = [fwd.transcribe(x, 16000) for x in clips]
    b = [rev.transcribe(x, 16000) for x in clips[::-1]][::-1]
    assert a == b
    assert len(set(a)) > 1 and any(a)  # real, varied transcripts
