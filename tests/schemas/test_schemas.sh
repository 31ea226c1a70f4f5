#!/usr/bin/env bash
# pp's JSON Schemas (schemas/) against what pp writes and reads: every kind of document pp writes
# validates, every shipped cluster and schedule file validates, and mutated documents are rejected
# by the schema (and, for the files pp reads, by pp too). Usage: test_schemas.sh <path-to-pp> <repo root>
set -u
PP=$1
ROOT=$2
SCHEMAS=$ROOT/schemas
TMP=$(mktemp -d /tmp/pp-schema-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
# shellcheck source=../tap.sh
source "$(dirname "$0")/../tap.sh"

PY=""
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c 'import jsonschema' 2>/dev/null; then PY=$candidate; break; fi
done
[ -n "$PY" ] || { echo "skip: python3-jsonschema not installed (apt-get install python3-jsonschema)"; exit 77; }
validate() { "$PY" "$ROOT/tests/schemas/validate.py" "$SCHEMAS" "$@" 2>"$TMP/why"; }
valid() {  # valid NAME KIND FILE...
  local name=$1; shift
  if validate "$@"; then ok "$name"; else not_ok "$name" "$(head -3 "$TMP/why")"; fi
}
# mutate NAME KIND FILE PYTHON-STATEMENT [pp-reader-args]: the mutated copy (d is the document)
# must fail the schema, and, when reader args are given, pp must refuse it with exit 2.
mutate() {
  local name=$1 kind=$2 file=$3 code=$4; shift 4
  "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); $code; json.dump(d, open(sys.argv[2],'w'))" "$file" "$TMP/bad.json"
  if validate "$kind" "$TMP/bad.json"; then not_ok "schema rejects $name"; else ok "schema rejects $name"; fi
  if [ $# -gt 0 ]; then
    "$PP" "$@" >/dev/null 2>"$TMP/pp.err"; local rc=$?
    if [ $rc -eq 2 ]; then ok "pp rejects $name too"; else not_ok "pp rejects $name too" "exit $rc" "$(head -2 "$TMP/pp.err")"; fi
  fi
}

# --- documents pp writes
"$PP" plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 --tp 1 --pp 4 -o "$TMP/plan-fixed.json" 2>/dev/null >/dev/null
"$PP" plan --model gpt3-175b --cluster dgx-a100-80gb --gpus 64 --global-batch 64 --seq-len 2048 -o "$TMP/plan-auto.json" 2>/dev/null >/dev/null
"$PP" plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 --json --check --max-bubble 0.5 >"$TMP/plan-checked.json" 2>/dev/null
valid "plan files (fixed choices with versus_auto; auto; with --check verdicts)" plan "$TMP/plan-fixed.json" "$TMP/plan-auto.json" "$TMP/plan-checked.json"
"$PP" plan --model llama3-405b --cluster dgx-h100 --gpus 8 --global-batch 8 --seq-len 4096 --json >"$TMP/infeasible.json" 2>/dev/null
valid "plan-infeasible document" plan-infeasible "$TMP/infeasible.json"
i=0
for args in "--schedule 1f1b" "--schedule gpipe" "--schedule interleaved --virtual-stages 2" "--schedule zb-h1" "--schedule zb-v" "--schedule dualpipev" "--schedule auto"; do
  # shellcheck disable=SC2086
  "$PP" simulate --stages 4 --microbatches 8 $args --json --trace "$TMP/trace-$i.json" --save-schedule "$TMP/schedule-$i.json" >"$TMP/simulate-$i.json" 2>/dev/null
  i=$((i + 1))
done
"$PP" simulate --stages 4 --microbatches 8 --json --check --max-bubble 0.1 >"$TMP/simulate-checked.json" 2>/dev/null
valid "simulate --json for 7 schedules and with --check" simulate "$TMP"/simulate-*.json
valid "Chrome traces" trace "$TMP"/trace-*.json
valid "saved schedules" schedule "$TMP"/schedule-*.json
"$PP" simulate --compare --stages 4 --microbatches 4,8 --schedule all --json >"$TMP/compare.json" 2>/dev/null
valid "compare --json (with unsupported rows)" compare "$TMP/compare.json"
"$PP" simulate --plan "$TMP/plan-fixed.json" --json >"$TMP/simulate-plan.json" 2>/dev/null
valid "simulate --plan --json" simulate "$TMP/simulate-plan.json"
cat >"$TMP/profile.json" <<'JSON'
{"schema": "pp.profile", "version": 1, "microbatch_size": 1, "seq_len": 64, "device": "cpu",
 "layers": [{"name": "embedding", "fwd_ms": 0.1, "bwd_ms": 0.2, "wgrad_ms": 0.1, "param_bytes": 1e5, "activation_bytes": 1e4, "output_bytes": 1e4},
            {"name": "block", "fwd_ms": 1, "bwd_ms": 2, "wgrad_ms": 1, "param_bytes": 1e6, "activation_bytes": 1e5, "output_bytes": 1e4}]}
JSON
valid "a profile as docs/profile-format.md gives it" profile "$TMP/profile.json"
"$PP" data synth --out "$TMP/tokens.bin" --tokens 20000 --vocab 512 >/dev/null 2>&1
"$PP" plan --model gpt2-tiny --cluster cpu-local --gpus 2 --global-batch 4 --seq-len 32 --tp 1 --pp 2 -o "$TMP/p2.json" >/dev/null 2>&1
OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1 \
  timeout 120 mpirun -np 2 "$PP" run --plan "$TMP/p2.json" --data "$TMP/tokens.bin" --steps 2 --json --summary "$TMP/run-file.json" >"$TMP/run.json" 2>/dev/null
valid "pp run --json and --summary" run "$TMP/run.json" "$TMP/run-file.json"

# --- shipped files pp reads
valid "shipped clusters" cluster "$ROOT"/configs/clusters/*.json
valid "shipped schedules (the broken-* ones are well-formed; pp's validator refuses their meaning)" schedule "$ROOT"/configs/schedules/*.json

# --- documents that break the contract
mutate "a plan without stages" plan "$TMP/plan-fixed.json" 'del d["stages"]' simulate --plan "$TMP/bad.json"
mutate "a plan with tp 0" plan "$TMP/plan-fixed.json" 'd["tp"] = 0' simulate --plan "$TMP/bad.json"
mutate "a plan with an unknown schedule" plan "$TMP/plan-fixed.json" 'd["schedule"] = "2f2b"' simulate --plan "$TMP/bad.json"
mutate "a plan of another schema" plan "$TMP/plan-fixed.json" 'd["schema"] = "pp.planx"' simulate --plan "$TMP/bad.json"
mutate "a cluster with 0 GPUs per node" cluster "$ROOT/configs/clusters/dgx-h100.json" 'd["gpus_per_node"] = 0' plan --model gpt2-tiny --cluster "$TMP/bad.json" --gpus 8 --global-batch 8
mutate "a cluster without memory" cluster "$ROOT/configs/clusters/dgx-h100.json" 'del d["gpu"]["memory_gib"]' plan --model gpt2-tiny --cluster "$TMP/bad.json" --gpus 8 --global-batch 8
mutate "a profile with a negative time" profile "$TMP/profile.json" 'd["layers"][1]["fwd_ms"] = -1'
mutate "a profile without layers" profile "$TMP/profile.json" 'd["layers"] = []'
mutate "a schedule with an unknown field" schedule "$TMP/schedule-0.json" 'd["rank"] = 4' simulate --schedule-file "$TMP/bad.json"
mutate "a schedule with a malformed action" schedule "$TMP/schedule-0.json" 'd["actions"][0][0] = "X1"' simulate --schedule-file "$TMP/bad.json"
mutate "a schedule of version 2" schedule "$TMP/schedule-0.json" 'd["version"] = 2' simulate --schedule-file "$TMP/bad.json"
mutate "a simulate document with a bubble above 1" simulate "$TMP/simulate-0.json" 'd["bubble_fraction"] = 1.5'
mutate "a run summary without losses" run "$TMP/run.json" 'del d["losses"]'
mutate "a run summary with a string loss" run "$TMP/run.json" 'd["final_loss"] = "low"'
mutate "a trace without pp's otherData" trace "$TMP/trace-0.json" 'del d["otherData"]'
mutate "a compare row without figures or reason" compare "$TMP/compare.json" 'd["rows"][0] = {"schedule": "1f1b", "microbatches": 4, "virtual_stages": 1}'
mutate "an infeasible document saying feasible" plan-infeasible "$TMP/infeasible.json" 'd["feasible"] = True'

tap_summary
