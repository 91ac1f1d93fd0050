#!/usr/bin/env bash
# protoc with protoc-gen-drpc-cpp on bad input fails with an error naming the file and the element
# (or the option) at fault, and writes nothing.
#   plugin_error_test.sh PROTOC PLUGIN
set -uo pipefail
protoc=$1
plugin=$2
dir=codegen/testdata/bad
out="$TEST_TMPDIR/out"
status=0

# expect_error NAME REGEX PROTOC_ARGS...
expect_error() {
  local name=$1 want=$2; shift 2
  rm -rf "$out"; mkdir -p "$out"
  local err rc
  err=$("$protoc" --plugin=protoc-gen-drpc-cpp="$plugin" --proto_path=. --drpc-cpp_out="$out" "$@" 2>&1)
  rc=$?
  if [ "$rc" -eq 0 ]; then
    echo "FAIL: $name: protoc succeeded"; status=1; return
  fi
  if ! grep -Eq -e "$want" <<<"$err"; then
    echo "FAIL: $name: error does not match '$want':"; echo "$err"; status=1; return
  fi
  if [ -n "$(ls -A "$out")" ]; then
    echo "FAIL: $name: files were written: $(ls "$out")"; status=1; return
  fi
  echo "ok: $name: $err"
}

expect_error method_collision \
  "^--drpc-cpp_out: codegen/testdata/bad/method_collision.proto: service bad.Collide: method Client_ would be the C\+\+ method Client_, which method Client already is" \
  "$dir/method_collision.proto"
expect_error service_collision \
  "^--drpc-cpp_out: codegen/testdata/bad/service_collision.proto: service bad.Outer_Inner would be the C\+\+ class Outer_Inner, which message bad.Outer.Inner already is" \
  "$dir/service_collision.proto"
expect_error unknown_option \
  '^--drpc-cpp_out: codegen/testdata/bad/ok.proto: unknown option "bogus=1" \(known: ' \
  --drpc-cpp_opt=bogus=1 "$dir/ok.proto"
expect_error bad_option_value \
  "^--drpc-cpp_out: codegen/testdata/bad/ok.proto: option unimplemented=maybe: want true or false" \
  --drpc-cpp_opt=unimplemented=maybe "$dir/ok.proto"
# protoc itself rejects malformed .proto files before the plugin runs, naming file, line, column.
expect_error syntax_error \
  'codegen/testdata/bad/syntax_error.proto:4:12: "Missing" is not defined' \
  "$dir/syntax_error.proto"

# The same invocation on a good file works and writes both outputs (the test can fail).
rm -rf "$out"; mkdir -p "$out"
if "$protoc" --plugin=protoc-gen-drpc-cpp="$plugin" --proto_path=. --drpc-cpp_out="$out" \
    --drpc-cpp_opt=unimplemented=false "$dir/ok.proto" &&
   [ -s "$out/$dir/ok.drpc.h" ] && [ -s "$out/$dir/ok.drpc.cc" ] &&
   ! grep -q UnimplementedServer "$out/$dir/ok.drpc.h"; then
  echo "ok: good file, unimplemented=false"
else
  echo "FAIL: good file did not generate as expected"; status=1
fi
[ "$status" -eq 0 ] && echo PASS
exit "$status"
