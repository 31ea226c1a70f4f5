#!/usr/bin/env bash
# `pp plan` as scripts drive it: exit codes, JSON fields, files, and the plan simulating to its
# prediction. Usage: test_plan.sh <path-to-pp>. Prints "ok"/"not ok" per check and a summary.
set -u
PP=$1
TMP=$(mktemp -d /tmp/pp-plan-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; shift; for line in "$@"; do echo "#   $line"; done; failed=$((failed + 1)); }
run() { timeout 120 "$PP" "$@" >"$TMP/out" 2>"$TMP/err"; RC=$?; }
crashed() { grep -Eq 'terminate called|Aborted|Segmentation|core dumped' "$TMP/err"; }

# expect_error NAME CODE PATTERN ARGS...: exit CODE, "error:" naming PATTERN, clean stdout.
expect_error() {
  local name=$1 code=$2 pattern=$3
  shift 3
  run "$@"
  if [ "$RC" -eq "$code" ] && head -n1 "$TMP/err" | grep -q '^error: ' &&
     grep -Eq -- "$pattern" "$TMP/err" && ! crashed && [ ! -s "$TMP/out" ]; then
    ok "$name"
  else
    not_ok "$name" "pp $*" "exit $RC (expected $code)" "stderr: $(head -c 400 "$TMP/err")"
  fi
}

run plan --help
if [ "$RC" -eq 0 ] && grep -q Examples "$TMP/out"; then ok "plan --help"; else not_ok "plan --help" "exit $RC"; fi

run plan --model gpt3-175b --cluster dgx-a100-80gb --gpus 1024 --global-batch 1536 --seq-len 2048 --json -o "$TMP/plan.json"
if [ "$RC" -eq 0 ] && python3 - "$TMP/out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
for key in ["tp", "pp", "dp", "microbatch_size", "microbatches", "schedule", "virtual_stages",
            "checkpoint_interval", "stages", "predicted"]:
    assert key in p, key
for key in ["step_time_s", "bubble_fraction", "tokens_per_s", "model_tflops_per_gpu",
            "hardware_tflops_per_gpu", "mfu", "peak_memory_bytes"]:
    assert key in p["predicted"], key
assert p["tp"] * p["pp"] * p["dp"] == 1024
assert p["dp"] * p["microbatch_size"] * p["microbatches"] == 1536
covered = 0
for s in p["stages"]:
    first, last = s["layers"]
    assert first == covered, (first, covered)
    covered = last + 1
    assert s["peak_memory_bytes"] <= 80 * 2**30 * 0.92 + 1
assert covered == 98
assert 0 < p["predicted"]["mfu"] < 1
PY
then ok "--json has the plan's fields, covers every layer, fits"; else not_ok "--json plan" "exit $RC" "$(head -c 300 "$TMP/err")"; fi

if cmp -s "$TMP/out" "$TMP/plan.json"; then ok "-o writes the same plan as --json"; else not_ok "-o plan.json"; fi

run simulate --plan "$TMP/plan.json" --json
if [ "$RC" -eq 0 ] && python3 - "$TMP/out" "$TMP/plan.json" <<'PY'
import json, sys
sim = json.load(open(sys.argv[1]))
plan = json.load(open(sys.argv[2]))
assert abs(sim["makespan_ms"] / 1000 - plan["predicted"]["step_time_s"]) < 1e-6
assert abs(sim["bubble_fraction"] - plan["predicted"]["bubble_fraction"]) < 1e-9
PY
then ok "pp simulate --plan reproduces the predicted step time"; else not_ok "simulate --plan" "exit $RC" "$(head -c 300 "$TMP/err")"; fi

run plan --model llama3-8b --gpus 8 --global-batch 64 --seq-len 4096 --show-profile --top 3
if [ "$RC" -eq 0 ] && grep -q 'embedding' "$TMP/out" && grep -q 'head' "$TMP/out" && grep -q 'block 31' "$TMP/out" &&
   [ "$(grep -cE '^ +[0-9] +[0-9]+ +[0-9]+' "$TMP/out")" -ge 1 ]; then
  ok "--show-profile prints the per-layer table, then the plans"
else
  not_ok "--show-profile" "exit $RC"
fi

run plan --model llama3-405b --cluster dgx-h100 --gpus 16 --global-batch 64 --seq-len 8192
if [ "$RC" -eq 3 ] && grep -q 'no layout fits' "$TMP/err" && grep -q 'fits on' "$TMP/err" && ! crashed; then
  ok "nothing fits: exit 3 with the reasons and what would fit"
else
  not_ok "infeasible" "exit $RC (expected 3)" "$(head -c 400 "$TMP/err")"
fi
run plan --model llama3-405b --cluster dgx-h100 --gpus 16 --global-batch 64 --seq-len 8192 --json
if [ "$RC" -eq 3 ] && python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["feasible"] is False and d["reasons"]' "$TMP/out"; then
  ok "nothing fits with --json: exit 3 and the reasons as JSON"
else
  not_ok "infeasible --json" "exit $RC"
fi

expect_error "missing --gpus" 2 "gpus" plan --model llama3-8b --global-batch 8
expect_error "--tp not dividing --gpus" 2 "--tp 3" plan --model llama3-8b --gpus 8 --global-batch 64 --tp 3
expect_error "--tp not a number" 2 "--tp" plan --model llama3-8b --gpus 8 --global-batch 64 --tp abc
expect_error "unknown schedule" 2 "--schedule" plan --model llama3-8b --gpus 8 --global-batch 64 --schedule bogus
expect_error "--seq-len beyond GPT-2's positions" 2 "--seq-len" plan --model gpt2-124m --gpus 8 --global-batch 64 --seq-len 4096
expect_error "unknown model" 4 "--model" plan --model no-such-model --gpus 8 --global-batch 64
expect_error "unknown cluster" 4 "--cluster" plan --model llama3-8b --cluster nowhere --gpus 8 --global-batch 64
printf '{"n_embd": 64}' > "$TMP/bad.json"
expect_error "model config missing a key" 2 "n_layer" plan --model "$TMP/bad.json" --gpus 8 --global-batch 64
expect_error "plan file that is not a plan" 2 "schema" simulate --plan "$TMP/bad.json"


# Every numeric flag is checked at parse, naming the flag (exit 2, never a crash or "no layout fits").
for bad in "--microbatch-size 0" "--microbatches 0" "--virtual-stages 0" "--virtual-stages 1073741824" \
           "--tp 0" "--pp 0" "--dp 0" "--ckpt-interval -1" "--mem-limit 0" "--mem-limit -5" \
           "--mem-limit nan" "--mem-limit inf" "--tp 1e3"; do
  flag=${bad%% *}
  # shellcheck disable=SC2086
  expect_error "plan $bad" 2 "$flag" plan --model llama3-8b --cluster dgx-h100 --gpus 8 --global-batch 8 $bad
done
expect_error "plan --gpus 0" 2 "--gpus" plan --model llama3-8b --gpus 0 --global-batch 8
expect_error "plan --global-batch 0" 2 "--global-batch" plan --model llama3-8b --gpus 8 --global-batch 0
expect_error "plan --seq-len 0" 2 "--seq-len" plan --model llama3-8b --gpus 8 --global-batch 8 --seq-len 0
expect_error "--microbatches 0 with interleaved" 2 "--microbatches" plan --model llama3-8b --gpus 8 --global-batch 64 --schedule interleaved --microbatches 0
expect_error "--virtual-stages with another schedule" 2 "--virtual-stages" plan --model llama3-8b --gpus 8 --global-batch 64 --schedule 1f1b --virtual-stages 2
run plan --model llama3-8b --gpus 8 --global-batch 64 --seq-len 2048 --virtual-stages 2 --json
if [ "$RC" -eq 0 ] && python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["virtual_stages"] == 2 and p["schedule"] in ("interleaved", "zb1p", "looped-bfs", "zb-v", "v-half", "v-min", "dualpipev"), p["schedule"]' "$TMP/out"; then
  ok "--virtual-stages 2 alone plans a schedule of two chunks per rank"
else
  not_ok "--virtual-stages 2 alone" "exit $RC" "$(head -c 300 "$TMP/err")"
fi


# Size limits: refused before any work, naming the limit.
python3 - "$TMP/deep.json" <<'PY'
import json, sys
json.dump({"model_type": "gpt2", "n_embd": 64, "n_layer": 1048576, "n_head": 4, "n_positions": 128,
           "vocab_size": 512}, open(sys.argv[1], "w"))
PY
expect_error "a model of 1,048,576 blocks" 2 "at most 2048 blocks" plan --model "$TMP/deep.json" --gpus 8 --global-batch 64 --seq-len 128 --show-profile
expect_error "--microbatches beyond the simulated size" 2 "--microbatches 1048576" plan --model llama3-8b --gpus 8 --global-batch 1048576 --microbatches 1048576

# A plan carries its model and cluster: it simulates after the user's config.json is gone.
mkdir -p "$TMP/own"
cp "$(dirname "$0")/../../configs/models/gpt2-tiny.json" "$TMP/own/config.json"
python3 - "$TMP/own/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["pp_name"]
json.dump(c, open(sys.argv[1], "w"))
PY
PP_ABS=$(cd "$(dirname "$PP")" && pwd)/$(basename "$PP")
(cd "$TMP/own" && timeout 120 "$PP_ABS" plan --model ./config.json --cluster cpu-local --gpus 2 --global-batch 8 --seq-len 32 -o plan.json >/dev/null 2>"$TMP/err")
rm -f "$TMP/own/config.json"
run simulate --plan "$TMP/own/plan.json" --json
if [ "$RC" -eq 0 ] && python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["version"] == 2 and p["model"] == "config" and p["model_config"]["n_layer"] == 6 and p["cluster_spec"]["name"] == "cpu-local"' "$TMP/own/plan.json"; then
  ok "a plan from ./config.json simulates with the config gone (model and cluster inside)"
else
  not_ok "self-contained plan" "exit $RC" "$(head -c 300 "$TMP/err")"
fi

# CPU clusters get plans pp run executes; GPU plans it cannot execute say so.
run plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 --json
if [ "$RC" -eq 0 ] && python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["runnable_by_pp_run"] is True' "$TMP/out"; then
  ok "cpu-local plans are runnable by pp run"
else
  not_ok "cpu-local plans runnable" "exit $RC" "$(head -c 300 "$TMP/out")"
fi
run plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 16 --seq-len 64 --tp 2 --json
if [ "$RC" -eq 0 ] && python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["tp"] == 2 and p["sequence_parallel"] is True and p["runnable_by_pp_run"] is True' "$TMP/out"; then
  ok "--tp 2 on a CPU cluster gives a tp 2 plan pp run executes"
else
  not_ok "--tp 2 on a CPU cluster" "exit $RC" "$(head -c 300 "$TMP/out")"
fi
run plan --model gpt2-tiny --cluster dgx-h100 --gpus 8 --global-batch 8 --seq-len 5 --tp 8 --json
if [ "$RC" -ne 0 ] || grep -q '^note: pp run cannot execute' "$TMP/err"; then
  ok "a tp that does not divide the heads finds no layout or says why"
else
  not_ok "tp 8 of 4 heads" "exit $RC" "$(head -c 300 "$TMP/err")"
fi
run plan --model llama3-8b --cluster dgx-h100 --gpus 8 --global-batch 64 --seq-len 2048 --tp 2 --json
if [ "$RC" -eq 0 ] && ! grep -q '^note: pp run cannot execute' "$TMP/err" &&
   python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert p["runnable_by_pp_run"] is True and p["pp_run_obstacles"] == []' "$TMP/out"; then
  ok "a Llama 3 8B plan with tp 2 is one pp run executes"
else
  not_ok "pp run obstacles" "exit $RC" "$(head -c 300 "$TMP/err")"
fi

# -o - : one JSON document on stdout, with or without --json.
for extra in "" "--json"; do
  # shellcheck disable=SC2086
  run plan --model gpt2-tiny --cluster cpu-local --gpus 2 --global-batch 8 --seq-len 32 -o - $extra
  if [ "$RC" -eq 0 ] && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/out"; then
    ok "-o - $extra prints one JSON document"
  else
    not_ok "-o - $extra" "exit $RC" "$(head -c 300 "$TMP/out")"
  fi
done

# Text: shipped names in --help, per CPU rank, no recompute note without recompute, one format
# per column, and a --seq-len default the model allows.
run plan --help
if grep -q gpt2-tiny "$TMP/out" && grep -q cpu-local "$TMP/out"; then ok "--help lists gpt2-tiny and cpu-local"; else not_ok "--help names"; fi
run plan --model gpt2-tiny --cluster cpu-local --gpus 2 --global-batch 8 --seq-len 32 --ckpt-interval 0
if [ "$RC" -eq 0 ] && grep -q 'per CPU rank' "$TMP/out" && ! grep -q 'per GPU' "$TMP/out" &&
   ! grep -q 'recompute' <(grep -v '^ ' "$TMP/out" | grep 'TFLOP/s and MFU'); then
  ok "CPU plans speak of CPU ranks and omit the recompute note"
else
  not_ok "CPU text" "exit $RC" "$(head -c 600 "$TMP/out")"
fi
if python3 - "$TMP/out" <<'PY'
import re, sys
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, l in enumerate(lines) if l.split()[:2] == ["stage", "rank"])
rows = [l.split() for l in lines[start + 1:] if l.strip()]
for col in range(3, 7):
    decimals = {len(r[col].split(".")[1]) if "." in r[col] else 0 for r in rows}
    assert len(decimals) == 1, (col, [r[col] for r in rows])
PY
then ok "one number format per column"; else not_ok "column formats" "$(tail -n 8 "$TMP/out")"; fi
run plan --model gpt2-124m --gpus 8 --global-batch 64
if [ "$RC" -eq 0 ] && grep -q '^note: --seq-len not given: planning for 1024' "$TMP/err"; then
  ok "--seq-len defaults to what the model allows, and says so"
else
  not_ok "--seq-len default" "exit $RC" "$(head -c 300 "$TMP/err")"
fi
expect_error "pp profile of a Llama model on the GPU" 2 "Llama model.*--device cpu" profile --model llama3-8b --device cuda -o "$TMP/x.json"
run profile --model llama-tiny --microbatch-size 2 --seq-len 32 --repeats 2 -o "$TMP/llama-profile.json"
if [ "$RC" -eq 0 ] && python3 - "$TMP/llama-profile.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert len(p["layers"]) == 6  # embedding, 4 decoder layers, head
for layer in p["layers"]:
    assert layer["fwd_ms"] > 0 and layer["bwd_ms"] >= layer["wgrad_ms"] >= 0
PY
then ok "pp profile measures pp run's Llama layers"; else not_ok "pp profile of llama-tiny" "exit $RC" "$(head -c 300 "$TMP/err")"; fi

# pp profile: measured per-layer costs that pp plan reads.
run profile --model gpt2-tiny --microbatch-size 2 --seq-len 32 --repeats 2 -o "$TMP/profile.json"
if [ "$RC" -eq 0 ] && python3 - "$TMP/profile.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["schema"] == "pp.profile" and len(p["layers"]) == 8
for layer in p["layers"]:
    assert layer["fwd_ms"] > 0 and layer["bwd_ms"] >= layer["wgrad_ms"] >= 0
assert p["layers"][1]["activation_bytes"] >= 0  # 0 under sanitizers, whose allocator glibc cannot count
PY
then ok "pp profile writes a profile of every layer"; else not_ok "pp profile" "exit $RC" "$(head -c 300 "$TMP/err")"; fi
run plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 8 --seq-len 32 --tp 1 --profile "$TMP/profile.json" --json
if [ "$RC" -eq 0 ] && grep -q "profile.json" "$TMP/out"; then ok "pp plan --profile plans from the measurements"; else not_ok "plan --profile" "exit $RC" "$(head -c 300 "$TMP/err")"; fi
run plan --model gpt2-tiny --cluster dgx-h100 --gpus 4 --global-batch 8 --seq-len 32 --tp 1 --profile "$TMP/profile.json"
if [ "$RC" -eq 0 ] && grep -q '^warning: --profile: .*CPU' "$TMP/err"; then ok "a CPU profile on a GPU cluster warns"; else not_ok "profile device warning" "exit $RC" "$(head -c 300 "$TMP/err")"; fi
python3 - "$TMP/profile.json" "$TMP/zero.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
for layer in p["layers"]:
    layer["fwd_ms"] = layer["bwd_ms"] = layer["wgrad_ms"] = 0
json.dump(p, open(sys.argv[2], "w"))
PY
expect_error "a profile of zero times" 2 "zero.json: layers" plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 8 --seq-len 32 --profile "$TMP/zero.json"
expect_error "a profile of another model" 2 "--profile" plan --model gpt2-124m --gpus 4 --global-batch 8 --seq-len 32 --profile "$TMP/profile.json"


# Outputs are checked before any work and never replace an input.
cp "$(dirname "$0")/../../configs/models/gpt2-tiny.json" "$TMP/cfg.json"
expect_error "pp plan -o onto its --model file" 2 "same file as --model" plan --model "$TMP/cfg.json" --cluster cpu-local --gpus 1 --global-batch 8 --seq-len 32 -o "$TMP/cfg.json"
if cmp -s "$(dirname "$0")/../../configs/models/gpt2-tiny.json" "$TMP/cfg.json"; then ok "the model config is untouched"; else not_ok "the model config is untouched"; fi
expect_error "pp plan -o into a missing directory" 4 "does not exist" plan --model gpt2-tiny --cluster cpu-local --gpus 1 --global-batch 8 --seq-len 32 -o "$TMP/no/such/plan.json"
expect_error "pp profile -o into a missing directory, before measuring" 4 "does not exist" profile --model gpt2-tiny --microbatch-size 2 --seq-len 32 -o "$TMP/no/such/profile.json"

# A number beyond double's range (1e400) in any input file: exit 2, one "error:" line naming it.
# expect_one_error NAME PATTERN ARGS...: expect_error with code 2, and nothing else on stderr.
expect_one_error() {
  local name=$1 pattern=$2
  shift 2
  expect_error "$name" 2 "$pattern" "$@"
  if [ "$(wc -l <"$TMP/err")" -ne 1 ]; then not_ok "$name: one line" "stderr: $(head -c 400 "$TMP/err")"; fi
}
# huge FILE_IN FILE_OUT KEY: FILE_IN with the first number after "KEY": replaced by 1e400.
huge() {
  python3 - "$@" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
text, n = re.subn(r'("%s"\s*:\s*)[-0-9.eE+]+' % re.escape(sys.argv[3]), r'\g<1>1e400', text, count=1)
assert n == 1, sys.argv[3]
open(sys.argv[2], "w").write(text)
PY
}
CONFIGS=$(cd "$(dirname "$0")/../../configs" && pwd)
huge "$CONFIGS/models/gpt2-tiny.json" "$TMP/huge_model.json" n_embd
huge "$CONFIGS/clusters/cpu-local.json" "$TMP/huge_cluster.json" latency_us
huge "$TMP/profile.json" "$TMP/huge_profile.json" fwd_ms
huge "$TMP/plan.json" "$TMP/huge_plan.json" step_time_s
expect_one_error "a model config with 1e400" "huge_model.json: not valid JSON" plan --model "$TMP/huge_model.json" --cluster cpu-local --gpus 2 --global-batch 8 --seq-len 32
expect_one_error "a cluster file with 1e400" "huge_cluster.json: not valid JSON" plan --model gpt2-tiny --cluster "$TMP/huge_cluster.json" --gpus 2 --global-batch 8 --seq-len 32
expect_one_error "a profile with 1e400" "huge_profile.json: not valid JSON" plan --model gpt2-tiny --cluster cpu-local --gpus 4 --global-batch 8 --seq-len 32 --tp 1 --profile "$TMP/huge_profile.json"
expect_one_error "a plan file with 1e400" "huge_plan.json: not valid JSON" simulate --plan "$TMP/huge_plan.json"

# Where a layer's time goes, and selective recompute as a choice.
K22=(--model korthikanti-22b --cluster dgx-a100-80gb --gpus 8 --global-batch 4 --seq-len 2048 --tp 8 --microbatch-size 4 --no-flash-attention --dropout)
run plan "${K22[@]}" --show-kernels --top 1
if [ "$RC" -eq 0 ] && grep -q '^block: forward' "$TMP/out" && grep -Eq 'forward +softmax' "$TMP/out" &&
   grep -Eq 'backward +qkv wgrad' "$TMP/out" && grep -Eq 'forward +attention output reduction' "$TMP/out"; then
  ok "plan --show-kernels lists each layer's kernels"
else not_ok "plan --show-kernels" "exit $RC" "$(head -c 400 "$TMP/out")"; fi
expect_error "--selective-recompute takes on, off or auto" 2 "--selective-recompute" plan "${K22[@]}" --selective-recompute maybe
run plan "${K22[@]}" --selective-recompute on --ckpt-interval 0 --json
if [ "$RC" -eq 0 ] && python3 - "$TMP/out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["selective_recompute"] is True and p["checkpoint_interval"] == 0
assert p["runnable_by_pp_run"] is False
assert any("selective recompute" in o for o in p["pp_run_obstacles"])
x = p["predicted"]
assert x["hardware_tflops_per_gpu"] > x["model_tflops_per_gpu"]  # the attention core, twice
PY
then ok "a selective-recompute plan says so, counts its recompute, and that pp run cannot execute it"
else not_ok "selective recompute plan" "exit $RC" "$(head -c 400 "$TMP/err")"; fi

# The distributed optimizer and tensor-parallel overlap as choices.
L8=(--model llama3-8b --cluster dgx-h100 --gpus 16 --global-batch 64 --seq-len 4096)
expect_error "--distributed-optimizer takes on, off or auto" 2 "--distributed-optimizer" plan "${L8[@]}" --distributed-optimizer yes
expect_error "--tp-overlap takes on, off or auto" 2 "--tp-overlap" plan "${L8[@]}" --tp-overlap 1
expect_error "--grad-dtype takes fp32 or bf16" 2 "--grad-dtype" plan "${L8[@]}" --grad-dtype fp16
expect_error "--tp-overlap on needs sequence parallelism" 2 "tp-overlap on needs sequence parallelism" plan "${L8[@]}" --tp-overlap on --no-sequence-parallel
run plan "${L8[@]}" --tp 2 --dp 4 --distributed-optimizer on --tp-overlap on --json
if [ "$RC" -eq 0 ] && python3 - "$TMP/out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["distributed_optimizer"] is True and p["tp_overlap"] is True
assert p["runnable_by_pp_run"] is True and len(p["pp_run_differences"]) == 2
PY
then ok "a plan with the distributed optimizer and tp overlap says so, and what pp run does differently"
else not_ok "distributed optimizer and tp overlap plan" "exit $RC" "$(head -c 400 "$TMP/err")"; fi
run plan "${L8[@]}" --tp 2 --dp 4 --distributed-optimizer off --tp-overlap off --top 1
if [ "$RC" -eq 0 ] && grep -Eq '^ 1 +2 +1 +2 +4 .* 0 +- +- ' "$TMP/out" && ! grep -q 'differently' "$TMP/err"; then
  ok "--distributed-optimizer off and --tp-overlap off are kept, and the table shows them"
else not_ok "choices off" "exit $RC" "$(head -c 600 "$TMP/out")"; fi

run plan "${L8[@]}" --pp 16 --schedule 1f1b --json
if [ "$RC" -eq 0 ] && python3 - "$TMP/out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
v = p["versus_auto"]
assert v["step_time_s"] < p["predicted"]["step_time_s"] and v["pp"] != 16, v
assert "vs every choice auto" in v["why"], v["why"]
PY
then ok "a fixed layout's plan carries the auto choice beside it, and why"
else not_ok "versus_auto" "exit $RC" "$(head -c 400 "$TMP/out")"; fi
run plan "${L8[@]}" --pp 16 --schedule 1f1b --top 1
if [ "$RC" -eq 0 ] && grep -q '^with every choice auto, pp would pick tp=' "$TMP/out"; then
  ok "the table says what auto would pick"
else not_ok "versus auto text" "exit $RC" "$(head -c 600 "$TMP/out")"; fi

# FP8 as a precision, and the dense-decoder families.
expect_error "--precision takes bf16 or fp8" 2 "--precision" plan "${L8[@]}" --precision fp4
expect_error "--precision fp8 needs the GPU's fp8 peak" 2 "no fp8 peak" plan --model gpt3-175b --cluster dgx-a100-80gb --gpus 64 --global-batch 64 --seq-len 2048 --precision fp8
run plan "${L8[@]}" --precision fp8 --json
if [ "$RC" -eq 0 ] && python3 - "$TMP/out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["precision"] == "fp8"
assert any("FP8" in d for d in p["pp_run_differences"])
PY
then ok "an fp8 plan says so, and that pp run computes otherwise"
else not_ok "fp8 plan" "exit $RC" "$(head -c 400 "$TMP/err")"; fi
for m in mistral-7b qwen2-7b gpt-neox-20b; do
  run plan --model $m --cluster dgx-h100 --gpus 64 --global-batch 256 --seq-len 2048 --json
  if [ "$RC" -eq 0 ]; then ok "plan $m"; else not_ok "plan $m" "exit $RC" "$(head -c 400 "$TMP/err")"; fi
done
printf '{"model_type": "mixtral", "hidden_size": 4096, "num_local_experts": 8}' > "$TMP/moe.json"
expect_error "a mixture-of-experts config is refused by name" 2 "mixture-of-experts" plan --model "$TMP/moe.json" --gpus 8 --global-batch 8

# Context parallelism.
expect_error "--cp takes a number or auto" 2 "--cp" plan "${L8[@]}" --cp two
expect_error "--cp needs flash attention" 2 "--cp above 1 needs flash attention" plan "${L8[@]}" --cp 2 --no-flash-attention
run plan --model llama3-8b --cluster dgx-h100 --gpus 16 --global-batch 64 --seq-len 16384 --cp 4 --json
if [ "$RC" -eq 0 ] && python3 - "$TMP/out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["cp"] == 4 and p["tp"] * p["cp"] * p["pp"] * p["dp"] == 16, p
assert p["runnable_by_pp_run"] is False and any("--cp 1" in o for o in p["pp_run_obstacles"])
PY
then ok "a context-parallel plan says cp, and what pp run needs instead"
else not_ok "cp plan" "exit $RC" "$(head -c 400 "$TMP/err")"; fi

# The newer schedules: a V-shape plan puts the first and the last stage on rank 0.
run plan --model llama3-8b --cluster dgx-h100 --gpus 8 --global-batch 64 --seq-len 2048 --pp 4 --schedule zb-v --json
if [ "$RC" -eq 0 ] && python3 - "$TMP/out" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
assert p["schedule"] == "zb-v" and p["virtual_stages"] == 2, p["schedule"]
ranks = [s["rank"] for s in p["stages"]]
assert ranks == [0, 1, 2, 3, 3, 2, 1, 0], ranks
PY
then ok "--schedule zb-v plans two chunks per rank in V placement"
else not_ok "--schedule zb-v" "exit $RC" "$(head -c 400 "$TMP/err")"; fi
expect_error "dualpipev with too few micro-batches" 2 "twice as many micro-batches" plan --model llama3-8b --gpus 8 --global-batch 8 --pp 4 --schedule dualpipev --microbatches 4
expect_error "zb-v with --virtual-stages 3" 2 "virtual-stages 2" plan --model llama3-8b --gpus 8 --global-batch 64 --schedule zb-v --virtual-stages 3

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
