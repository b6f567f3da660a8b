#!/usr/bin/env bash
# DAPO + DG-WGPO in verl's own trainer on CPU, offline (issue 15): a random tiny Qwen3-ASR trained for
# a few steps on Piper speech degraded by lhotse_wild. Two ways to run exactly the same training:
#   bash examples/verl/rl_tiny_cpu.sh [OUT] [STEPS]           # through `wildasr rl` (progress, metrics.jsonl, export)
#   RAW=1 bash examples/verl/rl_tiny_cpu.sh [OUT] [STEPS]     # verl's main_ppo command itself (what `wildasr rl` runs)
set -euo pipefail
out="${1:-out/rl-tiny}"; steps="${2:-2}"
wildasr="${WILDASR:-wildasr}"
if [ "${RAW:-0}" = "1" ]; then
  # `--print-command` builds the tiny model + RL split, checks the inputs and prints the command.
  cmd="$("$wildasr" rl --tiny --steps "$steps" --out "$out" --print-command)"
  echo "$cmd"
  eval "$cmd"
else
  "$wildasr" rl --tiny --steps "$steps" --out "$out"
fi
