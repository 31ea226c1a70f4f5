#!/usr/bin/env bash
# pp's JSON Schemas (schemas/, docs/schemas.md) against pp itself: the schemas are well-formed and
# agree with each other; every kind of document pp writes validates (several variants each, also
# against #/$defs/written where pp reads the document back); every shipped cluster and schedule
# file validates; mutated documents are rejected by their schema and, for the documents pp reads
# (plan, cluster, profile, schedule), refused by pp too (exit 2). Where the schema and pp's reader
# cannot agree (what JSON Schema cannot express), the test states which way they differ, so that
# a change on either side shows.
# Usage: test_schemas.sh <path-to-pp> <repo root>. Exit 77 (skip) without Python's jsonschema.
# shellcheck disable=SC2016  # '$defs' in single quotes is a JSON pointer, not a variable
set -u
PP=$1
ROOT=$2
TMP=$(mktemp -d /tmp/pp-schema-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=../tap.sh
source "$(dirname "$0")/../tap.sh"
HERE=$ROOT/tests/schemas

PY=""
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c 'import jsonschema' 2>/dev/null; then PY=$candidate; break; fi
done
[ -n "$PY" ] || { echo "skip: python3-jsonschema not installed (Debian: apt-get install python3-jsonschema)"; exit 77; }

# valid NAME SCHEMA FILE...: every FILE is valid under SCHEMA (a kind, or kind#/pointer).
valid() {
  local name=$1 schema=$2
  shift 2
  if "$PY" "$HERE/validate.py" "$ROOT/schemas/${schema%%#*}.schema.json${schema#"${schema%%#*}"}" "$@" 2>"$TMP/why"; then
    ok "$name"
  else
    local why
    mapfile -t why < <(head -n 3 "$TMP/why")
    not_ok "$name" "${why[@]}"
  fi
}
# produce FILE CODE ARGS...: pp ARGS with stdout to FILE, which must exit CODE.
produce() {
  local file=$1 code=$2
  shift 2
  timeout 120 "$PP" "$@" >"$file" 2>"$TMP/err"
  local rc=$?
  [ "$rc" -eq "$code" ] || not_ok "pp $* exits $code" "exit $rc: $(head -c 300 "$TMP/err")"
}
# count_tap: the "ok - "/"not ok - " lines of a Python check on stdin, counted as this test's
# (not in a pipeline's subshell: count_tap < <(...)); any other output is a failure.
count_tap() {
  # (tap.sh's not_ok sets a global "line": this reads into "input".)
  local input name="" status="" details=()
  flush() {
    local detail
    if [ "$status" = ok ]; then ok "$name"; for detail in "${details[@]}"; do echo "#   $detail"; done
    elif [ -n "$status" ]; then not_ok "$name" "${details[@]}"; fi
    status=""
    details=()
  }
  while IFS= read -r input; do
    case $input in
      "ok - "*) flush; status=ok; name=${input#ok - } ;;
      "not ok - "*) flush; status=bad; name=${input#not ok - } ;;
      "#   "*) details+=("${input#\#   }") ;;
      *) [ "$status" = python ] || { flush; status=python; name="the Python check's output"; }; details+=("$input") ;;
    esac
  done
  flush
}

# --- the schemas themselves
NAMES=$("$PP" simulate --stages 2 --microbatches 2 --schedule no-such-schedule 2>&1 | sed -n 's/.*(known: \(.*\))$/\1/p' | tr -d ,)
[ -n "$NAMES" ] || not_ok "pp lists its schedules when one is unknown" "$("$PP" simulate --stages 2 --microbatches 2 --schedule no-such-schedule 2>&1 | head -c 300)"
# shellcheck disable=SC2086
count_tap < <("$PY" "$HERE/checks.py" lint "$ROOT/schemas" "$ROOT/docs/schemas.md" $NAMES 2>&1)

# --- documents pp writes
D=$TMP/docs
mkdir -p "$D"
TINY=(--model gpt2-tiny --cluster cpu-local --global-batch 16 --seq-len 64)
produce "$TMP/out" 0 plan "${TINY[@]}" --gpus 4 --tp 1 --pp 4 -o "$D/plan-fixed.json"                 # versus_auto
produce "$D/plan-auto.json" 0 plan "${TINY[@]}" --gpus 4 -o -
produce "$D/plan-checked.json" 0 plan "${TINY[@]}" --gpus 4 --tp 1 --json --check --max-bubble 1 --min-mfu 0 \
  --max-memory-fraction 1000 --max-step-s 1e9 --require-schedule "${NAMES// /,}" --require-runnable  # every rule, all passed
produce "$D/plan-check-failed.json" 6 plan "${TINY[@]}" --gpus 4 --pp 4 --json --check --max-bubble 0
L8=(--model llama3-8b --cluster dgx-h100 --global-batch 64)
produce "$D/plan-zbv.json" 0 plan "${L8[@]}" --gpus 8 --seq-len 2048 --pp 4 --schedule zb-v --json
produce "$D/plan-cp-fp8.json" 0 plan "${L8[@]}" --gpus 16 --seq-len 16384 --cp 4 --precision fp8 --grad-dtype bf16 --json
produce "$D/plan-dopt-overlap.json" 0 plan "${L8[@]}" --gpus 16 --seq-len 4096 --tp 2 --dp 4 --distributed-optimizer on --tp-overlap on --json
produce "$D/plan-selective.json" 0 plan --model korthikanti-22b --cluster dgx-a100-80gb --gpus 8 --global-batch 4 --seq-len 2048 \
  --tp 8 --microbatch-size 4 --no-flash-attention --dropout --selective-recompute on --ckpt-interval 0 --json
for cluster in "$ROOT"/configs/clusters/*.json; do
  produce "$D/plan-on-$(basename "$cluster")" 0 plan --model gpt2-tiny --cluster "$cluster" --gpus 2 --global-batch 4 --seq-len 32 --json
done
produce "$D/profile-gpt2.json" 0 profile --model gpt2-tiny --microbatch-size 2 --seq-len 32 --repeats 2 -o -
produce "$D/profile-llama.json" 0 profile --model llama-tiny --microbatch-size 2 --seq-len 32 --repeats 2 -o -
produce "$D/plan-profiled.json" 0 plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 8 --seq-len 32 --tp 1 \
  --profile "$D/profile-gpt2.json" --json
produce "$D/infeasible-llama405b.json" 3 plan --model llama3-405b --cluster dgx-h100 --gpus 8 --global-batch 8 --seq-len 4096 --json
produce "$D/infeasible-fixed.json" 3 plan --model gpt2-124m --cluster cpu-local --gpus 1 --global-batch 8 --seq-len 1024 --mem-limit 0.01 -o -
PLANS=("$D"/plan-*.json)
valid "${#PLANS[@]} plans pp plan writes (fixed choices with versus_auto, auto, --check passed and failed, zb-v, cp + fp8, distributed optimizer + tp overlap, selective recompute, every shipped cluster, --profile)" plan "${PLANS[@]}"
valid "the same plans, as pp writes a plan (#/\$defs/written: version 2, every field, no unknown ones)" 'plan#/$defs/written' "${PLANS[@]}"
valid "plan-infeasible documents (--json, -o -)" plan-infeasible "$D"/infeasible-*.json
valid "profiles pp profile writes (GPT-2, Llama)" profile "$D"/profile-*.json
valid "the same profiles as written (#/\$defs/written)" 'profile#/$defs/written' "$D"/profile-*.json
"$PY" -c 'import json,sys; assert "versus_auto" in json.load(open(sys.argv[1]))' "$D/plan-fixed.json" &&
  "$PY" -c 'import json,sys; assert "versus_auto" not in json.load(open(sys.argv[1]))' "$D/plan-auto.json" &&
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["check"]["passed"] is False' "$D/plan-check-failed.json" &&
  ok "the variants have what they are for (versus_auto only with a fixed choice, a failed check)" || not_ok "the variants have what they are for"

refused=()
for plan in "${PLANS[@]}"; do
  timeout 120 "$PP" simulate --plan "$plan" --json >"$D/simulate-of-$(basename "$plan")" 2>"$TMP/err" || refused+=("$(basename "$plan"): $(head -c 200 "$TMP/err")")
done
[ ${#refused[@]} -eq 0 ] && ok "pp simulate --plan reads back every plan pp plan wrote" || not_ok "pp simulate --plan reads back every plan" "${refused[@]}"
i=0
for args in "--schedule gpipe" "--schedule 1f1b" "--schedule interleaved --virtual-stages 2" "--schedule looped-bfs --virtual-stages 3" \
            "--schedule zb-h1" "--schedule zb-h2" "--schedule zb1p --virtual-stages 2" "--schedule zb-v" "--schedule v-half" \
            "--schedule v-min" "--schedule dualpipev" "--schedule auto" "--schedule auto --memory-limit 2" \
            "--schedule 1f1b --fwd-ms 1.2,1,1,1.5 --bwd-ms 2.4,2,2,3 --p2p-ms 0.1 --reduce-ms 0.5 --optimizer-ms 0.7"; do
  # shellcheck disable=SC2086
  produce "$D/simulate-$i.json" 0 simulate --stages 4 --microbatches 8 $args --json --trace "$D/trace-$i.json" --save-schedule "$D/schedule-$i.json"
  i=$((i + 1))
done
produce "$D/simulate-check-passed.json" 0 simulate --stages 4 --microbatches 8 --json --check --max-bubble 1 --max-steady-bubble 1 --max-makespan-ms 1e9 --max-inflight 1e6
produce "$D/simulate-check-failed.json" 6 simulate --stages 4 --microbatches 8 --json --check --max-bubble 0.01
for schedule in "$ROOT"/configs/schedules/[!b]*.json; do
  produce "$D/simulate-file-$(basename "$schedule")" 0 simulate --schedule-file "$schedule" --json --trace "$D/trace-file-$(basename "$schedule")"
done
valid "simulate --json: 14 schedules (every catalogue one, auto), --check passed and failed, every plan, every shipped schedule file" simulate "$D"/simulate-*.json
valid "Chrome traces of pp simulate --trace" trace "$D"/trace-*.json
valid "schedule files pp simulate --save-schedule writes (14, sends and receives of auto included)" schedule "$D"/schedule-*.json
valid "the same schedule files as written (#/\$defs/written)" 'schedule#/$defs/written' "$D"/schedule-*.json
refused=()
for schedule in "$D"/schedule-*.json; do
  timeout 120 "$PP" simulate --schedule-file "$schedule" --json >/dev/null 2>"$TMP/err" || refused+=("$(basename "$schedule"): $(head -c 200 "$TMP/err")")
done
[ ${#refused[@]} -eq 0 ] && ok "pp simulate --schedule-file reads back every schedule it saved" || not_ok "pp reads back its saved schedules" "${refused[@]}"
produce "$D/compare-all.json" 0 simulate --compare --stages 4 --microbatches 4,8 --schedule all --json
produce "$D/compare-some.json" 0 simulate --compare --stages 8 --microbatches 16 --schedule 1f1b,zb-v,auto --virtual-stages 2 --fwd-ms 1.5 --p2p-ms 0.2 --json
valid "compare --json (every schedule, rows unsupported included; a few at V=2)" compare "$D"/compare-*.json
grep -q '"unsupported"' "$D/compare-all.json" && ok "the comparison has an unsupported row" || not_ok "the comparison has an unsupported row"

# pp run on 2 ranks: --json, --summary, --trace; then resumed at --steps, where no step runs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
produce "$TMP/out" 0 data synth --out "$TMP/tokens.bin" --tokens 20000 --vocab 512
produce "$TMP/out" 0 plan --model gpt2-tiny --cluster cpu-local --gpus 2 --global-batch 4 --seq-len 32 --tp 1 --pp 2 -o "$TMP/p2.json"
RUN=(run --plan "$TMP/p2.json" --data "$TMP/tokens.bin" --steps 2 --save "$TMP/ckpt.safetensors")
if command -v mpirun >/dev/null; then
  timeout 120 mpirun -np 2 "$PP" "${RUN[@]}" --json --summary "$D/run-summary.json" --trace "$D/run-trace.json" >"$D/run.json" 2>"$TMP/err" ||
    not_ok "mpirun -np 2 pp run --json" "$(tail -c 400 "$TMP/err")"
  timeout 120 mpirun -np 2 "$PP" "${RUN[@]}" --resume --json >"$D/run-resumed.json" 2>"$TMP/err" ||
    not_ok "mpirun -np 2 pp run --resume --json" "$(tail -c 400 "$TMP/err")"
  valid "pp run --json and --summary, and a run resumed at --steps (steps_run 0, nulls)" run "$D/run.json" "$D/run-summary.json" "$D/run-resumed.json"
  valid "pp run --trace (measured)" trace "$D/run-trace.json"
  "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["steps_run"] == 0 and d["measured"] is None' "$D/run-resumed.json" &&
    ok "the resumed run ran no step" || not_ok "the resumed run ran no step" "$(head -c 300 "$D/run-resumed.json")"
else
  not_ok "pp run summaries" "mpirun not found (Debian: openmpi-bin)"
fi

# --- shipped files pp reads
valid "shipped clusters (configs/clusters/)" cluster "$ROOT"/configs/clusters/*.json
valid "shipped schedules, broken-*.json included: well-formed, wrong in meaning" schedule "$ROOT"/configs/schedules/*.json
for schedule in "$ROOT"/configs/schedules/*.json; do
  name=$(basename "$schedule")
  timeout 120 "$PP" simulate --schedule-file "$schedule" >/dev/null 2>"$TMP/err"
  rc=$?
  case $name in
    broken-*) [ $rc -eq 2 ] && ok "pp refuses $name (exit 2), which its schema accepts: the meaning is pp's validator's to check" ||
                not_ok "pp refuses $name" "exit $rc" ;;
    *) [ $rc -eq 0 ] && ok "pp accepts $name" || not_ok "pp accepts $name" "exit $rc: $(head -c 200 "$TMP/err")" ;;
  esac
done

# --- mutated documents
# mutant NAME SCHEMA BASE EXPECT CODE [PP-EXIT PP-ARGS...]: the document BASE changed by the Python
# statement CODE (on d) must be EXPECT (valid/invalid) under SCHEMA, and, when PP-EXIT is given,
# pp PP-ARGS (where @ is the mutated file) must exit PP-EXIT.
n=0
: >"$TMP/cases"
: >"$TMP/readers"
mutant() {
  local name=$1 schema=$2 base=$3 expect=$4 code=$5
  shift 5
  n=$((n + 1))
  local out=$TMP/mutant-$n.json
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$schema" "$base" "$out" "$expect" "$code" >>"$TMP/cases"
  if [ $# -gt 0 ]; then
    local code_expected=$1
    shift
    printf '%s\t%s\t%s\n' "$name" "$code_expected" "${*//@/$out}" >>"$TMP/readers"
  fi
}
PLAN=$D/plan-fixed.json  # gpt2-tiny, pp 4, zb1p with 2 virtual stages
SIM_PLAN=(2 simulate --plan @)
mutant "a plan without stages" plan "$PLAN" invalid 'del d["stages"]' "${SIM_PLAN[@]}"
mutant "a plan with tp 0" plan "$PLAN" invalid 'd["tp"] = 0' "${SIM_PLAN[@]}"
mutant "a plan with an unknown schedule" plan "$PLAN" invalid 'd["schedule"] = "2f2b"' "${SIM_PLAN[@]}"
mutant "a plan of another kind" plan "$PLAN" invalid 'd["schema"] = "pp.schedule"' "${SIM_PLAN[@]}"
mutant "a plan of version 3" plan "$PLAN" invalid 'd["version"] = 3' "${SIM_PLAN[@]}"
mutant "a plan with seq_len as text" plan "$PLAN" invalid 'd["seq_len"] = "64"' "${SIM_PLAN[@]}"
mutant "a plan without checkpoint_interval" plan "$PLAN" invalid 'del d["checkpoint_interval"]' "${SIM_PLAN[@]}"
mutant "a plan without reduce_ms" plan "$PLAN" invalid 'del d["reduce_ms"]' "${SIM_PLAN[@]}"
mutant "a plan with a negative forward time" plan "$PLAN" invalid 'd["stages"][1]["forward_ms"] = -1' "${SIM_PLAN[@]}"
mutant "a plan whose stage has no wgrad_ms" plan "$PLAN" invalid 'del d["stages"][2]["wgrad_ms"]' "${SIM_PLAN[@]}"
mutant "a plan whose stage has one layer index" plan "$PLAN" invalid 'd["stages"][0]["layers"] = [0]' "${SIM_PLAN[@]}"
mutant "a plan predicting a bubble above 1" plan "$PLAN" invalid 'd["predicted"]["bubble_fraction"] = 1.5' "${SIM_PLAN[@]}"
mutant "a plan in fp16" plan "$PLAN" invalid 'd["precision"] = "fp16"' "${SIM_PLAN[@]}"
mutant "a plan of 1f1b with 2 virtual stages" plan "$PLAN" invalid 'd["schedule"] = "1f1b"' "${SIM_PLAN[@]}"
mutant "a plan with tp overlap at tp 1" plan "$PLAN" invalid 'd["tp_overlap"] = True' "${SIM_PLAN[@]}"
mutant "a version 2 plan without cluster_spec" plan "$PLAN" invalid 'del d["cluster_spec"]' "${SIM_PLAN[@]}"
mutant "a plan whose cluster has no bf16 peak" plan "$PLAN" invalid 'd["cluster_spec"]["gpu"]["peak_tflops"] = {"fp32": 1}' "${SIM_PLAN[@]}"
mutant "a plan with a field pp does not know" plan "$PLAN" valid 'd["note"] = "mine"' 0 simulate --plan @
mutant "a plan with a field pp does not write" 'plan#/$defs/written' "$PLAN" invalid 'd["note"] = "mine"'
mutant "a version 1 plan (model and cluster by name)" plan "$PLAN" valid 'd["version"] = 1; del d["model_config"], d["cluster_spec"]' 0 simulate --plan @
mutant "a plan with only the fields pp requires" plan "$PLAN" valid \
  'keep = {"schema", "version", "model", "cluster", "gpus", "global_batch", "seq_len", "tp", "pp", "dp", "microbatch_size", "microbatches", "schedule", "virtual_stages", "checkpoint_interval", "stages", "reduce_ms", "optimizer_ms", "model_config", "cluster_spec"}; [d.pop(k) for k in list(d) if k not in keep]; [s.pop("activation_bytes") for s in d["stages"]]' \
  0 simulate --plan @
mutant "a plan without predicted, as pp writes plans" 'plan#/$defs/written' "$PLAN" invalid 'del d["predicted"]'
mutant "a plan without versus_auto's why" plan "$PLAN" invalid 'del d["versus_auto"]["why"]'
mutant "a plan check with an unknown rule" plan "$D/plan-checked.json" invalid 'd["check"]["rules"][0]["rule"] = "--max-nothing"'
mutant "a plan check requiring an unknown schedule" plan "$D/plan-checked.json" invalid 'next(r for r in d["check"]["rules"] if r["rule"] == "--require-schedule")["limit"] = ["2f2b"]'

CLUSTER=$ROOT/configs/clusters/dgx-h100.json
PLAN_ON=(2 plan --model gpt2-tiny --cluster @ --gpus 2 --global-batch 4 --seq-len 32)
mutant "a cluster with 0 devices per node" cluster "$CLUSTER" invalid 'd["gpus_per_node"] = 0' "${PLAN_ON[@]}"
mutant "a cluster without memory_gib" cluster "$CLUSTER" invalid 'del d["gpu"]["memory_gib"]' "${PLAN_ON[@]}"
mutant "a cluster without achievable_fraction" cluster "$CLUSTER" invalid 'del d["gpu"]["achievable_fraction"]' "${PLAN_ON[@]}"
mutant "a cluster without a bf16 peak" cluster "$CLUSTER" invalid 'del d["gpu"]["peak_tflops"]["bf16"]' "${PLAN_ON[@]}"
mutant "a cluster of TPUs" cluster "$CLUSTER" invalid 'd["device_kind"] = "tpu"' "${PLAN_ON[@]}"
mutant "a cluster with latency as text" cluster "$CLUSTER" invalid 'd["inter_node"]["latency_us"] = "fast"' "${PLAN_ON[@]}"
mutant "a cluster with a one-number GEMM tile" cluster "$CLUSTER" invalid 'd["gpu"]["gemm_tile"] = [256]' "${PLAN_ON[@]}"
mutant "a cluster with memory_fraction 0" cluster "$CLUSTER" invalid 'd["gpu"]["memory_fraction"] = 0' "${PLAN_ON[@]}"
mutant "a cluster with a negative inter-node bandwidth" cluster "$CLUSTER" invalid 'd["inter_node"]["bandwidth_gb_per_s"] = -50' "${PLAN_ON[@]}"
mutant "a cluster of another kind" cluster "$CLUSTER" invalid 'd["schema"] = "pp.clusters"' "${PLAN_ON[@]}"
mutant "a cluster without a name (pp names it after the file)" cluster "$CLUSTER" valid 'del d["name"]' 0 plan --model gpt2-tiny --cluster @ --gpus 2 --global-batch 4 --seq-len 32
mutant "a cluster with a field pp does not know" cluster "$CLUSTER" valid 'd["gpu"]["tdp_watts"] = 700' 0 plan --model gpt2-tiny --cluster @ --gpus 2 --global-batch 4 --seq-len 32
mutant "a shipped cluster missing what pp writes" 'cluster#/$defs/cluster_written' "$ROOT/configs/clusters/cpu-local.json" invalid 'pass'

PROFILE=$D/profile-gpt2.json
PLAN_WITH=(2 plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 8 --seq-len 32 --tp 1 --profile @)
mutant "a profile with a negative time" profile "$PROFILE" invalid 'd["layers"][1]["fwd_ms"] = -1' "${PLAN_WITH[@]}"
mutant "a profile without layers" profile "$PROFILE" invalid 'd["layers"] = []' "${PLAN_WITH[@]}"
mutant "a profile whose layer has no output_bytes" profile "$PROFILE" invalid 'del d["layers"][3]["output_bytes"]' "${PLAN_WITH[@]}"
mutant "a profile of micro-batch size 0" profile "$PROFILE" invalid 'd["microbatch_size"] = 0' "${PLAN_WITH[@]}"
mutant "a profile of version 2" profile "$PROFILE" invalid 'd["version"] = 2' "${PLAN_WITH[@]}"
mutant "a profile with a time as text" profile "$PROFILE" invalid 'd["layers"][0]["bwd_ms"] = "0.1"' "${PLAN_WITH[@]}"
mutant "a profile without names or device" profile "$PROFILE" valid 'del d["device"]; [l.pop("name") for l in d["layers"]]' 0 plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 8 --seq-len 32 --tp 1 --profile @
mutant "a profile without a device, as pp profile writes profiles" 'profile#/$defs/written' "$PROFILE" invalid 'del d["device"]'

SCHEDULE=$D/schedule-1.json  # 1f1b, 4 ranks, 8 micro-batches, no sends or receives
AUTO=$D/schedule-11.json     # auto: sends and receives as objects
SIM_FILE=(2 simulate --schedule-file @)
mutant "a schedule with an unknown field" schedule "$SCHEDULE" invalid 'd["rank"] = 4' "${SIM_FILE[@]}"
mutant "a schedule with a malformed action" schedule "$SCHEDULE" invalid 'd["actions"][0][0] = "X1"' "${SIM_FILE[@]}"
mutant "a schedule of version 2" schedule "$SCHEDULE" invalid 'd["version"] = 2' "${SIM_FILE[@]}"
mutant "a schedule of 0 ranks" schedule "$SCHEDULE" invalid 'd["ranks"] = 0' "${SIM_FILE[@]}"
mutant "a schedule of 65 chunks per rank" schedule "$SCHEDULE" invalid 'd["chunks_per_rank"] = 65' "${SIM_FILE[@]}"
mutant "a schedule whose actions are not lists" schedule "$SCHEDULE" invalid 'd["actions"] = {"0": d["actions"][0]}' "${SIM_FILE[@]}"
mutant "an action object with an unknown field" schedule "$SCHEDULE" invalid 'd["actions"][0][0] = {"op": "F", "mb": 0, "stage": 0}' "${SIM_FILE[@]}"
mutant "an action object with an unknown op" schedule "$SCHEDULE" invalid 'd["actions"][0][0] = {"op": "FWD", "mb": 0}' "${SIM_FILE[@]}"
mutant "a forward without its micro-batch" schedule "$SCHEDULE" invalid 'd["actions"][0][0] = {"op": "F"}' "${SIM_FILE[@]}"
mutant "a send without its peer" schedule "$AUTO" invalid 'a = next(a for a in d["actions"][0] if isinstance(a, dict)); del a["peer"]' "${SIM_FILE[@]}"
mutant "a schedule with only the fields pp requires" schedule "$SCHEDULE" valid 'del d["name"], d["chunks_per_rank"], d["placement"]' 0 simulate --schedule-file @
mutant "a schedule with an action object for F0" schedule "$SCHEDULE" valid 'd["actions"][0][0] = {"op": "F", "mb": 0}' 0 simulate --schedule-file @
mutant "a schedule without placement, as pp writes schedules" 'schedule#/$defs/written' "$SCHEDULE" invalid 'del d["placement"]'

# Documents only pp writes: the schema alone.
mutant "a simulated step with a bubble above 1" simulate "$D/simulate-1.json" invalid 'd["bubble_fraction"] = 1.5'
mutant "a simulated step without makespan_ms" simulate "$D/simulate-1.json" invalid 'del d["makespan_ms"]'
mutant "a simulated step with a negative idle time" simulate "$D/simulate-1.json" invalid 'd["ranks"][2]["idle_ms"] = -0.5'
mutant "a simulated step with a field pp does not write" simulate "$D/simulate-1.json" invalid 'd["note"] = 1'
mutant "a compare document as a simulated step" simulate "$D/simulate-1.json" invalid 'd["schema"] = "pp.compare"'
mutant "an auto block without built_by" simulate "$D/simulate-11.json" invalid 'del d["auto"]["built_by"]'
mutant "a check block without verdicts" simulate "$D/simulate-check-failed.json" invalid 'd["check"]["rules"] = []'
mutant "a compare row with neither figures nor a reason" compare "$D/compare-all.json" invalid 'r = d["rows"][0]; [r.pop(k) for k in list(r) if k not in ("schedule", "microbatches", "virtual_stages")]'
mutant "a compare row with figures and a reason" compare "$D/compare-all.json" invalid 'd["rows"][0]["unsupported"] = "why"'
mutant "a compare row of an unknown schedule" compare "$D/compare-all.json" invalid 'd["rows"][0]["schedule"] = "2f2b"'
mutant "a comparison of 0 stages" compare "$D/compare-all.json" invalid 'd["stages"] = 0'
mutant "a trace without otherData" trace "$D/trace-0.json" invalid 'del d["otherData"]'
mutant "a trace of another kind" trace "$D/trace-0.json" invalid 'd["otherData"]["schema"] = "pp.simulate"'
mutant "a trace event of an unknown phase" trace "$D/trace-0.json" invalid 'next(e for e in d["traceEvents"] if e["ph"] == "X")["ph"] = "Q"'
mutant "a trace slice of negative duration" trace "$D/trace-0.json" invalid 'next(e for e in d["traceEvents"] if e["ph"] == "X")["dur"] = -1'
mutant "a trace from an unknown source" trace "$D/trace-0.json" invalid 'd["otherData"]["source"] = "guessed"'
if [ -s "$D/run.json" ]; then
  mutant "a run summary without losses" run "$D/run.json" invalid 'del d["losses"]'
  mutant "a run summary with a loss as text" run "$D/run.json" invalid 'd["final_loss"] = "low"'
  mutant "a run of 0 steps with a final loss" run "$D/run.json" invalid 'd["steps_run"] = 0'
  mutant "a run over an unknown transport" run "$D/run.json" invalid 'd["transport"] = "tcp"'
  mutant "a CPU run with device memory" run "$D/run.json" invalid 'd["peak_device_bytes"] = 1e9'
  mutant "a run summary with a field pp does not write" run "$D/run.json" invalid 'd["note"] = 1'
  mutant "a run stopped by SIGTERM (exit 7)" run "$D/run.json" valid 'd["stopped_by"] = "SIGTERM"'
  mutant "a CUDA run over NCCL with its device memory" run "$D/run.json" valid 'd.update(device="cuda", transport="nccl", peak_device_bytes=2.5e9)'
  mutant "a CUDA run without its device memory" run "$D/run.json" invalid 'd.update(device="cuda", transport="nccl")'
fi
mutant "an infeasible document saying feasible" plan-infeasible "$D/infeasible-llama405b.json" invalid 'd["feasible"] = True'
mutant "an infeasible document without reasons" plan-infeasible "$D/infeasible-llama405b.json" invalid 'd["reasons"] = []'
mutant "an infeasible document with a plan's fields" plan-infeasible "$D/infeasible-llama405b.json" invalid 'd["tp"] = 8'

# Where the schema and pp's reader differ, and which way: pp checks what JSON Schema cannot say
# (counts and sums across fields, ranges that depend on other fields, 2 against 2.0), and treats
# null as absent where the schema asks for the field's type.
mutant "(pp refuses) tp written as 1.0, a whole number to JSON Schema" plan "$PLAN" valid 'd["tp"] = 1.0' "${SIM_PLAN[@]}"
mutant "(pp refuses) a plan with one stage too many" plan "$PLAN" valid 'd["stages"].append(dict(d["stages"][-1], stage=len(d["stages"])))' "${SIM_PLAN[@]}"
mutant "(pp refuses) a stage whose wgrad_ms is above its backward_ms" plan "$PLAN" valid 's = d["stages"][1]; s["wgrad_ms"] = s["backward_ms"] + 1' "${SIM_PLAN[@]}"
mutant "(pp refuses) reduce_ms with an entry per stage, not per rank" plan "$PLAN" valid 'd["reduce_ms"] = [0.0] * len(d["stages"])' "${SIM_PLAN[@]}"
mutant "(pp refuses) cp 3 with seq_len 64, not a multiple of 6" plan "$PLAN" valid 'd["cp"] = 3' "${SIM_PLAN[@]}"
mutant "(pp accepts, null as absent) a plan with cp null" plan "$PLAN" invalid 'd["cp"] = None' 0 simulate --plan @
mutant "(pp refuses) gpus_per_node written as 8.0" cluster "$CLUSTER" valid 'd["gpus_per_node"] = 8.0' "${PLAN_ON[@]}"
mutant "(pp refuses) a profile whose wgrad_ms is above its bwd_ms" profile "$PROFILE" valid 'l = d["layers"][2]; l["wgrad_ms"] = l["bwd_ms"] + 1' "${PLAN_WITH[@]}"
mutant "(pp refuses) a profile of zero times" profile "$PROFILE" valid '[l.update(fwd_ms=0, bwd_ms=0, wgrad_ms=0) for l in d["layers"]]' "${PLAN_WITH[@]}"
mutant "(pp refuses, when planning) a profile with a layer fewer than the model" profile "$PROFILE" valid 'd["layers"].pop()' "${PLAN_WITH[@]}"
mutant "(pp refuses) a micro-batch beyond microbatches" schedule "$SCHEDULE" valid 'd["actions"][0][0] = "F8"' "${SIM_FILE[@]}"
mutant "(pp refuses) ranks written as 4.0" schedule "$SCHEDULE" valid 'd["ranks"] = 4.0' "${SIM_FILE[@]}"
mutant "(pp accepts, peer unread on compute) a forward with peer \"x\"" schedule "$SCHEDULE" invalid 'd["actions"][0][0] = {"op": "F", "mb": 0, "peer": "x"}' 0 simulate --schedule-file @

count_tap < <("$PY" "$HERE/checks.py" cases "$ROOT/schemas" "$TMP/cases" 2>&1)
while IFS=$'\t' read -r name code args; do
  # shellcheck disable=SC2086
  timeout 120 "$PP" $args >/dev/null 2>"$TMP/err"
  rc=$?
  if [ "$code" -eq 0 ]; then verb=accepts; else verb="refuses (exit $code)"; fi
  if [ $rc -eq "$code" ] && ! grep -Eq 'terminate called|Aborted|Segmentation' "$TMP/err"; then
    ok "pp ${args%% *} $verb ${name#(*) }"
    [ -z "${PP_SCHEMA_TEST_VERBOSE:-}" ] || [ ! -s "$TMP/err" ] || echo "#   ($(head -n 1 "$TMP/err"))"
  else
    not_ok "pp ${args%% *} $verb ${name#(*) }" "pp $args" "exit $rc" "$(head -c 300 "$TMP/err")"
  fi
done <"$TMP/readers"

tap_summary
