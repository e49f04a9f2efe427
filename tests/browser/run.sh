#!/usr/bin/env bash
# Real-browser test of the chat demo (the `chat` package, examples/chat): headless Chromium with
# three tabs, driven over the Chrome DevTools Protocol by chat.mjs (Node's built-in WebSocket
# and fetch; no npm packages). chat.mjs starts the chat server itself (port 0, a fresh SQLite
# file) so that it can restart it on the same port in the middle of the conversation.
#
#   bash tests/browser/run.sh
#
# Env: TIMEOUT (seconds for the browser part, default 180), PROFILE (cargo profile: dev or
# release, default dev), SCREENSHOTS (a directory for the PNGs, default target/ci/screenshots),
# CHAT (a chat server executable to test instead of building one). Everything runs on loopback.
set -euo pipefail

cd "$(dirname "$0")/../.."
TIMEOUT="${TIMEOUT:-180}"
PROFILE="${PROFILE:-dev}"
SCREENSHOTS="${SCREENSHOTS:-target/ci/screenshots}"
HERE=tests/browser

if [ ! -x /usr/bin/chromium ]; then
    echo "installing chromium" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }

if [ -z "${CHAT:-}" ]; then
    echo "building the chat demo ($PROFILE)" >&2
    cargo build --quiet --profile "$PROFILE" -p chat
    TARGET_DIR="${CARGO_TARGET_DIR:-target}"
    case "$PROFILE" in dev) OUT=debug ;; *) OUT="$PROFILE" ;; esac
    CHAT="$TARGET_DIR/$OUT/chat"
fi
[ -x "$CHAT" ] || { echo "no chat server at $CHAT" >&2; exit 1; }
mkdir -p "$SCREENSHOTS"

WORK="$(mktemp -d)"
BROWSER_PID=""
cleanup() {
    # Keep the script's status; under `set -e` a failing `wait` on a killed child (143) would
    # otherwise end the trap, and the script, with that status.
    local rc=$?
    # chat.mjs stops its server itself; should node have been killed first, the server's pid is
    # in server.pid.
    if [ -s "$WORK/server.pid" ]; then
        kill "$(cat "$WORK/server.pid")" 2>/dev/null || true
    fi
    # Chromium's helper processes outlive the browser process for a moment and may still be
    # writing into the profile, so they are stopped too and the removal is retried, never fatal.
    [ -n "$BROWSER_PID" ] && pkill -P "$BROWSER_PID" 2>/dev/null || true
    [ -n "$BROWSER_PID" ] && { kill "$BROWSER_PID" 2>/dev/null && wait "$BROWSER_PID" 2>/dev/null; } || true
    for _ in 1 2 3 4 5; do
        rm -rf "$WORK" 2>/dev/null && break
        sleep 0.5
    done
    exit "$rc"
}
trap cleanup EXIT

mkdir -p "$WORK/profile"
/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-quic --no-first-run --disable-component-update --disable-sync \
    --disable-background-timer-throttling --disable-renderer-backgrounding \
    --disable-backgrounding-occluded-windows \
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

# chat.mjs bounds itself by TIMEOUT (and stops its server); `timeout` is the backstop.
status=0
TIMEOUT="$TIMEOUT" SERVER_PIDFILE="$WORK/server.pid" \
    timeout "$((TIMEOUT + 15))" node --experimental-websocket --no-warnings "$HERE/chat.mjs" \
    "$PORT" "$CHAT" "$WORK/chat.db" "$SCREENSHOTS" || status=$?
[ "$status" -eq 124 ] && echo "browser test killed after $((TIMEOUT + 15))s" >&2
exit "$status"
