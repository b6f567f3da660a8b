"""``wild_corpus``: the speech-corpus tools around the simulator, not part of it.

* :mod:`wild_corpus.synth`: clean speech with known transcripts (Piper TTS over the shipped sentence
  list, or espeak-ng) as 16 kHz files plus a Lhotse ``CutSet``.
* :mod:`wild_corpus.asr`: the offline base ASR (pocketsphinx) that scores each degraded cut for the
  SFT/RL split; :func:`lhotse_wild.split.attach_base_wer` accepts it, or any object with the same
  ``transcribe`` / ``nbest`` methods (:class:`lhotse_wild.split.Transcriber`).
* :mod:`wild_corpus.workers`: process-pool helpers both of them (and the split) use.

Layering: this package imports only ``nemo_wild_eval`` (errors, text normalisation); the simulator
(``lhotse_wild``) and the trainers import it, never the other way round.
"""

from __future__ import annotations

__all__ = ["asr", "synth", "workers"]
