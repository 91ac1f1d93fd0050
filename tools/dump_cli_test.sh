#!/usr/bin/env bash
# Runs //tools:dump as `bazel run` does: from its runfiles tree, with the caller's directory in
# BUILD_WORKING_DIRECTORY and a FILE relative to it. Checks output and exit codes.
set -uo pipefail
dump=tools/dump
fail() { echo "FAIL: $*"; exit 1; }

export BUILD_WORKING_DIRECTORY="$PWD/corpus/conformance"
out=$("$dump" unary/conn001.s2c.bin); rc=$?
[ "$rc" -eq 0 ] || fail "clean capture exited $rc"
grep -q '^packet <1,1> Message len=10 "hello drpc"$' <<<"$out" || fail "missing packet line: $out"

out=$("$dump" raw_id_regression/conn001.c2s.bin --packets-only); rc=$?
[ "$rc" -eq 1 ] || fail "protocol error exited $rc"
grep -q '^error  @32 protocol error: id monotonicity violation' <<<"$out" || fail "no error line: $out"

"$dump" no/such/file.bin >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "missing file exited $rc"
"$dump" >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "missing argument exited $rc"
out=$("$dump" fail/conn001.s2c.bin --packets-only --error_format=grpc-status); rc=$?
[ "$rc" -eq 0 ] || fail "grpc-status error format exited $rc"
want='code=<undecodable: unsupported error version: 0 (it looks like an upstream drpc error body'
grep -qF "$want" <<<"$out" \
  || fail "upstream body not flagged in the fork format: $out"
"$dump" unary/conn001.s2c.bin --error_format=fork >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "unknown error format exited $rc"
"$dump" unary/conn001.s2c.bin --compression=zstd >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "unknown compression exited $rc"
echo "PASS"
