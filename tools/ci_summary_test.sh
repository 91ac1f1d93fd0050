#!/usr/bin/env bash
# .ci/summarize_bep.py counts from Bazel's build events: passed and flaky tests pass; failed tests
# and configured tests that never produced a summary (build failure, interruption) fail; non-test
# targets are ignored; the last line is "N passed, N failed"; the exit status says whether any
# failed; failing tests' logs are printed.
set -euo pipefail
summarize="$TEST_SRCDIR/$TEST_WORKSPACE/.ci/summarize_bep.py"
dir="${TEST_TMPDIR:-/tmp}/ci_summary_test"
mkdir -p "$dir"
log="$dir/failed.log"
printf 'first line of the log\nTHE ASSERTION THAT FAILED\n' > "$log"

cat > "$dir/bep.json" <<JSON
{"id":{"targetConfigured":{"label":"//a:passes"}},"configured":{"targetKind":"cc_test rule"}}
{"id":{"targetConfigured":{"label":"//a:flaky"}},"configured":{"targetKind":"cc_test rule"}}
{"id":{"targetConfigured":{"label":"//a:fails"}},"configured":{"targetKind":"sh_test rule"}}
{"id":{"targetConfigured":{"label":"//a:never_ran"}},"configured":{"targetKind":"cc_test rule"}}
{"id":{"targetConfigured":{"label":"//a:library"}},"configured":{"targetKind":"cc_library rule"}}
{"id":{"testSummary":{"label":"//a:passes"}},"testSummary":{"overallStatus":"PASSED"}}
{"id":{"testSummary":{"label":"//a:flaky"}},"testSummary":{"overallStatus":"FLAKY"}}
{"id":{"testSummary":{"label":"//a:fails"}},"testSummary":{"overallStatus":"FAILED","failed":[{"uri":"file://$log"}]}}
JSON

set +e
out=$(python3 "$summarize" "$dir/bep.json")
rc=$?
line=$(python3 "$summarize" "$dir/bep.json" --summary-line-only)
logs=$(python3 "$summarize" "$dir/bep.json" --logs-only)
set -e

fail() { echo "FAIL: $*"; echo "--- output:"; echo "$out"; exit 1; }
[ "$rc" -eq 1 ] || fail "exit status $rc, want 1"
[ "$(echo "$out" | tail -n 1)" = "2 passed, 2 failed" ] || fail "last line is not '2 passed, 2 failed'"
[ "$line" = "2 passed, 2 failed" ] || fail "--summary-line-only printed '$line'"
echo "$out" | grep -q "FAILED //a:fails: FAILED" || fail "the failed test is not named"
echo "$out" | grep -q "FAILED //a:never_ran: NOT_RUN" || fail "a test that never ran is not failed"
echo "$out" | grep -q "THE ASSERTION THAT FAILED" || fail "the failed test's log is not printed"
echo "$logs" | grep -q "passed, " && fail "--logs-only printed the summary line"

# All green: exit 0.
head -n 1 "$dir/bep.json" > "$dir/green.json"
sed -n 6p "$dir/bep.json" >> "$dir/green.json"
green=$(python3 "$summarize" "$dir/green.json") || fail "exit status non-zero for a green run"
[ "$(echo "$green" | tail -n 1)" = "1 passed, 0 failed" ] || fail "green run: '$green'"
echo "ok"
