"""DG-WGPO hyper-parameters (docs/design.md §4.1) and the keys every reward result carries.

Wrong hyper-parameters are configuration errors: they raise :class:`InputError` naming the parameter
(the reward itself never raises on its texts).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from nemo_wild_eval.errors import InputError
from nemo_wild_eval.text import NORMALIZERS

__all__ = ["COMPONENT_KEYS", "DEFAULT_PARAMS", "RewardParams", "params_from_kwargs"]

# Keys every reward dict carries (verl takes the first sample's keys as the batch's extra-info keys,
# so every call must return the same set).
COMPONENT_KEYS: tuple[str, ...] = (
    "score",
    "wer",
    "r_rep",
    "r_static",
    "r_fine",
    "r_struc",
    "r_dyn",
    "w_fine",
    "n_soft",
    "n_hard",
    "lcs_recall",
    "length_integrity",
    "ref_words",
    "hyp_words",
    "edits",
    "case",
)

# verl passes these to every custom reward when a reward model router is configured; they mean
# nothing to a rule-based reward.
_IGNORED_KWARGS = frozenset({"reward_router_address", "reward_model_tokenizer"})


@dataclass(frozen=True)
class RewardParams:
    """DG-WGPO hyper-parameters; defaults of docs/design.md §4.1 (*paper* or *ours* as marked there)."""

    tau: float = 0.3  # gate threshold on the rollout's own WER (paper main text; 0.5 in its appendix)
    alpha: float = 0.4  # weight of a soft substitution in R_fine (paper)
    soft_threshold: float = 0.5  # char similarity at or above which a substitution is soft
    beta: float = 0.7  # dominant gate weight (ours)
    lam: float = 0.6  # weight of R_dyn against R_static
    rho: float = 2.0  # runaway limit: L reaches 0 at |h| = rho * N (ours)
    rep_k: int = 4  # consecutive repeats of a 1-4-gram that count as a collapse (ours)
    normalizer: str = "whisper_en"  # same default as the evaluator
    eps: float = 0.0  # R_fine's epsilon; 0 keeps identity at exactly 1 (the denominator is > 0 for N > 0)
    max_hyp_chars: int = 20_000  # longer hypotheses are cut (case 'hyp_truncated'); see _cap()

    def __hash__(self) -> int:
        # Cached: the params are part of the pair-cache key on every reward call; a dataclass hash
        # would rebuild and hash the field tuple each time. Not pickled (string hashes differ per process).
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash(tuple(getattr(self, f.name) for f in fields(self)))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_hash"}

    def validate(self) -> "RewardParams":
        def bad(name: str, why: str) -> InputError:
            return InputError(f"reward parameter {name}={getattr(self, name)!r}: {why}")

        for name in ("tau", "alpha", "soft_threshold", "beta", "lam", "rho", "eps"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise bad(name, "must be a finite number")
        for name in ("alpha", "soft_threshold", "beta", "lam"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise bad(name, "must lie in [0, 1]")
        if self.tau < 0:
            raise bad("tau", "must be >= 0")
        if self.rho <= 1.0:
            raise bad("rho", "must be > 1 (L falls from 1 at |h| = N to 0 at |h| = rho * N)")
        if self.eps < 0:
            raise bad("eps", "must be >= 0")
        if isinstance(self.rep_k, bool) or not isinstance(self.rep_k, int) or self.rep_k < 2:
            raise bad("rep_k", "must be an integer >= 2")
        if isinstance(self.max_hyp_chars, bool) or not isinstance(self.max_hyp_chars, int) or self.max_hyp_chars < 1:
            raise bad("max_hyp_chars", "must be a positive integer")
        if self.normalizer not in NORMALIZERS:
            raise bad("normalizer", f"unknown; choose one of {sorted(NORMALIZERS)}")
        return self


_PARAM_NAMES = frozenset(f.name for f in fields(RewardParams))
# Accepted spellings from configs written for other reward code.
_ALIASES = {"k": "rep_k", "repetition_k": "rep_k", "lambda_": "lam", "normaliser": "normalizer"}


DEFAULT_PARAMS = RewardParams()
_PARAMS_BY_KWARGS: dict[tuple, RewardParams] = {}


def params_from_kwargs(kwargs: dict[str, Any]) -> RewardParams:
    """Build validated :class:`RewardParams` from keyword arguments (unknown names raise InputError)."""
    if not kwargs:
        return DEFAULT_PARAMS
    try:
        key = tuple(kwargs.items())
        hit = _PARAMS_BY_KWARGS.get(key)
    except TypeError:  # unhashable value (a list from a config)
        key, hit = None, None
    if hit is not None:
        return hit
    items = {}
    for name_in, value in kwargs.items():
        if name_in in _IGNORED_KWARGS:
            continue
        name = _ALIASES.get(name_in, name_in)
        if name not in _PARAM_NAMES:
            raise InputError(f"unknown reward parameter {name_in!r}; known: {sorted(_PARAM_NAMES)}")
        if name == "rep_k" and isinstance(value, float) and value.is_integer():
            value = int(value)
        items[name] = value
    params = RewardParams(**items).validate()
    if key is not None and len(_PARAMS_BY_KWARGS) < 1024:
        _PARAMS_BY_KWARGS[key] = params
    return params
