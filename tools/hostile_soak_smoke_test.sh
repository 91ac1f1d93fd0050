#!/usr/bin/env bash
# hostile_soak --smoke: every attack of issue 13 with tiny counts for a second each against the
# production server; it must stay alive and within each attack's budget. Probe latency is printed
# but not judged (shared, noisy machines).
set -euo pipefail

soak="tools/hostile_soak"
out="${TEST_TMPDIR:-/tmp}/hostile_soak_smoke.out"

status=0
"$soak" --smoke > "$out" 2>&1 || status=$?
cat "$out"
[[ $status -eq 0 ]] || { echo "FAIL: hostile_soak --smoke exited $status"; exit 1; }
for attack in crash monopoly never_read metadata slowloris cancel_flood refusal_burst half_close \
    one_byte_short; do
  grep -Eq "^\| $attack \| .* \| yes \| .*\| PASS \|$" "$out" || { echo "FAIL: no passing row for $attack"; exit 1; }
done

# Usage errors exit 2.
rc=0; "$soak" --attacks=nonesuch > /dev/null 2>&1 || rc=$?
[[ $rc -eq 2 ]] || { echo "FAIL: a bad attack name exited $rc, not 2"; exit 1; }
echo PASS
