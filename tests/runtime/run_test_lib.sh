# Sourced by the pp run test scripts (test_run.sh, test_run_cuda.sh). Expects PP (the binary).
# Sets TMP (removed at exit), MPI as root with more ranks than cores, one OpenBLAS thread, a token
# file $TMP/tokens.bin, the layouts' tolerance TOL, and:
#   ok NAME / not_ok NAME LINES...   results; $passed and $failed count them
#   mpi NP ARGS...                   pp under mpirun, ending after MPI_TIMEOUT s (default 180)
#   plan NAME GPUS ARGS...           $TMP/NAME.json: gpt2-tiny, global batch 8 x 32 tokens
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
  "$PP" plan --model gpt2-tiny --cluster cpu-local --gpus "$gpus" --global-batch 8 --seq-len 32 \
    --tp 1 "$@" -o "$TMP/$name.json" >/dev/null 2>"$TMP/$name.plan.err" ||
    { not_ok "plan $name" "$(cat "$TMP/$name.plan.err")"; return 1; }
}
