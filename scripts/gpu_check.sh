#!/usr/bin/env bash
# Usage: bash scripts/gpu_check.sh
#
# pp's GPU checks in one command, run from the repo root of a copied tree on a GPU machine (no
# internet needed; as root or not). With the `run` tool: command "bash scripts/gpu_check.sh",
# carry ["gpu-bundle"] (docs/gpu.md). Where there is no GPU every GPU check reports skipped.
#
# 1. Binaries: gpu-bundle/ (made by scripts/gpu_bundle.sh on the Debian build machine) is
#    preferred: it was built where the project's dependencies are installed and tested, and costs
#    no device time. Without it, a build-gpu/ already there is used; without that, pp is built in
#    place when nvcc and cmake exist (minutes of device time, and only where CLI11,
#    nlohmann-json, fmt, GoogleTest, OpenMPI and OpenBLAS headers are installed).
# 2. Libraries: when ldd finds one missing, or no Open MPI mpirun is on PATH, gpu-bundle/debs is
#    unpacked into a private prefix (PP_GPU_PREFIX, default /tmp/ppdeps; never /) and
#    LD_LIBRARY_PATH, OPAL_* and PMIX_INSTALL_PREFIX point there, so the bundle's mpirun works;
#    <prefix>/env.sh holds those settings for use by hand. CUDA's libraries (cudart, cuBLAS,
#    NCCL) come from the machine: its CUDA toolkit, else PyTorch's nvidia-* wheels.
# 3. Checks, each with a time limit (together under the run tool's 600 s):
#      runtime_device         pp_runtime_device_test: device probe and a kernel run     60 s
#      cuda_kernels           pp_cuda_tests: every CUDA kernel against the CPU backend 180 s
#      mpi_staged_transport   pp_staged_transport_test under mpirun, 2 ranks            90 s
#      mpi_executor_in_order  pp_executor_in_order_test under mpirun, 4 ranks           90 s
#      bench_cuda             pp_bench --benchmark_filter=[Cc][Uu][Dd][Aa], JSON out   120 s
#      run_cuda               tests/runtime/test_run_cuda.sh: pp run on the GPU against the
#                             CPU, 4 ranks sharing the GPU (staged) per schedule, NCCL 300 s
#      bench_gpu              scripts/bench_gpu.sh: GPT-2 124M steps, pp beside PyTorch 300 s
#    All of them exceed one run-tool call (600 s): choose with PP_GPU_CHECKS, e.g.
#    PP_GPU_CHECKS="runtime_device cuda_kernels mpi" then "run_cuda" then "bench_gpu".
# 4. A summary table: passed, failed, skipped (exit 77: no GPU), or not run (and why).
#
# Logs: $OUT/gpu_check/ when OUT is set (setup.log, <check>.log, bench_cuda.json, summary.txt:
# 8 files, what the run tool brings back), else /tmp/pp_gpu_check/.
# Environment: PP_GPU_CHECKS (names above; "mpi" for both MPI checks; default: all);
# PP_GPU_DEPS=auto (default) | bundle (always unpack and use the bundle's
# libraries and mpirun) | system (never); PP_GPU_PREFIX=/tmp/ppdeps; PP_GPU_BENCH_FILTER (a
# Google Benchmark regex, default any case of "cuda"); PP_GPU_BUILD_TIMEOUT (in-place build, 420 s).
# Exit status: 0 no check failed; 1 a check failed; 2 none failed but one could not run for want
# of binaries, libraries or a working mpirun.
set -euo pipefail
cd "$(dirname "$0")/.."

BUNDLE_DIR=gpu-bundle
BUILD_DIR=build-gpu
PREFIX=${PP_GPU_PREFIX:-/tmp/ppdeps}
DEPS_MODE=${PP_GPU_DEPS:-auto}
BENCH_FILTER=${PP_GPU_BENCH_FILTER:-'[Cc][Uu][Dd][Aa]'}
T_DEVICE=60
T_KERNELS=180
T_MPI=90
T_BENCH=120
T_RUN=300
CHECKS=${PP_GPU_CHECKS:-"runtime_device cuda_kernels mpi bench_cuda run_cuda bench_gpu"}
T_BUILD=${PP_GPU_BUILD_TIMEOUT:-420}
PREFIX_MARK=.pp-gpu-check

LOG_DIR=""
BIN_ROOT=""
MPIRUN=""
MPI_PROBLEM=""
USING_BUNDLE_LIBS=0
GPU_PRESENT=unknown
FAILED=0
SETUP_PROBLEM=0
NAMES=()
RESULTS=()
NOTES=()

say() { echo "gpu_check: $*" | tee -a "$LOG_DIR/setup.log"; }
die() { echo "gpu_check: error: $*" | tee -a "$LOG_DIR/setup.log" >&2; exit 2; }

init_logs() {
  if [ -n "${OUT:-}" ]; then
    LOG_DIR=$OUT/gpu_check
  else
    LOG_DIR=${TMPDIR:-/tmp}/pp_gpu_check
    rm -rf "$LOG_DIR"
  fi
  mkdir -p "$LOG_DIR"
  : > "$LOG_DIR/setup.log"
  printf '%-22s %-8s %s\n' check result note > "$LOG_DIR/summary.txt"
}

# One line into the summary (kept on disk as it goes, in case the run is cut off).
record() {
  local name=$1 result=$2 note=$3
  NAMES+=("$name")
  RESULTS+=("$result")
  NOTES+=("$note")
  printf '%-22s %-8s %s\n' "$name" "$result" "$note" >> "$LOG_DIR/summary.txt"
  say "$name: $result${note:+ ($note)}"
}

# ---- binaries ----------------------------------------------------------------------------------

binaries() {
  local rel
  for rel in bin/pp tests/pp_runtime_device_test tests/pp_cuda_tests \
             tests/pp_staged_transport_test tests/pp_executor_in_order_test tests/pp_bench; do
    [ -x "$BIN_ROOT/$rel" ] && echo "$BIN_ROOT/$rel"
  done
  return 0
}

build_in_place() {
  local generator=() launchers=()
  [ -d /usr/local/cuda/bin ] && export PATH=/usr/local/cuda/bin:$PATH
  command -v ninja >/dev/null && generator=(-G Ninja)
  if command -v ccache >/dev/null; then
    launchers=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
               -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  fi
  say "no $BUNDLE_DIR/: building in place in $BUILD_DIR/ (log in setup.log; limit ${T_BUILD}s)"
  if ! timeout -k 10 "$T_BUILD" cmake -S . -B "$BUILD_DIR" "${generator[@]}" \
      -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 -DPP_BUILD_TESTS=ON \
      -DPP_BUILD_BENCHMARKS=ON "${launchers[@]}" >> "$LOG_DIR/setup.log" 2>&1; then
    say "in-place configure failed: this machine lacks pp's build dependencies; make the bundle with scripts/gpu_bundle.sh instead"
    return 1
  fi
  if ! timeout -k 10 "$T_BUILD" cmake --build "$BUILD_DIR" -j "$(nproc)" --target pp \
      pp_runtime_device_test pp_cuda_tests pp_staged_transport_test pp_executor_in_order_test \
      >> "$LOG_DIR/setup.log" 2>&1; then
    say "in-place build failed (see setup.log)"
    return 1
  fi
  timeout -k 10 "$T_BUILD" cmake --build "$BUILD_DIR" -j "$(nproc)" --target pp_bench \
    >> "$LOG_DIR/setup.log" 2>&1 || say "pp_bench not built in place (benchmarks off or failed)"
}

find_binaries() {
  if [ -x "$BUNDLE_DIR/tests/pp_runtime_device_test" ]; then
    BIN_ROOT=$BUNDLE_DIR
    say "binaries: $BUNDLE_DIR/ ($(sed -n 2p "$BUNDLE_DIR/MANIFEST.txt" 2>/dev/null || echo 'no MANIFEST.txt'))"
    local made_from head
    made_from=$(sed -n 's/^commit: \([0-9a-f]*\).*/\1/p' "$BUNDLE_DIR/MANIFEST.txt" 2>/dev/null || true)
    head=$(git rev-parse HEAD 2>/dev/null || true)
    if [ -n "$made_from" ] && [ -n "$head" ] && [ "$made_from" != "$head" ]; then
      say "warning: the bundle was built from $made_from, this tree is at $head"
    fi
  elif [ -x "$BUILD_DIR/tests/pp_runtime_device_test" ]; then
    BIN_ROOT=$BUILD_DIR
    say "binaries: no $BUNDLE_DIR/, using the build in $BUILD_DIR/"
  elif command -v cmake >/dev/null && { command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ]; }; then
    build_in_place && BIN_ROOT=$BUILD_DIR
  else
    say "no $BUNDLE_DIR/ and no nvcc+cmake to build with: run scripts/gpu_bundle.sh on the build machine and carry gpu-bundle"
  fi
}

# ---- libraries ---------------------------------------------------------------------------------

# Libraries (or symbol versions) that ldd cannot find for the given files, one per line.
missing_libs() {
  local file
  for file in "$@"; do
    ldd "$file" 2>&1 | awk '/not found/ {
      if ($2 == "=>") print $1
      else if (match($0, /`[^\047]*\047/)) print substr($0, RSTART + 1, RLENGTH - 2)
      else print }' || true
  done | sort -u
}

have_debs() { ls "$BUNDLE_DIR"/debs/*.deb >/dev/null 2>&1; }

system_mpirun_ok() {
  command -v mpirun >/dev/null && mpirun --version 2>&1 | grep -q 'Open MPI'
}

# Unpacks one .deb without dpkg (ar archive holding data.tar.xz/gz), for images without dpkg-deb.
extract_deb_python() {
  python3 - "$1" "$2" <<'EOF'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
if data[:8] != b"!<arch>\n":
    sys.exit(f"{deb}: not a .deb")
pos = 8
while pos + 60 <= len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        if name.endswith(".zst"):
            sys.exit(f"{deb}: zstd-compressed, needs dpkg-deb")
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            if hasattr(tarfile, "tar_filter"):
                tar.extractall(dest, filter="tar")
            else:
                tar.extractall(dest)
        sys.exit(0)
sys.exit(f"{deb}: no data.tar member")
EOF
}

unpack_debs() {
  local debs=("$BUNDLE_DIR"/debs/*.deb) stamp deb
  case $PREFIX in
    /|"") die "PP_GPU_PREFIX must be a private directory, not '$PREFIX'" ;;
    /*) ;;
    *) die "PP_GPU_PREFIX must be an absolute path, not '$PREFIX'" ;;
  esac
  stamp=$(cd "$BUNDLE_DIR/debs" && find . -name '*.deb' -printf '%f %s\n' | sort | cksum | cut -d' ' -f1)
  if [ -f "$PREFIX/$PREFIX_MARK" ] && [ "$(cat "$PREFIX/$PREFIX_MARK")" = "$stamp" ]; then
    say "libraries: reusing the packages unpacked in $PREFIX"
    return 0
  fi
  if [ -e "$PREFIX" ] && [ ! -f "$PREFIX/$PREFIX_MARK" ]; then
    die "$PREFIX exists and was not made by gpu_check: set PP_GPU_PREFIX to another directory"
  fi
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX"
  for deb in "${debs[@]}"; do
    if command -v dpkg-deb >/dev/null; then
      dpkg-deb -x "$deb" "$PREFIX"
    else
      extract_deb_python "$deb" "$PREFIX"
    fi
  done
  echo "$stamp" > "$PREFIX/$PREFIX_MARK"
  say "libraries: unpacked ${#debs[@]} packages from $BUNDLE_DIR/debs into $PREFIX ($(du -sh "$PREFIX" | cut -f1))"
}

# LD_LIBRARY_PATH, OpenMPI's and PMIx's relocation variables for the unpacked prefix; also
# written to <prefix>/env.sh. `mpirun` there is Debian's orterun (no alternatives links).
use_prefix() {
  local lib=$PREFIX/usr/lib/x86_64-linux-gnu dirs=() dir
  for dir in "$lib" "$PREFIX/lib/x86_64-linux-gnu" "$lib/openmpi/lib" "$lib/pmix2/lib" \
             "$lib/openblas-pthread" "$lib/blas" "$lib/lapack"; do
    [ -d "$dir" ] && dirs+=("$dir")
  done
  mkdir -p "$PREFIX/bin"
  ln -sf ../usr/bin/orterun "$PREFIX/bin/mpirun"
  ln -sf ../usr/bin/orterun "$PREFIX/bin/mpiexec"
  cat > "$PREFIX/env.sh" <<EOF
# Made by scripts/gpu_check.sh: Debian's OpenMPI, OpenBLAS, fmt ... from gpu-bundle/debs.
export PATH=$PREFIX/bin:\$PATH
export LD_LIBRARY_PATH=$(IFS=:; echo "${dirs[*]}")\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
export OPAL_PREFIX=$PREFIX/usr
export OPAL_EXEC_PREFIX=$PREFIX/usr
export OPAL_BINDIR=$PREFIX/usr/bin
export OPAL_LIBDIR=$lib/openmpi/lib
export OPAL_PKGLIBDIR=$lib/openmpi/lib/openmpi3
export OPAL_DATADIR=$PREFIX/usr/share
export OPAL_PKGDATADIR=$PREFIX/usr/share/openmpi
export OPAL_SYSCONFDIR=$PREFIX/etc/openmpi
export PMIX_INSTALL_PREFIX=$lib/pmix2
EOF
  # shellcheck disable=SC1091
  . "$PREFIX/env.sh"
  USING_BUNDLE_LIBS=1
  MPIRUN=$PREFIX/bin/mpirun
  say "libraries: using $PREFIX (settings in $PREFIX/env.sh)"
}

# Directories that hold CUDA's libraries: the toolkit's, the driver's, then PyTorch's wheels.
cuda_lib_candidates() {
  local dir site
  for dir in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
             /usr/local/nvidia/lib64; do
    [ -d "$dir" ] && echo "$dir"
  done
  if command -v python3 >/dev/null; then
    while read -r site; do
      [ -d "$site/nvidia" ] && find "$site/nvidia" -maxdepth 3 -type d -name lib
    done < <(env -u LD_LIBRARY_PATH python3 -c \
               'import site; print("\n".join(site.getsitepackages()))' 2>/dev/null || true)
  fi
  return 0
}

add_cuda_lib_dirs() {
  local soname dir added=()
  for soname in "$@"; do
    case $soname in lib*.so*) ;; *) continue ;; esac
    while read -r dir; do
      if [ -e "$dir/$soname" ]; then
        case ":${LD_LIBRARY_PATH:-}:" in *":$dir:"*) ;; *) added+=("$dir")
          export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$dir ;; esac
        break
      fi
    done < <(cuda_lib_candidates)
  done
  [ ${#added[@]} -eq 0 ] || say "libraries: found CUDA's in ${added[*]}"
}

probe_mpirun() {
  timeout -k 5 60 "$MPIRUN" --oversubscribe -np 2 true >> "$LOG_DIR/setup.log" 2>&1
}

setup_libraries() {
  local missing reason="" BINS
  mapfile -t BINS < <(binaries)
  mapfile -t missing < <(missing_libs "${BINS[@]}")
  case $DEPS_MODE in
    bundle) reason="PP_GPU_DEPS=bundle" ;;
    system) ;;
    auto)
      if [ ${#missing[@]} -gt 0 ]; then
        reason="missing here: ${missing[*]}"
      elif ! system_mpirun_ok; then
        reason="no Open MPI mpirun on PATH"
      fi ;;
    *) die "PP_GPU_DEPS must be auto, bundle or system, not '$DEPS_MODE'" ;;
  esac
  if [ -n "$reason" ]; then
    if have_debs; then
      say "libraries: the bundle's packages are needed ($reason)"
      unpack_debs
      use_prefix
    else
      say "libraries: $reason, and there is no $BUNDLE_DIR/debs to unpack"
    fi
  fi
  mapfile -t missing < <(missing_libs "${BINS[@]}")
  [ ${#missing[@]} -eq 0 ] || add_cuda_lib_dirs "${missing[@]}"
  mapfile -t missing < <(missing_libs "${BINS[@]}")
  if [ ${#missing[@]} -gt 0 ]; then
    say "libraries: still missing: ${missing[*]}"
  else
    say "libraries: every binary's libraries resolve"
  fi

  # Plain test output in the logs (ranks under mpirun write to a terminal, so GoogleTest colours).
  export GTEST_COLOR=no
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_rmaps_base_oversubscribe=1
  # Ranks share memory through copies only: cross-memory attach is refused in some sandboxes.
  export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
  if [ $USING_BUNDLE_LIBS = 0 ]; then
    if system_mpirun_ok; then
      MPIRUN=$(command -v mpirun)
    else
      MPI_PROBLEM="no Open MPI mpirun here and no bundle packages"
      return 0
    fi
  fi
  if probe_mpirun; then
    say "mpirun: $MPIRUN ($("$MPIRUN" --version 2>&1 | head -1)) starts 2 ranks"
  elif [ $USING_BUNDLE_LIBS = 0 ] && [ "$DEPS_MODE" = auto ] \
       && have_debs; then
    say "mpirun: $MPIRUN does not start 2 ranks (see setup.log); trying the bundle's"
    unpack_debs
    use_prefix
    probe_mpirun || MPI_PROBLEM="the bundle's mpirun does not start 2 ranks (see setup.log)"
  else
    MPI_PROBLEM="$MPIRUN does not start 2 ranks (see setup.log)"
  fi
}

# ---- the machine -------------------------------------------------------------------------------

print_machine() {
  local line
  say "machine: $(uname -srm), $(nproc) cores, $(id -un)"
  if command -v nvidia-smi >/dev/null; then
    while read -r line; do say "  $line"; done < <(nvidia-smi -L 2>&1 || true)
    say "driver: $(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1 | head -1 || true)"
  else
    say "nvidia-smi: not present"
  fi
}

print_cuda_runtime() {
  local test=$BIN_ROOT/tests/pp_runtime_device_test cudart
  [ -x "$test" ] || return 0
  cudart=$(ldd "$test" 2>/dev/null | awk '$1 ~ /^libcudart/ { print $3 }' || true)
  say "CUDA runtime: ${cudart:-not linked or not found}${cudart:+ ($(readlink -f "$cudart"))}"
  if [ -f "$LOG_DIR/runtime_device.log" ]; then
    say "pp_runtime_device_test says: $(head -1 "$LOG_DIR/runtime_device.log")"
  fi
}

# ---- the checks --------------------------------------------------------------------------------

# A short note for the summary from a check's log.
note_from_log() {
  local log=$1 rc=$2 line
  if [ "$rc" = 77 ]; then
    line=$(grep -m1 -E '^skipped:|devices: 0' "$log" || tail -n 1 "$log" || true)
    line=$(sed -e 's/^skipped: //' -e 's/^cuda built: [a-z]*, devices: 0 (\(.*\))$/\1/' <<<"$line")
  elif [ "$rc" = 0 ]; then
    line=$(grep -m1 -E '^\[  PASSED  \]|^self test:' "$log" || true)
    line=$(sed -E 's/^\[  PASSED  \] ([0-9]+ tests?)\./\1/' <<<"$line")
  else
    line=$(grep -m1 -E '^\[  FAILED  \]|FAILED|error' "$log" || tail -n 1 "$log" || true)
  fi
  echo "${line:0:100}"
}

# run_check NAME LIMIT COMMAND...: runs with a time limit, output into NAME.log, records a result.
run_check() {
  local name=$1 limit=$2 log=$LOG_DIR/$1.log rc start arg missing note
  shift 2
  for arg in "$@"; do
    case $arg in "$BIN_ROOT"/*) ;; *) continue ;; esac
    mapfile -t missing < <(missing_libs "$arg")
    if [ ${#missing[@]} -gt 0 ]; then
      record "$name" "not run" "missing libraries: ${missing[*]}"
      SETUP_PROBLEM=1
      return 0
    fi
  done
  say "$name: running (limit ${limit}s): $*"
  start=$SECONDS
  set +e
  timeout -k 10 "$limit" "$@" > "$log" 2>&1
  rc=$?
  set -e
  case $rc in
    0)
      note=$(note_from_log "$log" 0)
      record "$name" passed "${note:+$note, }$((SECONDS - start)) s" ;;
    77) record "$name" skipped "$(note_from_log "$log" 77)" ;;
    124|137)
      record "$name" failed "timed out after ${limit} s"
      FAILED=1 ;;
    *)
      note=$(note_from_log "$log" "$rc")
      record "$name" failed "exit $rc${note:+: $note}"
      FAILED=1 ;;
  esac
  if [ "$rc" != 0 ] && [ "$rc" != 77 ]; then
    tail -n 15 "$log" | sed 's/^/    /'
  fi
  return 0
}

check_runtime_device() {
  run_check runtime_device "$T_DEVICE" "$BIN_ROOT/tests/pp_runtime_device_test"
  case ${RESULTS[-1]} in
    skipped) GPU_PRESENT=no ;;
    passed|failed) GPU_PRESENT=yes ;;
  esac
}

check_cuda_kernels() {
  if [ ! -x "$BIN_ROOT/tests/pp_cuda_tests" ]; then
    record cuda_kernels "not run" "pp_cuda_tests not built (CUDA off?)"
    SETUP_PROBLEM=1
    return 0
  fi
  run_check cuda_kernels "$T_KERNELS" "$BIN_ROOT/tests/pp_cuda_tests"
}

check_mpi() {
  local name=$1 ranks=$2 binary=$3
  if [ -n "$MPI_PROBLEM" ]; then
    record "$name" "not run" "$MPI_PROBLEM"
    SETUP_PROBLEM=1
    return 0
  fi
  run_check "$name" "$T_MPI" "$MPIRUN" --oversubscribe -np "$ranks" "$BIN_ROOT/tests/$binary"
}

check_bench() {
  local bench=$BIN_ROOT/tests/pp_bench listed
  if [ ! -x "$bench" ]; then
    record bench_cuda "not run" "pp_bench not built"
    return 0
  fi
  if [ -n "$(missing_libs "$bench")" ]; then
    record bench_cuda "not run" "missing libraries: $(missing_libs "$bench" | tr '\n' ' ')"
    SETUP_PROBLEM=1
    return 0
  fi
  if [ "$GPU_PRESENT" = no ]; then
    record bench_cuda skipped "no CUDA device"
    return 0
  fi
  listed=$(timeout -k 5 60 "$bench" --benchmark_list_tests --benchmark_filter="$BENCH_FILTER" \
             2>/dev/null | grep -c . || true)
  if [ "${listed:-0}" = 0 ]; then
    record bench_cuda "not run" "no CUDA benchmarks in pp_bench yet (filter $BENCH_FILTER)"
    return 0
  fi
  run_check bench_cuda "$T_BENCH" "$bench" --benchmark_filter="$BENCH_FILTER" \
    --benchmark_out="$LOG_DIR/bench_cuda.json" --benchmark_out_format=json
}

wanted() { [[ " $CHECKS " == *" $1 "* ]]; }

# A check that drives pp run under mpirun: mpirun (the machine's or the bundle's) first on PATH.
check_with_mpirun() {
  local name=$1
  shift
  if [ -n "$MPI_PROBLEM" ]; then
    record "$name" "not run" "$MPI_PROBLEM"
    SETUP_PROBLEM=1
    return 0
  fi
  if [ "$GPU_PRESENT" = no ]; then
    record "$name" skipped "no CUDA device"
    return 0
  fi
  PATH="$(dirname "$MPIRUN"):$PATH" run_check "$name" "$T_RUN" "$@"
}

print_summary() {
  local i passed=0 skipped=0 failed=0 notrun=0
  echo
  printf '%-22s %-8s %s\n' check result note
  for i in "${!NAMES[@]}"; do
    printf '%-22s %-8s %s\n' "${NAMES[$i]}" "${RESULTS[$i]}" "${NOTES[$i]}"
    case ${RESULTS[$i]} in
      passed) passed=$((passed + 1)) ;;
      skipped) skipped=$((skipped + 1)) ;;
      failed) failed=$((failed + 1)) ;;
      *) notrun=$((notrun + 1)) ;;
    esac
  done
  echo "$passed passed, $skipped skipped, $failed failed, $notrun not run; logs in $LOG_DIR" \
    | tee -a "$LOG_DIR/summary.txt"
}

main() {
  init_logs
  print_machine
  find_binaries
  if [ -z "$BIN_ROOT" ]; then
    local name
    for name in runtime_device cuda_kernels mpi_staged_transport mpi_executor_in_order bench_cuda; do
      record "$name" "not run" "no binaries"
    done
    print_summary
    exit 2
  fi
  setup_libraries
  check_runtime_device  # always: it tells whether there is a GPU
  print_cuda_runtime
  if wanted cuda_kernels; then check_cuda_kernels; fi
  if wanted mpi; then
    check_mpi mpi_staged_transport 2 pp_staged_transport_test
    check_mpi mpi_executor_in_order 4 pp_executor_in_order_test
  fi
  if wanted bench_cuda; then check_bench; fi
  if wanted run_cuda; then
    check_with_mpirun run_cuda bash tests/runtime/test_run_cuda.sh "$BIN_ROOT/bin/pp" tests/runtime
  fi
  if wanted bench_gpu; then
    check_with_mpirun bench_gpu env OUT="$LOG_DIR" bash scripts/bench_gpu.sh "$BIN_ROOT/bin/pp" 8 1024 10
  fi
  print_summary
  [ $FAILED = 0 ] || exit 1
  [ $SETUP_PROBLEM = 0 ] || exit 2
  exit 0
}

main "$@"
