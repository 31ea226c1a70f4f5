#!/usr/bin/env bash
# GPT-2 124M training steps on one GPU: pp run (--device cuda, one rank) beside PyTorch on the same
# GPU in the same run (eager with SDPA, and torch.compile), float32 and TF32, tokens/s. A
# benchmark, not a test: the figures are the device's. Needs a GPU, pp built with CUDA, mpirun, and
# python3 with torch for the baseline (skipped without it).
#
# Usage: scripts/bench_gpu.sh [PP_BINARY] [BATCH] [SEQ] [STEPS]   (defaults: build/bin/pp 8 1024 10)
# Writes its JSON lines to $OUT/bench_gpu.jsonl too when $OUT is set.
set -euo pipefail
pp=$(realpath "${1:-build/bin/pp}")
batch=${2:-8}
seq=${3:-1024}
steps=${4:-10}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
out=${OUT:+$OUT/bench_gpu.jsonl}

emit() { echo "$1"; [ -n "$out" ] && echo "$1" >>"$out"; return 0; }

"$pp" data synth --out "$work/tokens.bin" --tokens $((batch * seq * (steps + 2) + 1)) --vocab 50257 2>/dev/null
"$pp" plan --model gpt2-124m --cluster dgx-h100 --gpus 1 --global-batch "$batch" --seq-len "$seq" --tp 1 --pp 1 \
  --microbatch-size "$batch" -o "$work/plan.json" >/dev/null
for tf32 in "" "--allow-tf32"; do
  if mpirun -np 1 "$pp" run --plan "$work/plan.json" --data "$work/tokens.bin" --steps "$steps" --device cuda \
       $tf32 --json >"$work/run.json" 2>"$work/run.err"; then
    emit "$(python3 - "$work/run.json" "$batch" "$seq" "${tf32:+true}" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps({"mode": "pp run", "tf32": sys.argv[4] == "true", "batch": int(sys.argv[2]), "seq": int(sys.argv[3]),
                  "tokens_per_s": d["tokens_per_s"], "step_ms": d["mean_step_ms"], "device": d["device"]}))
PY
)"
  else
    emit "{\"mode\": \"pp run\", \"error\": $(tail -3 "$work/run.err" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}"
  fi
done
if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
  for tf32 in "" "--tf32"; do
    python3 "$here/bench_gpu_pytorch.py" --batch "$batch" --seq "$seq" --steps "$steps" $tf32 |
      while read -r line; do emit "$line"; done
  done
else
  echo "# PyTorch with CUDA not found: no baseline"
fi
