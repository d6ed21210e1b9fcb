#!/bin/sh
# The HTML report of `coachctl replay --html`, rendered in a real headless
# Chromium (Debian's /usr/bin/chromium): the parsed DOM has the key elements
# (timeline, highlighted <mark>, suggestion, ASAP checklist, SVG chart) and a
# full-page screenshot is a real, non-trivial PNG. The page must render from
# file:// with the network closed (no JavaScript, nothing fetched).
#
#   html_report_test.sh COACHCTL SOURCE_DIR [OUT_DIR]
#
# OUT_DIR (optional) receives the screenshot, html_report.png, to look at.
# Fails when Chromium is not installed (deploy/install-deps.sh installs it).
set -eu

coachctl=$1
source_dir=$2
out_dir=${3:-}
chromium=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  echo "FAIL: $chromium is not installed; run deploy/install-deps.sh (Debian package chromium)"
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}

"$coachctl" replay --phrase_lists="$source_dir/phrase_lists" --html="$tmp/html" \
  "$source_dir/tests/data/calls/escalated_call.jsonl" > "$tmp/replay.txt" 2>&1 ||
  fail "coachctl replay: $(cat "$tmp/replay.txt")"
page="$tmp/html/call-demo-escalated-001.html"
[ -f "$page" ] || fail "no page $page"
[ -f "$tmp/html/index.html" ] || fail "no index.html"

# The flags that work on this machine kind: no sandbox as root, no GPU, and
# no background networking (the network is closed).
chrome() {
  profile=$(mktemp -d "$tmp/profile.XXXXXX")
  timeout 120 "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" "$@"
}

# What Chromium parsed: the elements a reader relies on.
chrome --dump-dom "file://$page" > "$tmp/dom.html" 2> "$tmp/dom.log" ||
  fail "chromium --dump-dom: $(tail -5 "$tmp/dom.log")"
expect() {
  grep -q -- "$1" "$tmp/dom.html" || fail "the rendered DOM has no $2 ($1)"
}
expect '<section id="timeline">' "conversation timeline"
expect '<li class="turn customer"' "customer turn"
expect '<li class="turn agent"' "agent turn"
expect '<mark class="k-escalation" title="#4 legal_threat.fcc">report you to the FCC</mark>' \
  "highlighted escalation phrase"
expect '<mark class="k-corrective"' "highlighted corrective phrase"
expect '<p class="suggestion">Try: <q>' "suggested rewording"
expect '<ol class="asap" id="asap">' "ASAP checklist"
expect '<li class="step done"><span class="check">✓</span>Acknowledge' "ASAP step done"
expect '<svg class="chart"' "SVG chart"
expect '<polyline class="cues"' "customer cue series"
expect '<polyline class="empathy"' "agent empathy series"
if grep -q '<script' "$tmp/dom.html"; then fail "the page has a script"; fi

chrome --dump-dom "file://$tmp/html/index.html" > "$tmp/index_dom.html" 2> "$tmp/index.log" ||
  fail "chromium --dump-dom index: $(tail -5 "$tmp/index.log")"
grep -q 'href="call-demo-escalated-001.html">demo-escalated-001</a>' "$tmp/index_dom.html" ||
  fail "the index does not link the call"

# A real screenshot: a PNG of the requested size with real content (a blank
# page compresses to a few KiB).
chrome --screenshot="$tmp/shot.png" --window-size=1280,2000 "file://$page" \
  > "$tmp/shot.log" 2>&1 || fail "chromium --screenshot: $(tail -5 "$tmp/shot.log")"
[ -f "$tmp/shot.png" ] || fail "no screenshot written: $(tail -5 "$tmp/shot.log")"
size=$(wc -c < "$tmp/shot.png")
[ "$size" -gt 50000 ] || fail "screenshot is only $size bytes"
magic=$(od -An -tx1 -N8 "$tmp/shot.png" | tr -d ' \n')
[ "$magic" = "89504e470d0a1a0a" ] || fail "screenshot is not a PNG ($magic)"
dims=$(od -An -tu1 -j16 -N8 "$tmp/shot.png" | tr -s ' ' | sed 's/^ //')
[ "$dims" = "0 0 5 0 0 0 7 208" ] || fail "screenshot is not 1280x2000 (IHDR bytes: $dims)"
if [ -n "$out_dir" ]; then cp "$tmp/shot.png" "$out_dir/html_report.png"; fi
echo "OK: DOM has timeline, marks, suggestion, ASAP checklist and chart; screenshot $size bytes"
