#!/usr/bin/env python3
"""Measures the RSS per idle connection of a WebSocket server (the tokio echo server).

usage: idle_connections.py PID HOST PORT [N]
Opens N (default 1000) WebSocket connections, completes each handshake, keeps them idle, and
prints the server's VmRSS before and after and the difference per connection. Loopback only.
"""
import base64
import os
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


def main():
    pid, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    # Warm up: one connection, so lazily created runtime state is not counted per connection.
    socks = [connect(host, port)]
    time.sleep(0.5)
    before = rss_kib(pid)
    for _ in range(n):
        socks.append(connect(host, port))
    time.sleep(1.0)
    after = rss_kib(pid)
    per = (after - before) * 1024 / n
    print(f"connections={n} rss_before_kib={before} rss_after_kib={after} per_connection_bytes={per:.0f}")
    for s in socks:
        s.close()


def connect(host, port):
    s = socket.create_connection((host, port), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("server closed during the handshake")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"handshake refused: {head[:80]!r}")
    return s


if __name__ == "__main__":
    main()
