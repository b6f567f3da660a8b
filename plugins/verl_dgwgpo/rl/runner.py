"""Launch verl's own trainer (``python -m verl.trainer.main_ppo``) for a ``wildasr rl`` run and follow it.

The trainer runs in a child process (its own Ray cluster, Hydra's own argument handling: exactly the
command a user could type, see :func:`command`). This process

- writes ``OUT/metrics.jsonl``: one JSON object per step, verl's metric names (``actor/pg_loss``,
  ``critic/score/mean``, ``timing_s/*``, ``dgwgpo/*``) plus ``step``. verl's ``file`` logger writes
  each attempt's lines to ``OUT/logs/verl-<attempt>.jsonl`` (it truncates its file on start, so a
  resumed run gets a new one); they are merged by step, a later attempt replacing an earlier one;
- prints one progress line per step as the trainer logs it;
- keeps the full trainer output in ``OUT/logs/train-<attempt>.log`` and, when the trainer fails,
  prints the error lines from it.

Resume is verl's: ``trainer.resume_mode=auto`` picks the newest ``OUT/checkpoints/global_step_*``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from nemo_wild_eval.errors import InputError

from .config import CONFIG_DIR, CONFIG_NAME

__all__ = ["command", "finished_steps", "merge_metrics", "progress_line", "run_trainer"]

PROGRESS_KEYS = (
    ("actor/pg_loss", "pg_loss {:.4f}"),
    ("critic/score/mean", "score {:.3f}"),
    ("dgwgpo/zero_variance_share", "zero-var {:.2f}"),
    ("dgwgpo/mean_group_std", "group-std {:.3f}"),
    ("training/rollout_probs_diff_mean", "rollout-vs-actor {:.1e}"),
    ("timing_s/step", "{:.1f} s"),
)


def command(overrides: list[str]) -> list[str]:
    """The trainer command: verl's ``main_ppo`` on the packaged recipe with the run's overrides."""
    return [
        sys.executable,
        "-m",
        "verl.trainer.main_ppo",
        f"--config-path={CONFIG_DIR}",
        f"--config-name={CONFIG_NAME}",
        *overrides,
    ]


def finished_steps(out: Path) -> int:
    """The newest checkpointed step under ``OUT/checkpoints`` (0 when none)."""
    marker = Path(out) / "checkpoints" / "latest_checkpointed_iteration.txt"
    try:
        return int(marker.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def progress_line(step: int, total: int, data: dict[str, Any]) -> str:
    parts = [f"step {step}/{total}"]
    for key, fmt in PROGRESS_KEYS:
        value = data.get(key)
        if isinstance(value, int | float):
            parts.append(fmt.format(float(value)))
    return "  ".join(parts)


def _read_attempt(path: Path) -> dict[int, dict[str, Any]]:
    steps: dict[int, dict[str, Any]] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return steps
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a line being written right now
        if isinstance(rec, dict) and "step" in rec and isinstance(rec.get("data"), dict):
            steps[int(rec["step"])] = rec["data"]
    return steps


def _attempts(logs: Path) -> list[Path]:
    def number(p: Path) -> int:
        m = re.search(r"verl-(\d+)\.jsonl$", p.name)
        return int(m.group(1)) if m else -1

    return sorted(logs.glob("verl-*.jsonl"), key=number)


def merge_metrics(out: Path) -> list[dict[str, Any]]:
    """All steps of all attempts (later attempts win), written to ``OUT/metrics.jsonl``."""
    out = Path(out)
    steps: dict[int, dict[str, Any]] = {}
    for path in _attempts(out / "logs"):
        steps.update(_read_attempt(path))
    rows = [{"step": step, **{k: v for k, v in data.items() if k != "step"}} for step, data in sorted(steps.items())]
    tmp = out / "metrics.jsonl.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, default=float) + "\n")
    os.replace(tmp, out / "metrics.jsonl")
    return rows


def _error_lines(log: Path, limit: int = 12) -> list[str]:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    hits = [ln for ln in lines if re.search(r"(Error|Exception)\b.*:", ln) and "Warning" not in ln]
    return hits[-limit:]


def run_trainer(
    overrides: list[str],
    out: Path,
    *,
    total_steps: int,
    env: dict[str, str] | None = None,
    log: Callable[[str], None] = print,
    poll_seconds: float = 1.0,
) -> list[dict[str, Any]]:
    """Run verl's trainer to completion; returns the merged per-step metrics. Raises on failure."""
    out = Path(out)
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    attempt = len(_attempts(logs)) + 1
    verl_log = logs / f"verl-{attempt}.jsonl"
    train_log = logs / f"train-{attempt}.log"
    child_env = dict(os.environ)
    child_env.update(env or {})
    child_env["VERL_FILE_LOGGER_PATH"] = str(verl_log)
    child_env.setdefault("HYDRA_FULL_ERROR", "1")
    child_env.setdefault("TOKENIZERS_PARALLELISM", "false")
    cmd = command(overrides)
    (logs / f"command-{attempt}.txt").write_text(" ".join(cmd) + "\n")
    seen: set[int] = set()
    done = threading.Event()

    def follow() -> None:
        while not done.is_set():
            for step, data in sorted(_read_attempt(verl_log).items()):
                if step not in seen:
                    seen.add(step)
                    log(progress_line(step, total_steps, data))
            done.wait(poll_seconds)

    watcher = threading.Thread(target=follow, daemon=True)
    started = time.monotonic()
    with open(train_log, "wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=child_env)
        watcher.start()
        try:
            rc = proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait(timeout=60)
            raise
        finally:
            done.set()
            watcher.join(timeout=5)
    for step, data in sorted(_read_attempt(verl_log).items()):
        if step not in seen:
            seen.add(step)
            log(progress_line(step, total_steps, data))
    rows = merge_metrics(out)
    if rc != 0:
        detail = "\n  ".join(_error_lines(train_log)) or "(no error line found)"
        raise RuntimeError(
            f"verl's trainer exited with code {rc} after {time.monotonic() - started:.0f} s; "
            f"full log: {train_log}\n  {detail}"
        )
    if not any(r["step"] == total_steps for r in rows) and finished_steps(out) < total_steps:
        raise InputError(
            f"verl's trainer stopped before step {total_steps} (last logged: "
            f"{rows[-1]['step'] if rows else 'none'}); is the RL split smaller than steps x batch size? "
            f"log: {train_log}",
            source="--steps",
        )
    return rows

