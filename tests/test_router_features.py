"""Router front end and inference mechanics: log-mel physics, level invariance, bad input, chunking."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from router_fixtures import tone

from nemo_wild_eval.errors import InputError
from verl_dgwgpo.router.features import FLOOR, check_audio, iter_chunks, log_mel, mel_filterbank


def test_filterbank_matches_htk_mel_by_hand():
    fb = mel_filterbank(16000, 512, 80)
    assert fb.shape == (80, 257)
    # Band centres are equally spaced on the HTK mel scale 2595*log10(1+f/700); 8 kHz = 2840.02 mel.
    top = 2595 * np.log10(1 + 8000 / 700)
    assert top == pytest.approx(2840.023, abs=1e-3)
    centre_hz = [700 * (10 ** (top * (k + 1) / 81 / 2595) - 1) for k in (0, 39, 79)]
    freqs = np.linspace(0, 8000, 257)
    for k, c in zip((0, 39, 79), centre_hz):
        assert abs(freqs[np.argmax(fb[k])] - c) <= 8000 / 256  # peak on the bin nearest the centre
    assert np.all(fb >= 0) and np.all(fb.max(axis=1) <= 1.0 + 1e-12)


def test_tone_lands_in_its_band_and_frames_count():
    f = log_mel(tone(1000.0, 1.0), 16000)
    assert f.shape == (98, 80)  # 1 + (16000 - 400) // 160
    band = int(np.argmax(f.mean(axis=0)))
    mel_1k = 2595 * np.log10(1 + 1000 / 700)  # = 999.99 mel
    expect = mel_1k / (2840.023 / 81) - 1  # band whose centre is nearest 1 kHz (0-based)
    assert abs(band - expect) <= 1


def test_level_invariance_and_silence_floor():
    x = tone(440.0, 0.5) + 0.01 * np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    np.testing.assert_allclose(log_mel(x), log_mel(0.001 * x), atol=1e-3)
    silent = log_mel(np.zeros(1600, np.float32))
    assert np.all(silent == np.float32(np.log(FLOOR)))


def test_short_clips_give_at_least_one_frame():
    assert log_mel(tone(300, 0.1)).shape == (8, 80)  # 0.1 s
    assert log_mel(tone(300, 0.01)).shape == (1, 80)  # shorter than one 25-ms window: padded


def test_other_rates_are_resampled_exactly_and_bad_rates_refused():
    x16 = tone(1000.0, 1.0, 16000)
    x44 = tone(1000.0, 1.0, 44100)
    y = check_audio(x44, 44100)
    assert y.shape == (16000,)
    a, b = log_mel(y)[5:-5], log_mel(x16)[5:-5]
    strong = b > np.log(FLOOR) + 6  # bands within 60 dB of the clip's level (below: resampler noise)
    assert strong.sum() > 100
    np.testing.assert_allclose(a[strong], b[strong], atol=0.05)
    for bad in (16000.5, 0, 100, 500000, "16k", True):
        with pytest.raises(InputError, match="sampling rate"):
            check_audio(x16, bad)
    with pytest.raises(InputError, match="NaN"):
        check_audio(np.array([0.0, np.nan], np.float32), 16000)
    with pytest.raises(InputError, match="empty"):
        check_audio(np.zeros(0, np.float32), 16000)
    with pytest.raises(InputError, match="mono"):
        check_audio(np.zeros((2, 100), np.float32), 16000)


def test_chunks_cover_the_clip_and_merge_a_short_tail():
    x = np.arange(16000 * 9 + 8000, dtype=np.float32)  # 9.5 s
    chunks = list(iter_chunks(x, 16000, 4.0))
    assert [len(c) for c in chunks] == [64000, 64000, 24000]  # 1.5-s tail kept
    chunks = list(iter_chunks(np.zeros(16000 * 8 + 8000, np.float32), 16000, 4.0))
    assert [len(c) for c in chunks] == [64000, 72000]  # 0.5-s tail merged
    assert np.array_equal(np.concatenate(list(iter_chunks(x, 16000, 4.0))), x)


def test_router_bad_input_silence_short_long():
    from verl_dgwgpo.router.model import RouterModel

    m = RouterModel()
    r = m.route(np.zeros(16000, np.float32), 16000)
    assert r.silent and not r.degraded and r.prob == 0.0 and r.chunks == 0
    r = m.route(tone(500, 0.1), 16000)
    assert r.chunks == 1 and 0.0 <= r.prob <= 1.0
    # silent chunks are skipped: 4 s of tone + 8 s of digital silence scores like the tone alone
    mixed = np.concatenate([tone(500, 4.0), np.zeros(16000 * 8, np.float32)])
    assert m.route(mixed, 16000).prob == pytest.approx(m.route(tone(500, 4.0), 16000).prob, abs=1e-6)
    # 10 minutes: 150 chunks of 4 s, scored 32 at a time; numpy memory stays far below the clip's size
    long = np.random.default_rng(0).standard_normal(16000 * 600).astype(np.float32) * 0.05
    tracemalloc.start()
    r = m.route(long, 16000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert r.chunks == 150 and 0.0 <= r.prob <= 1.0
    assert peak < 0.5 * long.nbytes, peak  # clip is 38 MB; chunked features need a few MB
    with pytest.raises(InputError, match="sampling rate"):
        m.route(tone(500, 1.0), 123.4)
