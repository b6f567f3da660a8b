"""Errors shared by every plugin (this package is the one they all depend on)."""

from __future__ import annotations


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
