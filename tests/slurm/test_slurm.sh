#!/usr/bin/env bash
# pp under a real Slurm on localhost, through the shipped job scripts (scripts/slurm/):
#   - a plan job writes a plan, and exits 6 when a --check rule fails;
#   - a 4-task training job's losses match a direct mpirun run of the same plan;
#   - a job sent SIGUSR1 mid-run stops with a checkpoint (exit 7), requeues itself, and finishes
#     with the same weights as the uninterrupted job;
#   - a job sent SIGTERM as a whole (the batch shell too, as at a time limit) requeues likewise;
#   - the job resubmitted on 2 tasks re-plans and resumes from that checkpoint;
#   - srun with fewer tasks than the plan is refused before MPI starts, naming both counts.
# Brings Slurm up and down itself (local_slurm.sh), stopping only the daemons it started; skips
# (exit 77) where Slurm cannot be installed. The test's Slurm has no GPUs: the job scripts' one
# GPU line (--gpus-per-task) is dropped and pp runs on the CPU.
# Usage: test_slurm.sh <path-to-pp> <repository root>
set -u
PP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$2
HERE=$ROOT/tests/slurm
TMP=$(mktemp -d /tmp/pp-slurm-test.XXXXXX)
chmod 755 "$TMP"  # the munge user must reach the socket under it
# shellcheck source=../tap.sh
source "$(dirname "$0")/../tap.sh"

bash "$HERE/local_slurm.sh" up "$TMP/slurm"
rc=$?
if [ $rc -ne 0 ]; then rm -rf "$TMP"; [ $rc -eq 77 ] && exit 77; echo "not ok - local Slurm did not come up"; exit 1; fi
trap 'bash "$HERE/local_slurm.sh" down "$TMP/slurm"; rm -rf "$TMP"' EXIT
export SLURM_CONF=$TMP/slurm/slurm.conf

# The job scripts' settings, as a user passes them (sbatch exports the environment).
export PP MODEL=gpt2-tiny CLUSTER=cpu-local DATA=$TMP/tokens.bin GLOBAL_BATCH=8 SEQ_LEN=64 DEVICE=cpu
export PLAN_FLAGS="--tp 1 --dp 1" SAVE_EVERY=1000 RUN_FLAGS="--watchdog-s 120"
# 4 ranks on 2 cores: MPI ranks must yield when they wait, as mpirun's --oversubscribe makes them.
export OPENBLAS_NUM_THREADS=1 OMPI_MCA_mpi_yield_when_idle=1
STEPS_ALL=60
"$PP" data synth --out "$DATA" --tokens 60000 --vocab 512 >/dev/null 2>&1 || { echo "not ok - token file"; exit 1; }
sed '/^#SBATCH --gpus-per-task/d' "$ROOT/scripts/slurm/train.sbatch" >"$TMP/train.sbatch"
SB=(--ntasks-per-node=4 --cpus-per-task=1 --time=5)

job_output() { cat "$TMP"/job-"$1".out 2>/dev/null; }
summary_field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))$2)" "$1" 2>/dev/null; }

# signal_mid_run RUN_DIR [SCANCEL-FLAGS]: submits a train job into $TMP/RUN_DIR, scancels it (with the
# flags) once step 3 is reported, waits until it has requeued itself and finished, and prints its
# id. Slurm holds a requeued job for about two minutes (BeginTime); this releases it at once.
signal_mid_run() {
  local run_dir=$1 id state deadline
  shift
  mkdir -p "$TMP/$run_dir"
  id=$(RUN_DIR=$TMP/$run_dir STEPS=$STEPS_ALL sbatch --parsable "${SB[@]}" --output="$TMP/job-%j.out" "$TMP/train.sbatch")
  for _ in $(seq 1 600); do job_output "$id" | grep -q 'step     3/' && break; sleep 0.1; done
  scancel "$@" "$id"
  deadline=$((SECONDS + 240))
  while [ $SECONDS -lt $deadline ]; do
    state=$(squeue -h -j "$id" -o '%T %r' 2>/dev/null)
    [ -z "$state" ] && break
    case $state in *BeginTime*) scontrol update JobId="$id" StartTime=now >/dev/null 2>&1 ;; esac
    sleep 0.3
  done
  echo "$id"
}

# --- plan job
GPUS=4 OUT=$TMP/plan-job.json CHECK="--check --require-runnable" \
  timeout 120 sbatch --wait --output="$TMP/plan-%j.out" "$ROOT/scripts/slurm/plan.sbatch" >"$TMP/sbatch.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$(summary_field "$TMP/plan-job.json" "['gpus']")" = 4 ] && grep -q 'pp-plan: wrote' "$TMP"/plan-*.out; then
  ok "plan job: a plan for 4 GPUs"
else
  not_ok "plan job" "exit $rc" "$(cat "$TMP"/plan-*.out "$TMP/sbatch.out" 2>/dev/null | tail -5)"
fi
GPUS=4 OUT=$TMP/plan-strict.json CHECK="--check --max-memory-fraction 0" \
  timeout 120 sbatch --wait --output="$TMP/strict-%j.out" "$ROOT/scripts/slurm/plan.sbatch" >/dev/null 2>&1
rc=$?
if [ $rc -eq 6 ] && grep -q 'violates the policy' "$TMP"/strict-*.out; then ok "plan job: a violated --check rule fails the job with exit 6"
else not_ok "plan job with a violated rule" "exit $rc" "$(tail -3 "$TMP"/strict-*.out)"; fi

# --- a 4-task training job, and the same plan under mpirun
RUN_DIR=$TMP/straight STEPS=$STEPS_ALL timeout 300 sbatch --wait "${SB[@]}" --output="$TMP/job-%j.out" \
  "$TMP/train.sbatch" >"$TMP/sbatch.out" 2>&1
rc=$?
straight=$(ls "$TMP"/straight/summary-*-0.json 2>/dev/null | head -1)
if [ $rc -eq 0 ] && [ -n "$straight" ] && [ "$(summary_field "$straight" "['steps']")" = $STEPS_ALL ]; then
  ok "train job: 4 tasks, $STEPS_ALL steps"
else
  not_ok "train job" "exit $rc" "$(cat "$TMP"/job-*.out "$TMP/sbatch.out" 2>/dev/null | grep -v '^step' | tail -8)"
fi
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
  timeout 300 mpirun -np 4 "$PP" run --plan "$TMP/straight/plan-4.json" --data "$DATA" --steps $STEPS_ALL \
  --json --quiet >"$TMP/direct.json" 2>"$TMP/direct.err"
if python3 - "$straight" "$TMP/direct.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["losses"] for p in sys.argv[1:3])
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
print(f"{len(a)} losses, largest relative difference {worst:.2e}")
sys.exit(0 if len(a) == len(b) and worst <= 1e-6 else 1)
PY
then ok "train job: its losses match a direct mpirun run"; else not_ok "losses against mpirun" "$(tail -3 "$TMP/direct.err")"; fi

# --- preemption: SIGUSR1 mid-run, the job requeues itself and finishes
id=$(signal_mid_run preempted --signal=USR1)
out=$(job_output "$id")
stopped_at=$(grep -o 'stopped by SIGUSR1 after step [0-9]*' <<<"$out" | grep -o '[0-9]*$' | head -1)
if [ -n "$stopped_at" ] && grep -q 'requeueing job' <<<"$out" && grep -q "job $id (restart 1)" <<<"$out"; then
  ok "preempted job: stopped after step $stopped_at with exit 7, requeued itself"
else
  not_ok "preempted job stops and requeues" "$(grep -v '^step' <<<"$out" | tail -8)"
fi
final=$TMP/preempted/summary-$id-1.json
if [ "$(summary_field "$final" "['first_step']")" = "$stopped_at" ] && [ "$(summary_field "$final" "['steps']")" = $STEPS_ALL ] &&
   result=$(python3 "$ROOT/tests/runtime/compare_checkpoints.py" "$TMP/preempted/checkpoint.safetensors" \
            "$TMP/straight/checkpoint.safetensors" --tolerance 0 2>&1); then
  ok "preempted job: resumed at step $stopped_at, finished with the uninterrupted job's weights ($result)"
else
  not_ok "preempted job resumes to the same weights" "${result:-}" "$(cat "$final" 2>/dev/null | head -c 300)"
fi

# --- preemption as Slurm does it at a time limit: SIGTERM to the tasks and to the batch shell
id=$(signal_mid_run termed)
out=$(job_output "$id")
if grep -q 'stopped by SIGTERM after step' <<<"$out" && grep -q 'requeueing job' <<<"$out" &&
   [ "$(summary_field "$TMP/termed/summary-$id-1.json" "['steps']")" = $STEPS_ALL ]; then
  ok "SIGTERM to the whole job: the shell outlives it, requeues, and the run finishes"
else
  not_ok "SIGTERM to the whole job requeues" "$(grep -v '^step' <<<"$out" | tail -6)"
fi

# --- the same run resubmitted on 2 tasks: re-planned, resumed
RUN_DIR=$TMP/preempted STEPS=$((STEPS_ALL + 4)) timeout 300 sbatch --wait --ntasks-per-node=2 --cpus-per-task=1 \
  --output="$TMP/job-%j.out" "$TMP/train.sbatch" >"$TMP/sbatch.out" 2>&1
rc=$?
two=$(ls -t "$TMP"/preempted/summary-*-0.json 2>/dev/null | head -1)
if [ $rc -eq 0 ] && [ -s "$TMP/preempted/plan-2.json" ] && [ "$(summary_field "$two" "['first_step']")" = $STEPS_ALL ] &&
   [ "$(summary_field "$two" "['steps']")" = $((STEPS_ALL + 4)) ]; then
  ok "resubmitted on 2 tasks: re-planned (plan-2.json) and resumed at step $STEPS_ALL"
else
  not_ok "resubmitted on 2 tasks" "exit $rc" "$(cat "$TMP/sbatch.out"; ls "$TMP/preempted")"
fi

# --- an allocation that does not match the plan
timeout 60 srun -n 2 --cpus-per-task=1 "$PP" run --plan "$TMP/straight/plan-4.json" --data "$DATA" --steps 1 \
  >"$TMP/mismatch.out" 2>"$TMP/mismatch.err"
rc=$?
if [ $rc -eq 2 ] && [ "$(grep -c '^error: ' "$TMP/mismatch.err")" -eq 1 ] &&
   grep -q 'Slurm started 2 tasks but the plan needs tp x pp x dp = 1 x 4 x 1 = 4' "$TMP/mismatch.err"; then
  ok "srun -n 2 with a 4-rank plan: one error naming both counts, exit 2"
else
  not_ok "allocation mismatch" "exit $rc" "$(head -3 "$TMP/mismatch.err")"
fi

tap_summary
