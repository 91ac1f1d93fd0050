#!/usr/bin/env bash
# The project's main job (run by tools/bootstrap.sh after installing packages).
# Until the simulator runner lands, it checks the determinism guard over the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
bazel run //tools:determinism_guard
