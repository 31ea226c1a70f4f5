#!/usr/bin/env bash
# Measured against predicted for a uniform 4-stage 1F1B plan of gpt2-tiny on this machine: profile
# the layers here, plan from the profile, train 20 steps on 4 MPI ranks, print pp run's comparison
# (step time, bubble per rank, peak memory). On a machine with fewer than 4 cores the ranks share
# cores, which stretches the measured step time.
set -euo pipefail
# shellcheck source=bench_setup.sh
source "$(dirname "$0")/bench_setup.sh"
"$pp" data synth --out "$work/tokens.bin" --tokens 200000 --vocab 512 2>/dev/null
"$pp" profile --model gpt2-tiny --microbatch-size 2 --seq-len 64 -o "$work/profile.json" 2>/dev/null
"$pp" plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 --tp 1 \
  --pp 4 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 --profile "$work/profile.json" \
  -o "$work/plan.json" >/dev/null 2>&1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
mpirun -np 4 "$pp" run --plan "$work/plan.json" --data "$work/tokens.bin" --steps 20 2>&1 | sed -n '/measured/,$p'
