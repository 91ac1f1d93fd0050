#!/usr/bin/env bash
# Drives a simulation test binary (sim_test_demo) as `bazel test` and a user would: the seed range
# first, the summary and "drpc-sim:" lines, replay lines outside and under Bazel (run as printed),
# --seed with its saved tape, --tape replays (and skips tapes of other tests), --trace, --timeline,
# --shrink, --seeds,
# bad arguments, and sharding by seed: three shards add up, through //tools:sim_summary, to the
# unsharded sweep; a missing shard is reported.
set -uo pipefail
demo=sim/world/sim_test_demo
summary=tools/sim_summary
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
fail() { echo "FAIL: $*"; exit 1; }
failing=(--gtest_also_run_disabled_tests --gtest_filter=SimTestDemo.DISABLED_FailsForSomeSeeds)

# The demo as its own test: none of this test's Bazel variables leak into it.
run() {
  env -u TEST_TOTAL_SHARDS -u TEST_SHARD_INDEX -u TEST_SHARD_STATUS_FILE -u GTEST_TOTAL_SHARDS \
    -u GTEST_SHARD_INDEX -u GTEST_SHARD_STATUS_FILE -u XML_OUTPUT_FILE -u GTEST_OUTPUT \
    -u TEST_PREMATURE_EXIT_FILE -u TEST_TARGET TEST_UNDECLARED_OUTPUTS_DIR="$tmp/out" \
    "$@"
}
mkdir -p "$tmp/out"
trace_hash() { grep -o 'trace hash [0-9a-f]*' <<<"$1"; }

# A passing sweep: the range first, every seed ok, the machine-readable lines.
out=$(run "$demo" 2>&1); rc=$?
[ "$rc" -eq 0 ] || fail "the passing demo exited $rc: $out"
grep -A1 '^\[ RUN      \] SimTestDemo.EchoCallsSucceed' <<<"$out" | tail -n1 |
  grep -qx 'SimTestDemo.EchoCallsSucceed: seeds 1..20, shard 0 of 1: 20 seeds' || fail "first line: $out"
grep -q '^  ok 20, correctness 0, liveness 0, deadlock 0, leak 0, crash 0$' <<<"$out" || fail "summary: $out"
grep -q '^drpc-sim: shard scenario=SimTestDemo.EchoCallsSucceed shard=0/1 first_seed=1 seeds=20 runs=20 ok=20 ' <<<"$out" ||
  fail "no shard line: $out"

# --seeds and a bad argument.
out=$(run "$demo" --seeds=5 2>&1) || fail "--seeds=5: $out"
grep -q 'SimTestDemo.EchoCallsSucceed: seeds 1..5, shard 0 of 1: 5 seeds' <<<"$out" || fail "--seeds: $out"
out=$(run "$demo" --sed=4 2>&1); rc=$?
[ "$rc" -eq 2 ] || fail "a bad argument exited $rc"
grep -q 'unknown or malformed argument --sed=4' <<<"$out" || fail "bad argument message: $out"

# The failing sweep, unsharded: a FAIL line and replay line per failing seed.
whole=$(run "$demo" "${failing[@]}" 2>&1); rc=$?
[ "$rc" -eq 1 ] || fail "the failing demo exited $rc"
seeds=$(grep -o '^FAIL seed [0-9]*' <<<"$whole" | awk '{print $3}' | tr '\n' ' ')
[ -n "$seeds" ] || fail "no failing seed: $whole"
seed=$(awk '{print $1}' <<<"$seeds")

# Outside Bazel the replay line is the binary's own command line: run as printed, it fails the
# same way.
line=$(grep -m1 "^  replay: .*--seed=$seed\$" <<<"$whole") || fail "no replay line for seed $seed: $whole"
cmd=${line#  replay: }
[ "$cmd" = "$demo --gtest_filter=SimTestDemo.DISABLED_FailsForSomeSeeds --gtest_also_run_disabled_tests --seed=$seed" ] ||
  fail "replay line outside Bazel: $cmd"
one=$(run $cmd 2>&1); rc=$?
[ "$rc" -eq 1 ] || fail "the replay exited $rc: $one"
grep -A1 '^\[ RUN ' <<<"$one" | tail -n1 | grep -qx "seed $seed" || fail "--seed: the seed is not first: $one"
grep -q '^FAIL (correctness): an unlucky seed (planted failure)$' <<<"$one" || fail "replayed failure: $one"
tape="$tmp/out/SimTestDemo.DISABLED_FailsForSomeSeeds-$seed.tape"
[ -s "$tape" ] || fail "no tape saved at $tape"
head -n2 "$tape" | grep -q "scenario=SimTestDemo.DISABLED_FailsForSomeSeeds seed=$seed" || fail "tape header: $(head -n2 "$tape")"

# The tape replays the same run; another test skips it; --trace prints the run's events.
replayed=$(run "$demo" "${failing[@]}" --tape="$tape" 2>&1); rc=$?
[ "$rc" -eq 1 ] || fail "the tape replay exited $rc: $replayed"
[ "$(trace_hash "$replayed")" = "$(trace_hash "$one")" ] || fail "the tape replays another run: $replayed"
skipped=$(run "$demo" --gtest_filter=SimTestDemo.EchoCallsSucceed --tape="$tape" 2>&1) || fail "skip: $skipped"
grep -q 'the tape is for SimTestDemo.DISABLED_FailsForSomeSeeds' <<<"$skipped" || fail "not skipped: $skipped"
traced=$(run "$demo" "${failing[@]}" --seed="$seed" --trace 2>&1)
grep -q 'spawn #1 main' <<<"$traced" || fail "--trace printed no events"
grep -q 'node client boots' <<<"$traced" || fail "--trace printed no world notes"

# --timeline draws one run; --shrink makes the tape small, and the shrunk tape fails the same way.
drawn=$(run "$demo" "${failing[@]}" --seed="$seed" --timeline=demo.html 2>&1)
grep -q "^timeline: $tmp/out/demo.html (written)" <<<"$drawn" || fail "--timeline: $drawn"
grep -q '<svg' "$tmp/out/demo.html" || fail "the timeline has no picture"
shrunk=$(run "$demo" "${failing[@]}" --shrink="$tape" --jobs=2 2>&1); rc=$?
[ "$rc" -eq 1 ] || fail "--shrink exited $rc: $shrunk"
small="$tmp/out/SimTestDemo.DISABLED_FailsForSomeSeeds.shrunk.tape"
[ -s "$small" ] || fail "no shrunk tape: $shrunk"
grep -q '^invariant: correctness: an unlucky seed (planted failure)$' <<<"$shrunk" || fail "--shrink: $shrunk"
[ "$(grep -cv '^#' "$small")" -lt "$(grep -cv '^#' "$tape")" ] || fail "the shrunk tape is not smaller"
again=$(run "$demo" "${failing[@]}" --tape="$small" 2>&1)
grep -q '^FAIL (correctness): an unlucky seed (planted failure)$' <<<"$again" || fail "the shrunk tape: $again"

# Under Bazel the replay line is a `bazel test` command with the test's replay flags.
under=$(run env TEST_TARGET=//sim/world:sim_test_demo "$demo" "${failing[@]}" --seed="$seed" 2>&1)
grep -qx "  replay: bazel test //sim/world:sim_test_demo --//sim/world:demo_flag --test_filter=SimTestDemo.DISABLED_FailsForSomeSeeds --test_output=streamed --test_arg=--gtest_also_run_disabled_tests --test_arg=--seed=$seed" <<<"$under" ||
  fail "replay line under Bazel: $under"
grep -q "tape:   SimTestDemo.DISABLED_FailsForSomeSeeds-$seed.tape in bazel-testlogs/sim/world/sim_test_demo/test.outputs/" <<<"$under" ||
  fail "tape location under Bazel: $under"
# Bazel empties test.outputs before the next run: the shrunk tape's replay copies it out first.
stape="SimTestDemo.DISABLED_FailsForSomeSeeds.shrunk.tape"
for zipped in 0 1; do
  mkdir -p "$tmp/bin"
  if [ "$zipped" = 1 ]; then printf '#!/bin/sh\n' >"$tmp/bin/zip"; chmod +x "$tmp/bin/zip"; fi
  under=$(run env TEST_TARGET=//sim/world:sim_test_demo PATH="$tmp/bin" "$demo" "${failing[@]}" --shrink="$tape" 2>&1)
  fetch="cp bazel-testlogs/sim/world/sim_test_demo/test.outputs/$stape /tmp/drpc-sim/"
  [ "$zipped" = 1 ] && fetch="unzip -o -q bazel-testlogs/sim/world/sim_test_demo/test.outputs/outputs.zip $stape -d /tmp/drpc-sim"
  grep -qxF "  replay: mkdir -p /tmp/drpc-sim && $fetch && bazel test //sim/world:sim_test_demo --//sim/world:demo_flag --test_filter=SimTestDemo.DISABLED_FailsForSomeSeeds --test_output=streamed --test_arg=--gtest_also_run_disabled_tests --test_arg=--tape=/tmp/drpc-sim/$stape" <<<"$under" ||
    fail "shrunk tape's replay line under Bazel (zip $zipped): $under"
done

# Three shards: each runs its third of the seeds, touches the status file, and together they are
# the whole sweep.
for i in 0 1 2; do
  mkdir -p "$tmp/logs/shard_$((i + 1))_of_3"
  run env TEST_TOTAL_SHARDS=3 TEST_SHARD_INDEX=$i TEST_SHARD_STATUS_FILE="$tmp/status$i" GTEST_TOTAL_SHARDS=3 \
    GTEST_SHARD_INDEX=$i "$demo" --gtest_also_run_disabled_tests >"$tmp/logs/shard_$((i + 1))_of_3/test.log" 2>&1
  [ -e "$tmp/status$i" ] || fail "shard $i did not touch TEST_SHARD_STATUS_FILE"
  log="$tmp/logs/shard_$((i + 1))_of_3/test.log"
  grep -q "SimTestDemo.EchoCallsSucceed: seeds 1..20, shard $i of 3" "$log" || fail "shard $i ran another part: $(cat "$log")"
  grep -q "SimTestDemo.DISABLED_FailsForSomeSeeds: seeds 1..30, shard $i of 3: 10 seeds" "$log" || fail "shard $i: $(cat "$log")"
done
# Beside the shard directories Bazel leaves the target's test.log of an earlier unsharded run: not
# part of the sharded sweep, so not read.
run "$demo" --gtest_also_run_disabled_tests >"$tmp/logs/test.log" 2>&1
grep -q 'drpc-sim: shard scenario=SimTestDemo.EchoCallsSucceed shard=0/1' "$tmp/logs/test.log" ||
  fail "the unsharded run: $(cat "$tmp/logs/test.log")"
merged=$("$summary" "$tmp/logs"); rc=$?
[ "$rc" -eq 10 ] || fail "sim_summary exited $rc: $merged"
grep -q '^3 log(s) read$' <<<"$merged" || fail "logs read: $merged"
grep -q '^scenario SimTestDemo.DISABLED_FailsForSomeSeeds: seeds 1..30 over 3 shard(s), 30 runs$' <<<"$merged" || fail "merged: $merged"
grep -q '^scenario SimTestDemo.EchoCallsSucceed: seeds 1..20 over 3 shard(s), 20 runs$' <<<"$merged" || fail "merged: $merged"
merged_seeds=$(grep -o '^FAIL seed [0-9]*' <<<"$merged" | awk '{print $3}' | tr '\n' ' ')
[ "$merged_seeds" = "$seeds" ] || fail "the shards failed seeds '$merged_seeds', the whole sweep '$seeds'"
nfail=$(wc -w <<<"$seeds")
grep -q "ok $((30 - nfail)), correctness $nfail," <<<"$merged" || fail "merged counts: $merged"
grep -q 'situation demo.cut_during_calls reached in' <<<"$merged" || fail "merged situations: $merged"
partial=$("$summary" "$tmp/logs/shard_1_of_3/test.log" "$tmp/logs/shard_3_of_3/test.log"); rc=$?
[ "$rc" -eq 10 ] || fail "a partial merge with failures exited $rc"
grep -q 'MISSING shard(s) 1' <<<"$partial" || fail "missing shard not reported: $partial"
clean=$("$summary" "$tmp/logs/shard_1_of_3/test.log" "$tmp/logs/shard_3_of_3/test.log" | grep -c EchoCallsSucceed)
[ "$clean" -ge 1 ] || fail "partial merge lost the passing test"
echo PASS
