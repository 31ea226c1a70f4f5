#!/usr/bin/env bash
# pp run on a GPU against pp run on the CPU: one rank on the CUDA backend ends at the CPU backend's
# weights to fp32 round-off; 4 ranks sharing one GPU through the staged transport end at the one-
# GPU-rank weights for gpipe, 1f1b, interleaved and zb-h1; NCCL with one rank runs, and NCCL with
# two ranks on one GPU is refused with a one-line error. Exit 77 (skipped) without a GPU.
# Usage: test_run_cuda.sh <path-to-pp> <tests/runtime dir>
set -u
PP=$1
HERE=$2
if ! "$PP" --version 2>/dev/null | grep -q "^CUDA backend: built" ||
   "$PP" --version 2>/dev/null | grep -q "no GPU found"; then
  echo "skipped: no GPU (or pp built without CUDA)"
  exit 77
fi
MPI_TIMEOUT=300
# shellcheck source=run_test_lib.sh
source "$HERE/run_test_lib.sh"
# The GPU against the CPU: other kernels as well as other orders (cuBLASLt's tiling), so 3x the
# layouts' tolerance TOL.
TOL_CPU="weights=2e-4,exp_avg=2e-4,exp_avg_sq=4e-4"

run() {  # run NAME NP PLAN RUN-ARGS...: trains and saves NAME.safetensors
  local name=$1 np=$2 plan=$3
  shift 3
  if mpi "$np" run --plan "$TMP/$plan.json" --data "$TMP/tokens.bin" --steps $STEPS --json \
       --save "$TMP/$name.safetensors" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
    return 0
  fi
  not_ok "$name runs" "$(tail -5 "$TMP/$name.err")"
  return 1
}

same_weights() {  # same_weights NAME REFERENCE TOLERANCE
  local result
  result=$(python3 "$HERE/compare_checkpoints.py" "$TMP/$1.safetensors" "$TMP/$2.safetensors" --tolerance "$3" 2>&1)
  if [ $? -eq 0 ]; then ok "$1 matches $2 ($result)"; else not_ok "$1 matches $2" "$result"; fi
}

plan single 1 --pp 1 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 || exit 1
run cpu 1 single --device cpu || exit 1
if run gpu 1 single --device cuda; then
  same_weights gpu cpu "$TOL_CPU"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["device"] == "cuda" else 1)' \
    "$TMP/gpu.out" && ok "the JSON says cuda" || not_ok "the JSON says cuda" "$(head -c 300 "$TMP/gpu.out")"
fi
run gpu-nccl 1 single --device cuda --transport nccl && same_weights gpu-nccl gpu "$TOL"

for layout in "gpipe 1" "1f1b 1" "interleaved 2" "zb-h1 1"; do
  set -- $layout
  plan "$1-pp4" 4 --pp 4 --microbatch-size 2 --schedule "$1" --virtual-stages "$2" --ckpt-interval 0 || continue
  run "gpu-$1-pp4" 4 "$1-pp4" --device cuda --transport mpi && same_weights "gpu-$1-pp4" gpu "$TOL"
done
plan recompute-pp2 2 --pp 2 --microbatch-size 2 --schedule 1f1b --ckpt-interval 1 &&
  run gpu-recompute-pp2 2 recompute-pp2 --device cuda --transport mpi && same_weights gpu-recompute-pp2 gpu "$TOL"

gpus=$(nvidia-smi -L 2>/dev/null | wc -l)
# With a GPU per rank: NCCL for the schedules whose lowered order it can carry, against one GPU
# rank; interleaved goes to the staged transport on its own (its order would deadlock NCCL).
if [ "${gpus:-0}" -ge 4 ]; then
  for name in gpipe 1f1b zb-h1; do
    run "nccl-$name-pp4" 4 "$name-pp4" --device cuda --transport nccl && same_weights "nccl-$name-pp4" gpu "$TOL"
  done
  if run auto-interleaved-pp4 4 interleaved-pp4 --device cuda; then
    python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["transport"] == "mpi-staged" else 1)' \
      "$TMP/auto-interleaved-pp4.out" && ok "interleaved is staged, not put on nccl" ||
      not_ok "interleaved is staged, not put on nccl" "$(head -c 300 "$TMP/auto-interleaved-pp4.out")"
  fi
fi

# NCCL refuses two ranks on one GPU: pp says so before it starts (exit 2), where the node has
# fewer GPUs than ranks.
if [ "${gpus:-0}" -lt 2 ]; then
  plan pp2 2 --pp 2 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
  timeout 120 mpirun -np 2 "$PP" run --plan "$TMP/pp2.json" --data "$TMP/tokens.bin" --steps 1 --device cuda \
    --transport nccl >"$TMP/nccl2.out" 2>"$TMP/nccl2.err"
  rc=$?
  if [ $rc -ne 0 ] && grep -q "NCCL refuses two ranks" "$TMP/nccl2.err"; then
    ok "nccl with 2 ranks on one GPU is refused (exit $rc)"
  else
    not_ok "nccl with 2 ranks on one GPU is refused" "exit $rc" "$(tail -3 "$TMP/nccl2.err")"
  fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
