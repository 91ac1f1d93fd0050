#!/usr/bin/env bash
# Starts the real //tools:echo_server binary, waits for its READY line, drives it with the real
# //tools:call binary and checks outputs and exit codes; then SIGTERM must end the server with 0.
# Timeouts here only bound failures (a server that never becomes ready); no check asks a timer of
# the server to fire before some wall-clock limit, only not before it is due.
set -uo pipefail
server_bin=tools/echo_server
call_bin=tools/call
server_pid=""
errlog="${TEST_TMPDIR:-/tmp}/echo_server.err"

fail() {
  echo "FAIL: $*"
  echo "--- server stderr:"; cat "$errlog" 2>/dev/null
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  exit 1
}

# start_server [FLAGS...]: sets server_pid and addr once the server printed "READY <addr>".
start_server() {
  coproc SERVER { exec "$server_bin" --addr=127.0.0.1:0 --reactors=2 "$@" 2>>"$errlog"; }
  server_pid=$SERVER_PID
  local ready=""
  read -r -t 20 -u "${SERVER[0]}" ready addr || fail "echo_server $* printed no READY line"
  [ "$ready" = READY ] || fail "unexpected first line: $ready $addr"
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid"; local rc=$?
  server_pid=""
  [ "$rc" -eq 0 ] || fail "echo_server exited $rc after SIGTERM"
}

# expect NAME WANT_RC WANT_STDOUT [STDERR_REGEX] -- CALL_ARGS...
expect() {
  local name=$1 want_rc=$2 want_out=$3 want_err=$4; shift 5
  local out err rc
  out=$("$call_bin" "$@" 2>"$TEST_TMPDIR/call.err" </dev/null); rc=$?
  err=$(cat "$TEST_TMPDIR/call.err")
  [ "$rc" -eq "$want_rc" ] || fail "$name: exit $rc, want $want_rc (stderr: $err)"
  [ "$out" = "$want_out" ] || fail "$name: stdout '$out', want '$want_out'"
  if [ -n "$want_err" ]; then
    grep -Eq -e "$want_err" <<<"$err" || fail "$name: stderr '$err' does not match '$want_err'"
  fi
  echo "ok: $name"
}

# --- upstream mode (the default) -------------------------------------------------------------------
start_server
expect unary 0 "hello" "" -- "$addr" /interop.Echo/Unary --data=hello
expect unary_hex 0 "6869" "" -- "$addr" /interop.Echo/Unary --data=hi --format=hex
expect fail 1 "" "^error: code=42 boom$" -- "$addr" /interop.Echo/Fail --data=x
expect meta 0 "alpha=1;beta=two" "" -- "$addr" /interop.Echo/Meta --meta=alpha=1 --meta=beta=two
expect unknown_rpc 1 "" '^error: code=0 protocol error: unknown rpc: "/interop.Echo/Nope"$' \
  -- "$addr" /interop.Echo/Nope --data=x
expect server_stream 0 $'msg-0\nmsg-1\nmsg-2' "" -- "$addr" /interop.Echo/ServerStream --stream=server --data=3
expect server_stream_bad 1 "" "^error: code=3 " -- "$addr" /interop.Echo/ServerStream --stream=server --data=x
expect bidi 0 $'one\ntwo\nthree' "" -- "$addr" /interop.Echo/Bidi --stream=bidi --data=one --data=two --data=three
expect timeout 4 "" "^error: timeout after 200ms" -- "$addr" /interop.Echo/Slow --data=x --timeout=200ms
expect usage_args 2 "" "want exactly two arguments" -- "$addr"
expect usage_stream 2 "" "--stream must be" -- "$addr" /interop.Echo/Unary --stream=sideways

# Requests from stdin: one message per line for client streams, the whole input for unary.
out=$(printf 'ab\ncde\n' | "$call_bin" "$addr" /interop.Echo/ClientStream --stream=client); rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "5" ] || fail "client_stream from stdin: exit $rc, stdout '$out'"
out=$(printf 'two\nlines' | "$call_bin" "$addr" /interop.Echo/Unary --format=hex); rc=$?
[ "$rc" -eq 0 ] && [ "$out" = "74776f0a6c696e6573" ] || fail "unary from stdin: exit $rc, '$out'"
printf 'from a file' >"$TEST_TMPDIR/req.bin"
expect data_file 0 "from a file" "" -- "$addr" /interop.Echo/Unary --data_file="$TEST_TMPDIR/req.bin"
stop_server
expect refused 3 "" "^error: .*(refused|reset)" -- "$addr" /interop.Echo/Unary --data=x

# --- mux mode --------------------------------------------------------------------------------------
start_server --mux
expect mux_unary 0 "hello mux" "" -- "$addr" /interop.Echo/Unary --mux --data="hello mux"
expect mux_fail 1 "" "^error: code=42 boom$" -- "$addr" /interop.Echo/Fail --mux --data=x
expect mux_meta 0 "k=v" "" -- "$addr" /interop.Echo/Meta --mux --meta=k=v
expect mux_bidi 0 $'a\nb' "" -- "$addr" /interop.Echo/Bidi --mux --stream=bidi --data=a --data=b
stop_server

# --- mux mode as the cockroachdb/drpc fork speaks it (README "Talking to cockroachdb/drpc") -------
# The server is configured as the fork's defaults: flow control on (2 MiB window), its Error bodies.
# Its credit stall timeout is the default here (a 3 MiB echo waits for the client's credit, which a
# loaded machine may be slow to send); the stall itself is shown on a server of its own below.
start_server --fork
head -c 3145728 /dev/zero | tr '\0' 'z' >"$TEST_TMPDIR/3mib.bin"
"$call_bin" "$addr" /interop.Echo/Unary --fork --data_file="$TEST_TMPDIR/3mib.bin" --format=raw \
  | cmp -s - "$TEST_TMPDIR/3mib.bin" || fail "fork_3mib: a 3 MiB request did not echo back"
echo "ok: fork_3mib"
out=$("$call_bin" "$addr" /interop.Echo/ServerStream --fork --stream=server --data=33000 | wc -c)
[ "$out" -eq 318890 ] || fail "fork_server_stream: $out bytes, want 318890"
echo "ok: fork_server_stream"
expect fork_fail 1 "" "^error: code=42 boom$" -- "$addr" /interop.Echo/Fail --fork --data=x
expect fork_snappy 0 "squeezed" "" -- "$addr" /interop.Echo/Unary --fork --compression=snappy --data=squeezed
expect fork_minlz_meta 0 "k=v" "" -- "$addr" /interop.Echo/Meta --fork --compression=minlz-fastest --meta=k=v
# Mismatched ends: a client without flow control still makes short calls; an upstream Error body
# reader is told the body is the fork's; a sender that never gets credit fails its stream saying why.
expect fork_client_flow_off 0 "short" "" -- "$addr" /interop.Echo/Unary --mux --flow_control=off --data=short
expect fork_error_format_mismatch 1 "" "note: .*gRPC-status error body.*boom" \
  -- "$addr" /interop.Echo/Fail --mux --error_format=upstream --data=x
expect fork_bad_flag 2 "" "" -- "$addr" /interop.Echo/Unary --stream_window=1MiB --data=x
stop_server
start_server --fork --credit_stall_timeout=1s
"$call_bin" "$addr" /interop.Echo/ServerStream --mux --flow_control=off --stream=server \
  --data=300000 >/dev/null 2>"$TEST_TMPDIR/call.err"; rc=$?
[ "$rc" -eq 1 ] && grep -Eq "^error: code=8 flow-control credit stall: .*is flow control enabled on both ends" \
  "$TEST_TMPDIR/call.err" || fail "fork_credit_stall: exit $rc, stderr $(cat "$TEST_TMPDIR/call.err")"
echo "ok: fork_credit_stall"
stop_server

# The refusals below are ended by the server (it closes the connection); the call's deadline is not
# under test, so it is an hour, not a few seconds a loaded machine could use up first.

# --- drpcmigrate header ----------------------------------------------------------------------------
start_server --migrate_header
expect migrate 0 "hdr" "" -- "$addr" /interop.Echo/Unary --migrate_header --data=hdr
expect migrate_missing 3 "" "^error: " -- "$addr" /interop.Echo/Unary --data=no-header --timeout=1h
stop_server

# --- TLS (certificates from //tools:tls_certs) -----------------------------------------------------
certs="$TEST_TMPDIR/certs"
tools/tls_certs --out="$certs" --hosts=127.0.0.1,localhost >/dev/null || fail "tls_certs"
start_server --tls_cert="$certs/server.pem" --tls_key="$certs/server.key"
expect tls_unary 0 "secret" "" -- "$addr" /interop.Echo/Unary --tls_ca="$certs/ca.pem" --data=secret
expect tls_by_name 0 "named" "" -- "localhost:${addr##*:}" /interop.Echo/Unary --tls_ca="$certs/ca.pem" --data=named
expect tls_insecure 0 "anyway" "" -- "$addr" /interop.Echo/Unary --insecure --data=anyway
expect tls_untrusted 3 "" "certificate verify failed" -- "$addr" /interop.Echo/Unary --tls --data=x
expect tls_wrong_name 3 "" "certificate verify failed" \
  -- "$addr" /interop.Echo/Unary --tls_ca="$certs/ca.pem" --tls_server_name=other.example --data=x
expect plaintext_on_tls 3 "" "^error: .*closed" -- "$addr" /interop.Echo/Unary --data=x --timeout=1h
stop_server
start_server
expect tls_on_plaintext 3 "" "tls handshake with" -- "$addr" /interop.Echo/Unary --tls_ca="$certs/ca.pem" --data=x --timeout=1h
stop_server
# Mutual TLS: the server wants a client certificate from the CA.
start_server --tls_cert="$certs/server.pem" --tls_key="$certs/server.key" --tls_client_ca="$certs/ca.pem"
expect mtls 0 "both" "" -- "$addr" /interop.Echo/Unary --tls_ca="$certs/ca.pem" \
  --tls_cert="$certs/client.pem" --tls_key="$certs/client.key" --data=both
expect mtls_missing 3 "" "^error: " -- "$addr" /interop.Echo/Unary --tls_ca="$certs/ca.pem" --data=x --timeout=1h
stop_server

# --- metrics (--stats prints the Prometheus text at shutdown) ---------------------------------------
stats_out="$TEST_TMPDIR/stats.out"
"$server_bin" --addr=127.0.0.1:0 --reactors=1 --stats >"$stats_out" 2>>"$errlog" &
server_pid=$!
for _ in $(seq 200); do grep -q '^READY ' "$stats_out" && break; sleep 0.1; done
read -r ready addr <"$stats_out"
[ "$ready" = READY ] || fail "echo_server --stats printed no READY line"
expect stats_ok 0 "x" "" -- "$addr" /interop.Echo/Unary --data=x
expect stats_fail 1 "" "code=42" -- "$addr" /interop.Echo/Fail --data=x
kill -TERM "$server_pid"
wait "$server_pid" || fail "echo_server --stats exited non-zero"
stats=$(cat "$stats_out")
server_pid=""
grep -q '^drpc_streams_opened_total{side="server"} 2$' <<<"$stats" || fail "stats: $stats"
grep -q '^drpc_streams_failed_total{side="server"} 1$' <<<"$stats" || fail "stats: $stats"
grep -q '^drpc_connections_opened_total{side="server"} 2$' <<<"$stats" || fail "stats: $stats"
echo "ok: stats"

# --- the connection limit --------------------------------------------------------------------------
start_server --connections_max_count=1
# A call that waits for its timeout holds one connection; while it is served, another connection is
# refused: its call gets the server's Error "server busy: connection refused ..." (exit 1). The
# loop only waits for the holder to be connected (a call that still gets through is retried) and
# replaces a holder that was itself refused or whose timeout ended it. Neither the loop nor the
# probing call has a time limit (the server answers it either way): however long a loaded machine
# takes to start the holder, the probe is refused once it holds; a server that never refuses
# hangs here until the test's timeout.
hold() { "$call_bin" "$addr" /interop.Echo/Slow --data=x --timeout=3s >/dev/null 2>&1 & holder=$!; }
hold
while :; do
  if ! kill -0 "$holder" 2>/dev/null; then wait "$holder"; hold; fi
  sleep 0.1
  "$call_bin" "$addr" /interop.Echo/Unary --data=y >/dev/null 2>"$TEST_TMPDIR/refused.err"; rc=$?
  if [ "$rc" -eq 1 ] && grep -q "server busy: connection refused" "$TEST_TMPDIR/refused.err"; then
    break
  fi
  [ "$rc" -eq 0 ] || fail "a call beside the held connection exited $rc, want 1 (or 0 before it): $(cat "$TEST_TMPDIR/refused.err")"
done
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
echo "ok: connections_max_count"
stop_server
"$server_bin" --connections_max_count=0 >/dev/null 2>"$TEST_TMPDIR/limit.err"; rc=$?
[ "$rc" -eq 1 ] && grep -q "connections_max_count = 0 is outside" "$TEST_TMPDIR/limit.err" ||
  fail "echo_server --connections_max_count=0 exited $rc: $(cat "$TEST_TMPDIR/limit.err")"

# --- timeouts and budgets (their own block of flags) --------------------------------------------
# A connection that sends nothing is closed after --first_frame_timeout; one that stops inside a
# frame after --frame_timeout; calls are still served with small budgets. --idle_timeout is an
# hour, so no other timer of the server closes these connections: each wait for the close has no
# bound of its own (a timeout that never fires hangs until the test's timeout), and the close must
# not come before the timeout under test is due.
start_server --first_frame_timeout=200ms --frame_timeout=300ms --idle_timeout=1h \
  --half_close_grace=1s --connection_buffered_max_bytes=10000000 --server_buffered_max_bytes=20000000
expect budget_call 0 "hi" "" -- "$addr" /interop.Echo/Unary --data=hi
port=${addr##*:}
closed_after() {  # closed_after MILLIS BYTES: connects, writes BYTES (printf format), waits for EOF
  local start_ns elapsed_ms
  start_ns=$(date +%s%N)
  exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "connect to $addr"
  printf "$2" >&3
  cat <&3 >/dev/null 2>&1
  exec 3<&-
  elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
  [ "$elapsed_ms" -ge "$1" ] || fail "closed after ${elapsed_ms}ms, before the ${1}ms timeout"
}
closed_after 200 ""
echo "ok: first_frame_timeout"
# A complete frame (a Cancel for a stream the server does not have), then an Invoke header
# announcing 5 bytes of a name and sending 1: a frame that stops short.
closed_after 300 '\x09\x05\x01\x00\x03\x06\x01\x05/'
echo "ok: frame_timeout"
stop_server
"$server_bin" --frame_timeout=0s >/dev/null 2>"$TEST_TMPDIR/timeout.err"; rc=$?
[ "$rc" -eq 1 ] && grep -q "frame_timeout = 0 is below 1ms" "$TEST_TMPDIR/timeout.err" ||
  fail "echo_server --frame_timeout=0s exited $rc: $(cat "$TEST_TMPDIR/timeout.err")"
"$server_bin" --connection_buffered_max_bytes=1000 >/dev/null 2>"$TEST_TMPDIR/budget.err"; rc=$?
[ "$rc" -eq 1 ] && grep -q "connection_buffered_max_bytes = 1000 is outside" "$TEST_TMPDIR/budget.err" ||
  fail "echo_server --connection_buffered_max_bytes=1000 exited $rc: $(cat "$TEST_TMPDIR/budget.err")"
echo "ok: budget and timeout flags"

"$server_bin" --bogus >/dev/null 2>&1; rc=$?
[ "$rc" -eq 2 ] || fail "echo_server with a bad flag exited $rc, want 2"
echo "PASS"
