"""Reward-loop manager ``dgwgpo`` for verl 0.9 (``reward.reward_manager.name=dgwgpo``).

verl 0.9 computes rule-based rewards only through the reward *loop*
(``verl.experimental.reward_loop.reward_manager``); this manager scores one rollout per
:meth:`run_single` call like verl's ``dapo`` manager, with:

* the DG-WGPO reward (or any name in :data:`verl_dgwgpo.rewards.REWARDS` via
  ``+reward.reward_kwargs.reward_name=wer``) and its hyper-parameters from ``+reward.reward_kwargs.*``
  (``tau``, ``alpha``, ``soft_threshold``, ``beta``, ``lam``, ``rho``, ``rep_k``, ``normalizer``),
  validated once at construction (a typo fails the run at start, naming the key);
* DAPO's overlong shaping from the same keys the ``dapo`` manager reads
  (``reward_kwargs.overlong_buffer_cfg.{enable,len,penalty_factor,log}``, ``reward_kwargs.max_resp_len``);
* every component in ``reward_extra_info`` (logged by verl, usable as ``filter_groups.metric``).

A ``reward.custom_reward_function.path`` still wins (verl's rule); then only the overlong shaping and
the bad-input guard come from here. Importing this module imports verl: it is loaded lazily by
:mod:`verl_dgwgpo.verl_plugin` once verl imports its reward-manager package.
"""

from __future__ import annotations

import inspect
import logging
import math
from typing import Any

from verl import DataProto
from verl.experimental.reward_loop.reward_manager.base import RewardManagerBase

from nemo_wild_eval.errors import InputError
from nemo_wild_eval.text import parse_asr_output

from .reward import COMPONENT_KEYS, params_from_kwargs
from .rewards import get_reward

__all__ = ["NAME", "DGWGPORewardManager", "register_manager", "split_reward_kwargs"]

NAME = "dgwgpo"
logger = logging.getLogger(__name__)

# Keys of reward.reward_kwargs that belong to the manager, not to the reward formula.
_MANAGER_KEYS = ("overlong_buffer_cfg", "max_resp_len", "reward_name")


def _plain(value: Any) -> Any:
    """OmegaConf containers -> plain dict/list (configs arrive as DictConfig)."""
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(value, (DictConfig, ListConfig)):
            return OmegaConf.to_container(value, resolve=True)
    except ImportError:  # pragma: no cover - verl always brings omegaconf
        pass
    return value


def split_reward_kwargs(config: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(manager_kwargs, reward_params_kwargs)`` from ``config.reward.reward_kwargs``."""
    reward_cfg = config.get("reward", {}) if hasattr(config, "get") else {}
    raw = _plain(reward_cfg.get("reward_kwargs", None) if hasattr(reward_cfg, "get") else None) or {}
    if not isinstance(raw, dict):
        raise InputError(f"reward.reward_kwargs must be a mapping, got {type(raw).__name__}")
    manager = {k: raw[k] for k in _MANAGER_KEYS if k in raw}
    params = {k: v for k, v in raw.items() if k not in _MANAGER_KEYS}
    return manager, params


class DGWGPORewardManager(RewardManagerBase):
    """DG-WGPO reward for one rollout, with DAPO's overlong shaping and per-component logging."""

    def __init__(
        self,
        config,
        tokenizer,
        compute_score=None,
        reward_router_address=None,
        reward_model_tokenizer=None,
        **kwargs: Any,
    ):
        super().__init__(config, tokenizer, compute_score)
        manager_kw, param_kw = split_reward_kwargs(config)
        custom_path = None
        reward_cfg = config.get("reward", {})
        crf = reward_cfg.get("custom_reward_function", None) if hasattr(reward_cfg, "get") else None
        if crf is not None and hasattr(crf, "get"):
            custom_path = crf.get("path", None)
        self.reward_name = str(manager_kw.get("reward_name", "dgwgpo"))
        self.params = params_from_kwargs(param_kw)  # raises InputError naming a bad key/value
        self._reward = get_reward(self.reward_name)
        self._param_kwargs = dict(param_kw)
        self.use_custom = bool(custom_path) and compute_score is not None
        self.compute_score = compute_score if self.use_custom else None
        self.is_async_reward_score = self.use_custom and inspect.iscoroutinefunction(compute_score)

        ob = manager_kw.get("overlong_buffer_cfg") or {}
        self.overlong_enable = bool(ob.get("enable", False))
        self.overlong_len = ob.get("len", 0)
        self.overlong_penalty = float(ob.get("penalty_factor", 1.0))
        self.overlong_log = bool(ob.get("log", False))
        self.max_resp_len = manager_kw.get("max_resp_len")
        if self.overlong_enable:
            if self.max_resp_len is None:
                raise InputError("reward.reward_kwargs.max_resp_len is required when overlong_buffer_cfg.enable")
            if not self.overlong_len or self.overlong_len <= 0:
                raise InputError(f"reward.reward_kwargs.overlong_buffer_cfg.len must be > 0, got {self.overlong_len}")
            if self.max_resp_len < self.overlong_len:
                raise InputError("reward.reward_kwargs.max_resp_len must be >= overlong_buffer_cfg.len")

    # -- decoding --------------------------------------------------------------------------------

    def _special_strings(self) -> tuple[str, ...]:
        specials = set(getattr(self.tokenizer, "all_special_tokens", None) or ())
        added = getattr(self.tokenizer, "added_tokens_decoder", None) or {}
        for tok in added.values():
            if getattr(tok, "special", False):
                specials.add(str(tok))
        return tuple(sorted((t for t in specials if t), key=len, reverse=True))

    def decode(self, ids) -> str:
        """Response text with Qwen3-ASR's ``<asr_text>`` wrapper resolved, then special tokens removed.

        ``skip_special_tokens=True`` (what verl's managers use) would delete ``<asr_text>`` itself when
        the tokenizer marks it special, gluing the language tag onto the transcript.
        """
        if not hasattr(self, "_specials"):
            self._specials = self._special_strings()
        text = parse_asr_output(self.tokenizer.decode(ids, skip_special_tokens=False))
        for tok in self._specials:
            if tok in text:
                text = text.replace(tok, " ")
        return text

    # -- scoring ---------------------------------------------------------------------------------

    def _score_text(self, response: str, ground_truth: Any) -> dict[str, Any]:
        return self._reward(response, ground_truth, **self._param_kwargs)

    def overlong_reward(self, valid_response_length: int) -> float:
        """DAPO's soft overlong penalty: 0 up to ``max_resp_len - len``, then linear down to ``-penalty``."""
        expected = self.max_resp_len - self.overlong_len
        exceed = valid_response_length - expected
        return min(-exceed / self.overlong_len * self.overlong_penalty, 0.0)

    async def run_single(self, data: DataProto) -> dict:
        data = data[-1:]  # multi-sequence outputs: the last sequence carries the transcript
        item = data[0]
        response_ids = item.batch["responses"]
        response_length = response_ids.shape[-1]
        valid_len = int(item.batch["attention_mask"][-response_length:].sum())
        valid_ids = response_ids[:valid_len]

        ntb = item.non_tensor_batch
        data_source = ntb.get("data_source", None)
        rm = ntb.get("reward_model", None)
        ground_truth = rm.get("ground_truth", None) if isinstance(rm, dict) else None
        extra_info = ntb.get("extra_info", None)
        extra_info = dict(extra_info) if isinstance(extra_info, dict) else {}

        response = await self.loop.run_in_executor(None, lambda: self.decode(valid_ids))
        if self.use_custom:
            call = dict(data_source=data_source, solution_str=response, ground_truth=ground_truth, extra_info=extra_info)
            if self.is_async_reward_score:
                result = await self.compute_score(**call)
            else:
                result = await self.loop.run_in_executor(None, lambda: self.compute_score(**call))
            info = dict(result) if isinstance(result, dict) else {"score": result}
        else:
            info = await self.loop.run_in_executor(None, lambda: self._score_text(response, ground_truth))
        score = info.get("score", 0.0)
        try:
            score = float(score)
        except (TypeError, ValueError):
            score = float("nan")
        if not math.isfinite(score):  # a custom reward gone wrong must not poison the batch
            info["case"] = f"{info.get('case', 'ok')}+nonfinite_score"
            score = 0.0
        info["score"] = score

        reward = score
        if self.overlong_enable:
            over = self.overlong_reward(valid_len)
            reward += over
            if self.overlong_log:
                info["overlong_reward"] = over
                info["overlong"] = over < 0
        return {"reward_score": reward, "reward_extra_info": info}


def component_keys(manager: DGWGPORewardManager) -> tuple[str, ...]:
    """Keys a manager's ``reward_extra_info`` carries (for dashboards / tests)."""
    keys = COMPONENT_KEYS
    if manager.overlong_enable and manager.overlong_log:
        keys = keys + ("overlong_reward", "overlong")
    return keys


def register_manager() -> None:
    """Put the manager into verl's reward-loop registry under ``dgwgpo`` (idempotent)."""
    from verl.experimental.reward_loop.reward_manager.registry import REWARD_MANAGER

    current = REWARD_MANAGER.get(NAME)
    if current is None or current.__qualname__ == DGWGPORewardManager.__qualname__:
        REWARD_MANAGER[NAME] = DGWGPORewardManager
    else:
        logger.warning("verl reward manager %r is already taken by %r; not replacing it", NAME, current)


register_manager()
