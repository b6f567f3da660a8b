#!/usr/bin/env bash
# The README's two commands:
#   bash run.sh demo   - the whole recipe end to end on an embedded corpus; report in out/demo/
#   bash run.sh test   - the test suite
# Both create .venv from requirements/lock-cpu.txt first when it is missing or stale.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
bash scripts/setup_env.sh
venv="${WILDASR_VENV:-$root/.venv}"
cmd="${1:-}"; shift || true
case "$cmd" in
  demo) exec "$venv/bin/wildasr" demo --out "${WILDASR_DEMO_OUT:-out/demo}" "$@" ;;
  test) exec "$venv/bin/python" -m pytest -q "$@" ;;
  *) echo "usage: bash run.sh demo [wildasr demo options] | bash run.sh test [pytest options]" >&2; exit 2 ;;
esac
