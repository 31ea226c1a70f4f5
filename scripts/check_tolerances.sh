#!/usr/bin/env bash
# Measures how far pp run's layouts land from a single-rank run under each of OpenBLAS's x86-64
# kernel families, the data behind the tolerances of tests/runtime/test_run.sh (docs/run.md,
# "How close is exact"). Needs Debian's OpenBLAS (built with DYNAMIC_ARCH, so OPENBLAS_CORETYPE
# picks the kernels). Usage: bash scripts/check_tolerances.sh [build-dir] [core types...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
shift || true
CORES=("$@")
[ ${#CORES[@]} -gt 0 ] || CORES=(Prescott Nehalem Sandybridge Haswell SkylakeX Zen)
PP=$BUILD/bin/pp
COMPARE=tests/runtime/compare_checkpoints.py
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
T=$(mktemp -d /tmp/pp-tolerances.XXXXXX)
trap 'rm -rf "$T"' EXIT
"$PP" data synth --out "$T/tokens.bin" --tokens 20000 --vocab 512 2>/dev/null
plan() {
  local name=$1 gpus=$2
  shift 2
  "$PP" plan --model gpt2-tiny --cluster cpu-local --gpus "$gpus" --global-batch 8 --seq-len 32 \
    --tp 1 "$@" -o "$T/$name.json" >/dev/null
}
plan single 1 --pp 1 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
plan gpipe 4 --pp 4 --microbatch-size 2 --schedule gpipe --ckpt-interval 0
plan zb-h1 4 --pp 4 --microbatch-size 2 --schedule zb-h1 --ckpt-interval 0
plan interleaved 4 --pp 4 --microbatch-size 2 --schedule interleaved --virtual-stages 2 --ckpt-interval 0
plan pp2-dp2 4 --pp 2 --dp 2 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
plan mbs1-recompute 4 --pp 4 --microbatch-size 1 --schedule 1f1b --ckpt-interval 1
train() {  # train CORETYPE PLAN RANKS
  OPENBLAS_CORETYPE=$1 mpirun -np "$3" "$PP" run --plan "$T/$2.json" --data "$T/tokens.bin" \
    --steps 3 --quiet --save "$T/$2-$1.safetensors" 2>"$T/train.err" || { cat "$T/train.err" >&2; exit 1; }
}
for core in "${CORES[@]}"; do
  train "$core" single 1
  for layout in gpipe:4 zb-h1:4 interleaved:4 pp2-dp2:4 mbs1-recompute:4; do
    name=${layout%%:*}
    train "$core" "$name" "${layout##*:}"
    echo "$core $name: $(python3 $COMPARE "$T/$name-$core.safetensors" "$T/single-$core.safetensors" --tolerance 1)"
  done
done
if [ ${#CORES[@]} -gt 1 ]; then
  first=${CORES[0]}
  last=${CORES[${#CORES[@]}-1]}
  echo "across kernels, reference $first, layout $last: $(python3 $COMPARE \
    "$T/mbs1-recompute-$last.safetensors" "$T/single-$first.safetensors" --tolerance 1)"
fi
