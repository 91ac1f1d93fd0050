#!/usr/bin/env bash
# fuzz/oss_fuzz_build.sh works the OSS-Fuzz way: with clang, $CXXFLAGS and $LIB_FUZZING_ENGINE it
# writes NAME_fuzzer, NAME_seed_corpus.zip, NAME.dict and NAME.options to $OUT for every harness,
# and each fuzzer runs over its own seed corpus with its dictionary without finding anything.
set -euo pipefail
root="$TEST_SRCDIR/$TEST_WORKSPACE"
out="${TEST_TMPDIR:-/tmp}/oss_fuzz_out"
rm -rf "$out"
flags="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
CC=clang CXX=clang++ CFLAGS="$flags" CXXFLAGS="$flags" \
  LIB_FUZZING_ENGINE="-fsanitize=fuzzer,address,undefined" OUT="$out" \
  bash "$root/fuzz/oss_fuzz_build.sh"

for h in frame_parser upstream_assembler mux_assembler metadata_decoder error_decoder; do
  for f in "${h}_fuzzer" "${h}_seed_corpus.zip" "$h.dict" "$h.options"; do
    [ -s "$out/$f" ] || { echo "FAIL: $out/$f missing or empty"; exit 1; }
  done
  corpus="$out/${h}_corpus"
  mkdir -p "$corpus"
  (cd "$corpus" && python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall('.')" \
      "$out/${h}_seed_corpus.zip")
  [ "$(ls "$corpus" | wc -l)" -gt 0 ] || { echo "FAIL: empty seed corpus for $h"; exit 1; }
  "$out/${h}_fuzzer" -runs=500 -dict="$out/$h.dict" "$corpus" > "$out/$h.log" 2>&1 || {
    echo "FAIL: ${h}_fuzzer"; tail -n 40 "$out/$h.log"; exit 1;
  }
  echo "ok: ${h}_fuzzer ($(grep -c . "$out/$h.log") log lines)"
done
