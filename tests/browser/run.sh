#!/usr/bin/env bash
# Real-browser test of the chat demo (the `chat` package, examples/chat): headless Chromium, two
# tabs, driven over the Chrome DevTools Protocol by chat.mjs (Node's built-in WebSocket and
# fetch; no npm packages).
#
#   bash tests/browser/run.sh
#
# Env: TIMEOUT (seconds, default 120), PROFILE (cargo profile: dev or release, default dev),
# SCREENSHOT (a PNG path for tab A at the end; optional). Everything runs on loopback.
set -euo pipefail

cd "$(dirname "$0")/../.."
TIMEOUT="${TIMEOUT:-120}"
PROFILE="${PROFILE:-dev}"
HERE=tests/browser

if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }

echo "building the chat demo ($PROFILE)" >&2
cargo build --quiet --profile "$PROFILE" -p chat
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$PROFILE" in dev) OUT=debug ;; *) OUT="$PROFILE" ;; esac
CHAT="$TARGET_DIR/$OUT/chat"

WORK="$(mktemp -d)"
SERVER_PID=""
BROWSER_PID=""
cleanup() {
    # Keep the script's status; under `set -e` a failing `wait` on a killed child (143) would
    # otherwise end the trap, and the script, with that status.
    local rc=$?
    # Chromium's helper processes outlive the browser process for a moment and may still be
    # writing into the profile, so they are stopped too and the removal is retried, never fatal.
    [ -n "$BROWSER_PID" ] && pkill -P "$BROWSER_PID" 2>/dev/null || true
    [ -n "$BROWSER_PID" ] && { kill "$BROWSER_PID" 2>/dev/null && wait "$BROWSER_PID" 2>/dev/null; } || true
    [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; } || true
    for _ in 1 2 3 4 5; do
        rm -rf "$WORK" 2>/dev/null && break
        sleep 0.5
    done
    exit "$rc"
}
trap cleanup EXIT

# Port 0: the server picks a free loopback port and prints it.
"$CHAT" 127.0.0.1:0 2>"$WORK/chat.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 100); do
    URL="$(grep -o 'http://127\.0\.0\.1:[0-9]*/' "$WORK/chat.log" || true)"
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/chat.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { echo "chat server did not start" >&2; exit 1; }
echo "chat server at $URL" >&2

mkdir -p "$WORK/profile"
/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-quic --no-first-run --disable-component-update --disable-sync \
    --user-data-dir="$WORK/profile" --remote-debugging-address=127.0.0.1 \
    --remote-debugging-port=0 about:blank >"$WORK/chromium.log" 2>&1 &
BROWSER_PID=$!
PORT=""
for _ in $(seq 300); do
    if [ -s "$WORK/profile/DevToolsActivePort" ]; then
        PORT="$(head -n1 "$WORK/profile/DevToolsActivePort")"
        [ -n "$PORT" ] && break
    fi
    kill -0 "$BROWSER_PID" 2>/dev/null || { cat "$WORK/chromium.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$PORT" ] || { echo "chromium did not open its DevTools port" >&2; exit 1; }

status=0
timeout "$TIMEOUT" node --experimental-websocket --no-warnings "$HERE/chat.mjs" \
    "$PORT" "$URL" "${SCREENSHOT:-}" || status=$?
if [ "$status" -ne 0 ]; then
    echo "--- chat server log" >&2
    tail -n 20 "$WORK/chat.log" >&2
    [ "$status" -eq 124 ] && echo "browser test timed out after ${TIMEOUT}s" >&2
fi
exit "$status"
