#!/usr/bin/env bash
# drpc-cpp vs gRPC C++ (callback API), side by side in one process and window: 16 concurrent
# unary calls of 64 B on one connection, and one call in flight (BENCHMARKS.md).
#
#   tools/bench_grpc.sh                      # installs nothing; tells you if gRPC is missing
#   tools/bench_grpc.sh --rounds=5           # flags go to the benchmark (--duration, --concurrency)
#   taskset -c 0 tools/bench_grpc.sh         # everything on one core
#
# Needs Debian's libgrpc++-dev, protobuf-compiler-grpc and libprotobuf-dev:
#   tools/bootstrap.sh --with-grpc --deps-only
# The targets (//tools/grpc:...) are tagged manual: `bazel build //...` and `bazel test //...`
# never build them.
set -euo pipefail
cd "$(dirname "$0")/.."

for f in /usr/include/grpcpp/grpcpp.h /usr/bin/grpc_cpp_plugin /usr/bin/protoc; do
  if [ ! -e "$f" ]; then
    echo "bench_grpc: $f is missing; install gRPC with: tools/bootstrap.sh --with-grpc --deps-only" >&2
    exit 1
  fi
done
bazel build -c opt //tools/grpc:bench_grpc
exec bazel-out/k8-opt/bin/tools/grpc/bench_grpc "$@"
