"""What verl's PPO/DAPO trainer needs from us to train an audio policy on CPU (or with the HF rollout).

Each entry uses one of verl's own extension points, in every process that imports verl (the
``verl.plugins`` entry point calls :func:`install`; Ray's driver, TaskRunner and workers alike):

==================  =========================================================================
``cpu_platform``    ``PlatformRegistry.register(platform="cpu")``; ``VERL_PLATFORM=cpu`` selects it
``cpu_engine``      ``EngineRegistry.register(..., device="cpu")`` for verl's own FSDP engine
``cpu_gloo_group``  ``initialize_global_process_group_ray`` builds ``"cpu:gloo,{device}:{backend}"``,
                    which torch refuses when the device is ``cpu`` itself ("Duplicate device type
                    cpu in backend string"); on the cpu platform the workers get ``"cpu:gloo"``.
                    The only wrapped verl function; every other platform is passed through.
``hf_replica``      ``RolloutReplicaRegistry.register("hf", ...)``: the HF rollout server
``hf_rollout``      ``("hf", "async")`` in verl's rollout-class table: the worker-side adapter that
                    pushes the actor's weights to that server after every update
==================  =========================================================================

Registration is lazy (a post-import hook), so ``import verl`` stays as cheap as before; modules
already imported are served at once. Failures are logged, never raised into ``import verl``;
:func:`status` reports them (``wildasr rl`` checks it before starting Ray).
"""

from __future__ import annotations

import functools
import logging
import sys
import threading
from types import ModuleType
from typing import Any, Callable

from verl_dgwgpo._import_hooks import PostImportFinder

__all__ = ["HF_ROLLOUT", "install", "status"]

logger = logging.getLogger(__name__)

HF_ROLLOUT = "hf"
"""``actor_rollout_ref.rollout.name`` of the HF rollout server (CPU, or any machine without vLLM)."""


def _cpu_platform(module: ModuleType) -> None:
    from verl_dgwgpo import cpu_platform

    cpu_platform.platform_class()


def _cpu_engine(module: ModuleType) -> None:
    from verl_dgwgpo import cpu_platform

    cpu_platform.register_engine()


def _gloo_on_cpu(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def initialize_global_process_group_ray(timeout_second=None, backend=None):
        if backend is None:
            from verl.utils.device import get_device_name

            if get_device_name() == "cpu":
                backend = "cpu:gloo"
        return original(timeout_second=timeout_second, backend=backend)

    initialize_global_process_group_ray.__wildasr_patch__ = True
    return initialize_global_process_group_ray


def _cpu_gloo_group(module: ModuleType) -> None:
    current = module.initialize_global_process_group_ray
    if not getattr(current, "__wildasr_patch__", False):
        module.initialize_global_process_group_ray = _gloo_on_cpu(current)


def _hf_replica(module: ModuleType) -> None:
    def load() -> type:
        from verl_dgwgpo.rl.hf_rollout import HFReplica

        return HFReplica

    module.RolloutReplicaRegistry.register(HF_ROLLOUT, load)


def _hf_rollout(module: ModuleType) -> None:
    module._ROLLOUT_REGISTRY[(HF_ROLLOUT, "async")] = "verl_dgwgpo.rl.hf_rollout.HFServerAdapter"


# verl module -> [(name, install)]
_TARGETS: dict[str, list[tuple[str, Callable[[ModuleType], None]]]] = {
    "verl.plugin.platform.platform_manager": [("cpu_platform", _cpu_platform)],
    "verl.workers.engine.fsdp.transformer_impl": [("cpu_engine", _cpu_engine)],
    "verl.workers.engine_workers": [("cpu_gloo_group", _cpu_gloo_group)],
    "verl.workers.rollout.replica": [("hf_replica", _hf_replica)],
    "verl.workers.rollout.base": [("hf_rollout", _hf_rollout)],
}

_lock = threading.RLock()
_done: dict[str, str] = {}


def _serve(module: ModuleType) -> None:
    with _lock:
        for name, install_one in _TARGETS.get(module.__name__, []):
            if name in _done:
                continue
            try:
                install_one(module)
                _done[name] = "installed"
            except Exception as exc:  # never break verl's own import
                _done[name] = f"failed: {type(exc).__name__}: {exc}"
                logger.warning("verl_dgwgpo.rl: %s into %s failed: %s", name, module.__name__, exc)


_finder = PostImportFinder(wants=lambda name: name in _TARGETS, on_loaded=_serve)


def install() -> None:
    """Register everything (idempotent, never raises); verl modules not imported yet on import."""
    _finder.install()
    for module_name in _TARGETS:
        module = sys.modules.get(module_name)
        spec = getattr(module, "__spec__", None)
        if module is not None and not getattr(spec, "_initializing", False):
            _serve(module)


def status() -> dict[str, str]:
    """``installed`` / ``pending`` (its verl module not imported yet) / ``failed: why`` per entry."""
    with _lock:
        return {name: _done.get(name, "pending") for entries in _TARGETS.values() for name, _ in entries}
