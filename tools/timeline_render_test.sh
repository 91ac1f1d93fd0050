#!/usr/bin/env bash
# Manual (needs Debian's chromium: tools/bootstrap.sh --with-chromium --deps-only). Draws the
# timeline of a shrunk failing protocol run (the planted race, test.planted.shared_state) with
# tools/sim --timeline and renders the page with headless Chromium to a PNG, which must show
# something (not a blank page). The page and the PNG are left in the test's outputs
# (bazel-testlogs/tools/timeline_render_test/test.outputs/); sim/timeline_example.png in the sim
# README was made this way.
#   bazel test //tools:timeline_render_test --test_output=streamed
set -uo pipefail
simt=tools/sim_with_test_scenarios
tmp="${TEST_TMPDIR:-$(mktemp -d)}"
out="${TEST_UNDECLARED_OUTPUTS_DIR:-$tmp}"
fail() { echo "FAIL: $*"; exit 1; }
chromium=$(command -v chromium || command -v chromium-browser) ||
  fail "chromium is not installed; install it with: tools/bootstrap.sh --with-chromium --deps-only"

# A failing seed of the planted race, shrunk by the sweep, then drawn.
sweep=$("$simt" --scenario=test.planted.shared_state --seeds=100 --jobs=2 --tape_dir="$tmp" \
        --shrink_budget=120s 2>/dev/null)
shrunk=$(grep -o -- '--tape=[^ ]*shrunk.tape' <<<"$sweep" | head -n1 | cut -d= -f2)
[ -n "$shrunk" ] || fail "no shrunk failing tape: $sweep"
"$simt" --scenario=test.planted.shared_state --tape="$shrunk" --timeline="$out/timeline.html" >/dev/null
[ -s "$out/timeline.html" ] || fail "no timeline page"

# Headless, sandbox-free (no user namespaces in test sandboxes), no GPU, no network, a fresh profile.
export HOME="$tmp"
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
  --disable-dev-shm-usage --user-data-dir="$tmp/profile" --hide-scrollbars --window-size=1280,860 \
  --screenshot="$out/timeline.png" "file://$out/timeline.html" >"$tmp/chromium.log" 2>&1
rc=$?
[ "$rc" -eq 0 ] || fail "chromium exited $rc: $(tail -n5 "$tmp/chromium.log")"
[ -s "$out/timeline.png" ] || fail "no screenshot: $(tail -n5 "$tmp/chromium.log")"

# A PNG that is not blank: decode it (8-bit RGB or RGBA, the five filters) and count the pixels that
# are neither white nor the page's light greys.
python3 - "$out/timeline.png" <<'PY' || fail "the screenshot is not a picture of the timeline"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        width, height, depth, color = struct.unpack(">IIBB", body[:10])
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
assert depth == 8 and color in (2, 6), f"unexpected PNG format {depth}/{color}"
bpp = 3 if color == 2 else 4
raw, stride = zlib.decompress(idat), width * bpp
prev, inked = bytearray(stride), 0
for y in range(height):
    f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = row[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: row[i] = (row[i] + a) & 255
        elif f == 2: row[i] = (row[i] + b) & 255
        elif f == 3: row[i] = (row[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    inked += sum(1 for x in range(0, stride, bpp) if row[x] + row[x + 1] + row[x + 2] < 600)
    prev = row
print(f"screenshot {width}x{height}, {len(data)} bytes, {inked} inked pixels of {width * height}")
assert width >= 1000 and height >= 600, "too small"
assert inked > width * height // 50, "almost blank"
PY
echo "timeline: $out/timeline.html"
echo "picture:  $out/timeline.png"
echo "PASS"
