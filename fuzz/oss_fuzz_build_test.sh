#!/usr/bin/env bash
# The OSS-Fuzz and ClusterFuzzLite project files work, without Docker: each build.sh runs the way
# their images run it — the repository at $SRC/drpc-cpp, the script at $SRC/build.sh, clang and the
# OSS-Fuzz variables (including the -stdlib=libc++ OSS-Fuzz adds) — and writes NAME_fuzzer,
# NAME_seed_corpus.zip, NAME.dict and NAME.options to $OUT for every harness; each fuzzer then
# runs over its own seed corpus with its dictionary without finding anything. The Dockerfiles and
# project.yaml files are checked for what the builders read from them.
set -euo pipefail
root="$TEST_SRCDIR/$TEST_WORKSPACE"
tmp="${TEST_TMPDIR:-/tmp}/oss_fuzz"
rm -rf "$tmp"
mkdir -p "$tmp/src"
ln -s "$root" "$tmp/src/drpc-cpp"
fail() { echo "FAIL: $*"; exit 1; }

for dir in fuzz/oss-fuzz .clusterfuzzlite; do
  for f in project.yaml Dockerfile build.sh; do [ -s "$root/$dir/$f" ] || fail "$dir/$f missing"; done
  grep -q '^language: c++$' "$root/$dir/project.yaml" || fail "$dir/project.yaml: language"
  grep -q '^FROM gcr.io/oss-fuzz-base/base-builder' "$root/$dir/Dockerfile" || fail "$dir: FROM"
  grep -q 'COPY .*build.sh \$SRC/' "$root/$dir/Dockerfile" || fail "$dir: build.sh not copied"
  for pkg in libabsl-dev libboost-context-dev pkg-config zip; do
    grep -q "$pkg" "$root/$dir/Dockerfile" || fail "$dir/Dockerfile does not install $pkg"
  done
done
for key in main_repo primary_contact sanitizers fuzzing_engines; do
  grep -q "^$key:" "$root/fuzz/oss-fuzz/project.yaml" || fail "oss-fuzz project.yaml: $key"
done

flags="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined"
export CC=clang CXX=clang++ CFLAGS="$flags" CXXFLAGS="$flags -stdlib=libc++"
export LIB_FUZZING_ENGINE="-fsanitize=fuzzer,address,undefined" SRC="$tmp/src"
export DRPC_FUZZ_WORK="$tmp/work" DRPC_FUZZ_JOBS=2

# OSS-Fuzz: every harness.
cp "$root/fuzz/oss-fuzz/build.sh" "$SRC/build.sh"
OUT="$tmp/out" bash "$SRC/build.sh"
# ClusterFuzzLite: the same build through its own script (the objects are reused).
cp "$root/.clusterfuzzlite/build.sh" "$SRC/build.sh"
OUT="$tmp/cflite-out" DRPC_FUZZERS="error_decoder server_conn" bash "$SRC/build.sh"
for f in error_decoder_fuzzer server_conn_fuzzer server_conn_seed_corpus.zip; do
  [ -s "$tmp/cflite-out/$f" ] || fail "ClusterFuzzLite build: $f missing"
done

out="$tmp/out"
for h in frame_parser upstream_assembler mux_assembler metadata_decoder error_decoder \
         grpc_error_decoder minlz_decoder minlz_encoder snappy_decoder server_conn client_conn; do
  for f in "${h}_fuzzer" "${h}_seed_corpus.zip" "$h.dict" "$h.options"; do
    [ -s "$out/$f" ] || fail "$out/$f missing or empty"
  done
  corpus="$out/${h}_corpus"
  mkdir -p "$corpus"
  (cd "$corpus" && python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall('.')" \
      "$out/${h}_seed_corpus.zip")
  [ "$(ls "$corpus" | wc -l)" -gt 0 ] || fail "empty seed corpus for $h"
  # A fixed seed: the same 300 mutations every run, so this build check never fails at random
  # (finding bugs is the fuzz campaigns' job, tools/fuzz.sh).
  "$out/${h}_fuzzer" -seed=1 -runs=300 -dict="$out/$h.dict" "$corpus" > "$out/$h.log" 2>&1 || {
    echo "FAIL: ${h}_fuzzer"; tail -n 40 "$out/$h.log"; exit 1;
  }
  echo "ok: ${h}_fuzzer ($(grep -c . "$out/$h.log") log lines)"
done
