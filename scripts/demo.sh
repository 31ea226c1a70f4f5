#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds pp, and shows what it does on shipped configs:
# which schedule and how many micro-batches, a schedule over time, a custom schedule file, and a
# deliberately broken one. Pictures and traces land in out/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build.sh -DPP_BUILD_TESTS=OFF -DPP_BUILD_BENCHMARKS=OFF >/dev/null
# Installs pp on PATH (prefix /usr/local, or $PP_PREFIX) with its shipped configs.
prefix=${PP_PREFIX:-/usr/local}
sudo_cmd=""
[ "$(id -u)" -ne 0 ] && [ ! -w "$prefix" ] && sudo_cmd="sudo"
$sudo_cmd cmake --install "${PP_BUILD_DIR:-build}" --prefix "$prefix" >/dev/null
export PATH="$prefix/bin:$PATH"
pp=pp
echo "installed: $(command -v pp)"
mkdir -p out

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$pp" --version
step "$pp" simulate --compare --stages 8 --microbatches 8,16,32 --schedule all --virtual-stages 2
step "$pp" simulate --stages 4 --microbatches 8 --schedule 1f1b --p2p-ms 0.1 \
  --trace out/1f1b.json --svg out/1f1b.svg
step "$pp" simulate --stages 4 --microbatches 8 --schedule zb-h1 --fwd-ms 1 --bwd-ms 2 --wgrad-ms 1 \
  --svg out/zb-h1.svg
step "$pp" simulate --stages 4 --microbatches 8 --schedule interleaved --virtual-stages 2 \
  --svg out/interleaved.svg
step "$pp" simulate --stages 4 --microbatches 8 --fwd-ms 1,1,1,1.6 --bwd-ms 2,2,2,3.2 --schedule 1f1b
step "$pp" simulate --schedule-file configs/schedules/custom-eager-backward-2x4.json
printf '\n\033[1m$ %s\033[0m\n' "$pp simulate --schedule-file configs/schedules/broken-deadlock.json"
"$pp" simulate --schedule-file configs/schedules/broken-deadlock.json || echo "(exit code $?: rejected, as it should be)"
step "$pp" plan --model gpt3-175b --cluster dgx-a100-80gb --gpus 1024 --global-batch 1536 --seq-len 2048 --top 3

# Train a small GPT-2 on 4 MPI ranks and watch the loss fall. --oversubscribe lets 4 ranks share
# fewer cores; --allow-run-as-root is needed as root only.
export OPENBLAS_NUM_THREADS=1
mpirun_flags=(--oversubscribe)
[ "$(id -u)" -eq 0 ] && mpirun_flags+=(--allow-run-as-root)
step "$pp" data synth --out out/tokens.bin --tokens 200000 --vocab 512
step "$pp" profile --model gpt2-tiny --microbatch-size 2 --seq-len 64 -o out/profile.json
step "$pp" plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 \
  --tp 1 --pp 4 --microbatch-size 2 --profile out/profile.json -o out/plan.json --top 3
step mpirun "${mpirun_flags[@]}" -np 4 "$pp" run --plan out/plan.json --data out/tokens.bin --steps 40 \
  --save out/gpt2-tiny.safetensors --trace out/run-trace.json
echo
echo "Pictures and traces are in out/ (open the .json traces in ui.perfetto.dev)."
