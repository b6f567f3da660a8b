"""The project's ONE text module: normalisers, tokenisation and alignment.

Both the evaluator (``nemo_wild_eval``) and the RL reward (``verl_dgwgpo``) import from here, so the
training signal is computed exactly like the evaluation metric. The code sits in three modules a
reader can take one at a time:

- :mod:`nemo_wild_eval.normalizers`: named, versioned normalisers and Qwen3-ASR output parsing;
- :mod:`nemo_wild_eval.tokens`: normalised text -> tokens (one string, or many at once, fast routes);
- :mod:`nemo_wild_eval.alignment`: the word aligner (rapidfuzz Levenshtein, the same routine as
  jiwer 4) and count-only edit distances.
"""

from __future__ import annotations

from nemo_wild_eval.alignment import (
    Alignment,
    align,
    align_words,
    char_similarity,
    edit_counts,
    edit_counts_many,
    substitutions_and_counts,
)
from nemo_wild_eval.normalizers import NORMALIZER_VERSIONS, NORMALIZERS, get_normalizer, normalize, parse_asr_output
from nemo_wild_eval.tokens import tokenize, tokenize_many, tokenizer_for

__all__ = [
    "NORMALIZERS",
    "NORMALIZER_VERSIONS",
    "Alignment",
    "align",
    "align_words",
    "get_normalizer",
    "normalize",
    "tokenize",
    "parse_asr_output",
    "char_similarity",
    "edit_counts",
    "edit_counts_many",
    "substitutions_and_counts",
    "tokenize_many",
    "tokenizer_for",
]
