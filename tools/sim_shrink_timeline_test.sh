#!/usr/bin/env bash
# Runs //tools:sim's --shrink and --timeline as `bazel run` does: a failing tape shrinks (exit code
# of its failure class, before/after sizes, the shrunk tape saved with its header, a replay line
# that, run as printed, fails the same way without diverging); a sweep shrinks its first failure
# and prints the shrunk tape's replay line; --timeline writes a self-contained page for a seed, a
# tape, the shrunk run of --shrink, and a crash.
set -uo pipefail
sim=tools/sim
simt=tools/sim_with_test_scenarios
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }
replay_args() { sed -e 's|^.*replay: bazel run //tools:sim -- ||' <<<"$1"; }

# A failing tape of the racy toy.
racy=""
for seed in $(seq 1 100); do
  "$sim" --scenario=toy.racy_counter --seed="$seed" --save_tape="$tmp/racy.tape" >/dev/null 2>&1
  if [ $? -eq 10 ]; then racy=$seed; break; fi
done
[ -n "$racy" ] || fail "no failing seed of toy.racy_counter"

# --shrink: exit 10 (the failure's class), sizes, a minimal verdict, the shrunk tape and its replay.
out=$("$sim" --shrink="$tmp/racy.tape" 2>/dev/null); rc=$?
[ "$rc" -eq 10 ] || fail "--shrink exited $rc: $out"
# The policy is the one the swarm picked for the seed, recorded in the tape.
[[ "$(head -n1 <<<"$out")" == "shrink $tmp/racy.tape scenario toy.racy_counter policy "* ]] ||
  fail "first line: $out"
grep -q '^invariant: correctness: lost update: counter is #, expected #$' <<<"$out" || fail "invariant: $out"
grep -q '^before: [0-9]* decisions' <<<"$out" || fail "no before size: $out"
grep -q '^after:  [0-9]* decisions ([01] non-zero)' <<<"$out" || fail "after size: $out"
grep -q 'minimal (no pass finds a smaller failing tape)' <<<"$out" || fail "not minimal: $out"
[ -f "$tmp/racy.shrunk.tape" ] || fail "no shrunk tape: $out"
grep -qx "# policy=[a-z:=0-9]* scenario=toy.racy_counter seed=$racy shrunk_from=[0-9]*" "$tmp/racy.shrunk.tape" ||
  fail "shrunk tape header: $(head -n2 "$tmp/racy.shrunk.tape")"
line=$(grep '^replay: ' <<<"$out") || fail "no replay line: $out"
[ "$line" = "replay: bazel run //tools:sim -- --scenario=toy.racy_counter --tape=$tmp/racy.shrunk.tape" ] ||
  fail "replay line: $line"
# shellcheck disable=SC2046
out2=$("$sim" $(replay_args "$line")); rc=$?
[ "$rc" -eq 10 ] || fail "the shrunk tape's replay exited $rc: $out2"
grep -q 'lost update' <<<"$out2" || fail "the shrunk replay lost the failure: $out2"
grep -q 'diverged' <<<"$out2" && fail "the shrunk replay diverged: $out2"

# --shrink_out, --scenario from the header, and a passing tape (nothing to shrink: exit 2).
"$sim" --shrink="$tmp/racy.tape" --shrink_out="$tmp/out.tape" >/dev/null 2>&1
[ -f "$tmp/out.tape" ] || fail "--shrink_out ignored"
"$sim" --scenario=toy.interleave --seed=1 --save_tape="$tmp/pass.tape" >/dev/null 2>&1
out=$("$sim" --shrink="$tmp/pass.tape" 2>/dev/null); rc=$?
[ "$rc" -eq 2 ] || fail "shrinking a passing tape exited $rc: $out"
grep -q 'does not fail' <<<"$out" || fail "passing tape message: $out"

# A sweep shrinks its first failure and prints the shrunk tape's replay line; --shrink_first=false
# does not.
out=$("$sim" --scenario=toy.racy_counter --seeds=5 --jobs=1 --tape_dir="$tmp/sweep" 2>/dev/null)
grep -q '^shrinking the first failure (seed [0-9]*)' <<<"$out" || fail "sweep did not shrink: $out"
line=$(grep 'replay: .*--tape=.*shrunk.tape' <<<"$out") || fail "no shrunk replay line: $out"
# shellcheck disable=SC2046
"$sim" $(replay_args "$line") >/dev/null 2>&1
[ $? -eq 10 ] || fail "the sweep's shrunk tape does not fail: $line"
out=$("$sim" --scenario=toy.racy_counter --seeds=5 --jobs=1 --shrink_first=false --tape_dir="$tmp/s2" 2>/dev/null)
grep -q 'shrinking' <<<"$out" && fail "--shrink_first=false still shrank: $out"

# --timeline: a failing seed, a tape, the shrunk run of --shrink.
check_page() {  # FILE WHAT
  [ -s "$1" ] || fail "$2: no page at $1"
  head -c 15 "$1" | grep -q '<!DOCTYPE html>' || fail "$2: not an HTML page"
  grep -q '<svg xmlns="http://www.w3.org/2000/svg"' "$1" || fail "$2: no SVG"
  grep -q '<script' "$1" && fail "$2: the page has a script"
  return 0
}
out=$("$sim" --scenario=toy.racy_counter --seed="$racy" --timeline="$tmp/seed.html"); rc=$?
[ "$rc" -eq 10 ] || fail "--timeline changed the exit code: $rc"
grep -qx "timeline: $tmp/seed.html (written)" <<<"$out" || fail "timeline line: $out"
check_page "$tmp/seed.html" seed
grep -q 'lost update: counter is' "$tmp/seed.html" || fail "the seed's page lacks the failure"
"$sim" --scenario=toy.racy_counter --tape="$tmp/racy.shrunk.tape" --timeline="$tmp/tape.html" >/dev/null
check_page "$tmp/tape.html" tape
"$sim" --shrink="$tmp/racy.tape" --shrink_out="$tmp/again.tape" --timeline="$tmp/shrunk.html" >/dev/null 2>&1
check_page "$tmp/shrunk.html" shrunk
grep -q 'toy.racy_counter shrunk tape' "$tmp/shrunk.html" || fail "shrunk page title"
# A crash: the page is written before the process ends, with the failed check.
crash=""
for seed in $(seq 1 40); do
  "$simt" --scenario=test.crash --seed="$seed" >/dev/null 2>&1
  if [ $? -eq 14 ]; then crash=$seed; break; fi
done
[ -n "$crash" ] || fail "no crashing seed"
"$simt" --scenario=test.crash --seed="$crash" --timeline="$tmp/crash.html" >/dev/null 2>&1
[ $? -eq 14 ] || fail "crash with --timeline did not exit 14"
check_page "$tmp/crash.html" crash
grep -q 'crash: CHECK failed: .*deliberate crash' "$tmp/crash.html" || fail "crash page lacks the check"
echo "PASS"
