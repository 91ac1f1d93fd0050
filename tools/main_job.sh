#!/usr/bin/env bash
# The project's main job (run by tools/bootstrap.sh after installing packages): the simulator
# sweeps every registered scenario with a progress bar and prints a summary per scenario.
set -euo pipefail
cd "$(dirname "$0")/.."
exec bazel run -c opt //tools:sim -- --all "$@"
