#!/usr/bin/env bash
# Fuzzes one harness locally with libFuzzer + AddressSanitizer for a number of seconds
# (DRPC_FUZZ_SANITIZER=undefined: + UndefinedBehaviorSanitizer instead; OSS-Fuzz runs both).
#
#   tools/fuzz.sh HARNESS SECONDS [extra libFuzzer flags...]
#   tools/fuzz.sh frame_parser 600
#
# Harnesses: frame_parser upstream_assembler mux_assembler metadata_decoder error_decoder
# server_conn client_conn sim_tape.
# The working corpus grows in fuzz-out/HARNESS/corpus (seeded from corpus/HARNESS, not committed);
# crashes land in fuzz-out/HARNESS/ as crash-<sha1>. Commit a crasher to corpus/HARNESS/ together
# with its fix, so `bazel test //fuzz:HARNESS_replay_test` replays it from then on.
# The last line printed is "fuzz: HARNESS (SANITIZER) SECONDS s, N execs, E exec/s, C crashes".
set -euo pipefail
cd "$(dirname "$0")/.."

if [ $# -lt 2 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
harness=$1
seconds=$2
shift 2

# --config=fuzz switches the C++ toolchain to clang; a separate output base keeps that from
# invalidating the everyday (gcc) build cache. Override with DRPC_FUZZ_OUTPUT_BASE.
sanitizer=${DRPC_FUZZ_SANITIZER:-address}
case "$sanitizer" in
  address) config=fuzz; suffix="" ;;
  undefined) config=fuzz_ubsan; suffix="_ubsan" ;;
  *) echo "DRPC_FUZZ_SANITIZER must be address or undefined" >&2; exit 2 ;;
esac
output_base=${DRPC_FUZZ_OUTPUT_BASE:-${HOME}/.cache/drpc-fuzz-bazel/$(pwd | md5sum | cut -c1-12)${suffix}}
# -O1 as OSS-Fuzz builds: an unoptimised ASan build runs several times fewer executions.
# --symlink_prefix=/ leaves the bazel-* convenience links of the everyday build alone.
build_flags=(--config=$config --copt=-O1 --symlink_prefix=/)
bazel --output_base="$output_base" build "${build_flags[@]}" "//fuzz:${harness}_fuzzer" >&2
out="fuzz-out/${harness}"
mkdir -p "$out/corpus" fuzz-out/bin
# A private copy, so a rebuild while fuzzing does not replace the running binary.
bin="fuzz-out/bin/${harness}${suffix}_fuzzer"
cp -f "$(bazel --output_base="$output_base" info "${build_flags[@]}" bazel-bin 2>/dev/null)/fuzz/${harness}_fuzzer" "$bin"
cp -n "corpus/${harness}/"* "$out/corpus/" 2>/dev/null || true

log="$out/fuzz.log"
set +e
"$bin" "$out/corpus" \
  -dict="fuzz/${harness}.dict" \
  -max_len="$(sed -n 's/^max_len = //p' "fuzz/${harness}.options")" \
  -max_total_time="$seconds" \
  -artifact_prefix="$out/" \
  -print_final_stats=1 \
  "$@" 2>&1 | tee "$log" | grep --line-buffered -E "^#[0-9]+ *(pulse|NEW|REDUCE)?.*(DONE|pulse)|ERROR|==[0-9]+==|SUMMARY|Test unit written" >&2
rc=${PIPESTATUS[0]}
set -e
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
crashes=$(find "$out" -maxdepth 1 -name 'crash-*' -o -maxdepth 1 -name 'leak-*' -o -maxdepth 1 -name 'timeout-*' | wc -l)
echo "fuzz: ${harness} (${sanitizer}) ${seconds} s, ${execs:-0} execs, ${speed:-0} exec/s, ${crashes} crashes (exit ${rc})"
exit "$rc"
