#!/usr/bin/env bash
# README "Using drpc-cpp in production", run for real: certificates from //tools:tls_certs, the
# TLS server, the client against it (and with a wrong token), metrics at SIGTERM; then the README's
# copies of both programs must equal examples/production/{server,client}.cc.
set -uo pipefail
dir=examples/production
certs="$TEST_TMPDIR/certs"
errlog="$TEST_TMPDIR/server.err"
server_pid=""
fail() {
  echo "FAIL: $*"; echo "--- server stderr:"; cat "$errlog" 2>/dev/null
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  exit 1
}

tools/tls_certs --out="$certs" >/dev/null || fail "tls_certs"
out_file="$TEST_TMPDIR/server.out"
"$dir/server" --addr=127.0.0.1:0 --cert="$certs/server.pem" --key="$certs/server.key" \
  --token=s3cret >"$out_file" 2>>"$errlog" &
server_pid=$!
for _ in $(seq 200); do grep -q '^READY ' "$out_file" && break; sleep 0.1; done
read -r ready addr <"$out_file"
[ "$ready" = READY ] || fail "no READY line"

out=$("$dir/client" --addr="$addr" --ca="$certs/ca.pem" --token=s3cret 2>&1) || fail "client: $out"
want=$'Unary: hello over TLS\nCall: thread 0\nCall: thread 1\nCall: thread 2\nCall: thread 3\nBidi: one\nBidi: two'
[ "$out" = "$want" ] || fail "client printed:
$out"
echo "ok: client"
if out=$("$dir/client" --addr="$addr" --ca="$certs/ca.pem" --token=wrong 2>&1); then
  fail "a wrong token was accepted: $out"
fi
grep -q "wrong token" <<<"$out" || fail "wrong token: $out"
echo "ok: wrong token refused"

kill -TERM "$server_pid"
wait "$server_pid" || fail "server exited non-zero"
metrics=$(cat "$out_file")
server_pid=""
grep -q '^drpc_streams_opened_total{side="server"} 7$' <<<"$metrics" || fail "metrics: $metrics"
grep -q '^drpc_streams_failed_total{side="server"} 1$' <<<"$metrics" || fail "metrics: $metrics"
grep -q 'server /interop.Echo/Bidi stream OK' "$errlog" || fail "no log line for the stream"
echo "ok: metrics and logs"

# The README's copies.
for f in server.cc client.cc; do
  awk -v marker="<!-- $dir/$f -->" '
    $0 == marker { found = 1; next }
    found == 1 && /^```cpp$/ { found = 2; next }
    found == 2 && /^```$/ { exit }
    found == 2 { print }' README.md >"$TEST_TMPDIR/$f"
  diff -u "$dir/$f" "$TEST_TMPDIR/$f" >"$TEST_TMPDIR/$f.diff" ||
    fail "README.md's $f differs from $dir/$f:
$(cat "$TEST_TMPDIR/$f.diff")"
done
echo "ok: README programs are the tested ones"
echo PASS
