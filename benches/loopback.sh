#!/usr/bin/env bash
# The loopback load test of docs/benchmarks.md: wsproto's tokio_echo_server against
# tokio-tungstenite's (peer_echo_server) and the raw TCP echo baseline, at 1, 64 and 512
# connections, with 20 B and 16 KiB messages, SECONDS (default 10) each. The servers run on
# core 0 and the load generator on core 1 (taskset), so neither steals the other's core; every
# server is started fresh for its row. Prints one line per run and a summary table.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-10}"
# wsproto's echo server is the crate's example; the others are the wsproto-benches package's.
# Both land in the workspace's target/release/examples.
cargo build --release -p wsproto --features tokio --example tokio_echo_server
cargo build --release -p wsproto-benches --example load_test --example raw_echo_server \
    --example peer_echo_server
BIN="${CARGO_TARGET_DIR:-target}/release/examples"
OUT="$(mktemp)"
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null || true; rm -f "$OUT"' EXIT

run() { # name server-binary port load-test-args...
    local name="$1" server="$2" port="$3"
    shift 3
    taskset -c 0 "$BIN/$server" "127.0.0.1:$port" 2>/dev/null &
    PID=$!
    sleep 0.5
    local line
    line="$(taskset -c 1 "$BIN/load_test" "$@" "$SECONDS_EACH")"
    kill "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
    echo "$name: $line"
    echo "$name $line" >>"$OUT"
}

for conns in 1 64 512; do
    for size in 20 16384; do
        run raw raw_echo_server 9010 --raw "$conns" 127.0.0.1:9010 "$size"
        run wsproto tokio_echo_server 9002 "$conns" ws://127.0.0.1:9002/ "$size"
        run tokio-tungstenite peer_echo_server 9003 "$conns" ws://127.0.0.1:9003/ "$size"
    done
done

python3 - "$OUT" <<'PY'
import re, sys
rows = {}
for line in open(sys.argv[1]):
    name = line.split()[0]
    m = re.search(r"(\d+) connections, (\d+) B messages.* ([\d.]+) msg/s", line)
    if m:
        rows.setdefault((int(m[1]), int(m[2])), {})[name] = float(m[3])
print("\n| connections | message | raw TCP | wsproto | tokio-tungstenite | wsproto / raw | wsproto / tokio-tungstenite |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for (conns, size), r in sorted(rows.items()):
    raw, ws, peer = r.get("raw", 0), r.get("wsproto", 0), r.get("tokio-tungstenite", 0)
    print(f"| {conns} | {size} B | {raw:,.0f}/s | {ws:,.0f}/s | {peer:,.0f}/s | "
          f"{ws / raw if raw else 0:.2f}x | {ws / peer if peer else 0:.2f}x |")
PY
