"""Shared fixtures: real synthetic speech (Piper) and the real base ASR (pocketsphinx), built once.

Any test may use them; they cost a few seconds per session. Nothing is downloaded: the voice and the
acoustic model ship in pip packages.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def shipped_sentences() -> list[str]:
    """The project's public-domain sentence list (data/sentences_en.txt)."""
    from wild_corpus.synth import load_sentences

    return load_sentences()


@pytest.fixture(scope="session")
def piper_clean_cuts(tmp_path_factory, shipped_sentences):
    """Six real Piper utterances (16 kHz WAV, one per voice style + one repeat) as an eager Lhotse CutSet.

    Cut ids ``tts0000<i>_<style>_<text hash>``; each cut has one supervision with the sentence as ``text`` and
    ``custom["tts"]`` provenance. Audio lives in a session tmp dir.
    """
    from wild_corpus.synth import plan_corpus, synthesize_corpus

    out = tmp_path_factory.mktemp("piper_corpus")
    items = plan_corpus(shipped_sentences, num_utterances=6, seed=123)
    return synthesize_corpus(items, out, workers=1, progress=False)


@pytest.fixture(scope="session")
def pocketsphinx_asr(shipped_sentences):
    """pocketsphinx with the shipped en-us model and an in-domain LM from the shipped sentences."""
    from wild_corpus.asr import PocketSphinxTranscriber

    return PocketSphinxTranscriber(lm_sentences=shipped_sentences)
