#!/usr/bin/env bash
# The chat behind real nginx, as deployed: the chat on a Unix socket (`--unix`), nginx in front
# terminating TLS with a certificate generated here, configured by examples/chat/nginx.conf
# (proxy_http_version 1.1, the Upgrade and Connection headers), and headless Chromium chatting
# through wss:// with permessage-deflate negotiated end to end (nginx.mjs).
#
#   bash tests/browser/nginx.sh
#
# Installs nginx and chromium with apt if they are missing. Env: TIMEOUT (seconds, default 90),
# PROFILE (dev or release, default dev), SCREENSHOT (a PNG path; optional). Loopback only; every
# process started here is stopped at exit.
set -euo pipefail

cd "$(dirname "$0")/../.."
TIMEOUT="${TIMEOUT:-90}"
PROFILE="${PROFILE:-dev}"
HERE=tests/browser

missing=""
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
[ -x /usr/bin/chromium ] || missing="$missing chromium"
if [ -n "$missing" ]; then
    echo "installing$missing" >&2
    apt-get update -qq
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
command -v node >/dev/null || { echo "node is required" >&2; exit 1; }

echo "building the chat demo ($PROFILE)" >&2
cargo build --quiet --profile "$PROFILE" -p chat
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
case "$PROFILE" in dev) OUT=debug ;; *) OUT="$PROFILE" ;; esac
CHAT="$TARGET_DIR/$OUT/chat"

WORK="$(mktemp -d)"
CHAT_PID=""
NGINX_PID=""
BROWSER_PID=""
stop_browser() {
    [ -n "$BROWSER_PID" ] && pkill -P "$BROWSER_PID" 2>/dev/null || true
    [ -n "$BROWSER_PID" ] && { kill "$BROWSER_PID" 2>/dev/null && wait "$BROWSER_PID" 2>/dev/null; } || true
    BROWSER_PID=""
}
cleanup() {
    local rc=$?
    stop_browser
    [ -n "$NGINX_PID" ] && { kill -QUIT "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null; } || true
    [ -n "$CHAT_PID" ] && { kill "$CHAT_PID" 2>/dev/null && wait "$CHAT_PID" 2>/dev/null; } || true
    for _ in 1 2 3 4 5; do
        rm -rf "$WORK" 2>/dev/null && break
        sleep 0.5
    done
    exit "$rc"
}
trap cleanup EXIT

openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

"$CHAT" --unix "$WORK/chat.sock" --db "$WORK/chat.db" 2>"$WORK/chat.log" &
CHAT_PID=$!
for _ in $(seq 100); do
    [ -S "$WORK/chat.sock" ] && break
    kill -0 "$CHAT_PID" 2>/dev/null || { cat "$WORK/chat.log" >&2; exit 1; }
    sleep 0.1
done
[ -S "$WORK/chat.sock" ] || { echo "the chat did not create its socket" >&2; exit 1; }

PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# Run as root (CI), the workers must be root too to reach a socket made by root.
USER_LINE=""
[ "$(id -u)" = 0 ] && USER_LINE="user root;"
mkdir -p "$WORK"/{client-body,proxy,fastcgi,uwsgi,scgi}
sed -e "s|@USER@|$USER_LINE|" -e "s|@WORK@|$WORK|g" -e "s|@SOCKET@|$WORK/chat.sock|g" \
    -e "s|@LISTEN@|127.0.0.1:$PORT|" -e "s|@CERT@|$WORK/cert.pem|" -e "s|@KEY@|$WORK/key.pem|" \
    examples/chat/nginx.conf > "$WORK/nginx.conf"
"$NGINX" -t -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" 2>"$WORK/nginx-t.log" \
    || { cat "$WORK/nginx-t.log" >&2; exit 1; }
"$NGINX" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
NGINX_PID=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/nginx-error.log" >&2; exit 1; }
    sleep 0.1
done
echo "nginx at https://127.0.0.1:$PORT/ in front of unix:$WORK/chat.sock" >&2

mkdir -p "$WORK/profile"
/usr/bin/chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-quic --no-first-run --disable-component-update --disable-sync \
    --ignore-certificate-errors --user-data-dir="$WORK/profile" \
    --remote-debugging-address=127.0.0.1 --remote-debugging-port=0 about:blank \
    >"$WORK/chromium.log" 2>&1 &
BROWSER_PID=$!
DEVTOOLS=""
for _ in $(seq 300); do
    if [ -s "$WORK/profile/DevToolsActivePort" ]; then
        DEVTOOLS="$(head -n1 "$WORK/profile/DevToolsActivePort")"
        [ -n "$DEVTOOLS" ] && break
    fi
    kill -0 "$BROWSER_PID" 2>/dev/null || { cat "$WORK/chromium.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$DEVTOOLS" ] || { echo "chromium did not open its DevTools port" >&2; exit 1; }

[ -n "${SCREENSHOT:-}" ] && mkdir -p "$(dirname "$SCREENSHOT")"
status=0
timeout "$TIMEOUT" node --experimental-websocket --no-warnings "$HERE/nginx.mjs" \
    "$DEVTOOLS" "https://127.0.0.1:$PORT/" "${SCREENSHOT:-}" || status=$?
# The upgrade went through nginx: its access log has the 101, written when the socket ends,
# so the browser goes first.
stop_browser
for _ in $(seq 50); do
    grep -q '"GET /chat HTTP/1.1" 101' "$WORK/nginx-access.log" 2>/dev/null && break
    sleep 0.1
done
if grep -q '"GET /chat HTTP/1.1" 101' "$WORK/nginx-access.log"; then
    echo "ok - nginx logged the WebSocket upgrade (101)"
else
    echo "FAILED - no 101 for /chat in nginx's access log" >&2
    status=1
fi
if [ "$status" -ne 0 ]; then
    echo "--- chat log" >&2; tail -n 20 "$WORK/chat.log" >&2
    echo "--- nginx error log" >&2; tail -n 20 "$WORK/nginx-error.log" >&2
    [ "$status" -eq 124 ] && echo "nginx browser test timed out after ${TIMEOUT}s" >&2
fi
exit "$status"
