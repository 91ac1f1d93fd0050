#!/usr/bin/env bash
# Starts the real //examples/echo:server, waits for its READY line, runs the real
# //examples/echo:client against it and checks its output, in upstream and mux mode; SIGTERM must
# then end the server with 0. Timeouts only bound failures.
set -uo pipefail
server_bin=examples/echo/server
client_bin=examples/echo/client
server_pid=""
errlog="${TEST_TMPDIR:-/tmp}/echo_example_server.err"

fail() {
  echo "FAIL: $*"
  echo "--- server stderr:"; cat "$errlog" 2>/dev/null
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  exit 1
}

want=$'Unary: hi there
ServerStream: msg-0 (sequence 0)
ServerStream: msg-1 (sequence 1)
ServerStream: msg-2 (sequence 2)
ClientStream: 3 messages, 6 text bytes
Bidi: one
Bidi: two
Bidi: three
Fail: code=42 boom
Meta: user=example'

for mode in "" "--mux"; do
  coproc SERVER { exec "$server_bin" --addr=127.0.0.1:0 $mode 2>>"$errlog"; }
  server_pid=$SERVER_PID
  read -r -t 20 -u "${SERVER[0]}" ready addr || fail "server $mode printed no READY line"
  [ "$ready" = READY ] || fail "unexpected first line: $ready $addr"

  out=$(timeout 30 "$client_bin" --addr="$addr" --text="hi there" $mode 2>"$TEST_TMPDIR/client.err")
  rc=$?
  [ "$rc" -eq 0 ] || fail "client $mode exited $rc: $(cat "$TEST_TMPDIR/client.err")"
  [ "$out" = "$want" ] || fail "client $mode printed:
$out
want:
$want"
  echo "ok: client ${mode:-(upstream)}"

  kill -TERM "$server_pid"
  wait "$server_pid"; rc=$?
  server_pid=""
  [ "$rc" -eq 0 ] || fail "server exited $rc after SIGTERM"
done

# A client without a server: exit 1 with the dial error.
timeout 30 "$client_bin" --addr=127.0.0.1:1 2>"$TEST_TMPDIR/client.err" >/dev/null
rc=$?
[ "$rc" -eq 1 ] || fail "client without server exited $rc, want 1"
grep -q "refused" "$TEST_TMPDIR/client.err" || fail "no dial error: $(cat "$TEST_TMPDIR/client.err")"
echo "ok: client without server"
echo "PASS"
