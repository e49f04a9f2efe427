#!/usr/bin/env bash
# Real-browser test of WebSockets over HTTP/2 (RFC 8441): the h2_chat example over https with a
# certificate it generates, headless Chromium (--ignore-certificate-errors) driven over the
# Chrome DevTools Protocol by h2.mjs (Node built-ins only). Two runs of the same page:
#   1. HTTP/2 on: the page comes over h2 and its WebSocket is an extended CONNECT on that
#      connection (Chromium reports a 200 handshake; the server logs "over HTTP/2");
#   2. the control, Chromium with --disable-http2: the page over http/1.1 and the WebSocket an
#      HTTP/1.1 upgrade (101; the server logs "over HTTP/1.1").
#
#   bash tests/browser/h2.sh
#
# Env: TIMEOUT (seconds per browser run, default 60), PROFILE (cargo profile: dev or release,
# default dev), SCREENSHOT (a PNG path for the HTTP/2 run's page; optional), DUMP=1 (print the
# Network events about the socket). Everything runs on loopback.
set -euo pipefail

cd "$(dirname "$0")/../.."
TIMEOUT="${TIMEOUT:-60}"
PROFILE="${PROFILE:-dev}"
HERE=tests/browser

CHROMIUM="$(command -v chromium || true)"
if [ -z "$CHROMIUM" ]; then
    echo "installing chromium" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    CHROMIUM="$(command -v chromium)"
fi
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }

echo "building the h2_chat example ($PROFILE)" >&2
cargo build --quiet --profile "$PROFILE" -p wsproto --features http,tokio --example h2_chat
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$PROFILE" in dev) OUT=debug ;; *) OUT="$PROFILE" ;; esac
SERVER="$TARGET_DIR/$OUT/examples/h2_chat"

WORK="$(mktemp -d)"
SERVER_PID=""
BROWSER_PID=""
stop_browser() {
    # Chromium's helper processes outlive the browser process for a moment and may still be
    # writing into the profile, so they are stopped too.
    [ -n "$BROWSER_PID" ] && pkill -P "$BROWSER_PID" 2>/dev/null || true
    [ -n "$BROWSER_PID" ] && { kill "$BROWSER_PID" 2>/dev/null && wait "$BROWSER_PID" 2>/dev/null; } || true
    BROWSER_PID=""
}
cleanup() {
    # Keep the script's status (a failing `wait` on a killed child would replace it).
    local rc=$?
    stop_browser
    [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null; } || true
    for _ in 1 2 3 4 5; do
        rm -rf "$WORK" 2>/dev/null && break
        sleep 0.5
    done
    exit "$rc"
}
trap cleanup EXIT

# Port 0: the server picks a free loopback port and prints it.
"$SERVER" 127.0.0.1:0 2>"$WORK/server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 100); do
    URL="$(grep -o 'https://127\.0\.0\.1:[0-9]*/' "$WORK/server.log" || true)"
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { echo "h2_chat did not start" >&2; exit 1; }
echo "h2_chat at $URL" >&2

# start_browser NAME [CHROMIUM FLAGS...]: a fresh profile each time; sets PORT.
start_browser() {
    local name="$1"
    shift
    mkdir -p "$WORK/$name"
    "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-quic --no-first-run --disable-component-update --disable-sync \
        --ignore-certificate-errors "$@" \
        --user-data-dir="$WORK/$name" --remote-debugging-address=127.0.0.1 \
        --remote-debugging-port=0 about:blank >"$WORK/$name.log" 2>&1 &
    BROWSER_PID=$!
    PORT=""
    for _ in $(seq 300); do
        if [ -s "$WORK/$name/DevToolsActivePort" ]; then
            PORT="$(head -n1 "$WORK/$name/DevToolsActivePort")"
            [ -n "$PORT" ] && return 0
        fi
        kill -0 "$BROWSER_PID" 2>/dev/null || { cat "$WORK/$name.log" >&2; return 1; }
        sleep 0.1
    done
    echo "chromium did not open its DevTools port" >&2
    return 1
}

# run NAME EXPECT LOGGED [SCREENSHOT] [CHROMIUM FLAGS...]: one browser, one page; then the
# server's log must have one more "WebSocket over LOGGED" line than before.
status=0
run() {
    local name="$1" expect="$2" logged="$3" shot="$4"
    shift 4
    local before after rc=0
    before="$(grep -c "WebSocket over $logged," "$WORK/server.log" || true)"
    local closed_before
    closed_before="$(grep -c "WebSocket over $logged closed" "$WORK/server.log" || true)"
    echo "--- $name: Chromium $* (expecting $expect)"
    start_browser "$name" "$@" || return 1
    timeout "$TIMEOUT" node --experimental-websocket --no-warnings "$HERE/h2.mjs" \
        "$PORT" "$URL" "$expect" "$shot" || rc=$?
    stop_browser
    [ "$rc" -eq 124 ] && echo "browser run timed out after ${TIMEOUT}s" >&2
    after="$(grep -c "WebSocket over $logged," "$WORK/server.log" || true)"
    if [ "$after" -gt "$before" ]; then
        echo "ok - the server logged the WebSocket over $logged"
    else
        echo "FAILED - the server logged no WebSocket over $logged"
        rc=1
    fi
    # The page closed with 1000; the server logs the clean end just after its close reply.
    local closed=""
    for _ in $(seq 50); do
        closed="$(grep -c "WebSocket over $logged closed" "$WORK/server.log" || true)"
        [ "$closed" -gt "$closed_before" ] && break
        sleep 0.1
    done
    if [ "$closed" -gt "$closed_before" ]; then
        echo "ok - the server saw the clean close over $logged"
    else
        echo "FAILED - the server did not log a clean close over $logged"
        rc=1
    fi
    [ "$rc" -eq 0 ] || status=1
}

run http2 h2 HTTP/2 "${SCREENSHOT:-}"
run control http/1.1 HTTP/1.1 "" --disable-http2

echo "--- server log" >&2
cat "$WORK/server.log" >&2
[ "$status" -eq 0 ] && echo "h2 browser test passed" || echo "h2 browser test FAILED" >&2
exit "$status"
