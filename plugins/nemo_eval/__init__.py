"""``nemo_wild_eval``: benchmark scorers over NeMo manifests and Voices-in-the-Wild-Bench files.

Also home of the project's single text-normalisation + alignment module (:mod:`nemo_wild_eval.text`),
which the RL reward reuses so training is scored exactly like evaluation.
"""

from nemo_wild_eval.errors import InputError
from nemo_wild_eval.text import (
    NORMALIZER_VERSIONS,
    NORMALIZERS,
    Alignment,
    align,
    align_words,
    normalize,
    parse_asr_output,
    tokenize,
)

__version__ = "0.1.0"

__all__ = [
    "InputError",
    "NORMALIZERS",
    "NORMALIZER_VERSIONS",
    "Alignment",
    "align",
    "align_words",
    "normalize",
    "parse_asr_output",
    "tokenize",
]
