#!/usr/bin/env bash
# DAPO + DG-WGPO with verl 0.9.1 (GPU). Usage:
#   bash examples/verl/run_dapo_dgwgpo.sh TRAIN.parquet VAL.parquet MODEL_PATH [hydra overrides...]
# e.g. ... reward.reward_kwargs.tau=0.5  reward.reward_kwargs.reward_name=wer  trainer.n_gpus_per_node=8
# Dry check of the composed config without a GPU:  WILDASR_CFG_ONLY=1 bash examples/verl/run_dapo_dgwgpo.sh a b c
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$#" -lt 3 ]; then
  echo "usage: $0 TRAIN.parquet VAL.parquet MODEL_PATH [hydra overrides...]" >&2
  exit 2
fi
train="$1"; val="$2"; model="$3"; shift 3
python="${PYTHON:-python}"
args=(--config-path="$here" --config-name=dapo_dgwgpo
      data.train_files="$train" data.val_files="$val" actor_rollout_ref.model.path="$model" "$@")
if [ "${WILDASR_CFG_ONLY:-0}" = "1" ]; then
  exec "$python" -m verl.trainer.main_ppo "${args[@]}" --cfg job --resolve
fi
exec "$python" -m verl.trainer.main_ppo "${args[@]}"
