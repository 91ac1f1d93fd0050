#!/usr/bin/env bash
# OSS-Fuzz style build of every fuzz harness, without Bazel.
#
#   CC=clang CXX=clang++ \
#   CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" CXXFLAGS="$CFLAGS" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out fuzz/oss_fuzz_build.sh
#
# Honours the OSS-Fuzz variables: $CXX and $CXXFLAGS compile the harnesses and the proto/ sources
# (all C++; $CC and $CFLAGS are accepted for the convention but there are no C sources),
# $LIB_FUZZING_ENGINE links the fuzzing engine, and $OUT receives, per harness NAME:
#   NAME_fuzzer  NAME_seed_corpus.zip (corpus/NAME/)  NAME.dict  NAME.options
# Abseil comes from the system (pkg-config), as on this project's Debian machines.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
: "${CC:=clang}" "${CXX:=clang++}" "${CFLAGS:=}" "${CXXFLAGS:=}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:?set OUT to the output directory}"
mkdir -p "$OUT"

harnesses=(frame_parser upstream_assembler mux_assembler metadata_decoder error_decoder
  grpc_error_decoder)
proto_sources=(
  proto/base/check.cc proto/base/status.cc proto/varint.cc proto/frame.cc
  proto/upstream_assembler.cc proto/mux_assembler.cc proto/splitter.cc proto/metadata.cc
  proto/error_codec.cc proto/window.cc proto/grpc_status.cc proto/protobuf_wire.cc
)
absl_libs=$(pkg-config --libs absl_statusor absl_status absl_strings absl_str_format)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# $CXXFLAGS is deliberately unquoted: it is a list of flags.
# shellcheck disable=SC2086
compile() { "$CXX" $CXXFLAGS -std=c++20 -I"$root" -c "$root/$1" -o "$2"; }

objects=()
for src in "${proto_sources[@]}"; do
  obj="$work/$(echo "$src" | tr / _).o"
  compile "$src" "$obj"
  objects+=("$obj")
done

for h in "${harnesses[@]}"; do
  compile "fuzz/${h}_fuzzer.cc" "$work/${h}_fuzzer.o"
  # shellcheck disable=SC2086
  "$CXX" $CXXFLAGS "$work/${h}_fuzzer.o" "${objects[@]}" $LIB_FUZZING_ENGINE $absl_libs \
    -o "$OUT/${h}_fuzzer"
  rm -f "$OUT/${h}_seed_corpus.zip"
  (cd "$root/corpus/$h" && zip -q -j "$OUT/${h}_seed_corpus.zip" ./*)
  cp "$root/fuzz/$h.dict" "$OUT/$h.dict"
  cp "$root/fuzz/$h.options" "$OUT/$h.options"
  echo "oss_fuzz_build: $OUT/${h}_fuzzer"
done
