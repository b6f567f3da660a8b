#!/usr/bin/env bash
# GPU smoke test of the audio rollout (issue 6): a few DAPO + DG-WGPO steps of Qwen3-ASR-0.6B on
# freshly generated "wild" data, on one GPU. Needs: this project installed (scripts/setup_env.sh),
# vLLM with Qwen3-ASR support, and a local native checkpoint (Qwen/Qwen3-ASR-0.6B-hf layout).
#   bash examples/verl/smoke_gpu.sh MODEL_DIR [OUT_DIR] [hydra overrides...]
# Passes when verl finishes STEPS training steps without error; the log is OUT_DIR/train.log.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$#" -lt 1 ]; then
  echo "usage: $0 MODEL_DIR [OUT_DIR] [hydra overrides...]" >&2
  exit 2
fi
model="$1"; out="${2:-out/smoke_gpu}"; shift; [ "$#" -gt 0 ] && shift
steps="${STEPS:-3}"
python="${PYTHON:-python}"
mkdir -p "$out"
# 1. Synthesised speech -> 54 wild scenarios -> base WER -> RL split (CPU, about a minute).
if [ ! -f "$out/data/split/rl.jsonl.gz" ]; then
  "$python" -m wildasr.cli demo --small --out "$out/data" --no-progress
fi
# 2. A few DAPO steps with small batches (16 rollouts per prompt as in the full recipe).
"$python" -m verl.trainer.main_ppo --config-path="$here" --config-name=dapo_dgwgpo \
  +qwen3_asr@_global_=0.6b_1gpu \
  "data.train_files=['$out/data/split/rl.jsonl.gz']" "data.val_files=['$out/data/split/kept.jsonl.gz']" \
  actor_rollout_ref.model.path="$model" \
  data.train_batch_size=4 data.gen_batch_size=4 data.val_max_samples=8 \
  actor_rollout_ref.actor.ppo_mini_batch_size=4 \
  algorithm.filter_groups.max_num_gen_batches=4 \
  trainer.total_training_steps="$steps" trainer.test_freq="$steps" trainer.val_before_train=false \
  trainer.default_local_dir="$out/ckpt" "$@" 2>&1 | tee "$out/train.log"
echo "smoke_gpu: $steps DAPO steps finished; log: $out/train.log"
