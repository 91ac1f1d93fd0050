#!/usr/bin/env bash
# bench --smoke runs every mode with tiny counts and prints one table row per measurement, with a
# ratio where there is a baseline. Timing is never asserted (shared, noisy machines).
set -euo pipefail

bench="tools/bench"
out="${TEST_TMPDIR:-/tmp}/bench_smoke.out"

"$bench" --smoke > "$out" 2>&1 || { cat "$out"; echo "FAIL: bench --smoke exited $?"; exit 1; }
cat "$out"

expect() {  # a row whose name contains $1 and that has a ratio column "N.NNx"
  if ! grep -F -- "$1" "$out" | grep -Eq '\| [0-9]+\.[0-9]+x \|'; then
    echo "FAIL: no ratio row for: $1"; exit 1
  fi
}
for where in "1 thread" "2 threads"; do
  expect "unary 64 B p50 (upstream, $where)"
  expect "unary 64 B p99 (upstream, $where)"
  expect "unary 64 B p50 (mux, $where)"
  expect "16-way unary 64 B on one mux conn ($where)"
  expect "stream 64 B (upstream, $where)"
  expect "stream 4 KiB (upstream, $where)"
  expect "stream 1 MiB (upstream, $where)"
  expect "stream 64 B (mux, $where)"
  expect "stream 1 MiB (mux, $where)"
  expect "server receive / send rate (upstream, $where)"
  expect "threads with the streams open (200 streams, $where)"
  expect "unary 64 B p99 while open (200 streams, $where)"
done
expect "calls/s (16 conns x 1 call, upstream, 1 reactor per side)"
expect "p99 (16 conns x 1 call, upstream, 2 reactors per side)"
expect "scaling 1 -> 2 reactors (16 conns, calls/s ratio)"
grep -q '^machine: ' "$out" || { echo "FAIL: no machine line"; exit 1; }
# The bench binary counts operator new: every measured row has its allocations row.
for row in "allocations per unary call (upstream, 1 thread)" "allocations per unary call (mux, 2 threads)" \
           "allocations per 64 B message (upstream, 1 thread)" "allocations per 64 B message (mux, 2 threads)"; do
  grep -F -- "| $row | " "$out" | grep -Eq '\| [0-9]+\.[0-9]+  \|' || { echo "FAIL: no row: $row"; exit 1; }
done

# Usage errors exit 2.
if "$bench" --modes=bogus > /dev/null 2>&1; then echo "FAIL: bad --modes accepted"; exit 1; fi
set +e; "$bench" --rounds=0 > /dev/null 2>&1; rc=$?; set -e
[ "$rc" -eq 2 ] || { echo "FAIL: --rounds=0 exited $rc, want 2"; exit 1; }
echo PASS
