"""DG-WGPO reward (docs/design.md §4): verl's entry point and the reward's public names.

verl calls :func:`compute_score` (``reward.custom_reward_function.name=compute_score``, or through the
``dgwgpo`` reward manager). The maths is in :mod:`verl_dgwgpo.reward_components`, the
hyper-parameters in :mod:`verl_dgwgpo.reward_params`, the baselines and ablations by name in
:mod:`verl_dgwgpo.rewards`; every public name of those is importable from here too.
"""

from __future__ import annotations

from typing import Any

from verl_dgwgpo.reward_components import (
    clear_caches,
    components,
    dgwgpo_from_components,
    length_integrity,
    repetition_collapse,
)
from verl_dgwgpo.reward_params import COMPONENT_KEYS, RewardParams, params_from_kwargs
from verl_dgwgpo.rewards import score as _score

__all__ = [
    "COMPONENT_KEYS",
    "RewardParams",
    "clear_caches",
    "components",
    "compute_score",
    "dgwgpo_from_components",
    "length_integrity",
    "params_from_kwargs",
    "repetition_collapse",
]


def compute_score(
    data_source: Any = None,
    solution_str: Any = None,
    ground_truth: Any = None,
    extra_info: dict | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """verl's custom-reward entry point: ``reward.custom_reward_function.name=compute_score``.

    ``kwargs`` are the hyper-parameters of :class:`RewardParams` (``tau``, ``alpha``, ...) plus
    ``reward_name`` to pick a baseline/ablation from :data:`verl_dgwgpo.rewards.REWARDS` (default
    ``dgwgpo``). Returns a dict with ``score`` and every component (:data:`COMPONENT_KEYS`).
    ``data_source`` and ``extra_info`` are accepted for verl's signature and not used.
    """
    name = kwargs.pop("reward_name", "dgwgpo")
    if name == "dgwgpo":  # the default, without the registry's indirection (same function underneath)
        return components(solution_str, ground_truth, params_from_kwargs(kwargs))
    return _score(name, solution_str, ground_truth, **kwargs)
