"""Run verl's SFT trainer on a CPU-only machine (tests, the tiny-model demo, benchmarks).

Why: verl 0.9.1 picks its device through a platform registry and falls back to CUDA when no
accelerator is found, so ``SFTTrainer`` dies on a CPU box in ``set_device``/``mem_get_info``. verl's
own extension point is the registry (:class:`verl.plugin.platform.PlatformRegistry`); this module
registers a ``cpu`` platform there (``device_module`` = ``torch.cpu`` + allocator stubs, collective backend ``gloo``,
which verl's memory logger already special-cases), registers verl's own ``FSDPEngineWithLMHead``
for device ``cpu`` in ``EngineRegistry`` (verl lists only ``cuda``/``npu``) and starts a one-process ``gloo`` group. Nothing
of the trainer, the FSDP2 engine, the loss or the optimizer step is replaced.

:func:`install` may run after verl is imported (the one module-level device name verl's FSDP engine
keeps is rebound); :func:`single_process_group` sets the ``RANK`` /
``WORLD_SIZE`` / ``MASTER_*`` variables verl reads and initialises ``torch.distributed``.
"""

from __future__ import annotations

import os
import socket
import sys
from contextlib import contextmanager, nullcontext
from types import ModuleType
from typing import Any, Iterator

import torch

__all__ = ["install", "is_cpu_only", "single_process_group"]

_ENGINE_MODULE = "verl.workers.engine.fsdp.transformer_impl"


def is_cpu_only() -> bool:
    """True when torch sees no CUDA device (the only case in which :func:`install` is needed)."""
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

    @staticmethod
    def get_device_name(*args: Any, **kwargs: Any) -> str:
        return "CPU"

    @staticmethod
    def mem_get_info(*args: Any, **kwargs: Any) -> tuple[int, int]:
        try:
            info = dict(line.split(":", 1) for line in open("/proc/meminfo", encoding="ascii"))
            kib = lambda key: int(info[key].strip().split()[0]) * 1024  # noqa: E731
            return kib("MemAvailable"), kib("MemTotal")
        except (OSError, KeyError, ValueError):
            return 0, 0


_DEVICE = _CPUDevice("torch_cpu_for_verl")


def _platform_class() -> type:
    from verl.plugin.platform.platform_base import PlatformBase
    from verl.plugin.platform.platform_manager import PlatformRegistry

    existing = PlatformRegistry.get("cpu")
    if existing is not None:
        return existing

    @PlatformRegistry.register(platform="cpu")
    class PlatformCPU(PlatformBase):
        """CPU platform: single device ``cpu``, ``gloo`` collectives, no profiler ranges."""

        device_name = "cpu"
        vendor_name = "cpu"

        @property
        def device_module(self) -> ModuleType:
            return _DEVICE

        def is_available(self) -> bool:
            return True

        def is_platform_available(self, use_smi_check: bool = False) -> bool:
            return True

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

        def ray_noset_envvars(self) -> list[str]:
            return []

        def is_ipc_supported(self) -> bool:
            return False

        def cudart(self) -> Any:
            return None

    return PlatformCPU


def install() -> None:
    """Make verl's platform ``cpu`` for this process (idempotent; call only where torch sees no GPU)."""
    from verl.plugin.platform import platform_manager as pm

    current = pm._current_platform
    if current is not None and current.device_name == "cpu":
        return
    engine = sys.modules.get(_ENGINE_MODULE)
    if engine is not None:
        engine.device_name = "cpu"  # read once at import; only the Ulysses mesh uses it
    pm.set_platform(_platform_class()())
    _register_engine()


def _register_engine() -> None:
    """verl registers its FSDP engine for ``cuda``/``npu`` only; the same class serves ``cpu``."""
    from verl.workers.engine.base import EngineRegistry
    from verl.workers.engine.fsdp.transformer_impl import FSDPEngineWithLMHead

    table = EngineRegistry._engines.get("language_model", {})
    missing = [b for b in ("fsdp", "fsdp2") if "cpu" not in table.get(b, {})]
    if missing:
        EngineRegistry.register(model_type="language_model", backend=missing, device="cpu")(FSDPEngineWithLMHead)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def single_process_group() -> Iterator[None]:
    """A world-size-1 ``gloo`` process group for the block (reuses one that is already up)."""
    import torch.distributed as dist

    if dist.is_initialized():
        yield
        return
    saved = {k: os.environ.get(k) for k in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    # verl reads these from the environment; they are put back afterwards (other code in the process)
    os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    try:
        dist.init_process_group("gloo", rank=0, world_size=1)
        try:
            yield
        finally:
            if dist.is_initialized():
                dist.destroy_process_group()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
