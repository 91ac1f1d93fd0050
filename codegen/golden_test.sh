#!/usr/bin/env bash
# The plugin's output for codegen/testdata/*.proto must equal the checked-in golden files.
# On a difference: bazel run //codegen:update_golden, review the diff, commit.
set -uo pipefail
status=0
golden_dir=codegen/testdata/golden
for f in "$@"; do
  golden="$golden_dir/$(basename "$f").golden"
  if ! diff -u "$golden" "$f"; then
    echo "FAIL: $(basename "$f") differs from $golden (bazel run //codegen:update_golden)"
    status=1
  else
    echo "ok: $(basename "$f")"
  fi
done
[ "$status" -eq 0 ] && echo PASS
exit "$status"
