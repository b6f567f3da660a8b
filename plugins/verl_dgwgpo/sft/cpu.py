"""Run verl's SFT trainer on a CPU-only machine (tests, the tiny-model demo, benchmarks).

The ``cpu`` platform itself (registry entry, FSDP engine for device ``cpu``) lives in
:mod:`verl_dgwgpo.cpu_platform`, shared with the RL trainer. SFT runs in this process, so
:func:`install` makes that platform current here, and :func:`single_process_group` sets the
``RANK`` / ``WORLD_SIZE`` / ``MASTER_*`` variables verl reads and starts a one-process ``gloo`` group.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from typing import Iterator

from verl_dgwgpo import cpu_platform
from verl_dgwgpo.cpu_platform import is_cpu_only

__all__ = ["install", "is_cpu_only", "single_process_group"]


def install() -> None:
    """Make verl's platform ``cpu`` for this process (idempotent; call only where torch sees no GPU)."""
    cpu_platform.set_current()


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
