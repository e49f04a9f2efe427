#!/usr/bin/env bash
# Interop of the axum integration: examples/axum_echo (wsproto::axum, compression on by
# default) against Python websockets, Node's built-in WebSocket and headless Chromium, each
# echoing CJK and emoji text with permessage-deflate negotiated.
#
#   bash tests/axum/interop.sh        # PROFILE=release (default) or dev
#
# Reuses the TLS interop's venv (websockets, from PyPI once) and installs chromium if missing.
# Everything runs on loopback; every step is bounded by `timeout`, and the server, the browser
# and the scratch directory are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
PROFILE="${PROFILE:-release}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="${TLS_INTEROP_VENV:-$TARGET/tls-interop-venv}"
WEBSOCKETS="websockets==15.0.1"
HERE=tests/axum
step() { printf '\n== axum interop: %s\n' "$*"; }

mkdir -p "$TARGET"
WORK="$(mktemp -d "$TARGET/axum-interop.XXXXXX")"
SERVER_PID=""
BROWSER_PID=""
cleanup() {
    local rc=$?
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

step "Python venv with $WEBSOCKETS ($VENV)"
if ! "$VENV/bin/python" -c "import websockets, sys; sys.exit(websockets.__version__ != '${WEBSOCKETS#*==}')" 2>/dev/null; then
    rm -rf "$VENV"
    timeout 120 python3 -m venv "$VENV"
    timeout 300 "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "$WEBSOCKETS"
fi
if ! command -v chromium >/dev/null; then
    echo "installing chromium" >&2
    timeout 300 apt-get update -qq
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }

step "build examples/axum_echo ($PROFILE)"
timeout 900 cargo build --quiet --profile "$PROFILE" --features axum --example axum_echo
case "$PROFILE" in dev) OUT=debug ;; *) OUT="$PROFILE" ;; esac

# Port 0: the example prints the address it got.
"$TARGET/$OUT/examples/axum_echo" 127.0.0.1:0 2>"$WORK/server.log" &
SERVER_PID=$!
URL=""
for _ in $(seq 100); do
    URL="$(grep -o 'ws://127\.0\.0\.1:[0-9]*/' "$WORK/server.log" || true)"
    [ -n "$URL" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { echo "axum_echo did not start" >&2; exit 1; }
echo "axum_echo at $URL"

step "Python websockets client"
timeout 60 "$VENV/bin/python" "$HERE/client.py" "$URL"

step "Node's WebSocket"
timeout 60 node --experimental-websocket --no-warnings "$HERE/interop.mjs" node "$URL"

step "headless Chromium"
mkdir -p "$WORK/profile"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --no-first-run --disable-component-update --disable-sync \
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
timeout 60 node --experimental-websocket --no-warnings "$HERE/interop.mjs" chromium "$URL" "$PORT"

echo
echo "axum interop: python websockets, node and chromium all echoed with permessage-deflate"
