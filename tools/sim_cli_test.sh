#!/usr/bin/env bash
# Runs //tools:sim as `bazel run` does and checks what it prints and its exit codes: --list, a
# passing seed (exit 0, seed first), correctness (10), deadlock (12) and crash (14) failures with
# their replay lines (which are then run as printed), --tape replays of saved failing tapes, --fifo
# in replay lines and tape headers, and a sweep's replay line for every failing seed.
set -uo pipefail
sim=tools/sim
simt=tools/sim_with_test_scenarios  # tools/sim plus test-only scenarios (test.crash)
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }

# find_seed SCENARIO CODE [BINARY]: the first seed in 1..100 whose single run exits with CODE.
find_seed() {
  local bin=${3:-$sim} seed
  for seed in $(seq 1 100); do
    "$bin" --scenario="$1" --seed="$seed" >/dev/null 2>&1
    if [ $? -eq "$2" ]; then echo "$seed"; return 0; fi
  done
  return 1
}
# The arguments of a printed "replay: bazel run //tools:sim -- ARGS" line.
replay_args() { sed -e 's|^.*replay: bazel run //tools:sim -- ||' <<<"$1"; }
trace_hash() { grep -o 'trace hash [0-9a-f]*' <<<"$1"; }

# --list: the toys, and none of the test-only scenarios.
out=$("$sim" --list); rc=$?
[ "$rc" -eq 0 ] || fail "--list exited $rc"
for s in toy.ping_pong toy.interleave toy.racy_counter toy.lock_order; do
  grep -q "^$s " <<<"$out" || fail "--list misses $s: $out"
done
grep -q '^test\.' <<<"$out" && fail "//tools:sim lists test-only scenarios: $out"
# The list is captured first: under pipefail, grep -q leaving early would fail the pipeline with
# the lister's SIGPIPE once the list is longer than what grep reads before its match.
tout="$("$simt" --list)"
grep -q '^test\.crash ' <<<"$tout" || fail "the test binary lacks test.crash"

# A passing seed: exit 0, the seed on the first line, no replay line.
out=$("$sim" --scenario=toy.ping_pong --seed=3); rc=$?
[ "$rc" -eq 0 ] || fail "passing seed exited $rc: $out"
[ "$(head -n1 <<<"$out")" = "seed 3 scenario toy.ping_pong" ] || fail "first line: $out"
grep -q '^result: ok$' <<<"$out" || fail "no ok result: $out"
grep -q 'replay:' <<<"$out" && fail "a passing run printed a replay line: $out"

# Correctness (10): the racy toy. Its replay line, run as printed, and its saved tape both give
# the same failure (same trace hash).
racy=$(find_seed toy.racy_counter 10) || fail "no seed of toy.racy_counter exits 10"
out=$("$sim" --scenario=toy.racy_counter --seed="$racy" --save_tape="$tmp/racy.tape"); rc=$?
[ "$rc" -eq 10 ] || fail "racy seed $racy exited $rc: $out"
[ "$(head -n1 <<<"$out")" = "seed $racy scenario toy.racy_counter" ] || fail "first line: $out"
grep -q '^result: correctness$' <<<"$out" || fail "no correctness result: $out"
line=$(grep '^replay: ' <<<"$out") || fail "no replay line: $out"
[ "$line" = "replay: bazel run //tools:sim -- --scenario=toy.racy_counter --seed=$racy" ] ||
  fail "replay line: $line"
hash=$(trace_hash "$out")
# shellcheck disable=SC2046
out2=$("$sim" $(replay_args "$line")); rc=$?
[ "$rc" -eq 10 ] || fail "the printed replay command exited $rc: $out2"
[ "$(trace_hash "$out2")" = "$hash" ] || fail "the replay command gave another run: $out2"
grep -Eqx "# policy=(random|pct:d=[23]):ti=[0-9]+:tw=[0-9a-z]+ scenario=toy.racy_counter seed=$racy" "$tmp/racy.tape" ||
  fail "tape header: $(head -n2 "$tmp/racy.tape")"
out3=$("$sim" --scenario=toy.racy_counter --tape="$tmp/racy.tape"); rc=$?
[ "$rc" -eq 10 ] || fail "tape replay exited $rc: $out3"
[ "$(trace_hash "$out3")" = "$hash" ] || fail "tape replay gave another run: $out3"
grep -q 'lost update' <<<"$out3" || fail "tape replay lost the failure message: $out3"
grep -q 'diverged' <<<"$out3" && fail "tape replay diverged: $out3"
grep -qx "replay: bazel run //tools:sim -- --scenario=toy.racy_counter --tape=$tmp/racy.tape" \
  <<<"$out3" || fail "tape replay line: $out3"

# Deadlock (12): the lock-order toy, with both lock takers' park reasons.
dead=$(find_seed toy.lock_order 12) || fail "no seed of toy.lock_order exits 12"
out=$("$sim" --scenario=toy.lock_order --seed="$dead"); rc=$?
[ "$rc" -eq 12 ] || fail "deadlock seed exited $rc: $out"
grep -qx "replay: bazel run //tools:sim -- --scenario=toy.lock_order --seed=$dead" <<<"$out" ||
  fail "deadlock replay line: $out"
grep -q '"takes A then B" parked: lock B' <<<"$out" || fail "deadlock report: $out"

# FIFO: replay lines carry --policy=fifo, the tape header says policy=fifo, and the tape replays
# under FIFO without the flag (under the random walk it would run out of sched.pick decisions).
out=$("$sim" --scenario=toy.racy_counter --seed=1 --fifo --save_tape="$tmp/fifo.tape"); rc=$?
[ "$rc" -eq 10 ] || fail "FIFO racy run exited $rc: $out"
grep -qx "replay: bazel run //tools:sim -- --scenario=toy.racy_counter --seed=1 --policy=fifo" <<<"$out" ||
  fail "FIFO replay line: $out"
grep -q '^# policy=fifo ' "$tmp/fifo.tape" || fail "FIFO tape header: $(head -n2 "$tmp/fifo.tape")"
hash=$(trace_hash "$out")
out2=$("$sim" --scenario=toy.racy_counter --tape="$tmp/fifo.tape"); rc=$?
[ "$rc" -eq 10 ] || fail "FIFO tape replay exited $rc: $out2"
grep -qx 'policy fifo' <<<"$out2" || fail "FIFO tape replay did not use FIFO: $out2"
[ "$(trace_hash "$out2")" = "$hash" ] || fail "FIFO tape replay gave another run: $out2"
grep -q 'diverged' <<<"$out2" && fail "FIFO tape replay diverged: $out2"
out=$("$sim" --scenario=toy.racy_counter --seeds=3 --jobs=1 --fifo --tape_dir="$tmp/fifo" 2>/dev/null)
[ "$(grep -c -- '--seed=[0-9]* --policy=fifo$' <<<"$out")" -eq 3 ] || fail "FIFO sweep replay lines: $out"

# PCT: --pct is --policy=pct:d=3; the tape records it and replays under it.
out=$("$sim" --scenario=toy.interleave --seed=5 --pct --save_tape="$tmp/pct.tape"); rc=$?
[ "$rc" -eq 0 ] || fail "PCT run exited $rc: $out"
grep -qx '  policy pct:d=3:ti=30:tw=1ms' <<<"$out" || fail "PCT run's policy line: $out"
grep -q '^# policy=pct:d=3:ti=30:tw=1ms ' "$tmp/pct.tape" || fail "PCT tape header: $(head -n2 "$tmp/pct.tape")"
grep -q '^pct.priority ' "$tmp/pct.tape" || fail "PCT tape has no priorities"
hash=$(trace_hash "$out")
out2=$("$sim" --scenario=toy.interleave --tape="$tmp/pct.tape"); rc=$?
[ "$(trace_hash "$out2")" = "$hash" ] || fail "PCT tape replay gave another run: $out2"
"$sim" --scenario=toy.interleave --seed=1 --policy=pct:d=0 >/dev/null 2>&1 && fail "pct:d=0 accepted"

# Swarm (the default): the run names the policy its seed got; the replay line needs no flag.
out=$("$sim" --scenario=toy.racy_counter --seed=1); rc=$?
grep -Eq '^  policy (random|pct:d=[23]):ti=[0-9]+:tw=' <<<"$out" || fail "swarm policy line: $out"

# Exhaustive: a complete exploration of a passing toy, the first failing schedule of the racy
# one, whose saved tape replays the failure.
out=$("$sim" --scenario=toy.interleave --exhaustive --delay_bound=1); rc=$?
[ "$rc" -eq 0 ] || fail "exhaustive toy.interleave exited $rc: $out"
grep -q 'seed 1: [0-9]* schedules .*: complete' <<<"$out" || fail "exhaustive verdict: $out"
out=$("$sim" --scenario=toy.racy_counter --exhaustive --delay_bound=1 --tape_dir="$tmp"); rc=$?
[ "$rc" -eq 10 ] || fail "exhaustive racy toy exited $rc: $out"
tape=$(sed -n 's/^  tape:   \(.*\) (saved)$/\1/p' <<<"$out")
[ -f "$tape" ] || fail "exhaustive failure tape: $out"
grep -q '^# .*policy=exhaustive' "$tape" || fail "exhaustive tape header: $(head -n2 "$tape")"
out2=$("$sim" --scenario=toy.racy_counter --tape="$tape"); rc=$?
[ "$rc" -eq 10 ] || fail "exhaustive tape replay exited $rc: $out2"
grep -q 'diverged' <<<"$out2" && fail "exhaustive tape replay diverged: $out2"

# Crash (14): a failed DRPC_CHECK prints the check and the replay command, then exits 14.
crash=$(find_seed test.crash 14 "$simt") || fail "no seed of test.crash exits 14"
out=$("$simt" --scenario=test.crash --seed="$crash" 2>"$tmp/crash.err"); rc=$?
[ "$rc" -eq 14 ] || fail "crash exited $rc (want 14, not abort's 134)"
[ "$(head -n1 <<<"$out")" = "seed $crash scenario test.crash" ] || fail "first line: $out"
grep -q 'CHECK failed: .*deliberate crash' "$tmp/crash.err" || fail "no check: $(cat "$tmp/crash.err")"
grep -qx "replay: bazel run //tools:sim -- --scenario=test.crash --seed=$crash" "$tmp/crash.err" ||
  fail "crash replay line: $(cat "$tmp/crash.err")"

# A sweep with more failures than it keeps details for still prints one replay line per failing
# seed, and exits with the highest class (crash).
out=$("$simt" --scenario=test.crash --seeds=80 --jobs=2 --tape_dir="$tmp/sweep" 2>/dev/null); rc=$?
[ "$rc" -eq 14 ] || fail "sweep exited $rc: $out"
[ "$(head -n1 <<<"$out")" = "seeds 1..80 scenario test.crash" ] || fail "sweep first line: $out"
passed=$(grep -o '^  ok [0-9]*' <<<"$out" | grep -o '[0-9]*$') || fail "no summary: $out"
failed=$((80 - passed))
[ "$failed" -gt 20 ] || fail "want more than 20 failures to check the compact lines; got $failed"
[ "$(grep -c 'replay: bazel run //tools:sim -- --scenario=test.crash --seed=' <<<"$out")" -eq "$failed" ] ||
  fail "not one replay line per failing seed ($failed): $out"
echo "PASS"
