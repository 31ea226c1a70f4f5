#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine, builds pp, and shows what it does on shipped configs:
# which schedule and how many micro-batches, a schedule over time, a custom schedule file, and a
# deliberately broken one. Pictures and traces land in out/.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/build.sh -DPP_BUILD_TESTS=OFF -DPP_BUILD_BENCHMARKS=OFF >/dev/null
pp=${PP_BUILD_DIR:-build}/bin/pp
mkdir -p out

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$pp" --version
step "$pp" simulate --compare --stages 8 --microbatches 8,16,32 --schedule all --virtual-stages 2
step "$pp" simulate --stages 4 --microbatches 8 --schedule 1f1b --p2p-ms 0.1 \
  --trace out/1f1b.json --svg out/1f1b.svg
step "$pp" simulate --stages 4 --microbatches 8 --schedule zb-h1 --fwd-ms 1 --bwd-ms 2 --wgrad-ms 1 \
  --svg out/zb-h1.svg
step "$pp" simulate --stages 4 --microbatches 8 --schedule interleaved --virtual-stages 2 \
  --svg out/interleaved.svg
step "$pp" simulate --stages 4 --microbatches 8 --fwd-ms 1,1,1,1.6 --bwd-ms 2,2,2,3.2 --schedule 1f1b
step "$pp" simulate --schedule-file configs/schedules/custom-eager-backward-2x4.json
printf '\n\033[1m$ %s\033[0m\n' "$pp simulate --schedule-file configs/schedules/broken-deadlock.json"
"$pp" simulate --schedule-file configs/schedules/broken-deadlock.json || echo "(exit code $?: rejected, as it should be)"
echo
echo "Pictures and traces are in out/ (open the .json traces in ui.perfetto.dev)."
