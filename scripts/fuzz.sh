#!/usr/bin/env bash
# Builds pp's libFuzzer targets (clang, ASan + UBSan, one per input format) and runs each for a
# given time, one after another at low priority, from the seeds in tests/fuzz/corpus/<format>/.
# Prints one summary line per target: executions, executions/s, crashes, hangs, peak RSS, time.
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET (default 60)] [FORMAT...]
#   FORMAT: model_config cluster profile plan schedule_file safetensors_header token_file (default
#   all). Environment: PP_FUZZ_BUILD (build dir, default build-fuzz), PP_FUZZ_WORK (corpus grown
#   and findings kept there, default $PP_FUZZ_BUILD/fuzz-work), CC/CXX (default clang/clang++).
# A finding is saved as $PP_FUZZ_WORK/<format>/crash-* (or timeout-*, oom-*); reproduce it with
#   $PP_FUZZ_BUILD/tests/pp_fuzz_<format> FILE
# Exit status: 0 when no target found anything, 1 otherwise, 2 for bad usage.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
shift || true
formats=("$@")
[[ ${#formats[@]} -gt 0 ]] ||
  formats=(model_config cluster profile plan schedule_file safetensors_header token_file)
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || { echo "error: SECONDS must be a whole number > 0" >&2; exit 2; }
build=${PP_FUZZ_BUILD:-$root/build-fuzz}
work=${PP_FUZZ_WORK:-$build/fuzz-work}

for format in "${formats[@]}"; do
  [[ -d $root/tests/fuzz/corpus/$format ]] || { echo "error: no seeds for format '$format'" >&2; exit 2; }
done

if [[ ! -f $build/build.ninja ]]; then
  CC=${CC:-clang} CXX=${CXX:-clang++} cmake -S "$root" -B "$build" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPP_BUILD_FUZZERS=ON -DPP_ENABLE_CUDA=OFF \
    -DPP_BUILD_BENCHMARKS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target "${formats[@]/#/pp_fuzz_}"

# The summary of one run from libFuzzer's log (-print_final_stats=1) and the findings it saved.
summarize() {
  local format=$1 log=$2 dir=$3 elapsed=$4
  local runs rss crashes hangs
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
  crashes=$(find "$dir" -maxdepth 1 \( -name 'crash-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  hangs=$(find "$dir" -maxdepth 1 -name 'timeout-*' | wc -l)
  runs=${runs:-0}
  printf '%-19s %12s execs %8s execs/s  crashes %s  hangs %s  peak RSS %s MB  %s s\n' "$format" \
    "$runs" "$((runs / (elapsed > 0 ? elapsed : 1)))" "$crashes" "$hangs" "${rss:-?}" "$elapsed"
  [[ $crashes -eq 0 && $hangs -eq 0 ]]
}

# The token file target writes its input to a file per execution: keep that in memory if we can.
if [[ -z ${TMPDIR:-} && -d /dev/shm && -w /dev/shm ]]; then export TMPDIR=/dev/shm; fi

status=0
summaries=()
for format in "${formats[@]}"; do
  dir=$work/$format
  mkdir -p "$dir/corpus"
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1
           -artifact_prefix="$dir/")
  [[ -f $root/tests/fuzz/$format.dict ]] && options+=(-dict="$root/tests/fuzz/$format.dict")
  start=$(date +%s)
  # The grown corpus first (libFuzzer adds to it), the checked-in seeds second (read only).
  nice -n 19 "$build/tests/pp_fuzz_$format" "${options[@]}" "$dir/corpus" \
    "$root/tests/fuzz/corpus/$format" >"$dir/log.txt" 2>&1 || true
  line=$(summarize "$format" "$dir/log.txt" "$dir" "$(($(date +%s) - start))") || status=1
  echo "$line"
  summaries+=("$line")
done
echo "--- summary (logs and findings under $work) ---"
printf '%s\n' "${summaries[@]}"
exit $status
