#!/bin/bash -eu
# OSS-Fuzz build script for drpc-cpp: runs in $SRC/drpc-cpp of the image built from the
# Dockerfile next to it and writes every harness, its seed corpus, dictionary and options to $OUT
# (fuzz/oss_fuzz_build.sh does the work with the variables OSS-Fuzz sets).
cd "$SRC/drpc-cpp"
fuzz/oss_fuzz_build.sh
