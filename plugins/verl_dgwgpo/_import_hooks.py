"""One post-import hook for ``verl.*`` modules, shared by the reward registration and the rollout patches.

Why: both must act on verl modules the moment verl itself imports them (registries filled before a
config is validated; functions patched before anyone binds them), without importing verl eagerly
(seconds) from the ``verl.plugins`` entry point. A meta-path finder that delegates to the regular
finders and wraps the loader does that for any import order.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading
from types import ModuleType
from typing import Any, Callable

__all__ = ["PostImportFinder"]


class _Loader(importlib.abc.Loader):
    """Runs the real loader, then the hook on the freshly executed module."""

    def __init__(self, inner: Any, on_loaded: Callable[[ModuleType], None]):
        self._inner = inner
        self._on_loaded = on_loaded

    def create_module(self, spec):
        return self._inner.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._inner.exec_module(module)
        self._on_loaded(module)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)


class PostImportFinder(importlib.abc.MetaPathFinder):
    """Calls ``on_loaded(module)`` after each module whose name ``wants(name)`` is executed.

    Every other import is untouched. Re-entrant lookups (another hook asking every finder, this one
    included) fall through to the regular finders. ``install``/``uninstall`` are idempotent.
    """

    def __init__(self, wants: Callable[[str], bool], on_loaded: Callable[[ModuleType], None]):
        self._wants = wants
        self._on_loaded = on_loaded
        self._busy = threading.local()

    def find_spec(self, fullname, path, target=None):
        if not self._wants(fullname):
            return None
        busy = getattr(self._busy, "names", None)
        if busy is None:
            busy = self._busy.names = set()
        if fullname in busy:
            return None
        busy.add(fullname)
        try:
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(fullname, path, target)
                if spec is not None:
                    break
            else:
                return None
        finally:
            busy.discard(fullname)
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _Loader(spec.loader, self._on_loaded)
        return spec

    def install(self) -> None:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
