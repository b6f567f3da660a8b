#!/usr/bin/env bash
# DAPO + DG-WGPO for Qwen3-ASR (0.6b_1gpu) with verl 0.9.1 (needs GPUs and vLLM). Usage:
#   bash examples/verl/qwen3_asr_0.6b_1gpu.sh TRAIN VAL MODEL_DIR [hydra overrides...]
# TRAIN / VAL: Lhotse cut manifests or Shar dirs (wildasr simulate + split), or NeMo manifests.
# MODEL_DIR: a native transformers Qwen3-ASR checkpoint (Qwen/Qwen3-ASR-*-hf layout).
# Dry check of the composed config (no GPU):  WILDASR_CFG_ONLY=1 bash $0 a b c
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ "$#" -lt 3 ]; then
  echo "usage: $0 TRAIN VAL MODEL_DIR [hydra overrides...]" >&2
  exit 2
fi
train="$1"; val="$2"; model="$3"; shift 3
python="${PYTHON:-python}"
args=(--config-path="$here" --config-name=dapo_dgwgpo +qwen3_asr@_global_=0.6b_1gpu
      "data.train_files=['$train']" "data.val_files=['$val']" actor_rollout_ref.model.path="$model" "$@")
if [ "${WILDASR_CFG_ONLY:-0}" = "1" ]; then
  exec "$python" -m verl.trainer.main_ppo "${args[@]}" --cfg job --resolve
fi
exec "$python" -m verl.trainer.main_ppo "${args[@]}"
