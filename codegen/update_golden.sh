#!/usr/bin/env bash
# Regenerates codegen/testdata/golden/ from the plugin's current output:
#
#   bazel run //codegen:update_golden
#
# Review the diff (git diff codegen/testdata/golden) and commit it with the plugin change.
set -euo pipefail
: "${BUILD_WORKSPACE_DIRECTORY:?run me with bazel run //codegen:update_golden}"
dest="$BUILD_WORKSPACE_DIRECTORY/codegen/testdata/golden"
for f in "$@"; do
  cp -f "$f" "$dest/$(basename "$f").golden"
  chmod 644 "$dest/$(basename "$f").golden"
  echo "updated codegen/testdata/golden/$(basename "$f").golden"
done
