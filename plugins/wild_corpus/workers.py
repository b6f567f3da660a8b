"""Process-pool helpers for the corpus jobs (synthesis, base-ASR scoring)."""

from __future__ import annotations

import os
import threading
import time

__all__ = ["exit_with_parent"]


def exit_with_parent(poll_s: float = 1.0) -> None:
    """In a pool worker: exit as soon as the parent process is gone.

    Why: a parent killed with SIGKILL (OOM killer, ``kill -9``, a CI timeout) cannot shut its
    ``ProcessPoolExecutor`` down, and the workers would wait on their task queue forever.
    """
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
