# Sourced by the pp run test scripts (test_run.sh, test_run_cuda.sh). Expects PP (the binary).
# Sets TMP (removed at exit), MPI as root with more ranks than cores, one OpenBLAS thread, a token
# file $TMP/tokens.bin, the layouts' tolerance TOL, and:
#   ok NAME / not_ok NAME LINES...   results; $passed and $failed count them
#   mpi NP ARGS...                   pp under mpirun, ending after MPI_TIMEOUT s (default 180)
#   plan NAME GPUS ARGS...           $TMP/NAME.json: gpt2-tiny, global batch 8 x 32 tokens, tp $TP (1)
#   expect_failure NAME PATTERN NP ARGS...  pp fails within 60 s with an error matching PATTERN
#   reference                        the single-rank run: $TMP/single.{json,out,safetensors}
#   against NAME NP PLAN-ARGS...     a run of that plan ends at the reference's weights and losses
TMP=$(mktemp -d /tmp/pp-run-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; shift; for line in "$@"; do echo "#   $line"; done; failed=$((failed + 1)); }
mpi() { local n=$1; shift; timeout "${MPI_TIMEOUT:-180}" mpirun -np "$n" "$PP" "$@"; }

STEPS=3
# Per-kind tolerances of the relative error against the single-rank run, from docs/run.md ("How
# close is exact"): 4x (weights, exp_avg) and 8x (exp_avg_sq) the round-off scale N*u of a
# reordered sum of N = 8 x 32 tokens in float32 (u = 2^-24).
TOL="weights=6e-5,exp_avg=6e-5,exp_avg_sq=1.2e-4"
"$PP" data synth --out "$TMP/tokens.bin" --tokens 20000 --vocab 512 2>/dev/null

plan() {
  local name=$1 gpus=$2
  shift 2
  "$PP" plan --model "${MODEL:-gpt2-tiny}" --cluster cpu-local --gpus "$gpus" --global-batch 8 --seq-len 32 \
    --tp "${TP:-1}" "$@" -o "$TMP/$name.json" >/dev/null 2>"$TMP/$name.plan.err" ||
    { not_ok "plan $name" "$(cat "$TMP/$name.plan.err")"; return 1; }
}

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

reference() {
  TP=1 plan single 1 --pp 1 --microbatch-size 2 --schedule 1f1b --ckpt-interval 0 || return 1
  if mpi 1 run --plan "$TMP/single.json" --data "$TMP/tokens.bin" --steps $STEPS --json \
       --save "$TMP/single.safetensors" >"$TMP/single.out" 2>"$TMP/single.err"; then
    ok "single-rank reference run"
  else
    not_ok "single-rank reference run" "$(tail -5 "$TMP/single.err")"
    echo "$passed passed, $failed failed"
    return 1
  fi
}

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
            --tolerance "$TOL" 2>&1)
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
