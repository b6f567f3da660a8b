"""``verl.plugins`` entry point: registers reward manager ``dgwgpo`` and estimator ``dgwgpo_grpo``.

verl 0.9.1 ends ``import verl`` with ``entry_points(group="verl.plugins")`` and ``ep.load()`` for each:
the entry point ``verl_dgwgpo.verl_plugin:register`` is *imported*, never called. So registration
happens at import of this module, in every process that imports verl (driver and Ray workers).

Cheap: importing verl's reward-manager package and ``core_algos`` costs seconds, so nothing is
imported here. A post-import hook registers each piece the moment verl itself imports the module that
holds the registry (before any config is validated against it). Modules already imported are served
at once. :func:`register` is idempotent and may also be called by hand.

It also installs the RL trainer's extensions (:mod:`verl_dgwgpo.rl.extensions`: the ``cpu`` platform,
the ``hf`` rollout) and applies the audio-rollout patches (:func:`verl_dgwgpo.rollout.patches.apply`) when that module
imports; any failure there is logged as a warning and never breaks ``import verl``.
"""

from __future__ import annotations

import importlib
import logging
import sys
import threading
from types import ModuleType
from typing import Callable

from verl_dgwgpo._import_hooks import PostImportFinder

__all__ = ["REWARD_MANAGER_MODULE", "ESTIMATOR_MODULE", "register", "registered"]

logger = logging.getLogger(__name__)

REWARD_MANAGER_MODULE = "verl.experimental.reward_loop.reward_manager"
ESTIMATOR_MODULE = "verl.trainer.ppo.core_algos"

_lock = threading.RLock()
_done: set[str] = set()


def _initializing(name: str) -> bool:
    module = sys.modules.get(name)
    return module is not None and bool(getattr(getattr(module, "__spec__", None), "_initializing", False))


def _register_reward_manager(module: ModuleType) -> None:
    # Our module imports verl's package, so it may be the one that triggered this hook: then it is
    # half-imported here and registers itself on its last line.
    if _initializing("verl_dgwgpo.reward_manager"):
        return
    importlib.import_module("verl_dgwgpo.reward_manager").register_manager()


def _register_estimator(module: ModuleType) -> None:
    if _initializing("verl_dgwgpo.advantage"):
        return
    importlib.import_module("verl_dgwgpo.advantage").register_estimator()


_TARGETS: dict[str, Callable[[ModuleType], None]] = {
    REWARD_MANAGER_MODULE: _register_reward_manager,
    ESTIMATOR_MODULE: _register_estimator,
}


def _run(name: str, module: ModuleType) -> None:
    with _lock:
        if name in _done:
            return
        try:
            _TARGETS[name](module)
            _done.add(name)
        except Exception as exc:  # never break verl's own import
            logger.warning("verl_dgwgpo: registering into %s failed: %s", name, exc, exc_info=True)


_finder = PostImportFinder(
    wants=lambda name: name in _TARGETS and name not in _done,
    on_loaded=lambda module: _run(module.__name__, module),
)


def _loaded(name: str) -> ModuleType | None:
    return None if _initializing(name) else sys.modules.get(name)


def _apply_rollout_patches() -> None:
    try:
        patches = importlib.import_module("verl_dgwgpo.rollout.patches")
    except Exception as exc:
        logger.warning("verl_dgwgpo: rollout patches not importable (%s); audio rollout stays stock verl", exc)
        return
    try:
        patches.apply()
    except Exception as exc:
        logger.warning("verl_dgwgpo: rollout patches failed to apply: %s", exc)


def _install_rl_extensions() -> None:
    try:
        importlib.import_module("verl_dgwgpo.rl.extensions").install()
    except Exception as exc:
        logger.warning("verl_dgwgpo: RL extensions (cpu platform, hf rollout) not installed: %s", exc)


def register() -> list[str]:
    """Register everything (idempotent). Returns the registry modules already served."""
    with _lock:
        pending = [name for name in _TARGETS if name not in _done]
        if pending:
            _finder.install()
        for name in pending:
            module = _loaded(name)
            if module is not None:
                _run(name, module)
    _apply_rollout_patches()
    _install_rl_extensions()
    return sorted(_done)


def registered() -> dict[str, bool]:
    """Which registrations are done in this process (for diagnostics and tests)."""
    return {name: name in _done for name in _TARGETS}


register()
