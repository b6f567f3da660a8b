"""Errors shared by every plugin (this package is the one they all depend on).

``InputError``: the user's input is wrong. ``BackendUnavailable``: the environment lacks an optional
backend. Both are printed by ``wildasr`` without a traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class InputError(ValueError):
    """Bad user input (file, line, field, audio, config). The message names the input.

    ``wildasr`` prints it without a traceback and exits with code 2.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(where + message)
        self.source = source
        self.line = line


class BackendUnavailable(RuntimeError):
    """An optional backend (TTS engine, ASR model, Ray, vLLM) is not installed or cannot load.

    An environment problem, not bad input: the message says what to install, so ``wildasr demo`` /
    ``wildasr split`` print it without a traceback.
    """


def require(module: str, hint: str) -> ModuleType:
    """Import ``module`` or raise :class:`BackendUnavailable` naming ``hint`` (what to install)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise BackendUnavailable(f"{module!r} is not importable ({exc}); {hint}") from exc
