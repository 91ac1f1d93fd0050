#!/usr/bin/env bash
# docs/simulation.md, the tutorial, shows code from the files it teaches with: every fenced block
# preceded by "<!-- from: PATH -->" must appear, line for line and contiguously, in PATH. So the
# tutorial's code is code that `bazel test //examples/...` builds and runs.
set -uo pipefail
doc=docs/simulation.md
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$doc" ] || fail "no $doc"

checked=0
from=""
in_block=0
block=""
line_no=0
while IFS= read -r line || [ -n "$line" ]; do
  line_no=$((line_no + 1))
  if [ "$in_block" -eq 1 ]; then
    if [[ "$line" == '```' ]]; then
      in_block=0
      if [ -n "$from" ]; then
        [ -f "$from" ] || fail "$doc: the excerpt before line $line_no names $from, which does not exist"
        src=$(cat "$from")
        [[ "$src" == *"$block"* ]] || fail "$doc: the excerpt ending at line $line_no is not in $from:
$block"
        checked=$((checked + 1))
      fi
      from=""
      block=""
    else
      block+="${block:+$'\n'}$line"
    fi
    continue
  fi
  if [[ "$line" =~ ^'<!-- from: '(.*)' -->'$ ]]; then
    from="${BASH_REMATCH[1]}"
  elif [[ "$line" == '```'* ]]; then
    in_block=1
    block=""
  elif [ -n "$line" ]; then
    from=""  # an excerpt marker applies only to the block right after it
  fi
done <"$doc"
[ "$checked" -ge 10 ] || fail "only $checked excerpts checked: markers lost?"
echo "PASS: $checked excerpts of $doc match their files"
