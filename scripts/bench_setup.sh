# Sourced by the pp run benchmark scripts (bench_run.sh, bench_tp.sh): installs what is missing,
# builds pp (no tests or benchmarks), and sets
#   pp    the binary ($PP_BUILD_DIR/bin/pp, default build/bin/pp)
#   work  a scratch directory, removed at exit
# with MPI allowed as root and oversubscribed, and one OpenBLAS thread per rank.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build.sh -DPP_BUILD_TESTS=OFF -DPP_BUILD_BENCHMARKS=OFF >/dev/null
pp=${PP_BUILD_DIR:-build}/bin/pp
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
