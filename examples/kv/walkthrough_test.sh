#!/usr/bin/env bash
# The examples/kv/README.md walkthrough with the real binaries: start the server, put, get,
# watch (in the background) while another client changes keys, delete; then SIGTERM ends the
# server with 0. Both modes. Timeouts only bound failures.
set -uo pipefail
server_bin=examples/kv/server
client_bin=examples/kv/client
server_pid=""
errlog="${TEST_TMPDIR:-/tmp}/kv_server.err"

fail() {
  echo "FAIL: $*"
  echo "--- server stderr:"; cat "$errlog" 2>/dev/null
  [ -n "$server_pid" ] && kill -KILL "$server_pid" 2>/dev/null
  exit 1
}

# expect WANT_STDOUT CLIENT_ARGS...
expect() {
  local want=$1; shift
  local out rc
  out=$(timeout 30 "$client_bin" --addr="$addr" $mode "$@" 2>"$TEST_TMPDIR/client.err"); rc=$?
  [ "$rc" -eq 0 ] || fail "client $*: exit $rc: $(cat "$TEST_TMPDIR/client.err")"
  [ "$out" = "$want" ] || fail "client $*: printed '$out', want '$want'"
  echo "ok: $* -> $out"
}

for mode in "" "--mux"; do
  coproc SERVER { exec "$server_bin" --addr=127.0.0.1:0 $mode 2>>"$errlog"; }
  server_pid=$SERVER_PID
  read -r -t 20 -u "${SERVER[0]}" ready addr || fail "server printed no READY line"
  [ "$ready" = READY ] || fail "unexpected first line: $ready $addr"

  expect "revision 1" put greeting hello
  expect "greeting = hello (revision 1)" get greeting
  expect "missing not found (store revision 1)" get missing

  # A watcher of the next two changes under "greet", while another client makes three changes.
  timeout 30 "$client_bin" --addr="$addr" $mode watch greet --count=2 >"$TEST_TMPDIR/watch.out" \
    2>"$TEST_TMPDIR/watch.err" &
  watch_pid=$!
  # Wait until the watch is registered: its changes start after the server's current revision, so
  # keep changing the key until the watcher has seen a greet change. No count of tries: on a
  # loaded machine the watcher may take any number of them to start; only its own exit (its
  # timeout) ends the wait otherwise.
  expect "revision 2" put greeting hi
  i=0
  while [ ! -s "$TEST_TMPDIR/watch.out" ] && kill -0 "$watch_pid" 2>/dev/null; do
    i=$((i + 1))
    sleep 0.1
    timeout 30 "$client_bin" --addr="$addr" $mode put greeting "hi-$i" >/dev/null 2>&1
  done
  timeout 30 "$client_bin" --addr="$addr" $mode put other x >/dev/null 2>&1
  timeout 30 "$client_bin" --addr="$addr" $mode delete greeting >/dev/null 2>&1
  wait "$watch_pid"; rc=$?
  [ "$rc" -eq 0 ] || fail "watch exited $rc: $(cat "$TEST_TMPDIR/watch.err")"
  [ "$(wc -l <"$TEST_TMPDIR/watch.out")" -eq 2 ] || fail "watch printed: $(cat "$TEST_TMPDIR/watch.out")"
  grep -Eq '^PUT greeting = hi(-[0-9]+)? \(revision [0-9]+\)$' "$TEST_TMPDIR/watch.out" ||
    fail "watch printed: $(cat "$TEST_TMPDIR/watch.out")"
  echo "ok: watch printed $(tr '\n' '|' <"$TEST_TMPDIR/watch.out")"

  # The full history from revision 1: the first change is the put of greeting=hello.
  out=$(timeout 30 "$client_bin" --addr="$addr" $mode watch --from=1 --count=1 2>&1)
  [ "$out" = "PUT greeting = hello (revision 1)" ] || fail "watch --from=1 printed '$out'"
  echo "ok: watch --from=1"

  out=$(timeout 30 "$client_bin" --addr="$addr" $mode put "" x 2>&1); rc=$?
  [ "$rc" -eq 1 ] && grep -q "code=3 empty key" <<<"$out" || fail "empty key: exit $rc '$out'"
  echo "ok: empty key refused"

  kill -TERM "$server_pid"
  wait "$server_pid"; rc=$?
  server_pid=""
  [ "$rc" -eq 0 ] || fail "server exited $rc after SIGTERM"
done
echo PASS
