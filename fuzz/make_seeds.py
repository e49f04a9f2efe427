#!/usr/bin/env python3
"""Writes the checked-in seed corpus (tests/fuzz_seeds/<target>/<name>). Re-run after changing it.

The seeds live under tests/ so that the published crate carries them for tests/fuzz_corpus.rs
(cargo leaves fuzz/, a package of its own, out of the crate).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def frame(opcode, payload=b"", fin=True, mask=None, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n < 65536:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if mask:
        head += bytes(mask)
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + payload


def write(target, name, data):
    d = os.path.join(HERE, "..", "tests", "fuzz_seeds", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


K = [0x37, 0xFA, 0x21, 0x3D]
REQUEST = (b"GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
           b"Sec-WebSocket-Protocol: chat, superchat\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n")
RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n")

for step in (1, 7, 64):
    s = bytes([step - 1])
    masked = [frame(1, b"Hello", mask=K), frame(1, "κόσμε".encode(), fin=False, mask=K), frame(9, b"ping", mask=K),
              frame(0, b" world", mask=K), frame(2, bytes(300), mask=K), frame(8, b"\x03\xe8bye", mask=K)]
    write("server_stream", "valid-%d" % step, s + b"".join(masked))
    write("server_stream", "bad-utf8-%d" % step, s + frame(1, b"\xce\xba\xf4\x90\x80\x80", mask=K))
    write("server_stream", "unmasked-%d" % step, s + frame(1, b"x"))
    write("server_stream", "huge-len-%d" % step, s + bytes([0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]) + bytes(K))
    plain = [frame(1, b"Hello"), frame(2, b"\x00\x01", fin=False), frame(10, b"p"), frame(0, b"\x02"), frame(8, b"\x03\xe8")]
    write("client_stream", "valid-%d" % step, s + b"".join(plain))
    write("client_stream", "rsv-%d" % step, s + frame(1, b"x", rsv=4))
    write("client_stream", "close-1-byte-%d" % step, s + frame(8, b"\x03"))
    write("handshake_request", "rfc-%d" % step, s + REQUEST + frame(1, b"Hi", mask=K))
    write("handshake_request", "post-%d" % step, s + REQUEST.replace(b"GET", b"POST", 1))
    write("handshake_request", "version-8-%d" % step, s + REQUEST.replace(b"Version: 13", b"Version: 8"))
    write("handshake_response", "101-%d" % step, s + RESPONSE + frame(1, b"Hi"))
    write("handshake_response", "401-%d" % step, s + b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n\r\n")

write("frame_header", "short", bytes([0x81, 0x05]))
write("frame_header", "ext16", bytes([0x82, 0xFE, 0x01, 0x00]) + bytes(K))
write("frame_header", "ext64", bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]))
write("mask", "hello", bytes(K) + b"\x03" + b"Hello, masking at an offset")
write("utf8", "mixed", b"\x03" + "κόσμε 𝄞 €".encode() + b"\xed\xa0\x80")
write("utf8", "valid", b"\x00" + "hello wörld".encode())
write("round_trip", "ops", bytes(range(256)) * 2)
write("connection", "ops", bytes(range(255, -1, -1)) * 2)

# RFC 7692 7.2.3: "Hello" compressed, and with a second message using the shared window.
write("inflate", "hello", b"\x40" + bytes.fromhex("f248cdc9c90700"))
write("inflate", "hello-takeover", b"\x41" + bytes.fromhex("f248cdc9c90700") + bytes.fromhex("f200110000"))
write("inflate", "stored", b"\xff" + bytes.fromhex("0005 00faff") + b"Hello")
write("inflate", "zeros-bomb", b"\x02" + bytes.fromhex("edc1010d000000c2a0f74f6d0e37a00000000000000000007e0c") )
