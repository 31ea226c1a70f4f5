#!/usr/bin/env bash
# pp run under mpirun (4 ranks oversubscribed on a small machine): every schedule, data
# parallelism, recompute and another micro-batch size give the weights of a single-rank run to
# float32 round-off; resume continues to the same weights; bad input and a dying rank end the
# job with an error, never a hang. Usage: test_run.sh <path-to-pp> <tests/runtime dir>
set -u
PP=$1
HERE=$2
TMP=$(mktemp -d /tmp/pp-run-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; shift; for line in "$@"; do echo "#   $line"; done; failed=$((failed + 1)); }
mpi() { local n=$1; shift; timeout 180 mpirun -np "$n" "$PP" "$@"; }

STEPS=3
"$PP" data synth --out "$TMP/tokens.bin" --tokens 20000 --vocab 512 2>/dev/null

# plan NAME GPUS ARGS...: a plan for gpt2-tiny, global batch 8 x 32 tokens.
plan() {
  local name=$1 gpus=$2
  shift 2
  "$PP" plan --model gpt2-tiny --cluster cpu-local --gpus "$gpus" --global-batch 8 --seq-len 32 \
    --tp 1 "$@" -o "$TMP/$name.json" >/dev/null 2>"$TMP/$name.plan.err" ||
    { not_ok "plan $name" "$(cat "$TMP/$name.plan.err")"; return 1; }
}

plan single 1 --pp 1 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 || exit 1
if mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps $STEPS --json \
     --save "$TMP/single.safetensors" >"$TMP/single.out" 2>"$TMP/single.err"; then
  ok "single-rank reference run"
else
  not_ok "single-rank reference run" "$(tail -5 "$TMP/single.err")"
  echo "$passed passed, $failed failed"
  exit 1
fi

# against NAME NP PLAN-ARGS...: same weights and losses as the single-rank run.
against() {
  local name=$1 np=$2
  shift 2
  plan "$name" "$np" "$@" || return
  if ! mpi "$np" run --plan "$TMP/$name.json" --data "$TMP/tokens.bin" --steps $STEPS --json \
       --save "$TMP/$name.safetensors" >"$TMP/$name.out" 2>"$TMP/$name.err"; then
    not_ok "$name matches one rank" "run failed: $(tail -3 "$TMP/$name.err")"
    return
  fi
  local weights losses
  weights=$(python3 "$HERE/compare_checkpoints.py" "$TMP/$name.safetensors" "$TMP/single.safetensors" \
            --tolerance 1e-5 --skip-prefix "" 2>&1)
  local weights_rc=$?
  losses=$(python3 - "$TMP/$name.out" "$TMP/single.out" <<'PY'
import json, sys
a, b = (json.load(open(p))["losses"] for p in sys.argv[1:3])
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
print(f"losses {a} worst relative difference {worst:.2e}")
sys.exit(0 if len(a) == len(b) and worst < 1e-5 else 1)
PY
)
  local losses_rc=$?
  if [ $weights_rc -eq 0 ] && [ $losses_rc -eq 0 ]; then
    ok "$name matches one rank ($weights)"
  else
    not_ok "$name matches one rank" "$weights" "$losses"
  fi
}

against gpipe-pp4 4 --pp 4 --microbatch-size 2 --schedule gpipe --ckpt-interval 0
against 1f1b-pp4 4 --pp 4 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
against zb-h1-pp4 4 --pp 4 --microbatch-size 2 --schedule zb-h1 --ckpt-interval 0
against interleaved-pp4-v2 4 --pp 4 --microbatch-size 2 --schedule interleaved --virtual-stages 2 --ckpt-interval 0
against 1f1b-pp2-dp2 4 --pp 2 --dp 2 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
against 1f1b-pp4-recompute-mbs1 4 --pp 4 --microbatch-size 1 --schedule 1f1b --ckpt-interval 1

# The loss falls on the synthetic data.
if python3 - "$TMP/single.out" <<'PY'
import json, sys
losses = json.load(open(sys.argv[1]))["losses"]
sys.exit(0 if losses[-1] < losses[0] else 1)
PY
then ok "the loss falls"; else not_ok "the loss falls" "$(cat "$TMP/single.out" | head -c 300)"; fi

# Resume: 3 steps, then 3 more from the checkpoint, equals 6 straight.
mpi 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 6 --quiet --save "$TMP/straight.safetensors" 2>"$TMP/r1.err"
mpi 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 3 --quiet --save "$TMP/resumed.safetensors" --save-every 1 2>"$TMP/r2.err"
mpi 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 6 --quiet --save "$TMP/resumed.safetensors" --resume 2>"$TMP/r3.err"
if result=$(python3 "$HERE/compare_checkpoints.py" "$TMP/resumed.safetensors" "$TMP/straight.safetensors" --tolerance 0 2>&1); then
  ok "resume continues to the same weights ($result)"
else
  not_ok "resume continues to the same weights" "$result" "$(tail -2 "$TMP/r3.err")"
fi

# Resume after a kill: a run saving every 2 steps is killed (-9) once a checkpoint exists; the
# resumed run ends at the same weights as an uninterrupted one.
timeout 120 mpirun -np 4 "$PP" run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 100000 \
  --quiet --save "$TMP/killed.safetensors" --save-every 2 2>/dev/null &
job=$!
for _ in $(seq 1 200); do [ -f "$TMP/killed.safetensors" ] && break; sleep 0.1; done
sleep 0.5
pkill -9 -f "^$PP run --plan $TMP/1f1b-pp4.json --data $TMP/tokens.bin --steps 100000"
wait $job 2>/dev/null
saved=$(python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; print(json.loads(f.read(n))["__metadata__"]["step"])' "$TMP/killed.safetensors" 2>/dev/null)
if [ -n "$saved" ]; then
  target=$((saved + 2))
  mpi 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps $target --quiet --save "$TMP/killed.safetensors" --resume 2>"$TMP/k1.err"
  mpi 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps $target --quiet --save "$TMP/unkilled.safetensors" 2>"$TMP/k2.err"
  if result=$(python3 "$HERE/compare_checkpoints.py" "$TMP/killed.safetensors" "$TMP/unkilled.safetensors" --tolerance 0 2>&1); then
    ok "killed at a checkpoint of step $saved, resumed to step $target: the same weights ($result)"
  else
    not_ok "resume after a kill" "$result" "$(tail -2 "$TMP/k1.err")"
  fi
else
  not_ok "resume after a kill" "no readable checkpoint after the kill"
fi

# expect_failure NAME PATTERN NP ARGS...: non-zero exit within the timeout, an error naming it.
expect_failure() {
  local name=$1 pattern=$2 np=$3
  shift 3
  local start=$SECONDS
  timeout 60 mpirun -np "$np" "$PP" "$@" >"$TMP/f.out" 2>"$TMP/f.err"
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "error: " "$TMP/f.err" && grep -Eq -- "$pattern" "$TMP/f.err"; then
    ok "$name: exit $rc in $((SECONDS - start)) s"
  else
    not_ok "$name" "exit $rc (124 is a hang)" "$(head -c 500 "$TMP/f.err")"
  fi
}

expect_failure "rank count not matching the plan" "needs pp x dp" 3 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 1
expect_failure "missing token file" "tokens-missing" 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens-missing.bin" --steps 1
printf 'abcdef' > "$TMP/short.bin"
expect_failure "short token file" "short.bin" 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/short.bin" --steps 1
sed 's/"n_embd": 64/"n_embd": 32/' "$HERE/../../configs/models/gpt2-tiny.json" > "$TMP/narrow.json"
expect_failure "checkpoint with mis-shaped tensors" "expected" 1 run --plan "$TMP/single.json" --model "$TMP/narrow.json" --data "$TMP/tokens.bin" --steps 1 --load "$TMP/single.safetensors"
expect_failure "plan that does not fit the model" "covers layers" 1 run --plan "$TMP/single.json" --model gpt2-124m --data "$TMP/tokens.bin" --steps 1

python3 - "$TMP/1f1b-pp4.json" "$TMP/gap.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
plan["stages"][1]["layers"][0] += 1  # drop a layer between stages 0 and 1
json.dump(plan, open(sys.argv[2], "w"))
PY
expect_failure "plan whose stages leave out a layer" "stages must cover" 4 run --plan "$TMP/gap.json" --data "$TMP/tokens.bin" --steps 1

# A rank killed mid-run brings the job down within seconds.
timeout 120 mpirun -np 4 "$PP" run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 100000 --quiet >/dev/null 2>"$TMP/kill.err" &
job=$!
sleep 4
victim=$(pgrep -f "^$PP run --plan $TMP/1f1b-pp4.json" | tail -1)
start=$SECONDS
[ -n "$victim" ] && kill -9 "$victim"
wait $job
rc=$?
if [ -n "$victim" ] && [ $rc -ne 0 ] && [ $rc -ne 124 ] && [ $((SECONDS - start)) -le 30 ]; then
  ok "a killed rank ends the job (exit $rc after $((SECONDS - start)) s)"
else
  not_ok "a killed rank ends the job" "victim '$victim', exit $rc after $((SECONDS - start)) s"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
