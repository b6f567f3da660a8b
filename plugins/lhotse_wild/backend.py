"""A missing speech backend (TTS engine, ASR model) is an environment problem, not bad input.

Raised with a message that says what to install, so ``wildasr demo`` / ``wildasr split`` can print it
without a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class BackendUnavailable(RuntimeError):
    """A TTS/ASR backend the caller asked for is not installed or cannot load its model."""


def require(module: str, hint: str) -> ModuleType:
    """Import ``module`` or raise :class:`BackendUnavailable` naming ``hint`` (what to install)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(f"{module!r} is not importable ({exc}); {hint}") from exc
