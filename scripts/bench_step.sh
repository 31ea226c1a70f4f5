#!/usr/bin/env bash
# pp run's step time on one rank against the time pp's own profile predicts for it (a benchmark,
# not a test: the figures depend on the machine and on what else runs on it). For each shape:
# profile the layers here, plan from that profile (--pp 1 --tp 1, 1F1B), train on one MPI rank,
# all pinned to one core with one OpenBLAS thread, and print the measured mean step time (after
# the first), the predicted one, their ratio, where the step's time went (the executor's compute
# actions, the optimizer, the rest) and the run's minor page faults.
#
# On a shared machine other processes take turns on the pinned core and stretch the measured steps
# (the profile keeps medians, a run's mean keeps every stall): compare the run's CPU time with its
# wall time, and the median with the mean, before reading the ratio.
#
# Usage: scripts/bench_step.sh [BUILD_DIR | PP_BINARY] [STEPS]
#   BUILD_DIR  a configured and built tree (default: build); its bin/pp is used. Builds nothing.
#   STEPS      training steps per run (default 20)
#   BENCH_SHAPES="model:microbatch_size:seq_len:microbatches ..." overrides the shapes
#   (default "gpt2-tiny:2:64:8 gpt2-124m:1:64:4"); BENCH_CORE picks the core (default 0).
set -euo pipefail
target=${1:-build}
steps=${2:-20}
pp=$target
[ -d "$target" ] && pp=$target/bin/pp
[ -x "$pp" ] || { echo "error: no pp binary at '$pp' (give a build dir or the binary)" >&2; exit 2; }
pp=$(realpath "$pp")
shapes=${BENCH_SHAPES:-"gpt2-tiny:2:64:8 gpt2-124m:1:64:4"}
core=${BENCH_CORE:-0}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "pp: $pp"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); pinned to core $core;" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
pin() { taskset -c "$core" "$@"; }
"$pp" data synth --out "$work/tokens.bin" --tokens 400000 --vocab 512 2>/dev/null
for shape in $shapes; do
  IFS=: read -r model b t m <<<"$shape"
  name="$model-b$b-t$t-m$m"
  pin "$pp" profile --model "$model" --microbatch-size "$b" --seq-len "$t" -o "$work/$name.profile.json" 2>/dev/null
  "$pp" plan --model "$model" --cluster cpu-local --gpus 1 --global-batch $((b * m)) --seq-len "$t" \
    --tp 1 --pp 1 --microbatch-size "$b" --schedule 1f1b --ckpt-interval 0 --mem-limit 16 \
    --profile "$work/$name.profile.json" -o "$work/$name.plan.json" >/dev/null 2>"$work/$name.plan.err" ||
    { echo "$name: pp plan failed: $(cat "$work/$name.plan.err")"; continue; }
  mpirun --bind-to none -np 1 taskset -c "$core" /usr/bin/time -v -o "$work/$name.time" \
    "$pp" run --plan "$work/$name.plan.json" --data "$work/tokens.bin" --steps "$steps" --json \
    --trace "$work/$name.trace.json" >"$work/$name.run.json" 2>"$work/$name.run.err" ||
    { echo "$name: pp run failed: $(tail -3 "$work/$name.run.err")"; continue; }
  # The same run for 2 steps: the difference in page faults is the steps', without the start-up's.
  mpirun --bind-to none -np 1 taskset -c "$core" /usr/bin/time -v -o "$work/$name.time2" \
    "$pp" run --plan "$work/$name.plan.json" --data "$work/tokens.bin" --steps 2 --quiet >/dev/null 2>&1 ||
    { echo "$name: the 2-step pp run failed"; continue; }
  python3 - "$name" "$work/$name.run.json" "$work/$name.trace.json" "$work/$name.time" "$work/$name.time2" <<'PY'
import json, re, sys
name, run_path, trace_path, time_path, time2_path = sys.argv[1:6]
run = json.load(open(run_path))
measured, predicted = run["mean_step_ms"], run["predicted"]["makespan_ms"]
# The last step's actions (Chrome trace, microseconds): compute (F, B, I, W) and the optimizer.
events = [e for e in json.load(open(trace_path))["traceEvents"] if e.get("ph") == "X"]
def total_ms(pred):
    return sum(e["dur"] for e in events if pred(e["name"])) / 1e3
optimizer = total_ms(lambda n: n.startswith("STEP") or n.startswith("REDUCE"))
compute = total_ms(lambda n: not (n.startswith("STEP") or n.startswith("REDUCE")))
last = run["step_ms"][-1]
def field(label, path=time_path):
    return float(re.search(re.escape(label) + r": ([0-9.]+)", open(path).read()).group(1))
faults = int(field("Minor (reclaiming a frame) page faults"))
faults2 = int(field("Minor (reclaiming a frame) page faults", time2_path))
def cpu_ms(path):
    return (field("User time (seconds)", path) + field("System time (seconds)", path)) * 1e3
print(f"{name}: {len(run['step_ms'])} steps")
after_first = sorted(run["step_ms"][1:]) or run["step_ms"]
median = after_first[len(after_first) // 2]
print(f"  step time   {measured:9.2f} ms measured (mean after the first)  {predicted:9.2f} ms predicted"
      f"  ratio {measured / predicted:.3f}")
print(f"              {median:9.2f} ms measured (median after the first)  ratio {median / predicted:.3f}")
print(f"  last step   {last:9.2f} ms: compute actions {compute:.2f} ms, optimizer and reductions "
      f"{optimizer:.2f} ms, the rest (data, zero_grad, loss, executor) {last - compute - optimizer:.2f} ms")
steps = len(run["step_ms"])
later = max(steps - 2, 1)  # the steps after the second: the 20-step run less the 2-step one
print(f"  minor page faults {faults} in the whole run; {int(round((faults - faults2) / later))} per step"
      f" after the second (a 2-step run: {faults2})")
cpu_step = (cpu_ms(time_path) - cpu_ms(time2_path)) / later
print(f"  CPU time    {cpu_step:9.2f} ms per step after the second  ratio {cpu_step / predicted:.3f} to the"
      f" prediction (under the wall time: the core was shared)")
PY
done
