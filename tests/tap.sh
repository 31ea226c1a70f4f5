# Sourced by pp's shell tests: TAP-like "ok - NAME" / "not ok - NAME" lines, with the failure's
# details as "#   " lines, and a summary whose status is the test's exit status.
passed=0
failed=0
ok() { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1"; shift; for line in "$@"; do echo "#   $line"; done; failed=$((failed + 1)); }
tap_summary() { echo "# $passed passed, $failed failed"; [ "$failed" -eq 0 ]; }
