#!/usr/bin/env bash
# OSS-Fuzz style build of the fuzz harnesses, without Bazel. fuzz/oss-fuzz/build.sh (OSS-Fuzz)
# and .clusterfuzzlite/build.sh (ClusterFuzzLite) run it inside their Docker images; locally:
#
#   CC=clang CXX=clang++ \
#   CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" CXXFLAGS="$CFLAGS" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out fuzz/oss_fuzz_build.sh
#
# Honours the OSS-Fuzz variables: $CXX and $CXXFLAGS compile the harnesses and the library
# sources (all C++; $CC and $CFLAGS are accepted for the convention but there are no C sources),
# $LIB_FUZZING_ENGINE links the fuzzing engine, and $OUT receives, per harness NAME:
#   NAME_fuzzer  NAME_seed_corpus.zip (corpus/NAME/)  NAME.dict  NAME.options
# Abseil, boost.context and Snappy come from the system (pkg-config, -lboost_context, -lsnappy), built against
# libstdc++, so a -stdlib=libc++ in $CXXFLAGS (OSS-Fuzz adds one) is dropped: the harnesses use
# the system's C++ library like the libraries they link. (MemorySanitizer would need every
# library instrumented; the project files declare AddressSanitizer and UndefinedBehaviorSanitizer.)
#
# Optional: DRPC_FUZZERS="frame_parser server_conn" builds only those harnesses; DRPC_FUZZ_WORK=DIR
# keeps the object files in DIR (reused while the sources and flags stay the same);
# DRPC_FUZZ_JOBS=N compiles N files at a time (default: the CPUs).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
: "${CC:=clang}" "${CXX:=clang++}" "${CFLAGS:=}" "${CXXFLAGS:=}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:?set OUT to the output directory}"
mkdir -p "$OUT"
CXXFLAGS=${CXXFLAGS//-stdlib=libc++/}

# Harnesses over the wire format alone (proto/), over the mux fork's compression codecs (proto/,
# with Snappy from the system), and whole-connection harnesses that run the protocol core on the
# simulator (impl/, sim/). The tape fuzzer (sim_tape) needs the simulator's scenarios and
# workloads too and is fuzzed through Bazel only (tools/fuzz.sh).
proto_harnesses=(frame_parser upstream_assembler mux_assembler metadata_decoder error_decoder
  grpc_error_decoder)
codec_harnesses=(minlz_decoder minlz_encoder snappy_decoder)
conn_harnesses=(server_conn client_conn)
harnesses=(${DRPC_FUZZERS:-${proto_harnesses[*]} ${codec_harnesses[*]} ${conn_harnesses[*]}})

proto_sources=(
  proto/base/check.cc proto/base/status.cc proto/varint.cc proto/frame.cc
  proto/upstream_assembler.cc proto/mux_assembler.cc proto/splitter.cc proto/metadata.cc
  proto/error_codec.cc proto/window.cc proto/grpc_status.cc proto/protobuf_wire.cc
)
codec_sources=(proto/compression.cc proto/snappy_block.cc proto/minlz.cc)
# The protocol core without the production runtime (impl/runtime/) and the tests, the simulator's
# run driver, and the harnesses' shared part.
conn_sources=(
  $(cd "$root" && ls impl/*.cc impl/fiber/*.cc | grep -v '_test\.cc$')
  sim/tape.cc sim/chaos.cc sim/network.cc sim/scheduler.cc sim/simulation.cc sim/trace.cc
  sim/recorder.cc sim/policy.cc
  fuzz/conn_fuzz.cc
)
absl_libs=$(pkg-config --libs absl_statusor absl_status absl_strings absl_str_format absl_cord \
  absl_hash absl_raw_hash_set absl_synchronization absl_time)

work=${DRPC_FUZZ_WORK:-}
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
# Objects are only reused with the flags they were built with.
flags_id=$(echo "$CXX $CXXFLAGS" | md5sum | cut -c1-12)
objdir="$work/obj-$flags_id"
mkdir -p "$objdir"

object() { echo "$objdir/$(echo "$1" | tr / _).o"; }

# Compiles every source of "$@" whose object is missing or older than the source, in parallel.
compile_all() {
  local todo=()
  for src in "$@"; do
    obj=$(object "$src")
    if [ ! -e "$obj" ] || [ "$root/$src" -nt "$obj" ]; then todo+=("$src"); fi
  done
  [ ${#todo[@]} -eq 0 ] && return 0
  export CXX CXXFLAGS root objdir
  # $CXXFLAGS is deliberately unquoted: it is a list of flags.
  printf '%s\n' "${todo[@]}" | xargs -P "${DRPC_FUZZ_JOBS:-$(nproc)}" -I{} sh -c \
    'o="$objdir/$(echo "{}" | tr / _).o"; $CXX $CXXFLAGS -std=c++20 -I"$root" -c "$root/{}" -o "$o.tmp" && mv "$o.tmp" "$o"'
}

is_conn() { [[ " ${conn_harnesses[*]} " == *" $1 "* ]]; }
is_codec() { [[ " ${codec_harnesses[*]} " == *" $1 "* ]]; }

need_conn=0
need_codec=0
for h in "${harnesses[@]}"; do
  is_conn "$h" && need_conn=1
  is_codec "$h" && need_codec=1
done
compile_all "${proto_sources[@]}"
[ $need_codec -eq 1 ] || [ $need_conn -eq 1 ] && compile_all "${codec_sources[@]}"
[ $need_conn -eq 1 ] && compile_all "${conn_sources[@]}"
harness_sources=()
for h in "${harnesses[@]}"; do harness_sources+=("fuzz/${h}_fuzzer.cc"); done
compile_all "${harness_sources[@]}"

for h in "${harnesses[@]}"; do
  objects=()
  for src in "${proto_sources[@]}"; do objects+=("$(object "$src")"); done
  libs=$absl_libs
  if is_codec "$h" || is_conn "$h"; then
    for src in "${codec_sources[@]}"; do objects+=("$(object "$src")"); done
    libs="$libs -lsnappy"
  fi
  if is_conn "$h"; then
    for src in "${conn_sources[@]}"; do objects+=("$(object "$src")"); done
    libs="$libs -lboost_context"
  fi
  # shellcheck disable=SC2086
  "$CXX" $CXXFLAGS "$(object "fuzz/${h}_fuzzer.cc")" "${objects[@]}" $LIB_FUZZING_ENGINE $libs \
    -o "$OUT/${h}_fuzzer"
  rm -f "$OUT/${h}_seed_corpus.zip"
  (cd "$root/corpus/$h" && zip -q -j "$OUT/${h}_seed_corpus.zip" ./*)
  cp "$root/fuzz/$h.dict" "$OUT/$h.dict"
  cp "$root/fuzz/$h.options" "$OUT/$h.options"
  echo "oss_fuzz_build: $OUT/${h}_fuzzer"
done
