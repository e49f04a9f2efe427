#!/usr/bin/env python3
"""Prints the tables of docs/benchmarks.md from a `cargo bench -p wsproto-benches --bench throughput` run.

    python3 benches/summarize.py                 # criterion's results under target/criterion
    python3 benches/summarize.py --log FILE      # or the bench's saved standard output

Times are criterion's point estimates (the median from target/criterion, the middle "time"
figure from a log). Each ratio is a peer's time divided by wsproto's: above 1, wsproto is faster.
Throughput counts payload bytes: 4 MiB per receive/send iteration, 1 MiB for the primitives.
"""
import json
import os
import re
import sys

PEERS = ["tungstenite", "fastwebsockets", "tokio-websockets"]
SIZES = ["16B", "1KiB", "64KiB", "1MiB"]
BYTES = {"receive": 4 << 20, "send": 4 << 20, "primitives_1MiB": 1 << 20,
         "primitives_16KiB": 16 << 10}
UNITS = {"ns": 1.0, "µs": 1e3, "us": 1e3, "ms": 1e6, "s": 1e9}


def from_criterion(root):
    times = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if os.path.basename(dirpath) == "new" and "estimates.json" in filenames:
            with open(os.path.join(dirpath, "estimates.json")) as f:
                est = json.load(f)
            name = os.path.relpath(os.path.dirname(dirpath), root).replace(os.sep, "/")
            times[name] = est["median"]["point_estimate"]
    return times


def from_log(path):
    text = open(path, encoding="utf-8").read()
    pattern = r"^(\S+/\S+)\s+time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]"
    return {m[1]: float(m[2]) * UNITS[m[3]] for m in re.finditer(pattern, text, re.M)}


def fmt_time(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def throughput(group, ns):
    for prefix, nbytes in BYTES.items():
        if group.startswith(prefix):
            return f"{nbytes / ns:.2f} GB/s"
    return None


def main():
    args = sys.argv[1:]
    if args[:1] == ["--log"]:
        times = from_log(args[1])
    else:
        times = from_criterion(os.path.join(args[0] if args else "target", "criterion"))

    def row(group, param, ours):
        key = f"/{param}" if param else ""
        base = [times.get(f"{group}/{o}{key}") for o in ours]
        if not base[0]:
            return None
        cells = []
        for t in base:
            tp = throughput(group, t) if t else None
            cells.append((fmt_time(t) + (f" ({tp})" if tp else "")) if t else "-")
        peer_times = []
        for q in PEERS:
            t = times.get(f"{group}/{q}{key}")
            if not t:
                cells.append("-")
                continue
            peer_times.append(t)
            cells.append(fmt_time(t) + " (" + "/".join(f"{t / b:.2f}x" for b in base if b) + ")")
        best = min(peer_times) if peer_times else None
        verdict = "/".join(f"{best / b:.2f}x" for b in base if b and best)
        return f"| {group} | {param or '-'} | " + " | ".join(cells) + f" | {verdict} |"

    print("| workload | size | wsproto in place | wsproto read loop | " + " | ".join(PEERS)
          + " | fastest peer / wsproto |")
    print("|" + " --- |" * 8)
    for group in ["receive_binary", "receive_text"]:
        for size in SIZES:
            r = row(group, size, ["wsproto", "wsproto_read_loop"])
            if r:
                print(r)
    print()
    print("| workload | size | wsproto | " + " | ".join(PEERS) + " | fastest peer / wsproto |")
    print("|" + " --- |" * 7)
    for group in ["send_binary", "send_text"]:
        for size in SIZES:
            r = row(group, size, ["wsproto"])
            if r:
                print(r)
    for group in ["echo_100k", "handshake"]:
        r = row(group, None, ["wsproto"])
        if r:
            print(r)
    print()
    print("| primitive, 1 MiB | time | throughput | memcpy time / this |")
    print("| --- | --- | --- | --- |")
    memcpy = times.get("primitives_1MiB/memcpy")
    for name in sorted(k for k in times if k.startswith("primitives_1MiB/")):
        t = times[name]
        ratio = f"{memcpy / t:.2f}" if memcpy else "-"
        print(f"| {name.split('/', 1)[1]} | {fmt_time(t)} | {throughput('primitives_1MiB', t)} | {ratio} |")
    print()
    print("| masking, 16 KiB (in cache) | time | throughput |")
    print("| --- | --- | --- |")
    for name in sorted(k for k in times if k.startswith("primitives_16KiB/")):
        t = times[name]
        print(f"| {name.split('/', 1)[1]} | {fmt_time(t)} | {throughput('primitives_16KiB', t)} |")


if __name__ == "__main__":
    main()
