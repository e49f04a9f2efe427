#!/usr/bin/env bash
# The loopback load test of docs/benchmarks.md: wsproto's tokio_echo_server against the raw TCP
# echo baseline, at 64 and 512 connections, with 16 B and 1 KiB messages, SECONDS (default 10)
# each. Client and server share the machine, as they do on any single host.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-10}"
cargo build --release --features tokio --example load_test --example raw_echo_server \
    --example tokio_echo_server
BIN="${CARGO_TARGET_DIR:-target}/release/examples"
"$BIN/tokio_echo_server" 127.0.0.1:9002 2>/dev/null &
WS_PID=$!
"$BIN/raw_echo_server" 127.0.0.1:9010 2>/dev/null &
RAW_PID=$!
trap 'kill "$WS_PID" "$RAW_PID" 2>/dev/null || true' EXIT
sleep 1
for conns in 64 512; do
    for size in 16 1024; do
        "$BIN/load_test" --raw "$conns" 127.0.0.1:9010 "$size" "$SECONDS_EACH"
        "$BIN/load_test" "$conns" ws://127.0.0.1:9002/ "$size" "$SECONDS_EACH"
    done
done
