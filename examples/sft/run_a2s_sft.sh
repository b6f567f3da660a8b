#!/usr/bin/env bash
# A2S-SFT, all three phases in order, each starting from the previous phase's adapter, then the
# merged-weights and LoRA-only exports.
#
#   examples/sft/run_a2s_sft.sh MODEL TRAIN OUT [hydra overrides for every phase...]
#       MODEL  Qwen3-ASR (native transformers, e.g. Qwen/Qwen3-ASR-1.7B-hf) or Qwen2-Audio dir / hub id
#       TRAIN  `wildasr split` output dir (its kept.jsonl.gz; rl.jsonl.gz is refused), or cut/NeMo manifests
#       OUT    out/sft -> OUT/phase{1,2,3}/adapter, OUT/export/{lora,merged}
#   examples/sft/run_a2s_sft.sh --tiny qwen3_asr|qwen2_audio OUT
#       CPU smoke run: builds a tiny random model and 16 synthetic cuts, a few steps per phase.
#
# GPUs: NPROC=8 examples/sft/run_a2s_sft.sh ...  (each phase runs under torchrun; the curriculum in
# phase 1 is one global order and needs one data-parallel rank: pass NPROC1=1 to keep phase 1 single).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python}
NPROC=${NPROC:-1}
NPROC1=${NPROC1:-$NPROC}

if [[ "${1:-}" == "--tiny" ]]; then
  FAMILY=${2:?family: qwen3_asr or qwen2_audio}
  OUT=${3:?output dir}
  mkdir -p "$OUT"
  read -r MODEL TRAIN < <($PY - "$FAMILY" "$OUT" <<'PYEOF'
import sys
from verl_dgwgpo.testing.sft import make_cuts
from verl_dgwgpo.tiny_models import tiny_model_dir
family, out = sys.argv[1], sys.argv[2]
wers = [round(0.05 * i, 2) for i in range(16)]  # 0.00 .. 0.75: every curriculum stage + 1 dropped
model = tiny_model_dir(family, f"{out}/models", output_scale=10.0)
cuts = make_cuts(f"{out}/data", wers, texts=["yes", "no", "stop", "go"])
print(model, cuts)
PYEOF
)
  shift 3
  set -- "$MODEL" "$TRAIN" "$OUT" data.train_batch_size=4 data.micro_batch_size_per_gpu=4 data.num_workers=0 \
    data.max_length=2048 optim.lr=1e-2 "checkpoint.save_contents=[model]" "$@"
fi

MODEL=${1:?model}; TRAIN=${2:?train files}; OUT=${3:?output dir}; shift 3

run_phase() {
  local phase=$1 nproc=$2; shift 2
  if [[ "$nproc" -gt 1 ]]; then
    torchrun --standalone --nproc_per_node="$nproc" -m verl_dgwgpo.sft "examples/sft/phase$phase.yaml" "$@"
  else
    $PY -m verl_dgwgpo.sft "examples/sft/phase$phase.yaml" "$@"
  fi
}

common=(model.path="$MODEL" data.train_files="$TRAIN")
run_phase 1 "$NPROC1" "${common[@]}" trainer.default_local_dir="$OUT/phase1" "$@"
run_phase 2 "$NPROC" "${common[@]}" trainer.default_local_dir="$OUT/phase2" \
  model.lora_adapter_path="$OUT/phase1/adapter" "$@"
run_phase 3 "$NPROC" "${common[@]}" trainer.default_local_dir="$OUT/phase3" \
  model.lora_adapter_path="$OUT/phase2/adapter" "$@"

$PY -m verl_dgwgpo.sft.export --model "$MODEL" --adapter "$OUT/phase3/adapter" \
  --lora "$OUT/export/lora" --merged "$OUT/export/merged"
echo "adapters: $OUT/phase{1,2,3}/adapter (a2s_report.json in each); exports: $OUT/export/{lora,merged}"
