"""Rewards selectable by name: DG-WGPO, its ablations and the baselines it is compared with.

Every reward returns the same dict (``score`` + all DG-WGPO components + ``case``), so a run with the
``wer`` baseline still logs ``r_fine``/``r_struc`` and a dispersion comparison needs no second pass.

=====================  =================================================================  ========
name                   score                                                              range
=====================  =================================================================  ========
``dgwgpo``             ``lam * R_dyn + (1 - lam) * R_static`` (docs/design.md §4)         [0, 1]
``dgwgpo_no_fine``     R_dyn = R_struc                                                    [0, 1]
``dgwgpo_no_struc``    R_dyn = R_fine                                                     [0, 1]
``dgwgpo_no_rep``      R_static = max(0, 1 - WER) (no collapse penalty)                   [0, 1]
``dgwgpo_no_gate``     w_fine = w_struc = 0.5                                             [0, 1]
``wer``                ``max(0, 1 - WER)``                                                [0, 1]
``exact_match``        1 if the normalised word sequences are equal, else 0               {0, 1}
``neg_edit_distance``  ``-(S + I + D)`` word edits ("GRPO for Speech Recognition")        (-inf, 0]
=====================  =================================================================  ========
"""

from __future__ import annotations

from functools import partial
from typing import Any, Callable

from nemo_wild_eval.errors import InputError

from .reward_components import components, dgwgpo_from_components
from .reward_params import RewardParams, params_from_kwargs

__all__ = ["REWARDS", "score"]

RewardFn = Callable[..., dict[str, Any]]


def _dgwgpo(hypothesis: Any, reference: Any, *, fine=True, struc=True, rep=True, gate=True, **kwargs) -> dict:
    params = params_from_kwargs(kwargs)
    c = components(hypothesis, reference, params)
    if not (fine and struc and rep and gate) and not c["case"].startswith("internal_error"):
        c["score"], c["r_dyn"], c["w_fine"] = dgwgpo_from_components(
            c, params, fine=fine, struc=struc, rep=rep, gate=gate
        )
    return c


def _one_minus_wer(hypothesis: Any, reference: Any, **kwargs) -> dict:
    c = components(hypothesis, reference, params_from_kwargs(kwargs))
    c["score"] = max(0.0, 1.0 - c["wer"]) if not c["case"].startswith("internal_error") else 0.0
    return c


def _exact_match(hypothesis: Any, reference: Any, **kwargs) -> dict:
    c = components(hypothesis, reference, params_from_kwargs(kwargs))
    c["score"] = 1.0 if c["edits"] == 0 and not c["case"].startswith("internal_error") else 0.0
    return c


def _neg_edit_distance(hypothesis: Any, reference: Any, **kwargs) -> dict:
    c = components(hypothesis, reference, params_from_kwargs(kwargs))
    c["score"] = -float(c["edits"])
    return c


REWARDS: dict[str, RewardFn] = {
    "dgwgpo": _dgwgpo,
    "dgwgpo_no_fine": partial(_dgwgpo, fine=False),
    "dgwgpo_no_struc": partial(_dgwgpo, struc=False),
    "dgwgpo_no_rep": partial(_dgwgpo, rep=False),
    "dgwgpo_no_gate": partial(_dgwgpo, gate=False),
    "wer": _one_minus_wer,
    "exact_match": _exact_match,
    "neg_edit_distance": _neg_edit_distance,
}


def get_reward(name: str) -> RewardFn:
    """The reward function registered as ``name`` (InputError naming the choices otherwise)."""
    try:
        return REWARDS[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown reward {name!r}; choose one of {sorted(REWARDS)}") from None


def score(name: str, hypothesis: Any, reference: Any, **kwargs: Any) -> dict[str, Any]:
    """Score one (hypothesis, reference) pair with the reward ``name``; kwargs are RewardParams fields."""
    return get_reward(name)(hypothesis, reference, **kwargs)


# Re-exported for callers that build params once (the reward manager).
__all__ += ["RewardParams", "get_reward"]
