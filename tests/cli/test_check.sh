#!/usr/bin/env bash
# The CI gates `pp plan --check` and `pp simulate --check` as a CI script uses them: each exit code
# (0 all rules pass, 6 a rule violated, 2 a bad rule, 3 nothing fits), one stderr line per rule,
# the verdicts in --json, and the plan file written whatever the verdict.
# Usage: test_check.sh <path-to-pp>. Prints "ok"/"not ok" per check and a summary.
set -u
PP=$1
TMP=$(mktemp -d /tmp/pp-check-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=../tap.sh
source "$(dirname "$0")/../tap.sh"
run() { timeout 120 "$PP" "$@" >"$TMP/out" 2>"$TMP/err"; RC=$?; }
crashed() { grep -Eq 'terminate called|Aborted|Segmentation|core dumped' "$TMP/err"; }
json() { python3 -c "import json,sys; d=json.load(open('$TMP/out')); print($1)" 2>/dev/null; }

# expect NAME CODE ARGS...: exit CODE and no crash.
expect() {
  local name=$1 code=$2
  shift 2
  run "$@"
  if [ "$RC" -eq "$code" ] && ! crashed; then ok "$name"; else not_ok "$name" "pp $*" "exit $RC (expected $code)" "stderr: $(head -c 400 "$TMP/err")"; fi
}
# stderr_has NAME PATTERN: the last run's stderr matches PATTERN.
stderr_has() { if grep -Eq -- "$2" "$TMP/err"; then ok "$1"; else not_ok "$1" "stderr: $(head -c 600 "$TMP/err")"; fi; }

# --- pp simulate --check: K=4, M=8, 1F1B with F=1, B=2: bubble 3/11 = 27.3%, makespan 33 ms, peak 4.
SIM=(simulate --stages 4 --microbatches 8 --schedule 1f1b)
expect "simulate: rules that hold exit 0" 0 "${SIM[@]}" --check --max-bubble 0.28 --max-makespan-ms 33 --max-inflight 4
stderr_has "simulate: one 'check passed' line per rule" '^check passed: --max-bubble 0.28: .*27\.3%'
[ "$(grep -c '^check passed' "$TMP/err")" -eq 3 ] && ok "simulate: three rules, three lines" || not_ok "simulate: three rules, three lines" "$(cat "$TMP/err")"
expect "simulate: a violated bubble rule exits 6" 6 "${SIM[@]}" --check --max-bubble 0.27
stderr_has "simulate: the violation names the rule, the value and the limit" '^check failed: --max-bubble 0.27: the bubble 27\.3% is above the limit 27\.0%'
grep -q '^Gantt\|rank' "$TMP/out" && ok "simulate: the chart is still printed on a failed check" || not_ok "simulate: chart on failure" "$(head -c 300 "$TMP/out")"
expect "simulate: the makespan rule is exact at the closed form" 6 "${SIM[@]}" --check --max-makespan-ms 32.999
expect "simulate: in-flight above the limit exits 6" 6 "${SIM[@]}" --check --max-inflight 3
stderr_has "simulate: the in-flight violation names the rank" "rank 0's peak of 4 in-flight micro-batches is above the limit 3"
expect "simulate: GPipe holds all M micro-batches" 6 simulate --stages 4 --microbatches 8 --schedule gpipe --check --max-inflight 7
expect "simulate: zb-h1's steady bubble is below 1F1B's" 0 simulate --stages 4 --microbatches 8 --schedule zb-h1 --check --max-steady-bubble 0.2
expect "simulate: several violations, one exit 6" 6 "${SIM[@]}" --check --max-bubble 0.1 --max-inflight 2 --json
[ "$(grep -c '^check failed' "$TMP/err")" -eq 2 ] && ok "simulate: two violations, two lines" || not_ok "simulate: two violations" "$(cat "$TMP/err")"
[ "$(json "d['check']['violations']")" = "2" ] && [ "$(json "d['check']['passed']")" = "False" ] &&
  [ "$(json "d['check']['rules'][0]['rule']")" = "--max-bubble" ] &&
  [ "$(json "round(d['check']['rules'][0]['actual'], 4)")" = "0.2727" ] &&
  ok "simulate --json: the verdicts in 'check'" || not_ok "simulate --json check" "$(head -c 300 "$TMP/out")"
expect "simulate: a rule without --check is invalid" 2 "${SIM[@]}" --max-bubble 0.1
stderr_has "simulate: ... and says to add --check" '^error: .*add --check'
expect "simulate: --check without a rule is invalid" 2 "${SIM[@]}" --check
expect "simulate: a fraction above 1 is invalid" 2 "${SIM[@]}" --check --max-bubble 1.5
expect "simulate: nan is invalid" 2 "${SIM[@]}" --check --max-bubble nan
expect "simulate: --check goes with one schedule, not --compare" 2 simulate --compare --stages 4 --schedule all --check --max-bubble 0.1
expect "simulate: an invalid schedule is still exit 2 under --check" 2 simulate --stages 4 --microbatches 6 --schedule interleaved --virtual-stages 2 --check --max-bubble 0.5 --schedule-file /nonexistent.json

# --- pp plan --check
PLAN=(plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 --tp 1 --pp 4)
expect "plan: a plan written" 0 "${PLAN[@]}" --json
bubble=$(json "d['predicted']['bubble_fraction']")
schedule=$(json "d['schedule']")
[ -n "$bubble" ] && [ -n "$schedule" ] && ok "plan: bubble $bubble, schedule $schedule" || not_ok "plan --json fields" "$(head -c 300 "$TMP/out")"
above=$(python3 -c "print(min(1, $bubble + 0.001))")
below=$(python3 -c "print(max(0, $bubble - 0.001))")
expect "plan: rules that hold exit 0" 0 "${PLAN[@]}" --check --max-bubble "$above" --require-schedule "$schedule,gpipe" --require-runnable -o "$TMP/plan.json"
stderr_has "plan: the summary line" '^check: the chosen plan .* passes all 3 rules'
expect "plan: bubble above the limit exits 6" 6 "${PLAN[@]}" --check --max-bubble "$below" -o "$TMP/failed.json"
stderr_has "plan: one line for the violated rule" '^check failed: --max-bubble .*: the pipeline bubble .* is above the limit'
[ -s "$TMP/failed.json" ] && ok "plan: the plan file is written on a failed check" || not_ok "plan file on failure"
other=gpipe; [ "$schedule" = gpipe ] && other=1f1b
expect "plan: another schedule required exits 6" 6 "${PLAN[@]}" --check --require-schedule "$other"
stderr_has "plan: the schedule violation names both" "^check failed: --require-schedule $other: the schedule $schedule is not one of $other"
expect "plan: an unknown required schedule is invalid" 2 "${PLAN[@]}" --check --require-schedule nope
expect "plan: MFU of 100% cannot be met" 6 "${PLAN[@]}" --check --min-mfu 1
expect "plan: memory fraction 0 cannot be met" 6 "${PLAN[@]}" --check --max-memory-fraction 0 --json
[ "$(json "d['check']['rules'][0]['rule']")" = "--max-memory-fraction" ] && [ "$(json "d['schema']")" = "pp.plan" ] &&
  ok "plan --json: the plan with its verdicts" || not_ok "plan --json check" "$(head -c 300 "$TMP/out")"
expect "plan: -o - writes the plan alone" 6 "${PLAN[@]}" --check --max-memory-fraction 0 -o -
[ "$(json "'check' in d")" = "False" ] && ok "plan -o -: no verdicts inside the plan" || not_ok "plan -o - has check"
expect "plan: a step-time limit that holds" 0 "${PLAN[@]}" --check --max-step-s 1e6
expect "plan: pp run cannot run cp 2" 6 plan --model gpt2-tiny --cluster cpu-local --gpus 2 --global-batch 4 --seq-len 64 --cp 2 --tp 1 --pp 1 --check --require-runnable
stderr_has "plan: the runnable violation says why" '^check failed: --require-runnable: pp run cannot execute the plan: '
expect "plan: nothing fits is still exit 3 under --check" 3 plan --model llama3-405b --cluster dgx-h100 --gpus 8 --global-batch 8 --seq-len 4096 --check --max-bubble 0.5
expect "plan: a rule without --check is invalid" 2 "${PLAN[@]}" --min-mfu 0.3
expect "plan: a negative limit is invalid" 2 "${PLAN[@]}" --check --max-step-s -1

# --- a plan file gated again by pp simulate
expect "simulate --plan --check: the plan's own bubble passes" 0 simulate --plan "$TMP/plan.json" --check --max-bubble "$above"

tap_summary
