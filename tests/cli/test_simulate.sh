#!/usr/bin/env bash
# `pp simulate` as users and scripts drive it: exit codes, messages, JSON, files.
#
# Usage: bash tests/cli/test_simulate.sh <path-to-pp> <configs/schedules dir>
# Prints one "ok - ..." or "not ok - ..." line per check, then "N passed, M failed".
# Exits 0 only when every check passes. Needs bash, coreutils (timeout, mktemp) and python3.

set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 <path-to-pp> <configs/schedules dir>" >&2
  exit 2
fi
PP=$(realpath "$1")
SCHEDULES=$2
if [ ! -x "$PP" ]; then
  echo "error: $PP is not an executable" >&2
  exit 2
fi
if [ ! -d "$SCHEDULES" ]; then
  echo "error: $SCHEDULES is not a directory" >&2
  exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/pp-cli-test.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/stdout
ERR=$TMP/stderr

# Fixed environment: no colours, a known chart width.
export NO_COLOR=1
export COLUMNS=120

PASSED=0
FAILED=0
RC=0

pass() {
  PASSED=$((PASSED + 1))
  echo "ok - $1"
}

fail() {
  FAILED=$((FAILED + 1))
  echo "not ok - $1"
  shift
  local line
  for line in "$@"; do echo "#   $line"; done
  if [ -s "$ERR" ]; then echo "#   stderr: $(head -c 600 "$ERR" | tr '\n' '|')"; fi
}

# pp ARGS...: runs pp under a time limit; stdout in $OUT, stderr in $ERR, exit status in $RC.
pp() {
  timeout 60 "$PP" "$@" >"$OUT" 2>"$ERR"
  RC=$?
}

# What `pp ARGS` was, for messages.
describe() { echo "pp $*"; }

# True when the output shows a crash rather than an error message.
crashed() {
  grep -Eq 'terminate called|Aborted|Segmentation fault|core dumped|stack trace|^#[0-9]+ +0x|AddressSanitizer|runtime error:' \
    "$OUT" "$ERR"
}

# python3 -c CODE FILE...: runs a Python check; prints its message on failure.
py() { python3 -c "$@" 2>&1; }

# expect_ok NAME ARGS...: exit 0, no crash.
expect_ok() {
  local name=$1
  shift
  pp "$@"
  if [ "$RC" -ne 0 ]; then
    fail "$name" "$(describe "$@") exited $RC, expected 0"
  elif crashed; then
    fail "$name" "$(describe "$@") printed a crash"
  else
    pass "$name"
  fi
}

# expect_error NAME CODE PATTERN ARGS...: exit CODE, nothing on stdout, exactly one line on stderr
# starting with "error:" and matching the extended regex PATTERN, no crash.
expect_error() {
  local name=$1 code=$2 pattern=$3
  shift 3
  pp "$@"
  local problems=()
  [ "$RC" -eq "$code" ] || problems+=("exit $RC, expected $code")
  [ -s "$OUT" ] && problems+=("stdout is not empty: $(head -c 200 "$OUT" | tr '\n' '|')")
  [ "$(wc -l <"$ERR")" -eq 1 ] || problems+=("stderr has $(wc -l <"$ERR") lines, expected 1")
  head -n 1 "$ERR" | grep -q '^error: ' || problems+=("stderr does not start with 'error: '")
  grep -Eq -- "$pattern" "$ERR" || problems+=("stderr does not match /$pattern/")
  crashed && problems+=("the output shows a crash")
  if [ ${#problems[@]} -eq 0 ]; then
    pass "$name"
  else
    fail "$name" "$(describe "$@")" "${problems[@]}"
  fi
}

# expect_invalid_schedule NAME PATTERN FILE: exit 2, nothing on stdout, "error:" first, the message
# matches PATTERN and the rank-by-step grid follows with the culprit marked "[...]".
expect_invalid_schedule() {
  local name=$1 pattern=$2 file=$3
  pp simulate --schedule-file "$file"
  local problems=()
  [ "$RC" -eq 2 ] || problems+=("exit $RC, expected 2")
  [ -s "$OUT" ] && problems+=("stdout is not empty")
  head -n 1 "$ERR" | grep -q '^error: ' || problems+=("stderr does not start with 'error: '")
  head -n 1 "$ERR" | grep -Eq -- "$pattern" || problems+=("first line does not match /$pattern/")
  grep -Eq '^ *step \|' "$ERR" || problems+=("no grid header line with 'step'")
  grep -Eq 'rank [0-9]+ \|.*\[[^ ]+\]' "$ERR" || problems+=("no grid row with a marked cell [...]")
  crashed && problems+=("the output shows a crash")
  if [ ${#problems[@]} -eq 0 ]; then
    pass "$name"
  else
    fail "$name" "pp simulate --schedule-file $file" "${problems[@]}"
  fi
}

# Temporary files a failed atomic write left in $TMP ("<path>.tmp.<pid>").
leftovers() { find "$TMP" -name '*.tmp.*'; }

# json_value FILE EXPR: prints a Python expression over the parsed JSON `d`.
json_value() {
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" \
    2>/dev/null
}

# ---------------------------------------------------------------------------------------------
# Help and version

for args in "--help" "simulate --help"; do
  # shellcheck disable=SC2086
  pp $args
  if [ "$RC" -eq 0 ] && grep -q 'Examples' "$OUT" && ! crashed; then
    pass "pp $args exits 0 and shows Examples"
  else
    fail "pp $args exits 0 and shows Examples" "exit $RC"
  fi
done

pp --version
if [ "$RC" -eq 0 ] && head -n 1 "$OUT" | grep -q '^pp '; then
  pass "pp --version exits 0 and prints 'pp <version>'"
else
  fail "pp --version exits 0 and prints 'pp <version>'" "exit $RC, first line: $(head -n 1 "$OUT")"
fi

expect_error "pp with no subcommand is a usage error" 2 'subcommand'

# ---------------------------------------------------------------------------------------------
# A default run and its numbers

pp simulate
if [ "$RC" -eq 0 ] && grep -q 'makespan' "$OUT" && ! crashed; then
  pass "default run exits 0 and prints the makespan"
else
  fail "default run exits 0 and prints the makespan" "exit $RC"
fi
if grep -q $'\033\\[' "$OUT"; then
  fail "no ANSI colours when stdout is not a terminal"
else
  pass "no ANSI colours when stdout is not a terminal"
fi

pp simulate --json
cp "$OUT" "$TMP/default.json"
if [ "$RC" -ne 0 ]; then
  fail "--json: exits 0" "exit $RC"
else
  message=$(py '
import json, sys
d = json.load(open(sys.argv[1]))
for key in ("makespan_ms", "bubble_fraction", "ranks"):
    assert key in d, "missing key " + key
assert isinstance(d["ranks"], list) and d["ranks"], "ranks is not a non-empty list"
for r in d["ranks"]:
    for key in ("rank", "busy_ms", "idle_ms", "bubble_fraction", "peak_inflight_microbatches"):
        assert key in r, "a rank misses " + key
assert [r["rank"] for r in d["ranks"]] == list(range(len(d["ranks"]))), "ranks out of order"
' "$TMP/default.json")
  if [ -z "$message" ]; then
    pass "--json: parses, has makespan_ms, bubble_fraction and per-rank metrics"
  else
    fail "--json: parses, has makespan_ms, bubble_fraction and per-rank metrics" "$message"
  fi
fi

pp simulate -k 4 -m 8 -s 1f1b --fwd-ms 1 --bwd-ms 2 --json
message=$(py '
import json, sys
d = json.load(open(sys.argv[1]))
K, M, F, B = 4, 8, 1.0, 2.0
assert abs(d["makespan_ms"] - (M + K - 1) * (F + B)) < 1e-9, "makespan_ms %r != 33" % d["makespan_ms"]
assert abs(d["bubble_fraction"] - (K - 1) / (M + K - 1)) < 1e-9, \
    "bubble_fraction %r != 9/33" % d["bubble_fraction"]
for r in d["ranks"]:
    assert abs(r["busy_ms"] + r["idle_ms"] - d["makespan_ms"]) < 1e-9, "busy + idle != makespan"
' "$OUT")
if [ "$RC" -eq 0 ] && [ -z "$message" ]; then
  pass "1f1b K=4 M=8 F=1 B=2: makespan 33 ms and bubble 9/33 (closed form)"
else
  fail "1f1b K=4 M=8 F=1 B=2: makespan 33 ms and bubble 9/33 (closed form)" "exit $RC" "$message"
fi

# ---------------------------------------------------------------------------------------------
# Trace and picture

pp simulate -k 4 -m 8 --p2p-ms 0.1 --trace "$TMP/trace.json"
message=$(py '
import json, sys
d = json.load(open(sys.argv[1]))
events = d["traceEvents"]
assert isinstance(events, list), "traceEvents is not a list"
phases = {e.get("ph") for e in events}
for ph in ("X", "s", "f"):
    assert ph in phases, "no %r events" % ph
' "$TMP/trace.json")
if [ "$RC" -eq 0 ] && [ -z "$message" ]; then
  pass "--trace writes JSON with X events and s/f flow events (--p2p-ms 0.1)"
else
  fail "--trace writes JSON with X events and s/f flow events (--p2p-ms 0.1)" "exit $RC" "$message"
fi

pp simulate -k 4 -m 8 -s interleaved -v 2 --svg "$TMP/pipe.svg"
if [ "$RC" -eq 0 ] && [ "$(head -c 4 "$TMP/pipe.svg" 2>/dev/null)" = "<svg" ] &&
  py 'import xml.dom.minidom, sys; xml.dom.minidom.parse(sys.argv[1])' "$TMP/pipe.svg" >/dev/null; then
  pass "--svg writes a well-formed SVG file"
else
  fail "--svg writes a well-formed SVG file" "exit $RC, starts with: $(head -c 20 "$TMP/pipe.svg" 2>/dev/null)"
fi

# The trace and the SVG go to a directory that does not exist: exit 4, nothing left behind.
for kind in trace svg save-schedule; do
  expect_error "--$kind into a missing directory: exit 4" 4 'nodir' \
    simulate --"$kind" "$TMP/nodir/out.file"
  if [ -e "$TMP/nodir" ] || [ -n "$(leftovers)" ]; then
    fail "--$kind into a missing directory leaves no partial file" "$(leftovers)"
  else
    pass "--$kind into a missing directory leaves no partial file"
  fi
done

# A target that is an existing directory: the write fails (exit 4) and no temporary file remains.
mkdir "$TMP/a-directory"
expect_error "--trace onto an existing directory: exit 4" 4 'a-directory' \
  simulate --trace "$TMP/a-directory"
if [ -n "$(leftovers)" ] || [ -n "$(find "$TMP/a-directory" -mindepth 1)" ]; then
  fail "--trace onto an existing directory leaves no temporary file" "$(leftovers)"
else
  pass "--trace onto an existing directory leaves no temporary file"
fi

# ---------------------------------------------------------------------------------------------
# --compare

pp simulate --compare --schedule all --microbatches 4,8
message=""
for s in gpipe 1f1b interleaved looped-bfs zb-h1 zb-h2 zb1p zb-v v-half v-min dualpipev auto; do
  for m in 4 8; do
    grep -Eq "^$s +[0-9]+ +$m " "$OUT" || message="$message no row for $s M=$m;"
  done
done
if [ "$RC" -eq 0 ] && [ -z "$message" ]; then
  pass "--compare --schedule all --microbatches 4,8: a row per schedule and M"
else
  fail "--compare --schedule all --microbatches 4,8: a row per schedule and M" "exit $RC" "$message"
fi

pp simulate --compare --schedule all --microbatches 4,8 --json
message=$(py '
import json, sys
d = json.load(open(sys.argv[1]))
rows = d["rows"]
seen = {(r["schedule"], r["microbatches"]) for r in rows}
for s in ("gpipe", "1f1b", "interleaved", "looped-bfs", "zb-h1", "zb-h2", "zb1p", "zb-v", "v-half",
          "v-min", "dualpipev", "auto"):
    for m in (4, 8):
        assert (s, m) in seen, "no row for %s M=%d" % (s, m)
for r in rows:
    assert "makespan_ms" in r or r.get("unsupported"), "row without figures or reason: %r" % r
    if "makespan_ms" in r:
        assert r["makespan_ms"] > 0 and 0 <= r["bubble_fraction"] < 1, "odd figures: %r" % r
        peaks = r["peak_inflight_per_rank"]
        assert len(peaks) == 4 and max(peaks) == r["peak_inflight_microbatches"], "per-rank peaks: %r" % r
        assert 0 <= r["steady_bubble_fraction"] <= r["bubble_fraction"] + 1e-12, "steady bubble: %r" % r
' "$OUT")
if [ "$RC" -eq 0 ] && [ -z "$message" ]; then
  pass "--compare --json: rows parse, one per schedule and M"
else
  fail "--compare --json: rows parse, one per schedule and M" "exit $RC" "$message"
fi

pp simulate --compare --schedule dualpipev -k 4 --microbatches 6
if [ "$RC" -eq 0 ] && grep -Eq '^dualpipev .*twice as many' "$OUT" && ! crashed; then
  pass "--compare dualpipev K=4 M=6: the row explains why, no crash"
else
  fail "--compare dualpipev K=4 M=6: the row explains why, no crash" "exit $RC" \
    "stdout: $(tr '\n' '|' <"$OUT")"
fi

pp simulate --compare --schedule dualpipev -k 4 --microbatches 6 --json
message=$(py '
import json, sys
rows = json.load(open(sys.argv[1]))["rows"]
assert len(rows) == 1 and rows[0]["unsupported"], "no unsupported reason: %r" % rows
assert "makespan_ms" not in rows[0], "figures for an undefined schedule"
' "$OUT")
if [ "$RC" -eq 0 ] && [ -z "$message" ]; then
  pass "--compare --json dualpipev K=4 M=6: an 'unsupported' reason instead of figures"
else
  fail "--compare --json dualpipev K=4 M=6: an 'unsupported' reason instead of figures" \
    "exit $RC" "$message"
fi

# ---------------------------------------------------------------------------------------------
# --schedule auto

pp simulate --stages 8 --microbatches 16 --schedule auto --memory-limit 4 --fwd-ms 0.6,1,1,1,1,1,1,1.6 \
  --bwd-ms 1.2,2,2,2,2,2,2,3.2 --json
message=$(py '
import json, sys
d = json.load(open(sys.argv[1]))
a = d["auto"]
assert d["schedule"] == "auto", d["schedule"]
assert a["memory_limit"] == 4 and a["peak_inflight_microbatches"] <= 4, a
assert max(r["peak_inflight_microbatches"] for r in d["ranks"]) <= 4, "a rank over the limit"
assert abs(a["makespan_ms"] - d["makespan_ms"]) < 1e-9, "auto and the simulation disagree"
assert a["lower_bound_ms"] <= d["makespan_ms"] + 1e-9, a
if "best_catalogue" in a:
    assert d["makespan_ms"] <= a["best_catalogue"]["makespan_ms"] + 1e-9, a
' "$OUT")
if [ "$RC" -eq 0 ] && [ -z "$message" ]; then
  pass "--schedule auto --memory-limit 4: within the limit, no slower than the catalogue, above the bound"
else
  fail "--schedule auto --memory-limit 4" "exit $RC" "$message"
fi

pp simulate --stages 4 --microbatches 8 --schedule auto --width 100 --no-color
if [ "$RC" -eq 0 ] && grep -q '^auto: ' "$OUT" && grep -q 'lower bound on any schedule' "$OUT"; then
  pass "--schedule auto prints how it was built, the catalogue's best and the bound"
else
  fail "--schedule auto text" "exit $RC" "stdout: $(tail -5 "$OUT" | tr '\n' '|')"
fi
expect_error "--memory-limit without --schedule auto" 2 '--memory-limit' simulate --memory-limit 4
expect_error "--memory-limit 0" 2 '--memory-limit' simulate --schedule auto --memory-limit 0
expect_error "zb-v with --virtual-stages 3" 2 'virtual-stages 2' simulate --schedule zb-v --virtual-stages 3

# ---------------------------------------------------------------------------------------------
# Bad flags: exit 2, one "error:" line naming the flag, nothing on stdout

expect_error "unknown flag" 2 '--bogus' simulate --bogus
expect_error "--stages 0" 2 '--stages' simulate --stages 0
expect_error "--stages abc" 2 '--stages' simulate --stages abc
expect_error "--microbatches -1" 2 '--microbatches' simulate --microbatches -1
expect_error "--schedule nosuch" 2 'nosuch' simulate --schedule nosuch
expect_error "--fwd-ms 1,2 with 4 stages" 2 '--fwd-ms' simulate --stages 4 --fwd-ms 1,2
expect_error "--fwd-ms -1" 2 '--fwd-ms' simulate --fwd-ms -1
expect_error "--p2p-ms with the wrong count" 2 '--p2p-ms' simulate --stages 4 --p2p-ms 1,2
expect_error "--wgrad-ms 3 --bwd-ms 2" 2 '--wgrad-ms' simulate --wgrad-ms 3 --bwd-ms 2
expect_error "--width 50" 2 '--width' simulate --width 50
expect_error "dualpipev -k 4 -m 6 (M under 2K)" 2 'twice as many micro-batches' \
  simulate --schedule dualpipev -k 4 -m 6
expect_error "interleaved -v 1" 2 'virtual-stages' simulate --schedule interleaved -v 1
expect_error "several schedules without --compare" 2 '--schedule' simulate --schedule gpipe,1f1b
expect_error "several micro-batch counts without --compare" 2 '--microbatches' \
  simulate --microbatches 4,8
expect_error "--schedule-file with --stages" 2 '--stages|--schedule-file' \
  simulate --schedule-file "$SCHEDULES/1f1b-4x8.json" --stages 4
expect_error "--compare with --schedule-file" 2 '--compare' \
  simulate --compare --schedule-file "$SCHEDULES/1f1b-4x8.json"

# Numbers the code cannot represent: costs must be finite and at most 1e9 ms (1e308 made the
# makespan infinite and the chart loop forever), counts must fit pp's ranges.
for flag in fwd-ms bwd-ms wgrad-ms p2p-ms reduce-ms optimizer-ms; do
  for value in 1e308 nan inf -1 1e400; do
    expect_error "--$flag $value: exit 2 naming the flag" 2 "--$flag" simulate --"$flag" "$value"
  done
done
expect_error "--fwd-ms 1,1e308,1,1 (one value of a list)" 2 '--fwd-ms' \
  simulate --stages 4 --fwd-ms 1,1e308,1,1
expect_error "--virtual-stages 2 with 1f1b" 2 'virtual-stages' simulate --schedule 1f1b -v 2
for args in "--stages 2147483648" "--stages -2147483649" "--stages nan" "--microbatches 2147483648" \
  "--microbatches 4,2147483648" "--virtual-stages 1073741824" "--virtual-stages 0" \
  "--virtual-stages -1" "--width 2147483648" "--width nan"; do
  # shellcheck disable=SC2086
  expect_error "$args: exit 2 naming the flag" 2 "${args%% *}" simulate $args
done

# A request too large for memory (4096 x 4096 took 10 GB and 90 s) is refused at once.
expect_error "--stages 4096 --microbatches 4096: refused before any work" 2 \
  '--stages 4096.*limit' simulate --stages 4096 --microbatches 4096
expect_error "--compare over the size limit: refused" 2 'limit' \
  simulate --compare --stages 4096 --microbatches 8,4096

# --compare prints a table: the flags of one schedule's files or a plan are refused, not ignored.
for flag in trace svg save-schedule; do
  expect_error "--compare with --$flag: exit 2 naming it" 2 "--compare.*--$flag" \
    simulate --compare --"$flag" "$TMP/compare.out"
  [ -e "$TMP/compare.out" ] && fail "--compare with --$flag writes nothing" || pass "--compare with --$flag writes nothing"
done

# ---------------------------------------------------------------------------------------------
# Outputs are checked before any work and written all or none

expect_error "--save-schedule and --trace into a missing directory: exit 4" 4 'nodir' \
  simulate --save-schedule "$TMP/first.json" --trace "$TMP/nodir/t.json"
if [ -e "$TMP/first.json" ] || grep -q wrote "$ERR"; then
  fail "one bad output: the good one is not written either" "$(ls "$TMP")"
else
  pass "one bad output: the good one is not written either"
fi

cp "$SCHEDULES/1f1b-4x8.json" "$TMP/input.json"
expect_error "--trace onto the --schedule-file: refused" 2 '--trace' \
  simulate --schedule-file "$TMP/input.json" --trace "$TMP/input.json"
if cmp -s "$SCHEDULES/1f1b-4x8.json" "$TMP/input.json"; then
  pass "--trace onto the --schedule-file leaves the input untouched"
else
  fail "--trace onto the --schedule-file leaves the input untouched"
fi
expect_error "--trace and --svg onto the same file: refused" 2 '--trace|--svg' \
  simulate --trace "$TMP/same.out" --svg "$TMP/same.out"

if [ -w /dev/full ]; then
  expect_error "--trace /dev/full: refused" 4 '/dev/full' simulate --trace /dev/full
fi
mkfifo "$TMP/fifo"
expect_error "--svg onto a FIFO: refused, no hang" 4 'fifo' simulate --svg "$TMP/fifo"
[ -p "$TMP/fifo" ] && pass "--svg onto a FIFO leaves it a FIFO" || fail "--svg onto a FIFO leaves it a FIFO"
echo original >"$TMP/target.txt"
ln -s "$TMP/target.txt" "$TMP/link.svg"
expect_error "--svg onto a symbolic link: refused" 4 'link\.svg' simulate --svg "$TMP/link.svg"
if [ -L "$TMP/link.svg" ] && [ "$(cat "$TMP/target.txt")" = original ]; then
  pass "--svg onto a symbolic link leaves the link and its target untouched"
else
  fail "--svg onto a symbolic link leaves the link and its target untouched"
fi

# A 250-character file name: the temporary name must not pass the 255-byte name limit.
long_name=$(printf 't%.0s' $(seq 1 245)).json
pp simulate --trace "$TMP/$long_name"
if [ "$RC" -eq 0 ] && py 'import json, sys; json.load(open(sys.argv[1]))' "$TMP/$long_name" >/dev/null; then
  pass "--trace to a 250-character file name"
else
  fail "--trace to a 250-character file name" "exit $RC"
fi
rm -f "$TMP/$long_name"

# Address-space limits (ulimit -v) cannot be tested under AddressSanitizer, which reserves terabytes
# of shadow memory at start: the two checks below are for ordinary builds.
if ldd "$PP" 2>/dev/null | grep -q libasan; then
  echo "# skipped under AddressSanitizer: the two ulimit -v checks"
else
# The limits are on top of the shared libraries pp maps at start (their file sizes: with CUDA
# built, NCCL and the CUDA runtime take ~0.3 GB of address space that pp simulate never touches).
LIBS_KB=$(ldd "$PP" | awk '/=> \//{print $3}' | xargs -r stat -L -c %s | awk '{s += $1} END {print int(s / 1024)}')
# A large trace is streamed to the file: under a 1 GB address-space limit the 512 x 512 trace
# (335 MB, once 4.3 GB in memory and then a crash) is written, and parses.
( ulimit -v $((1000000 + LIBS_KB)) && exec timeout 120 "$PP" simulate --stages 512 --microbatches 512 --json \
  --trace "$TMP/big-trace.json" ) >"$OUT" 2>"$ERR"
RC=$?
if [ "$RC" -eq 0 ] && ! crashed && py '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["otherData"]["ranks"] == 512 and len(d["traceEvents"]) > 512 * 512 * 6
' "$TMP/big-trace.json" >/dev/null; then
  pass "512 x 512 --trace under ulimit -v 1000000: written, valid JSON"
else
  fail "512 x 512 --trace under ulimit -v 1000000: written, valid JSON" "exit $RC"
fi
rm -f "$TMP/big-trace.json"

# Memory exhaustion is a clear error, not a crash or "internal:" (exit 1).
( ulimit -v $((400000 + LIBS_KB)) && exec timeout 120 "$PP" simulate --stages 1024 --microbatches 1024 --json ) \
  >"$OUT" 2>"$ERR"
RC=$?
if [ "$RC" -eq 2 ] && [ "$(wc -l <"$ERR")" -eq 1 ] && grep -q '^error: out of memory' "$ERR" &&
  ! crashed; then
  pass "out of memory under ulimit -v: exit 2, one 'error: out of memory' line"
else
  fail "out of memory under ulimit -v: exit 2, one 'error: out of memory' line" "exit $RC"
fi
fi

# ---------------------------------------------------------------------------------------------
# Commands other than simulate: names, help, stdout

expect_error "pp show names the unknown command and the known ones" 2 "'pp show'.*simulate" show
expect_error "pp data bogus names it and the known ones" 2 "'pp data bogus'.*synth" data bogus
pp data --help
if [ "$RC" -eq 0 ] && grep -q 'pp data synth' "$OUT" && ! grep -q 'pp simulate' "$OUT"; then
  pass "pp data --help shows its own examples"
else
  fail "pp data --help shows its own examples" "exit $RC"
fi
pp run --help
if ! grep -q 'pp simulate --compare' "$OUT"; then
  pass "pp run --help does not show the top-level examples"
else
  fail "pp run --help does not show the top-level examples"
fi
(cd "$TMP" && timeout 60 "$PP" data synth --out - --tokens 100 >"$OUT" 2>"$ERR")
RC=$?
if [ "$RC" -eq 2 ] && [ ! -e "$TMP/-" ] && grep -q -- '^error: --out' "$ERR"; then
  pass "pp data synth --out -: exit 2 naming --out, no file named '-'"
else
  fail "pp data synth --out -: exit 2 naming --out, no file named '-'" "exit $RC"
fi

# ---------------------------------------------------------------------------------------------
# Bad schedule files

expect_error "--schedule-file that does not exist: exit 4 (file I/O)" 4 'nosuch\.json' \
  simulate --schedule-file "$TMP/nosuch.json"
expect_error "--schedule-file that is a directory: exit 4 (file I/O)" 4 'directory' \
  simulate --schedule-file "$TMP"

printf 'this is { not JSON\n' >"$TMP/not-json.json"
expect_error "--schedule-file that is not JSON" 2 'not-json\.json.*JSON' \
  simulate --schedule-file "$TMP/not-json.json"

: >"$TMP/empty.json"
expect_error "--schedule-file that is empty" 2 'empty\.json' \
  simulate --schedule-file "$TMP/empty.json"

# An endless device is read with a bound: an error, not a hang.
( exec timeout 20 "$PP" simulate --schedule-file /dev/zero ) >"$OUT" 2>"$ERR"
RC=$?
if { [ "$RC" -eq 4 ] || [ "$RC" -eq 2 ]; } && [ "$(wc -l <"$ERR")" -eq 1 ] &&
  grep -q '^error: .*/dev/zero' "$ERR" && ! crashed; then
  pass "--schedule-file /dev/zero: exit 4 or 2 with one error line, within 20 s"
else
  fail "--schedule-file /dev/zero: exit 4 or 2 with one error line, within 20 s" "exit $RC"
fi

cat >"$TMP/unknown-field.json" <<'EOF'
{"schema": "pp.schedule", "version": 1, "ranks": 1, "microbatches": 1, "colour": "blue",
 "actions": [["F0", "B0"]]}
EOF
expect_error "--schedule-file with an unknown field names it" 2 'colour' \
  simulate --schedule-file "$TMP/unknown-field.json"

cat >"$TMP/bad-action.json" <<'EOF'
{"schema": "pp.schedule", "version": 1, "ranks": 2, "microbatches": 1,
 "actions": [["F0", "B0"], ["F0", "X0"]]}
EOF
expect_error "--schedule-file with a bad action names its place" 2 'actions\[1\]\[1\]' \
  simulate --schedule-file "$TMP/bad-action.json"

cat >"$TMP/version-2.json" <<'EOF'
{"schema": "pp.schedule", "version": 2, "ranks": 1, "microbatches": 1, "actions": [["F0", "B0"]]}
EOF
expect_error "--schedule-file of a future version" 2 'version' \
  simulate --schedule-file "$TMP/version-2.json"

expect_invalid_schedule "broken-missing-backward.json: exit 2 with the grid" 'no backward' \
  "$SCHEDULES/broken-missing-backward.json"
expect_invalid_schedule "broken-deadlock.json: exit 2 with the grid" 'deadlock' \
  "$SCHEDULES/broken-deadlock.json"
expect_invalid_schedule "broken-order-mismatch.json: exit 2 with the grid" 'order' \
  "$SCHEDULES/broken-order-mismatch.json"

# ---------------------------------------------------------------------------------------------
# The example schedule files, and round trips

count=0
for file in "$SCHEDULES"/*.json; do
  [ -e "$file" ] || continue
  case $(basename "$file") in broken-*) continue ;; esac
  count=$((count + 1))
  pp simulate --schedule-file "$file" --json
  if [ "$RC" -eq 0 ] && [ -n "$(json_value "$OUT" 'd["makespan_ms"]')" ]; then
    pass "$(basename "$file") simulates"
  else
    fail "$(basename "$file") simulates" "exit $RC"
  fi
done
if [ "$count" -ge 3 ]; then
  pass "$count valid example schedules found in $SCHEDULES"
else
  fail "valid example schedules found in $SCHEDULES" "found $count, expected at least 3"
fi

# The committed 1f1b example is what the generator writes today.
pp simulate -k 4 -m 8 -s 1f1b --save-schedule "$TMP/1f1b-4x8.json" --json
if [ "$RC" -eq 0 ] && py '
import json, sys
assert json.load(open(sys.argv[1])) == json.load(open(sys.argv[2]))
' "$TMP/1f1b-4x8.json" "$SCHEDULES/1f1b-4x8.json" >/dev/null; then
  pass "1f1b-4x8.json matches pp simulate -k 4 -m 8 -s 1f1b --save-schedule"
else
  fail "1f1b-4x8.json matches pp simulate -k 4 -m 8 -s 1f1b --save-schedule" \
    "regenerate it with that command"
fi

round_trip() {
  local name=$1
  shift
  pp simulate "$@" --p2p-ms 0.1 --save-schedule "$TMP/saved.json" --json
  local first_rc=$RC
  local first
  first=$(json_value "$OUT" 'repr(d["makespan_ms"])')
  pp simulate --schedule-file "$TMP/saved.json" --p2p-ms 0.1 --json
  local second
  second=$(json_value "$OUT" 'repr(d["makespan_ms"])')
  if [ "$first_rc" -eq 0 ] && [ "$RC" -eq 0 ] && [ -n "$first" ] && [ "$first" = "$second" ]; then
    pass "--save-schedule then --schedule-file round-trips ($name)"
  else
    fail "--save-schedule then --schedule-file round-trips ($name)" \
      "exits $first_rc/$RC, makespan $first then $second"
  fi
}
round_trip "1f1b K=4 M=8" -k 4 -m 8 -s 1f1b
round_trip "zb-h1 K=4 M=8" -k 4 -m 8 -s zb-h1
round_trip "interleaved K=4 M=8 V=2" -k 4 -m 8 -s interleaved -v 2

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
