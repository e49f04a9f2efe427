#!/usr/bin/env bash
# TLS interop: examples/client.rs, built with `--features tokio,rustls-tls-native-roots`,
# against a wss:// echo server of another library (Python websockets over ssl, echo_server.py),
# trusting the server's certificate only through SSL_CERT_FILE.
#
#   bash tests/tls/interop.sh        # PROFILE=release for a release build of the client
#
# Makes a venv under target/ with websockets (from PyPI, once), a certificate for 127.0.0.1
# (openssl), starts the server on a free loopback port and checks that the client sends three
# lines (ASCII, CJK, emoji) and prints each echo; then that the client fails without the
# certificate and reports a refused handshake's status. Every step is bounded by `timeout`;
# the server and the scratch directory are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
PROFILE="${PROFILE:-debug}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="${TLS_INTEROP_VENV:-$TARGET/tls-interop-venv}"
WEBSOCKETS="websockets==15.0.1"
step() { printf '\n== tls interop: %s\n' "$*"; }

mkdir -p "$TARGET"
WORK="$(mktemp -d "$TARGET/tls-interop.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

step "Python venv with $WEBSOCKETS ($VENV)"
if ! "$VENV/bin/python" -c "import websockets, sys; sys.exit(websockets.__version__ != '${WEBSOCKETS#*==}')" 2>/dev/null; then
    rm -rf "$VENV"
    timeout 120 python3 -m venv "$VENV"
    timeout 300 "$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "$WEBSOCKETS"
fi
"$VENV/bin/python" -c 'import websockets; print("websockets", websockets.__version__)'

step "certificate for 127.0.0.1"
cat > "$WORK/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
x509_extensions = leaf
prompt = no
[dn]
CN = 127.0.0.1
[leaf]
subjectAltName = IP:127.0.0.1
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
CNF
timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -config "$WORK/openssl.cnf" -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
openssl x509 -in "$WORK/cert.pem" -noout -subject -ext subjectAltName

step "build examples/client ($PROFILE, features tokio,rustls-tls-native-roots)"
BUILD=(cargo build --features tokio,rustls-tls-native-roots --example client)
[ "$PROFILE" = release ] && BUILD+=(--release)
timeout 1200 "${BUILD[@]}"
CLIENT="$TARGET/$PROFILE/examples/client"

step "start the Python wss:// echo server"
timeout 300 "$VENV/bin/python" tests/tls/echo_server.py "$WORK/cert.pem" "$WORK/key.pem" "$WORK/port" &
SERVER_PID=$!
for _ in $(seq 100); do
    [ -s "$WORK/port" ] && break
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "the echo server exited" >&2; exit 1; }
    sleep 0.1
done
[ -s "$WORK/port" ] || { echo "the echo server did not start in 10 s" >&2; exit 1; }
PORT="$(cat "$WORK/port")"
URL="wss://127.0.0.1:$PORT/"
echo "listening at $URL"

passed=0
failed=0
check() {
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# 1. Three lines through the client, each echo printed.
LINES=("hello over TLS" "你好，世界。こんにちは、세계" "emoji 🎉🔐 👩‍💻 done")
echoes() {
    local rc=0 line
    printf '%s\n' "${LINES[@]}" | SSL_CERT_FILE="$WORK/cert.pem" timeout 30 "$CLIENT" "$URL" \
        > "$WORK/out" 2> "$WORK/err" || rc=$?
    echo "client exit status $rc"
    echo "-- stdout"; cat "$WORK/out"
    echo "-- stderr"; cat "$WORK/err"
    [ "$rc" = 0 ] || { echo "FAIL: the client exited with $rc"; return 1; }
    for line in "${LINES[@]}"; do
        grep -Fxq "< $line" "$WORK/out" || { echo "FAIL: no echo of: $line"; return 1; }
    done
    echo "ok: every line came back"
}
step "client $URL with SSL_CERT_FILE, three lines"
check echoes

# 2. Without the certificate the TLS handshake fails: exit status 1, a TLS error.
untrusted() {
    local rc=0
    echo "x" | env -u SSL_CERT_FILE -u SSL_CERT_DIR timeout 30 "$CLIENT" "$URL" \
        > "$WORK/out" 2> "$WORK/err" || rc=$?
    echo "client exit status $rc"; cat "$WORK/err"
    [ "$rc" = 1 ] && grep -q "TLS" "$WORK/err" || { echo "FAIL: expected a TLS error"; return 1; }
    echo "ok: refused the untrusted certificate"
}
step "client $URL without SSL_CERT_FILE"
check untrusted

# 3. A refused handshake: its status is printed, exit status 1.
refused() {
    local rc=0
    echo "x" | SSL_CERT_FILE="$WORK/cert.pem" timeout 30 "$CLIENT" "${URL}refuse" \
        > "$WORK/out" 2> "$WORK/err" || rc=$?
    echo "client exit status $rc"; cat "$WORK/err"
    [ "$rc" = 1 ] && grep -q "^HTTP 403" "$WORK/err" && grep -q "^refused by the test server" "$WORK/err" || { echo "FAIL: expected HTTP 403 and its body"; return 1; }
    echo "ok: printed the refusal"
}
step "client ${URL}refuse"
check refused

echo
echo "tls interop: $passed passed, $failed failed"
[ "$failed" = 0 ]
