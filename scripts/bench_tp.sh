#!/usr/bin/env bash
# Tensor parallelism measured against the plan, on this machine: a tp 2 x pp 2 x dp 2 layout of
# gpt2-tiny (8 MPI ranks) trained 10 steps, reporting
#   - step time, measured (mean of steps 2..10) against the plan's prediction;
#   - communication per step and rank, by communicator (pp run's ring-algorithm byte counts),
#     against the volume the planner's cost model charges for tensor parallelism (per block two
#     all-reduces of a micro-batch's activation forward and two backward, one for the embedding,
#     one for the head's input gradient: docs/cost-model.md), in float32 bytes;
#   - the bytes of one pipeline message with tp 1 and with tp 4 (1/tp of the activation).
# On a machine with fewer than 8 cores the ranks share cores: step times include waiting for one.
set -euo pipefail
# shellcheck source=bench_setup.sh
source "$(dirname "$0")/bench_setup.sh"
model=${MODEL:-gpt2-tiny}
"$pp" data synth --out "$work/tokens.bin" --tokens 200000 --vocab 512 2>/dev/null
plan() {  # plan NAME GPUS ARGS...
  local name=$1 gpus=$2
  shift 2
  "$pp" plan --model "$model" --cluster cpu-local --gpus "$gpus" --global-batch 16 --seq-len 64 \
    --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 "$@" -o "$work/$name.json" >/dev/null 2>&1
}
plan 3d 8 --tp 2 --pp 2 --dp 2
plan tp1 2 --tp 1 --pp 2 --dp 1
plan tp4 8 --tp 4 --pp 2 --dp 1
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
mpirun -np 8 "$pp" run --plan "$work/3d.json" --data "$work/tokens.bin" --steps 10 --json >"$work/3d.out" 2>/dev/null
mpirun -np 2 "$pp" run --plan "$work/tp1.json" --data "$work/tokens.bin" --steps 1 --json >"$work/tp1.out" 2>/dev/null
mpirun -np 8 "$pp" run --plan "$work/tp4.json" --data "$work/tokens.bin" --steps 1 --json >"$work/tp4.out" 2>/dev/null
python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
plan = json.load(open(f"{work}/3d.json"))
run = json.load(open(f"{work}/3d.out"))
m, tp = plan["model_config"], plan["tp"]
hidden = m.get("n_embd", m.get("hidden_size"))
b, s, micro = plan["microbatch_size"], plan["seq_len"], plan["microbatches"]
act = b * s * hidden * 4  # one micro-batch's activation, float32 bytes
ring = 2 * (tp - 1) / tp  # all-reduce bytes sent per rank, per byte reduced
layers = [(st["rank"], st["layers"][0], st["layers"][1]) for st in plan["stages"]]
blocks = m.get("n_layer", m.get("num_hidden_layers"))
per_rank = {}
for rank, first, last in layers:
    n = 0
    for layer in range(first, last + 1):
        n += 1 if layer == 0 else (1 if layer == blocks + 1 else 4)
    per_rank[rank] = per_rank.get(rank, 0) + n * micro * act * ring
predicted = sum(per_rank.values()) / len(per_rank)
c = run["communication"]["bytes_per_step_per_rank"]
print(f"layout: tp {tp} x pp {plan['pp']} x dp {plan['dp']}, {plan['schedule']}, micro-batch {b} x {s} tokens, "
      f"{micro} micro-batches, sequence parallel: {plan['sequence_parallel']}")
print(f"step time        {run['mean_step_ms']:9.2f} ms measured   {plan['predicted']['step_time_s'] * 1e3:9.2f} ms predicted")
print(f"tensor-parallel  {c['tensor'] / 1e3:9.1f} kB/step/rank measured   {predicted / 1e3:9.1f} kB predicted "
      f"(ratio {c['tensor'] / predicted:.2f})")
print(f"pipeline p2p     {c['pipeline'] / 1e3:9.1f} kB/step/rank   data-parallel {c['data'] / 1e3:9.1f} kB   "
      f"tied {c['tied'] / 1e3:9.1f} kB")
for name in ("tp1", "tp4"):
    r = json.load(open(f"{work}/{name}.out"))
    print(f"one pipeline message, {name}: {r['communication']['message_bytes']:8.0f} bytes")
PY
