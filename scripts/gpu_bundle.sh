#!/usr/bin/env bash
# Usage: bash scripts/gpu_bundle.sh
#
# Run on the Debian 12 build machine (CUDA 13 at /usr/local/cuda, Debian's mirrors reachable, root
# for apt-get download): builds pp for Hopper (Release, sm_90, tests and benchmarks) in build-gpu/
# and packs what a GPU machine without Debian's packages needs into gpu-bundle/:
#
#   gpu-bundle/bin/pp                          the pp binary
#   gpu-bundle/tests/pp_runtime_device_test    device probe and a kernel run
#   gpu-bundle/tests/pp_cuda_tests             the CUDA kernels against the CPU backend
#   gpu-bundle/tests/pp_staged_transport_test  MPI, 2 ranks
#   gpu-bundle/tests/pp_executor_in_order_test MPI, 4 ranks
#   gpu-bundle/tests/pp_bench                  Google Benchmark (when built)
#   gpu-bundle/debs/*.deb                      Debian packages of the shared libraries they need
#   gpu-bundle/MANIFEST.txt                    commit, build flags, binaries, packages
#
# The binaries keep build-gpu/'s layout (bin/, tests/), so scripts/gpu_check.sh reads a bundle and
# a build directory alike. They are stripped. The packages are found with ldd: every library the
# binaries, OpenMPI's launcher and OpenMPI's plugins load, except glibc and the GCC runtime (any
# image has them) and CUDA's own libraries (cudart, cuBLAS, NCCL: hundreds of MiB; the GPU image
# carries them with its toolkit or PyTorch's wheels, and gpu_check.sh finds them there).
#
# Size: the `run` tool carries at most 64 MiB (the tracked tree, about 1 MiB, included), so the
# bundle must stay under 60 MiB; this script fails above that. Measured with CUDA 13.0 and
# Debian 12.11: binaries 5 MiB stripped, 27 packages 14 MiB (OpenBLAS 6.7, OpenMPI 2.4, UCX,
# libfabric, PMIx, gfortran, ...), 20 MiB in all. Time: about 10 minutes to build from nothing on
# 2 cores; with build-gpu/ up to date, about a minute (the packages' look-up and download).
#
# Then, on the GPU machine (the `run` tool, carry ["gpu-bundle"]): bash scripts/gpu_check.sh
# (docs/gpu.md).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=build-gpu
BUNDLE_DIR=gpu-bundle
MAX_MIB=60
BINARIES=(bin/pp tests/pp_runtime_device_test tests/pp_cuda_tests tests/pp_staged_transport_test
          tests/pp_executor_in_order_test)
OPTIONAL_BINARIES=(tests/pp_bench)
# OpenMPI's launcher, plugins and help files, whatever ldd says.
ALWAYS_PACKAGES=(openmpi-bin openmpi-common libopenmpi3)
# Never carried: glibc and the GCC runtime come with any image (and cannot be swapped in through
# LD_LIBRARY_PATH safely).
SKIP_PACKAGES=(libc6 libstdc++6 libgcc-s1)
MPI_LIBDIR=/usr/lib/x86_64-linux-gnu/openmpi/lib
PMIX_LIBDIR=/usr/lib/x86_64-linux-gnu/pmix2/lib

log() { echo "gpu_bundle: $*"; }
die() { echo "gpu_bundle: error: $*" >&2; exit 1; }

check_tools() {
  local tool
  for tool in cmake ldd dpkg dpkg-query apt-get strip objdump git; do
    command -v "$tool" >/dev/null || die "$tool not found (run scripts/setup.sh on Debian 12 first)"
  done
  [ -x /usr/local/cuda/bin/nvcc ] || die "no CUDA toolkit at /usr/local/cuda (nvcc missing)"
  [ -x /usr/bin/orterun ] || die "OpenMPI's orterun not found (apt-get install openmpi-bin libopenmpi-dev)"
}

build() {
  local generator=() launchers=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  if command -v ccache >/dev/null; then
    launchers=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
               -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
  fi
  export PATH=/usr/local/cuda/bin:$PATH
  log "configuring $BUILD_DIR/ (Release, sm_90, tests and benchmarks)"
  cmake -S . -B "$BUILD_DIR" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES=90 -DPP_ENABLE_CUDA=ON -DPP_BUILD_TESTS=ON \
    -DPP_BUILD_BENCHMARKS=ON "${launchers[@]}" >/dev/null
  grep -q '^PP_ENABLE_CUDA:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" \
    || die "CMake turned CUDA off in $BUILD_DIR (see its CMakeCache.txt)"
  local targets=(pp pp_runtime_device_test pp_cuda_tests pp_staged_transport_test
                 pp_executor_in_order_test)
  grep -q '^PP_BUILD_BENCHMARKS:BOOL=ON' "$BUILD_DIR/CMakeCache.txt" && targets+=(pp_bench)
  log "building ${targets[*]} with ${PP_JOBS:-$(nproc)} jobs (PP_JOBS to change)"
  cmake --build "$BUILD_DIR" -j "${PP_JOBS:-$(nproc)}" --target "${targets[@]}"
}

copy_binaries() {
  local rel
  rm -rf "${BUNDLE_DIR:?}/bin" "${BUNDLE_DIR:?}/tests"
  for rel in "${BINARIES[@]}"; do
    [ -x "$BUILD_DIR/$rel" ] || die "$BUILD_DIR/$rel was not built"
    install -D -m 755 "$BUILD_DIR/$rel" "$BUNDLE_DIR/$rel"
  done
  for rel in "${OPTIONAL_BINARIES[@]}"; do
    [ -x "$BUILD_DIR/$rel" ] && install -D -m 755 "$BUILD_DIR/$rel" "$BUNDLE_DIR/$rel"
  done
  for rel in "${BINARIES[@]}" "${OPTIONAL_BINARIES[@]}"; do
    [ -f "$BUNDLE_DIR/$rel" ] && strip "$BUNDLE_DIR/$rel"
  done
  log "binaries: $(cd "$BUNDLE_DIR" && du -ch bin tests | tail -1 | cut -f1)"
}

# The files whose libraries must resolve there: the binaries, OpenMPI's launcher and plugins.
files_to_scan() {
  local rel
  for rel in "${BINARIES[@]}" "${OPTIONAL_BINARIES[@]}"; do
    [ -f "$BUNDLE_DIR/$rel" ] && echo "$BUNDLE_DIR/$rel"
  done
  echo /usr/bin/orterun
  echo /usr/bin/orted
  find "$MPI_LIBDIR" "$PMIX_LIBDIR" -name '*.so' -type f 2>/dev/null
}

# Every library the scanned files load, one resolved path a line (CUDA's and the driver's left out).
library_paths() {
  local file out
  while read -r file; do
    out=$(ldd "$file" 2>/dev/null || true)
    if grep -q 'not found' <<<"$out"; then
      log "note: $file lacks libraries here too: $(awk '/not found/ { print $1 }' <<<"$out" | tr '\n' ' ')" >&2
    fi
    awk '$2 == "=>" && $3 ~ /^\// { print $3 }' <<<"$out"
  done < <(files_to_scan) | grep -vE '^/usr/local/cuda|/libcuda\.so|/libnvidia-' | sort -u
}

# The Debian packages that own those libraries: one dpkg -S for all of them, each path asked
# under its own name, its real path and its other spelling under merged /usr.
needed_packages() {
  local path candidate pkg paths=() candidates=()
  declare -A owner=() wanted=()
  mapfile -t paths < <(library_paths)
  for path in "${paths[@]}"; do
    candidates+=("$path" "$(readlink -f "$path")")
    case $path in /usr/*) candidates+=("${path#/usr}") ;; *) candidates+=("/usr$path") ;; esac
  done
  while IFS=$'\t' read -r pkg candidate; do
    owner[$candidate]=${pkg%%:*}
  done < <(dpkg -S "${candidates[@]}" 2>/dev/null \
             | awk -F': /' '!/^diversion/ { split($1, p, ", "); print p[1] "\t/" $2 }' || true)
  for path in "${paths[@]}"; do
    pkg=""
    for candidate in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr$path"; do
      pkg=${owner[$candidate]:-}
      [ -n "$pkg" ] && break
    done
    if [ -n "$pkg" ]; then
      wanted[$pkg]=1
    else
      log "warning: no Debian package owns $path; it is not carried" >&2
    fi
  done
  for pkg in "${ALWAYS_PACKAGES[@]}"; do wanted[$pkg]=1; done
  for pkg in "${SKIP_PACKAGES[@]}"; do unset "wanted[$pkg]"; done
  printf '%s\n' "${!wanted[@]}" | sort
}

# CUDA's libraries the binaries load: the GPU machine must have these (its toolkit or wheels).
cuda_sonames() {
  local rel
  for rel in "${BINARIES[@]}" "${OPTIONAL_BINARIES[@]}"; do
    [ -f "$BUNDLE_DIR/$rel" ] && ldd "$BUNDLE_DIR/$rel" 2>/dev/null
  done | awk '$3 ~ /^\/usr\/local\/cuda/ { print $1 }' | sort -u | tr '\n' ' '
}

download_debs() {
  local pkg version spec
  local -a specs=()
  rm -rf "${BUNDLE_DIR:?}/debs"
  mkdir -p "$BUNDLE_DIR/debs"
  while read -r pkg; do
    version=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null) || die "package $pkg is not installed"
    specs+=("$pkg=$version")
  done < <(needed_packages)
  log "downloading ${#specs[@]} packages: ${specs[*]}"
  (
    cd "$BUNDLE_DIR/debs"
    for spec in "${specs[@]}"; do
      # The installed version first (what pp was linked against), else the archive's current one.
      apt-get download -q "$spec" >/dev/null 2>&1 \
        || apt-get download -q "${spec%%=*}" >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null && apt-get download -q "${spec%%=*}" >/dev/null; } \
        || { echo "gpu_bundle: error: cannot download ${spec%%=*}" >&2; exit 1; }
    done
  )
  log "packages: $(du -sh "$BUNDLE_DIR/debs" | cut -f1) in $(find "$BUNDLE_DIR/debs" -name '*.deb' | wc -l) .debs"
}

# Highest symbol version of GLIBC or GLIBCXX the binaries ask for (the image must have it).
max_symbol_version() {
  local rel
  for rel in "${BINARIES[@]}" "${OPTIONAL_BINARIES[@]}"; do
    [ -f "$BUNDLE_DIR/$rel" ] && objdump -T "$BUNDLE_DIR/$rel" 2>/dev/null
  done | grep -oE "\b$1_[0-9.]+" | sed "s/^$1_//" | sort -uV | tail -1
}

write_manifest() {
  local rel
  {
    echo "pp GPU bundle, made by scripts/gpu_bundle.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo ' (with uncommitted changes)')"
    echo "build: Release, CMAKE_CUDA_ARCHITECTURES=90, $(/usr/local/cuda/bin/nvcc --version | grep -o 'release [0-9.]*'), $(sed -n 's/^PRETTY_NAME="\(.*\)"/\1/p' /etc/os-release)"
    echo "needs there: glibc >= $(max_symbol_version GLIBC), libstdc++ with GLIBCXX_$(max_symbol_version GLIBCXX), an NVIDIA driver for CUDA 13, $(cuda_sonames)"
    echo "binaries:"
    for rel in "${BINARIES[@]}" "${OPTIONAL_BINARIES[@]}"; do
      [ -f "$BUNDLE_DIR/$rel" ] && echo "  $rel $(du -h "$BUNDLE_DIR/$rel" | cut -f1)"
    done
    echo "packages:"
    find "$BUNDLE_DIR/debs" -name '*.deb' -printf '  %f\n' | sort
  } > "$BUNDLE_DIR/MANIFEST.txt"
}

check_size() {
  local bytes mib
  bytes=$(du -sb "$BUNDLE_DIR" | cut -f1)
  mib=$(( (bytes + 1048575) / 1048576 ))
  log "bundle: $BUNDLE_DIR/ is $mib MiB ($bytes bytes; limit $MAX_MIB MiB, the run tool carries 64 MiB with the tree)"
  [ "$mib" -le "$MAX_MIB" ] || die "$BUNDLE_DIR/ is over $MAX_MIB MiB"
}

main() {
  check_tools
  build
  mkdir -p "$BUNDLE_DIR"
  copy_binaries
  download_debs
  write_manifest
  check_size
  log "done: on the GPU machine run 'bash scripts/gpu_check.sh' with carry [\"$BUNDLE_DIR\"] (docs/gpu.md)"
}

main "$@"
