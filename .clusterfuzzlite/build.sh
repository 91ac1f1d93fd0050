#!/bin/bash -eu
# ClusterFuzzLite build script: the same build as OSS-Fuzz's (fuzz/oss-fuzz/build.sh), from the
# copy of the repository in $SRC/drpc-cpp.
cd "$SRC/drpc-cpp"
fuzz/oss_fuzz_build.sh
