#!/usr/bin/env bash
# Create (or refresh) .venv from the lock file. Idempotent: does nothing when the venv matches the lock.
# torch is pinned to the local CPU build through requirements/constraints.txt: an unconstrained torch
# would pull several GB of CUDA wheels.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${WILDASR_VENV:-$root/.venv}"
lock="$root/requirements/lock-cpu.txt"
cons="$root/requirements/constraints.txt"
py="${PYTHON:-python3}"
stamp="$venv/.lock-sha256"
nodeps="$root/requirements/lock-nodeps.txt"
want="$(cat "$lock" "$nodeps" "$cons" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
  exit 0
fi
if ! "$py" -c 'import sys; sys.exit(0 if sys.version_info[:2] >= (3, 10) else 1)'; then
  echo "setup_env: need Python >= 3.10 (found $("$py" --version 2>&1))" >&2; exit 1
fi
echo "setup_env: installing $venv from $(basename "$lock") (first time: a few minutes)" >&2
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install -q --disable-pip-version-check -c "$cons" -r "$lock"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -c "$cons" -r "$nodeps"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$root"
echo "$want" > "$stamp"
echo "setup_env: ready ($("$venv/bin/python" --version))" >&2
