#!/usr/bin/env bash
# The README's launch command, as a user runs it: `gfm-napari` (inside the X display this script is started in).
# Passes when the app stays up until it prints that the CT sample is in the Segment dock with its model, and exits
# with code 0 after Ctrl+Q (napari asks to confirm: Ctrl+Q again). Usage: xvfb-run -a .ci/launch_smoke.sh [PNG]
set -uo pipefail
screenshot=${1:-}
log=$(mktemp); recovery=$(mktemp -d)
GFM_NAPARI_RECOVERY_DIR=$recovery gfm-napari 2>"$log" &
pid=$!
for _ in $(seq 1 600); do
  grep -q "gfm-napari: ready" "$log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 1
done
if ! grep "gfm-napari: ready" "$log"; then
  echo "launch smoke test: gfm-napari did not get ready" >&2
  cat "$log" >&2
  kill -9 "$pid" 2>/dev/null
  wait "$pid"; echo "exit code $?" >&2
  exit 1
fi
sleep 3
kill -0 "$pid" || { echo "launch smoke test: gfm-napari exited after getting ready" >&2; cat "$log" >&2; exit 1; }
window=$(xdotool search --name "^gfm-napari" | head -1)
[ -n "$screenshot" ] && import -window "$window" "$screenshot"
xdotool windowfocus "$window"; sleep 1
xdotool key --clearmodifiers ctrl+q; sleep 2; xdotool key --clearmodifiers ctrl+q
for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
if kill -0 "$pid" 2>/dev/null; then
  echo "launch smoke test: gfm-napari did not exit after Ctrl+Q" >&2
  kill -9 "$pid"
fi
wait "$pid"; code=$?
if [ "$code" != 0 ] || grep -q "Traceback" "$log"; then
  echo "launch smoke test: gfm-napari exited with code $code" >&2
  cat "$log" >&2
  exit 1
fi
echo "launch smoke test: gfm-napari started, showed the sample in the Segment dock and exited cleanly"
