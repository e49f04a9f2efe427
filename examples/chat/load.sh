#!/usr/bin/env bash
# A load test of the chat on this machine: Redis, two chat nodes, and the load client
# (examples/chat/examples/load.rs) against both, everything on loopback.
#
#   examples/chat/load.sh [load options...]
#   examples/chat/load.sh --clients 200 --duration-secs 20
#   examples/chat/load.sh --connect-rate 500 --deflate
#
# The options go to the load client after the ones this script sets (--nodes, --pids), so
# they may override them; defaults: 10,000 clients in rooms of 100, a message every 10 s
# each, connects as fast as 500 concurrent handshakes allow, 15 s of warmup after the last
# connect and 60 s measured. `--connect-rate 500` spreads the joins over 20 s instead,
# `--deflate` offers permessage-deflate as browsers do. The options and every figure (each a
# line starting `load:`) are described at the top of examples/chat/examples/load.rs.
#
# Redis (the Debian package's redis-server, `apt-get install -y redis-server`) runs without
# persistence on a free loopback port; the nodes keep their SQLite files in a temporary
# directory that is removed at the end (KEEP=1 keeps it, with the logs). Every process
# started here is stopped on exit. CHAT_BIN and LOAD_BIN run other builds of the node and
# the client instead of building them.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"

if [[ -z "${CHAT_BIN:-}" || -z "${LOAD_BIN:-}" ]]; then
    cargo build --release -p chat --bin chat --example load
fi
chat="${CHAT_BIN:-$target/release/chat}"
load="${LOAD_BIN:-$target/release/examples/load}"
command -v redis-server >/dev/null || {
    echo "load.sh: redis-server not found (apt-get install -y redis-server)" >&2
    exit 1
}

# 10,000 sockets in the client and 5,000 in each node: as many descriptors as allowed.
hard="$(ulimit -Hn)"
if [[ "$hard" == unlimited ]]; then
    ulimit -n 1048576 2>/dev/null || ulimit -n 65536 2>/dev/null || true
else
    ulimit -n "$hard" 2>/dev/null || true
fi
echo "load.sh: open files limit $(ulimit -n)"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/chat-load.XXXXXX")"
pids=()
cleanup() {
    local status=$? pid i
    trap - EXIT INT TERM
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    # Up to 10 s for a clean exit, then SIGKILL.
    for ((i = 0; i < 100; i++)); do
        local alive=0
        for pid in "${pids[@]}"; do
            kill -0 "$pid" 2>/dev/null && alive=1
        done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        kill -9 "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if [[ "${KEEP:-}" == 1 ]]; then
        echo "load.sh: kept $tmp"
    else
        rm -rf "$tmp"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

used=()
free_port() {
    local port tries
    for ((tries = 0; tries < 200; tries++)); do
        # Below Linux's default ephemeral range (32768-60999), where the client's own ports are.
        port=$((20000 + RANDOM % 12000))
        [[ " ${used[*]} " == *" $port "* ]] && continue
        if ! ss -Htln "sport = :$port" | grep -q .; then
            used+=("$port")
            echo "$port"
            return 0
        fi
    done
    echo "load.sh: no free port found" >&2
    return 1
}

# Waits (up to 30 s) until `pid` listens on `port`; fails if it exits first.
wait_listening() {
    local pid=$1 port=$2 log=$3 i
    for ((i = 0; i < 300; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "load.sh: process $pid exited before listening on $port; its log:" >&2
            tail -n 30 "$log" >&2
            return 1
        fi
        ss -Htln "sport = :$port" | grep -q . && return 0
        sleep 0.1
    done
    echo "load.sh: nothing listening on $port after 30 s; log:" >&2
    tail -n 30 "$log" >&2
    return 1
}

rport="$(free_port)"
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" \
    >"$tmp/redis.log" 2>&1 &
pids+=($!)
wait_listening "$!" "$rport" "$tmp/redis.log"
echo "load.sh: redis-server pid $! on 127.0.0.1:$rport"

nodes=()
node_pids=()
for n in 0 1; do
    port="$(free_port)"
    # NODE_MALLOC=MALLOC_MMAP_THRESHOLD_=32768 runs the nodes with the glibc setting that
    # docs/deflate-memory.md advises for servers with compression (freed zlib buffers go back
    # to the system); it costs some CPU, so it is off by default. See docs/chat-load.md.
    env ${NODE_MALLOC:-} \
        "$chat" "127.0.0.1:$port" --redis "redis://127.0.0.1:$rport" --db "$tmp/node$n.db" \
        >"$tmp/node$n.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_listening "$pid" "$port" "$tmp/node$n.log"
    echo "load.sh: node$n pid $pid on 127.0.0.1:$port"
    nodes+=("ws://127.0.0.1:$port/chat")
    node_pids+=("$pid")
done

set +e
"$load" --nodes "$(IFS=,; echo "${nodes[*]}")" \
    --pids "node0=${node_pids[0]},node1=${node_pids[1]},redis=${pids[0]}" "$@"
status=$?
set -e

for n in 0 1; do
    if kill -0 "${node_pids[$n]}" 2>/dev/null; then
        echo "load: node$n alive=yes"
    else
        echo "load: node$n alive=no"
        status=1
    fi
    echo "load.sh: last lines of node$n's log:"
    tail -n 10 "$tmp/node$n.log" | sed 's/^/    /'
done
exit "$status"
