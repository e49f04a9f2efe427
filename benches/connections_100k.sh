#!/usr/bin/env bash
# 100,000 concurrent WebSocket connections to the tokio echo server on this machine (issue 15,
# item 5), with and without permessage-deflate; docs/100k-connections.md explains it, the
# settings it needs and what it measured. Not part of the test run. Loopback only.
#
#   benches/connections_100k.sh [COUNT] [plain|deflate|both]     (default: 100000 both)
#
# For each mode it starts the tokio_echo_server example, opens COUNT idle connections to it
# with the connections_100k client (benches/examples/connections_100k.rs: each connection bound
# to one of several source addresses 127.0.0.2.., handshakes paced, pings answered), holds them
# idle for IDLE seconds, checks that a normal wsproto client still gets its CJK + emoji text
# echoed, has every connection send one 100-byte message and read its echo, closes them all,
# and prints the server's VmRSS before, while idle, after the messages and after close, and
# the bytes per connection. "plain" clients offer no extension (the same server binary,
# permessage-deflate compiled in but not negotiated); "deflate" clients send Chromium's offer
# and require the server to accept it.
#
# One process holds at most (hard RLIMIT_NOFILE - 128) connections. When COUNT is more, the
# connections are split evenly over several server processes (ports PORT, PORT+1, ...) and as
# many client processes, and the RSS figures are the servers' sums; the script says so.
#
# Environment: SOURCES (source addresses, default 16: 127.0.0.2..127.0.0.17), PORT (first
# server port, default 9300), IDLE (seconds held idle before measuring, default 25: longer
# than the 20 s keepalive interval, so pings are answered), CONCURRENCY (handshakes in flight
# per client process, default 256), PER_PROCESS (connections per process, default from the
# open-file limit), MIN_FREE_MIB (abort when MemAvailable drops below, default 2048),
# MESSAGE=0 (skip the one message per connection, and the figure after it),
# NO_BUILD=1 (use the binaries already built).
#
# The script changes no kernel setting. It raises the soft open-file limit of the processes it
# starts as far as the hard limit allows, checks the others and stops with a message when one
# is too low. Every wait has a timeout, and it kills every process it started on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT="${1:-100000}"
MODES="${2:-both}"
SOURCES="${SOURCES:-16}"
PORT="${PORT:-9300}"
IDLE="${IDLE:-25}"
CONCURRENCY="${CONCURRENCY:-256}"
MIN_FREE_MIB="${MIN_FREE_MIB:-2048}"
MESSAGE="${MESSAGE:-1}"
case "$MODES" in
plain | deflate) ;;
both) MODES="plain deflate" ;;
*) echo "usage: $0 [COUNT] [plain|deflate|both]" >&2; exit 2 ;;
esac
[[ "$COUNT" =~ ^[1-9][0-9]*$ ]] || { echo "COUNT must be a positive number" >&2; exit 2; }
((SOURCES >= 1 && SOURCES <= 250)) || { echo "SOURCES must be 1..250" >&2; exit 2; }

say() { printf '%s\n' "$*"; }
die() { printf 'connections_100k: %s\n' "$*" >&2; exit 1; }
sysctl_value() { tr -s '\t ' ' ' <"/proc/sys/$1" 2>/dev/null || echo "?"; }

# --- limits -------------------------------------------------------------------------------
# Headroom per process for the runtime's own descriptors (epoll, eventfd, listener, stdio).
MARGIN=128
# Raise the hard limit if it is lower than one process would need and that is allowed (root
# with CAP_SYS_RESOURCE, up to fs.nr_open), then the soft one to it.
HARD_NOFILE="$(ulimit -Hn)"
[ "$HARD_NOFILE" = unlimited ] && HARD_NOFILE="$(cat /proc/sys/fs/nr_open)"
if ((HARD_NOFILE < COUNT + MARGIN)); then
    ulimit -Hn "$((COUNT + MARGIN))" 2>/dev/null || true
    HARD_NOFILE="$(ulimit -Hn)"
fi
ulimit -n "$HARD_NOFILE"
MAX_PER_PROCESS=$((HARD_NOFILE - MARGIN))
((MAX_PER_PROCESS >= 1)) || die "the open-file limit ($HARD_NOFILE) is too low"
PER_PROCESS="${PER_PROCESS:-$MAX_PER_PROCESS}"
((PER_PROCESS <= MAX_PER_PROCESS)) || die "PER_PROCESS=$PER_PROCESS is more than the open-file limit allows ($MAX_PER_PROCESS)"
PROCESSES=$(((COUNT + PER_PROCESS - 1) / PER_PROCESS))
read -r PORT_LO PORT_HI <"/proc/sys/net/ipv4/ip_local_port_range"
PORTS_PER_SOURCE=$((PORT_HI - PORT_LO + 1))
PER_SOURCE=$(((COUNT + SOURCES - 1) / SOURCES))
FILE_MAX="$(cat /proc/sys/fs/file-max)"
FILE_NR="$(awk '{print $1}' /proc/sys/fs/file-nr)"

say "kernel $(uname -r); $(nproc) cores; MemAvailable $(awk '/MemAvailable/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
say "open files per process: soft $(ulimit -n), hard $(ulimit -Hn); fs.nr_open $(cat /proc/sys/fs/nr_open); fs.file-max $FILE_MAX ($FILE_NR in use)"
say "net.ipv4.ip_local_port_range $PORT_LO-$PORT_HI ($PORTS_PER_SOURCE ports per source address); net.core.somaxconn $(sysctl_value net/core/somaxconn); net.ipv4.tcp_max_syn_backlog $(sysctl_value net/ipv4/tcp_max_syn_backlog)"
say "net.ipv4.tcp_mem $(sysctl_value net/ipv4/tcp_mem) (pages); net.ipv4.tcp_max_orphans $(sysctl_value net/ipv4/tcp_max_orphans)"
if ((PER_SOURCE > PORTS_PER_SOURCE - 1024)); then
    die "$PER_SOURCE connections per source address do not fit in $PORTS_PER_SOURCE ephemeral ports: raise SOURCES (now $SOURCES) or widen net.ipv4.ip_local_port_range"
fi
# Both ends of every connection are descriptors on this machine.
if ((FILE_NR + 2 * COUNT + 4096 > FILE_MAX)); then
    die "fs.file-max ($FILE_MAX, $FILE_NR in use) is below the $((2 * COUNT)) descriptors both ends need: sysctl -w fs.file-max=$((4 * COUNT))"
fi
SOURCE_LIST="$(seq -s, -f '127.0.0.%g' 2 $((SOURCES + 1)))"
say "$COUNT connections from $SOURCES source addresses (127.0.0.2..127.0.0.$((SOURCES + 1)), $PER_SOURCE each)"
if ((PROCESSES > 1)); then
    say "NOTE: the hard open-file limit ($HARD_NOFILE) holds at most $PER_PROCESS connections per process, so they are split over $PROCESSES server processes (ports $PORT..$((PORT + PROCESSES - 1))) and $PROCESSES client processes; RSS figures are the servers' sums"
fi

# --- build --------------------------------------------------------------------------------
if [ -z "${NO_BUILD:-}" ]; then
    cargo build --release -p wsproto --features tokio --example tokio_echo_server
    cargo build --release -p wsproto-benches --example connections_100k
fi
BIN="${CARGO_TARGET_DIR:-target}/release/examples"
SERVER="$BIN/tokio_echo_server"
CLIENT="$BIN/connections_100k"
[ -x "$SERVER" ] && [ -x "$CLIENT" ] || die "build $SERVER and $CLIENT first"

# --- processes ----------------------------------------------------------------------------
TMP="$(mktemp -d)"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Running and not a zombie (kill -0 succeeds on a zombie until it is waited for).
alive() { local state; state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)"; [ -n "$state" ] && [ "$state" != Z ]; }
rss_kib() { awk '/^VmRSS:/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
sum_rss_kib() { local total=0 pid; for pid in "$@"; do total=$((total + $(rss_kib "$pid"))); done; echo "$total"; }
mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}'; }
per_conn() { awk -v k="$1" -v n="$2" 'BEGIN{printf "%.0f", k*1024/n}'; }
mem_available_mib() { awk '/MemAvailable/{print int($2/1024)}' /proc/meminfo; }
tcp_sockstat() { awk '/^TCP:/{print "TCP sockets in use " $3 ", orphans " $5 ", time-wait " $7 ", buffer pages " $11}' /proc/net/sockstat; }

# Waits (at most $2 seconds) until file $1 has a line starting with $3; prints that line.
await_line() {
    local file="$1" limit="$2" prefix="$3" pid="${4:-}" start=$SECONDS line
    while ((SECONDS - start < limit)); do
        line="$(grep -m1 "^$prefix" "$file" 2>/dev/null || true)"
        if [ -n "$line" ]; then echo "$line"; return 0; fi
        if [ -n "$pid" ] && ! alive "$pid"; then
            # It may have written the line just before it exited.
            grep -m1 "^$prefix" "$file" 2>/dev/null && return 0
            return 1
        fi
        if (($(mem_available_mib) < MIN_FREE_MIB)); then
            echo "MemAvailable below $MIN_FREE_MIB MiB: stopping" >&2
            return 2
        fi
        sleep 0.2
    done
    return 1
}

run_mode() {
    local mode="$1" flag="" i
    [ "$mode" = deflate ] && flag="--deflate"
    local servers=() clients=() fds=() counts=()
    say ""
    say "== $mode: $COUNT connections"
    for ((i = 0; i < PROCESSES; i++)); do
        local n=$((COUNT / PROCESSES + (i < COUNT % PROCESSES ? 1 : 0)))
        counts+=("$n")
        "$SERVER" "127.0.0.1:$((PORT + i))" 2>"$TMP/server$i.err" &
        servers+=("$!")
        PIDS+=("$!")
    done
    for ((i = 0; i < PROCESSES; i++)); do
        await_line "$TMP/server$i.err" 10 "tokio_echo_server listening" "${servers[$i]}" >/dev/null ||
            die "server $i did not start: $(cat "$TMP/server$i.err")"
    done
    # Warm up each server with one normal client (lazily created runtime state is not counted
    # per connection), then read the baseline.
    for ((i = 0; i < PROCESSES; i++)); do
        timeout 40 "$CLIENT" echo "ws://127.0.0.1:$((PORT + i))/" $flag >/dev/null ||
            die "the warm-up echo to server $i failed"
    done
    sleep 1
    local before tcp_before
    before="$(sum_rss_kib "${servers[@]}")"
    tcp_before="$(tcp_sockstat)"

    local started=$SECONDS offset=0
    for ((i = 0; i < PROCESSES; i++)); do
        mkfifo "$TMP/ctl$i"
        "$CLIENT" hold "127.0.0.1:$((PORT + i))" "${counts[$i]}" "$SOURCE_LIST" $flag \
            --offset "$offset" --concurrency "$CONCURRENCY" --hold 1800 \
            <"$TMP/ctl$i" >"$TMP/client$i.out" 2>"$TMP/client$i.err" &
        clients+=("$!")
        PIDS+=("$!")
        local fd
        exec {fd}>"$TMP/ctl$i"
        fds+=("$fd")
        offset=$((offset + counts[i]))
    done
    local opened=0 failed=0 retries=0 slowest=0 line
    for ((i = 0; i < PROCESSES; i++)); do
        line="$(await_line "$TMP/client$i.out" 660 "open " "${clients[$i]}")" ||
            die "client $i did not report its connections open: $(tail -5 "$TMP/client$i.err")"
        read -r _ o f r t <<<"$line"
        opened=$((opened + o)); failed=$((failed + f)); retries=$((retries + r))
        slowest="$(awk -v a="$slowest" -v b="$t" 'BEGIN{print (b > a) ? b : a}')"
    done
    local open_seconds=$((SECONDS - started))
    say "opened $opened of $COUNT in $open_seconds s (slowest client process $slowest s); $failed failed, $retries retried"
    if ((failed > 0)); then
        for ((i = 0; i < PROCESSES; i++)); do head -5 "$TMP/client$i.err"; done
    fi
    say "holding them idle for $IDLE s"
    local idle_start=$SECONDS
    while ((SECONDS - idle_start < IDLE)); do
        (($(mem_available_mib) >= MIN_FREE_MIB)) || die "MemAvailable below $MIN_FREE_MIB MiB while idle"
        for pid in "${clients[@]}" "${servers[@]}"; do alive "$pid" || die "a process died while idle"; done
        sleep 1
    done
    local open_rss client_rss
    open_rss="$(sum_rss_kib "${servers[@]}")"
    client_rss="$(sum_rss_kib "${clients[@]}")"
    local tcp_open
    tcp_open="$(tcp_sockstat)"

    # The normal client, while all of them are open.
    local echo_result="passed" out
    for ((i = 0; i < PROCESSES; i++)); do
        if out="$(timeout 40 "$CLIENT" echo "ws://127.0.0.1:$((PORT + i))/" $flag)"; then
            say "server $i: $out"
        else
            say "server $i: ${out:-echo FAILED (timed out)}"
            echo_result="FAILED"
        fi
    done

    # Then each connection sends one message and reads its echo: the server's state after
    # traffic (with permessage-deflate, its inflater and deflater are in use from here on).
    local echoes=0 compressed=0 m z message_rss=""
    if [ "$MESSAGE" = 1 ]; then
        for fd in "${fds[@]}"; do echo message >&"$fd"; done
        for ((i = 0; i < PROCESSES; i++)); do
            line="$(await_line "$TMP/client$i.out" 90 "messaged " "${clients[$i]}")" ||
                die "client $i did not report its messages: $(tail -3 "$TMP/client$i.err")"
            read -r _ m _ _ z <<<"$line"
            echoes=$((echoes + m)); compressed=$((compressed + ${z#compressed=}))
        done
        sleep 2
        message_rss="$(sum_rss_kib "${servers[@]}")"
    fi

    # Close them all: a line on each client's stdin.
    for fd in "${fds[@]}"; do
        echo close >&"$fd"
        exec {fd}>&-
    done
    local clean=0 pongs=0
    for ((i = 0; i < PROCESSES; i++)); do
        line="$(await_line "$TMP/client$i.out" 90 "closed " "${clients[$i]}")" ||
            say "client $i did not report its close: $(tail -3 "$TMP/client$i.err")"
        read -r _ c _ _ p _ <<<"${line:-closed 0 0 0 pongs=0}"
        clean=$((clean + c)); pongs=$((pongs + ${p#pongs=}))
    done
    local pid
    for pid in "${clients[@]}"; do
        # Each exits by itself once its connections are closed.
        local waited=0
        while alive "$pid" && ((waited < 100)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    sleep 3
    local after fds_left=0
    after="$(sum_rss_kib "${servers[@]}")"
    # The servers' descriptors left (the runtime's few and the listener's): the connections are
    # gone even where the allocator keeps their memory.
    for pid in "${servers[@]}"; do fds_left=$((fds_left + $(ls "/proc/$pid/fd" 2>/dev/null | wc -l))); done
    local server_errors
    server_errors="$(cat "$TMP"/server*.err | grep -vc "listening" || true)"
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    # All of them waited for: none is left to kill (and their ids may be reused).
    PIDS=()
    rm -f "$TMP"/ctl* "$TMP"/client* "$TMP"/server*

    say "server RSS ($PROCESSES process(es)): before $(mib "$before"), $opened open $(mib "$open_rss"), after close $(mib "$after") (descriptors left open: $fds_left)"
    local per_message="-"
    if [ -n "$message_rss" ]; then
        per_message="$(per_conn $((message_rss - before)) "$opened")"
        say "server RSS after one message and its echo on each ($echoes of $opened echoed, $compressed of them compressed): $(mib "$message_rss")"
    fi
    say "per connection: $(per_conn $((open_rss - before)) "$opened") bytes idle after the handshake; $per_message bytes after one message each; $(per_conn $((after - before)) "$opened") bytes still held after close"
    say "client RSS: $(mib "$client_rss") for $opened connections ($(per_conn "$client_rss" "$opened") bytes each, whole processes)"
    say "kernel before: $tcp_before"
    say "kernel open:   $tcp_open"
    say "echo check while open: $echo_result; closed cleanly: $clean of $opened; pongs sent: $pongs; server error lines: $server_errors"
    say "result mode=$mode count=$COUNT opened=$opened processes=$PROCESSES open_seconds=$open_seconds rss_before_kib=$before rss_open_kib=$open_rss rss_message_kib=${message_rss:--} rss_after_close_kib=$after per_connection_bytes=$(per_conn $((open_rss - before)) "$opened") per_connection_after_message_bytes=$per_message echo=$echo_result clean_closes=$clean"
}

for mode in $MODES; do
    run_mode "$mode"
done
