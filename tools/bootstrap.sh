#!/usr/bin/env bash
# Installs the Debian 12 packages drpc-cpp needs, then (unless --deps-only) runs the main job.
#
# Idempotent: packages already present are left alone; the script only calls apt-get when
# something is missing (or when --update is given). No prompts.
#
#   tools/bootstrap.sh              # install packages, then run the main job (the simulator sweep)
#   tools/bootstrap.sh --deps-only  # install packages only (what .ci/run uses)
#   tools/bootstrap.sh --with-grpc  # also gRPC C++ for the side-by-side benchmark (tools/bench_grpc.sh)
#   tools/bootstrap.sh --with-chromium  # also headless Chromium, to render simulator timelines
#                                       # to PNG (//tools:timeline_render_test, manual)
set -euo pipefail

PACKAGES=(
  bazel-bootstrap        # Bazel 4.2.3, offline WORKSPACE mode
  bazel-platforms        # @platforms as a local repository
  g++                    # default toolchain (g++ 12)
  clang                  # fuzz / sanitizer configs (clang 14)
  libclang-rt-14-dev     # libFuzzer + sanitizer runtimes for clang
  libabsl-dev            # abseil
  libgtest-dev           # googletest
  libgmock-dev           # googlemock
  librapidcheck-dev      # property-based tests
  libboost-context-dev   # fibers
  libbenchmark-dev       # Google Benchmark
  zip                    # OSS-Fuzz style seed corpus archives (fuzz/oss_fuzz_build.sh)
  pkg-config             # fuzz/oss_fuzz_build.sh finds abseil's link flags with it
  python3                # .ci/run summary of Bazel's test results
  libsnappy-dev          # mux compression "snappy" (proto/compression.h)
)

# Typed services from .proto (codegen/, examples/): protoc, the protobuf runtime and libprotoc for
# the protoc-gen-drpc-cpp plugin. Part of every build.
PACKAGES+=(
  protobuf-compiler      # protoc 3.21
  libprotobuf-dev        # protobuf C++ runtime + well-known types (google/protobuf/*.proto)
  libprotoc-dev          # libprotoc: the plugin API (google/protobuf/compiler/plugin.h)
)

# Only with --with-grpc: the optional gRPC C++ side-by-side benchmark (never needed by the build).
GRPC_PACKAGES=(
  libgrpc++-dev            # gRPC C++ (callback API)
  protobuf-compiler-grpc   # grpc_cpp_plugin
)

# Only with --with-chromium: renders tools/sim --timeline pages to PNG (never needed by the build).
CHROMIUM_PACKAGES=(
  chromium                 # headless rendering (--headless --screenshot)
  fonts-dejavu-core        # the generic sans-serif and monospace fonts the pages ask for
)

deps_only=0
force_update=0
for arg in "$@"; do
  case "$arg" in
    --deps-only) deps_only=1 ;;
    --with-grpc) PACKAGES+=("${GRPC_PACKAGES[@]}") ;;
    --with-chromium) PACKAGES+=("${CHROMIUM_PACKAGES[@]}") ;;
    --update) force_update=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "bootstrap: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { printf 'bootstrap: %s\n' "$*"; }

if ! command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: apt-get not found. drpc-cpp's bootstrap targets Debian 12 (bookworm)." >&2
  echo "bootstrap: install these packages by other means: ${PACKAGES[*]}" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "bootstrap: not root and sudo is missing; cannot install packages" >&2; exit 1
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -eq 0 ] && [ "$force_update" -eq 0 ]; then
  log "all ${#PACKAGES[@]} packages already installed"
else
  log "apt-get update"
  # Unreachable third-party sources (the machines reach only Debian's archive) must not fail the
  # bootstrap; a missing Debian index shows up as an install failure below with apt's own message.
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q 2>&1 | sed 's/^/  apt: /'; then
    log "warning: apt-get update reported errors (continuing; install will tell if Debian is unreachable)"
  fi
  log "installing: ${missing[*]:-(none missing; --update given)}"
  if [ "${#missing[@]}" -gt 0 ]; then
    if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        "${missing[@]}" 2>&1 | sed 's/^/  apt: /'; then
      echo "bootstrap: apt-get install failed for: ${missing[*]}" >&2
      exit 1
    fi
    # pipefail makes the pipeline fail if apt-get fails; double-check anyway.
    for p in "${missing[@]}"; do
      if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        echo "bootstrap: package $p is still not installed after apt-get install" >&2
        exit 1
      fi
    done
  fi
  log "installed ${#missing[@]} package(s)"
fi

command -v bazel >/dev/null 2>&1 || { echo "bootstrap: bazel not on PATH after install" >&2; exit 1; }
log "bazel: $(bazel --version 2>/dev/null || echo unknown) at $(command -v bazel)"

if [ "$deps_only" -eq 1 ]; then
  exit 0
fi

cd "$(dirname "$0")/.."
log "running the main job (tools/main_job.sh)"
exec bash tools/main_job.sh
