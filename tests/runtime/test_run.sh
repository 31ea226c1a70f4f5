#!/usr/bin/env bash
# pp run under mpirun (4 ranks oversubscribed on a small machine): every schedule, data
# parallelism, recompute and another micro-batch size give the weights of a single-rank run to
# float32 round-off; resume continues to the same weights; bad input and a dying rank end the
# job with an error, never a hang. Usage: test_run.sh <path-to-pp> <tests/runtime dir>
set -u
PP=$1
HERE=$2
# shellcheck source=run_test_lib.sh
source "$HERE/run_test_lib.sh"

reference || exit 1

against gpipe-pp4 4 --pp 4 --microbatch-size 2 --schedule gpipe --ckpt-interval 0
against 1f1b-pp4 4 --pp 4 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
against zb-h1-pp4 4 --pp 4 --microbatch-size 2 --schedule zb-h1 --ckpt-interval 0
against interleaved-pp4-v2 4 --pp 4 --microbatch-size 2 --schedule interleaved --virtual-stages 2 --ckpt-interval 0
against 1f1b-pp2-dp2 4 --pp 2 --dp 2 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0
# The schedules after ZB-H1; the V-shape ones hold the first and the last stage (embedding and
# head, which share the tied embedding) on rank 0, so no rank outside it reduces that gradient.
against zb-h2-pp4 4 --pp 4 --microbatch-size 1 --schedule zb-h2 --ckpt-interval 0
against zb1p-pp4-v2 4 --pp 4 --microbatch-size 1 --schedule zb1p --virtual-stages 2 --ckpt-interval 0
against looped-bfs-pp4-v2 4 --pp 4 --microbatch-size 1 --schedule looped-bfs --virtual-stages 2 --ckpt-interval 0
against zb-v-pp4 4 --pp 4 --microbatch-size 1 --schedule zb-v --ckpt-interval 0
against v-half-pp4 4 --pp 4 --microbatch-size 1 --schedule v-half --ckpt-interval 0
against v-min-pp4 4 --pp 4 --microbatch-size 1 --schedule v-min --ckpt-interval 0
against dualpipev-pp4 4 --pp 4 --microbatch-size 1 --schedule dualpipev --ckpt-interval 0
# Micro-batch counts that are not a multiple of the stages: 8 over 3 interleaved, and 2 (fewer
# than the 4 stages) with 1F1B and interleaved.
against interleaved-pp3-v2-m8 3 --pp 3 --microbatch-size 1 --schedule interleaved --virtual-stages 2 --ckpt-interval 0
against 1f1b-pp4-m2 4 --pp 4 --microbatch-size 4 --schedule 1f1b --ckpt-interval 0
against interleaved-pp4-v2-m2 4 --pp 4 --microbatch-size 4 --schedule interleaved --virtual-stages 2 --ckpt-interval 0
against 1f1b-pp4-recompute-mbs1 4 --pp 4 --microbatch-size 1 --schedule 1f1b --ckpt-interval 1

# The tolerances are not vacuous: a learning rate 1% off is caught.
if mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps $STEPS --quiet --lr 6.06e-4 \
     --save "$TMP/lr-off.safetensors" 2>"$TMP/lr-off.err" &&
   ! python3 "$HERE/compare_checkpoints.py" "$TMP/lr-off.safetensors" "$TMP/single.safetensors" \
     --tolerance "$TOL" >"$TMP/lr-off.cmp" 2>&1; then
  ok "a 1% different learning rate exceeds the tolerances ($(head -1 "$TMP/lr-off.cmp"))"
else
  not_ok "a 1% different learning rate exceeds the tolerances" "$(cat "$TMP/lr-off.cmp" "$TMP/lr-off.err" 2>/dev/null | head -5)"
fi

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

# checkpoint_step FILE: the step a pp checkpoint holds (empty when unreadable).
checkpoint_step() {
  python3 -c 'import json,struct,sys; f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; print(json.loads(f.read(n))["__metadata__"]["step"])' "$1" 2>/dev/null
}
# resumes_to_same_weights NAME FILE FROM: resumes FILE (at step FROM) to step FROM+2 and compares it
# with an uninterrupted run of as many steps, to the bit.
resumes_to_same_weights() {
  local name=$1 file=$2 from=$3
  local target=$((from + 2))
  mpi 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps $target --quiet --save "$file" --resume 2>"$TMP/resumed.err"
  mpi 4 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps $target --quiet --save "$TMP/uninterrupted.safetensors" 2>/dev/null
  if result=$(python3 "$HERE/compare_checkpoints.py" "$file" "$TMP/uninterrupted.safetensors" --tolerance 0 2>&1); then
    ok "$name at step $from, resumed to step $target: the same weights ($result)"
  else
    not_ok "$name, resumed: the same weights" "$result" "$(tail -2 "$TMP/resumed.err")"
  fi
}

# Resume after a kill: a run saving every 2 steps is killed (-9) once a checkpoint exists; the
# resumed run ends at the same weights as an uninterrupted one.
timeout 120 mpirun -np 4 "$PP" run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 100000 \
  --quiet --save "$TMP/killed.safetensors" --save-every 2 2>/dev/null &
job=$!
for _ in $(seq 1 200); do [ -f "$TMP/killed.safetensors" ] && break; sleep 0.1; done
sleep 0.5
pkill -9 -f "^$PP run --plan $TMP/1f1b-pp4.json --data $TMP/tokens.bin --steps 100000"
wait $job 2>/dev/null
saved=$(checkpoint_step "$TMP/killed.safetensors")
if [ -n "$saved" ]; then
  resumes_to_same_weights "killed after a checkpoint" "$TMP/killed.safetensors" "$saved"
else
  not_ok "resume after a kill" "no readable checkpoint after the kill"
fi

# Preemption: SIGUSR1 (forwarded by mpirun) and SIGTERM (sent to the ranks, as slurmstepd does)
# stop the run after the step in flight with the checkpoint written and exit 7; the run resumed
# from it ends at the same weights as an uninterrupted one.
# stop_mid_run NAME SIGNAL TARGET (mpirun|ranks) FILE: starts a long run, signals it once step 3
# is reported, and sets STOP_RC and STOPPED_AT (the checkpoint's step).
stop_mid_run() {
  local name=$1 signal=$2 target=$3 file=$4
  rm -f "$file" "$TMP/$name.err"
  timeout 120 mpirun -np 4 "$PP" run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 100000 \
    --save "$file" 2>"$TMP/$name.err" >/dev/null &
  local job=$!
  for _ in $(seq 1 600); do grep -q 'step     3/' "$TMP/$name.err" 2>/dev/null && break; sleep 0.1; done
  if [ "$target" = mpirun ]; then pkill -"$signal" -P $job -x mpirun; else pkill -"$signal" -f "^$PP run --plan $TMP/1f1b-pp4.json --data $TMP/tokens.bin --steps 100000"; fi
  wait $job
  STOP_RC=$?
  STOPPED_AT=$(checkpoint_step "$file")
}
stop_mid_run usr1 USR1 mpirun "$TMP/stopped.safetensors"
if [ "$STOP_RC" -eq 7 ] && [ -n "$STOPPED_AT" ] && grep -q "stopped by SIGUSR1 after step $STOPPED_AT of 100000" "$TMP/usr1.err"; then
  ok "SIGUSR1: the ranks finish step $STOPPED_AT, write the checkpoint and exit 7"
  resumes_to_same_weights "stopped by SIGUSR1" "$TMP/stopped.safetensors" "$STOPPED_AT"
else
  not_ok "SIGUSR1 stops the run with a checkpoint and exit 7" "exit $STOP_RC, checkpoint step '$STOPPED_AT'" "$(tail -3 "$TMP/usr1.err")"
fi
stop_mid_run term TERM ranks "$TMP/termed.safetensors"
if [ "$STOP_RC" -eq 7 ] && [ -n "$STOPPED_AT" ] && grep -q "stopped by SIGTERM after step $STOPPED_AT" "$TMP/term.err"; then
  ok "SIGTERM to every rank: checkpoint of step $STOPPED_AT and exit 7"
else
  not_ok "SIGTERM stops the run with a checkpoint and exit 7" "exit $STOP_RC, checkpoint step '$STOPPED_AT'" "$(tail -3 "$TMP/term.err")"
fi
# SIGTERM to one rank only: the others learn of it at the step's end and stop with it.
rm -f "$TMP/one.safetensors"
timeout 120 mpirun -np 4 "$PP" run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 100000 \
  --save "$TMP/one.safetensors" 2>"$TMP/one.err" >/dev/null &
job=$!
for _ in $(seq 1 600); do grep -q 'step     3/' "$TMP/one.err" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$(pgrep -f "^$PP run --plan $TMP/1f1b-pp4.json --data $TMP/tokens.bin --steps 100000" | tail -1)"
wait $job
rc=$?
if [ "$rc" -eq 7 ] && [ -s "$TMP/one.safetensors" ]; then ok "SIGTERM to one rank stops them all (exit 7)"; else not_ok "SIGTERM to one rank" "exit $rc" "$(tail -3 "$TMP/one.err")"; fi
expect_failure "rank count not matching the plan" "needs tp x pp x dp" 3 run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 1
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
expect_failure "plan whose stages leave out a layer" "must start at layer" 4 run --plan "$TMP/gap.json" --data "$TMP/tokens.bin" --steps 1

python3 - "$TMP/1f1b-pp4.json" "$TMP/huge.json" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
plan["microbatches"] = 1 << 20
plan["global_batch"] = plan["microbatch_size"] * plan["dp"] * plan["microbatches"]
json.dump(plan, open(sys.argv[2], "w"))
PY
expect_failure "a plan whose schedule is too large to run" "too large to run" 4 run --plan "$TMP/huge.json" --data "$TMP/tokens.bin" --steps 1

# Flags that would be ignored, or outputs that would destroy an input: refused before any work
# (no MPI launch needed: pp checks them first).
quick_failure() {  # quick_failure NAME EXIT PATTERN ARGS...
  local name=$1 want=$2 pattern=$3
  shift 3
  timeout 60 "$PP" "$@" >"$TMP/q.out" 2>"$TMP/q.err"
  local rc=$?
  if [ $rc -eq "$want" ] && [ "$(grep -c '^error: ' "$TMP/q.err")" -eq 1 ] && grep -Eq -- "$pattern" "$TMP/q.err" &&
     ! grep -q "^step" "$TMP/q.err"; then
    ok "$name: exit $rc, $(head -c 150 "$TMP/q.err")"
  else
    not_ok "$name" "exit $rc, wanted $want" "$(head -c 400 "$TMP/q.err")"
  fi
}
P1=(run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps 2 --quiet)
quick_failure "--resume without --save" 2 "--resume" "${P1[@]}" --resume
quick_failure "--stop-signals with an unknown signal" 2 "--stop-signals" "${P1[@]}" --stop-signals KILL
quick_failure "--stop-signals none goes alone" 2 "none" "${P1[@]}" --stop-signals none,TERM
quick_failure "--save-every without --save" 2 "--save-every" "${P1[@]}" --save-every 1
cp "$TMP/tokens.bin" "$TMP/tokens-copy.bin"
quick_failure "--save onto the token file" 2 "same file as --data" "${P1[@]}" --save "$TMP/tokens.bin"
cmp -s "$TMP/tokens.bin" "$TMP/tokens-copy.bin" && ok "the token file is untouched" || not_ok "the token file is untouched"
quick_failure "--trace onto the plan" 2 "same file as --plan" "${P1[@]}" --trace "$TMP/single.json"
quick_failure "--save into a missing directory, found before training" 4 "does not exist" "${P1[@]}" --save "$TMP/no/such/ck.safetensors"
quick_failure "--trace - with --json" 2 "standard output" "${P1[@]}" --trace - --json
for bad in "--lr nan" "--lr inf" "--lr -1" "--beta1 nan" "--beta2 1" "--eps -1" "--eps 0" "--grad-clip nan" "--weight-decay inf" "--watchdog-s -1"; do
  # shellcheck disable=SC2086
  quick_failure "$bad" 2 "${bad%% *}" "${P1[@]}" $bad
done

# --device and --transport: bad values and impossible combinations, one line each. Training on
# the GPU is not available yet, so --device cuda is refused here with or without a GPU.
quick_failure "--device gpu" 2 "--device" "${P1[@]}" --device gpu
quick_failure "--transport gloo" 2 "--transport" "${P1[@]}" --transport gloo
quick_failure "--transport nccl on the cpu" 2 "needs --device cuda" "${P1[@]}" --device cpu --transport nccl
quick_failure "--device cuda" 2 "--device cuda" "${P1[@]}" --device cuda
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if (d["device"], d["transport"]) == ("cpu", "mpi") else 1)' \
  "$TMP/single.out" && ok "the JSON names the device and transport that ran" ||
  not_ok "the JSON names the device and transport that ran" "$(head -c 300 "$TMP/single.out")"

# A token id outside the vocabulary is found before training, with its place in the file.
"$PP" data synth --out "$TMP/wide.bin" --tokens 5000 --vocab 60000 2>/dev/null
expect_failure "token outside the vocabulary" "byte offset [0-9]+" 1 run --plan "$TMP/single.json" --data "$TMP/wide.bin" --steps 1

# A diverging run stops with exit 5 and keeps the last good checkpoint (no NaN saved).
mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps 50 --quiet --lr 1000 --grad-clip 0 \
  --save "$TMP/diverge.safetensors" --save-every 1 >/dev/null 2>"$TMP/diverge.err"
rc=$?
if [ $rc -eq 5 ] && grep -Eq "loss became|non-finite|not finite" "$TMP/diverge.err" && python3 - "$TMP/diverge.safetensors" <<'PY'
import array, json, math, struct, sys
f = open(sys.argv[1], "rb"); n = struct.unpack("<Q", f.read(8))[0]; json.loads(f.read(n))
values = array.array("f"); values.frombytes(f.read())
sys.exit(0 if all(math.isfinite(v) for v in values) else 1)
PY
then
  ok "a diverging run ends with exit 5 and a finite checkpoint ($(grep -m1 "error:" "$TMP/diverge.err" | head -c 120))"
else
  not_ok "a diverging run ends with exit 5 and a finite checkpoint" "exit $rc" "$(head -c 300 "$TMP/diverge.err")"
fi

# Resuming a run already at --steps runs nothing and reports nothing made up.
mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps 1 --save "$TMP/done.safetensors" --quiet 2>/dev/null
mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps 1 --save "$TMP/done.safetensors" --resume --json >"$TMP/done.json" 2>/dev/null
if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d["steps_run"] == 0 and d["final_loss"] is None and d["measured"] is None else 1)' "$TMP/done.json"; then
  ok "a resumed run already at --steps reports no made-up figures"
else
  not_ok "a resumed run already at --steps reports no made-up figures" "$(head -c 300 "$TMP/done.json")"
fi

# A checkpoint whose step is not a whole number ("5abc") is refused on resume.
python3 - "$TMP/done.safetensors" "$TMP/badstep.safetensors" <<'PY'
import json, struct, sys
data = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", data[:8])[0]
header = json.loads(data[8:8 + n]); header["__metadata__"]["step"] = "5abc"
text = json.dumps(header).encode(); text += b" " * ((8 - len(text) % 8) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(text)) + text + data[8 + n:])
PY
expect_failure "checkpoint step '5abc'" "no valid step" 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps 6 --save "$TMP/badstep.safetensors" --resume

# A temporary file left by a killed writer is removed by the next run that saves there.
dead=$(python3 -c "import os; print(os.getpid())")  # a process that has ended
echo torn > "$TMP/clean.safetensors.tmp.$(cat /proc/sys/kernel/hostname).$dead"
mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps 1 --quiet --save "$TMP/clean.safetensors" 2>/dev/null
if [ ! -e "$TMP/clean.safetensors.tmp.$(cat /proc/sys/kernel/hostname).$dead" ] && [ -f "$TMP/clean.safetensors" ]; then
  ok "a dead writer's temporary file is cleaned"
else
  not_ok "a dead writer's temporary file is cleaned" "$(ls "$TMP" | grep clean)"
fi

# More ranks than cores: the timings are labelled as not comparable.
if [ "$(nproc)" -lt 4 ]; then
  if grep -q "ranks share" "$TMP/1f1b-pp4.err"; then ok "oversubscribed ranks are warned about"
  else not_ok "oversubscribed ranks are warned about" "$(head -c 300 "$TMP/1f1b-pp4.err")"; fi
fi

# A token file truncated under a running job: an error naming it, not SIGBUS.
cp "$TMP/tokens.bin" "$TMP/shrinking.bin"
timeout 120 mpirun -np 1 "$PP" run --plan "$TMP/single.json" --data "$TMP/shrinking.bin" --steps 100000 --quiet >/dev/null 2>"$TMP/shrink.err" &
job=$!
sleep 3
truncate -s 100 "$TMP/shrinking.bin"
wait $job
rc=$?
if [ $rc -eq 4 ] && grep -q "error: .*shrinking.bin" "$TMP/shrink.err" && ! grep -qi "bus error\|backtrace\|signal" "$TMP/shrink.err"; then
  ok "a token file truncated mid-run: exit 4, $(grep -m1 error: "$TMP/shrink.err" | head -c 100)"
else
  not_ok "a token file truncated mid-run" "exit $rc" "$(head -c 400 "$TMP/shrink.err")"
fi

# A stopped rank (SIGSTOP) does not hang the job: the watchdog ends it and names what it waited for.
timeout 120 mpirun -np 4 "$PP" run --plan "$TMP/1f1b-pp4.json" --data "$TMP/tokens.bin" --steps 100000 --quiet \
  --watchdog-s 3 >/dev/null 2>"$TMP/stop.err" &
job=$!
sleep 4
victim=$(pgrep -f "^$PP run --plan $TMP/1f1b-pp4.json" | sed -n 2p)
start=$SECONDS
[ -n "$victim" ] && kill -STOP "$victim"
wait $job
rc=$?
[ -n "$victim" ] && kill -CONT "$victim" 2>/dev/null
if [ -n "$victim" ] && [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "no progress for" "$TMP/stop.err"; then
  ok "a stopped rank ends the job after $((SECONDS - start)) s: $(grep -m1 'no progress' "$TMP/stop.err" | head -c 160)"
else
  not_ok "a stopped rank ends the job" "victim '$victim', exit $rc" "$(head -c 400 "$TMP/stop.err")"
fi

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
