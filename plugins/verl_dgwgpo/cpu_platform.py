"""verl's ``cpu`` platform: run verl's trainers (SFT and PPO/DAPO) on a machine without an accelerator.

Why: verl 0.9.1 picks its device through :class:`verl.plugin.platform.PlatformRegistry` and falls
back to CUDA when no accelerator is found, so its trainers die on a CPU box in ``set_device`` /
``mem_get_info``. The registry is verl's own extension point; this module registers a ``cpu``
platform there (``device_module`` = ``torch.cpu`` + allocator stubs, collectives over ``gloo``,
Ray resources as CPUs) and verl's own ``FSDPEngineWithLMHead`` for device ``cpu`` in
``EngineRegistry`` (verl lists only ``cuda``/``npu``). Nothing of the trainer, the FSDP2 engine, the
loss or the optimizer step is replaced.

``VERL_PLATFORM=cpu`` selects it in every process (verl reads the variable on first use); the
``verl.plugins`` entry point registers the class in each process, Ray workers included
(:mod:`verl_dgwgpo.rl.extensions`). :func:`set_current` makes it current in this process when verl
was already imported.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from types import ModuleType
from typing import Any

import torch

__all__ = ["PLATFORM_NAME", "is_cpu_only", "platform_class", "register_engine", "set_current"]

PLATFORM_NAME = "cpu"
ENGINE_MODULE = "verl.workers.engine.fsdp.transformer_impl"


def is_cpu_only() -> bool:
    """True when torch sees no CUDA device (the only case in which the CPU platform is needed)."""
    return not torch.cuda.is_available()


class _CPUDevice(ModuleType):
    """``torch.cpu`` plus the allocator queries verl calls on its device module (CPU has no caching
    allocator: reserved/allocated are reported as 0, ``mem_get_info`` from ``/proc/meminfo``)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(torch.cpu, name)

    @staticmethod
    def memory_allocated(*args: Any, **kwargs: Any) -> int:
        return 0

    memory_reserved = max_memory_allocated = max_memory_reserved = memory_allocated

    @staticmethod
    def reset_peak_memory_stats(*args: Any, **kwargs: Any) -> None:
        return None

    @staticmethod
    def empty_cache() -> None:
        return None

    # verl's checkpoint manager restores "the device's" RNG under the device name, which on this
    # platform is the CPU generator itself.
    @staticmethod
    def get_rng_state(*args: Any, **kwargs: Any) -> torch.Tensor:
        return torch.get_rng_state()

    @staticmethod
    def set_rng_state(state: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        torch.set_rng_state(state)

    @staticmethod
    def get_device_name(*args: Any, **kwargs: Any) -> str:
        return "CPU"

    @staticmethod
    def mem_get_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
        try:
            with open("/proc/meminfo", encoding="ascii") as fh:
                info = dict(line.split(":", 1) for line in fh)
            kib = lambda key: int(info[key].strip().split()[0]) * 1024  # noqa: E731
            return kib("MemAvailable"), kib("MemTotal")
        except (OSError, KeyError, ValueError):
            return 0, 0


_DEVICE = _CPUDevice("torch_cpu_for_verl")


def platform_class() -> type:
    """The registered ``cpu`` platform class (registered on first call; idempotent)."""
    from verl.plugin.platform.platform_base import PlatformBase
    from verl.plugin.platform.platform_manager import PlatformRegistry

    existing = PlatformRegistry.get(PLATFORM_NAME)
    if existing is not None:
        return existing

    @PlatformRegistry.register(platform=PLATFORM_NAME)
    class PlatformCPU(PlatformBase):
        """CPU platform: single device ``cpu``, ``gloo`` collectives, Ray CPUs, no profiler ranges."""

        device_name = "cpu"
        vendor_name = "cpu"

        @property
        def device_module(self) -> ModuleType:
            return _DEVICE

        def is_available(self) -> bool:
            return True

        def is_platform_available(self, use_smi_check: bool = False) -> bool:
            # Never auto-detected ahead of a real accelerator: only VERL_PLATFORM=cpu selects it.
            return False

        def current_device(self) -> Any:
            return "cpu"

        def device_count(self) -> int:
            return 1

        def set_device(self, device_index: int) -> None:
            return None

        def synchronize(self, device_index: int | None = None) -> None:
            return None

        def manual_seed(self, seed: int) -> None:
            torch.manual_seed(seed)

        def manual_seed_all(self, seed: int) -> None:
            torch.manual_seed(seed)

        def set_allocator_settings(self, settings: str) -> None:
            return None

        def empty_cache(self) -> None:
            return None

        def get_device_capability(self, device_index: int = 0):
            return (None, None)

        def communication_backend_name(self) -> str:
            return "gloo"

        def visible_devices_envvar(self) -> str:
            return "CUDA_VISIBLE_DEVICES"

        def nvtx_range(self, msg: str):
            return nullcontext()

        def profiler_start(self) -> None:
            return None

        def profiler_stop(self) -> None:
            return None

        def ray_resource_name(self) -> str:
            return "CPU"

        def ray_resource_options(self, num_gpus: float) -> dict[str, Any]:
            # Ray refuses "CPU" as a custom resource; a worker's share of its bundle is num_cpus.
            return {"num_cpus": num_gpus}

        def ray_noset_envvars(self) -> list[str]:
            return []

        def is_ipc_supported(self) -> bool:
            return False

        def cudart(self) -> Any:
            return None

    return PlatformCPU


def register_engine() -> None:
    """verl registers its FSDP engine for ``cuda``/``npu`` only; the same class serves ``cpu``."""
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    table = EngineRegistry._engines.get("language_model", {})
    missing = [b for b in ("fsdp", "fsdp2") if PLATFORM_NAME not in table.get(b, {})]
    if missing:
        EngineRegistry.register(model_type="language_model", backend=missing, device=PLATFORM_NAME)(
            FSDPEngineWithLMHead
        )


def set_current() -> None:
    """Make verl's platform ``cpu`` in this process (idempotent; only where torch sees no GPU)."""
    from verl.plugin.platform import platform_manager as pm

    current = pm._current_platform
    if current is not None and current.device_name == "cpu":
        return
    engine = sys.modules.get(ENGINE_MODULE)
    if engine is not None:
        engine.device_name = "cpu"  # read once at import; only the Ulysses mesh uses it
    pm.set_platform(platform_class()())
    register_engine()
