#!/usr/bin/env python3
"""Measures the RSS per idle connection of a WebSocket server (the tokio echo server).

usage: idle_connections.py PID HOST PORT [N] [--deflate] [--message] [--messages K]
                           [--release-wait SECS] [--hold SECS] [--close-wait SECS]

Opens N (default 1000) WebSocket connections, completes each handshake, keeps them idle, and
prints the server's VmRSS before and after and the difference per connection. Loopback only.

--deflate       offer compression the way Chromium does
                (`Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits`) and
                check that the server accepted it.
--message       then send one compressed text message (a chat-like JSON object) on every
                connection (--messages K: K of them, one after the other, which fills the
                4 KiB histories from K = 15 on), read the compressed echo back, wait
                --release-wait seconds
                (default 2.5: the server frees idle zlib streams 1-2 s after the last message)
                and report the RSS again.
--hold SECS     keep the idle connections open this long before closing them (to look at the
                server from outside meanwhile).
--close-wait    after closing every connection, wait this long (default 3 s) and report the
                RSS against the RSS before the first connection.

The client side compresses with Python's zlib (raw DEFLATE, `wbits=-N` with the window the
server asked for, memLevel 5), sync-flushed and with the `00 00 ff ff` tail cut (RFC 7692).
"""
import base64
import os
import re
import resource
import socket
import struct
import sys
import time
import zlib

OFFER = "permessage-deflate; client_max_window_bits"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit("no VmRSS")


class Conn:
    def __init__(self, host, port, deflate):
        self.sock = socket.create_connection((host, port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        ext = f"Sec-WebSocket-Extensions: {OFFER}\r\n" if deflate else ""
        self.sock.sendall((f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\n{ext}\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise SystemExit("server closed during the handshake")
            head += chunk
        head, self.rest = head.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise SystemExit(f"handshake refused: {head[:80]!r}")
        self.extensions = ""
        for line in head.decode().split("\r\n"):
            if line.lower().startswith("sec-websocket-extensions:"):
                self.extensions = line.split(":", 1)[1].strip()
        if deflate and not self.extensions.startswith("permessage-deflate"):
            raise SystemExit(f"compression declined: {head!r}")
        m = re.search(r"client_max_window_bits=(\d+)", self.extensions)
        bits = int(m.group(1)) if m else 15
        self.deflate = zlib.compressobj(6, zlib.DEFLATED, -bits, 5) if deflate else None
        self.inflate = zlib.decompressobj(-15) if deflate else None

    def send_text(self, text):
        data = text.encode()
        first = 0x81
        if self.deflate:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
            assert data.endswith(b"\x00\x00\xff\xff")
            data = data[:-4]
            first |= 0x40  # RSV1: compressed
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            header = struct.pack("!BB", first, 0x80 | n)
        elif n < 65536:
            header = struct.pack("!BBH", first, 0x80 | 126, n)
        else:
            header = struct.pack("!BBQ", first, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def recv_text(self):
        buf = self.rest
        while True:
            if len(buf) >= 2:
                first, n, at = buf[0], buf[1] & 0x7F, 2
                if n == 126:
                    n, at = (struct.unpack("!H", buf[2:4])[0], 4) if len(buf) >= 4 else (None, 4)
                elif n == 127:
                    n, at = (struct.unpack("!Q", buf[2:10])[0], 10) if len(buf) >= 10 else (None, 10)
                if n is not None and len(buf) >= at + n:
                    break
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit("server closed")
            buf += chunk
        payload, self.rest = buf[at:at + n], buf[at + n:]
        assert first & 0x8F == 0x81, f"not a whole text frame: {first:#x}"
        if first & 0x40:
            payload = self.inflate.decompress(payload + b"\x00\x00\xff\xff")
        return payload.decode()

    def close(self):
        self.sock.close()


def chat(i):
    words = ["你好", "世界", "😀", "ありがとう", "привет", "좋아요", "🎉", "今天", "没问题", "👍"]
    text = "".join(words[(i * 7 + k) % len(words)] for k in range(20 + i % 30))
    return ('{"type":"message","data":{"id":%d,"user":"小明","room":"大厅","text":"%s","ts":%d}}'
            % (i, text, 1733150000000 + i))


def main():
    args, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a.startswith("--"):
            skip = a in ("--messages", "--release-wait", "--close-wait", "--hold")
        else:
            args.append(a)
    flags = sys.argv[1:]
    pid, host, port = int(args[0]), args[1], int(args[2])
    n = int(args[3]) if len(args) > 3 else 1000
    deflate = "--deflate" in flags or "--message" in flags or "--messages" in flags
    message = "--message" in flags or "--messages" in flags

    def opt(name, default):
        if name in flags:
            return float(flags[flags.index(name) + 1])
        return default

    release_wait = opt("--release-wait", 2.5)
    k = int(opt("--messages", 1))
    close_wait = opt("--close-wait", 3.0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 100)), hard))

    # Warm up: one connection (with a message, when asked), so lazily created runtime state is
    # not counted per connection.
    warm = Conn(host, port, deflate)
    if message:
        warm.send_text(chat(0))
        assert warm.recv_text() == chat(0)
    time.sleep(release_wait if message else 0.5)
    start = rss_kib(pid)
    conns = [Conn(host, port, deflate) for _ in range(n)]
    time.sleep(1.0)
    idle = rss_kib(pid)
    print(f"connections={n} deflate={deflate} extensions={conns[0].extensions!r}")
    print(f"after handshake: rss_before_kib={start} rss_after_kib={idle} "
          f"per_connection_bytes={(idle - start) * 1024 / n:.0f}")
    if message:
        t = time.time()
        for j in range(k):
            for i, c in enumerate(conns):
                c.send_text(chat(i + j))
            for i, c in enumerate(conns):
                got = c.recv_text()
                if got != chat(i + j):
                    raise SystemExit(f"echo {i} differs: {got[:60]!r}")
        took = time.time() - t
        peak = rss_kib(pid)
        time.sleep(release_wait)
        after = rss_kib(pid)
        print(f"after {k} message(s) each ({took:.2f} s) and {release_wait} s idle: "
              f"rss_peak_kib={peak} rss_after_kib={after} "
              f"per_connection_bytes={(after - start) * 1024 / n:.0f}")
    hold = opt("--hold", 0)
    if hold:
        # Time to look at the server from outside (e.g. after a malloc_trim) while it is idle.
        print(f"holding the idle connections for {hold} s", flush=True)
        time.sleep(hold)
        print(f"after holding: rss_kib={rss_kib(pid)}")
    for c in conns:
        c.close()
    warm.close()
    time.sleep(close_wait)
    closed = rss_kib(pid)
    print(f"after close and {close_wait} s: rss_kib={closed} "
          f"above_start_kib={closed - start} ({(closed - start) / 1024:.1f} MiB)")


if __name__ == "__main__":
    main()
