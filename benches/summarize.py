#!/usr/bin/env python3
"""Prints the tables of docs/benchmarks.md from criterion's results.

Run `cargo bench --bench throughput` first, then `python3 benches/summarize.py [TARGET_DIR]`
(default `target`). Times are criterion's median point estimates; each ratio is a peer's time
divided by wsproto's, so above 1 means wsproto is faster.
"""
import json
import os
import sys

root = os.path.join(sys.argv[1] if len(sys.argv) > 1 else "target", "criterion")
PEERS = ["tungstenite", "fastwebsockets", "tokio-websockets"]
SIZES = ["16B", "1KiB", "64KiB", "1MiB"]


def load(*parts):
    path = os.path.join(root, *parts, "new")
    try:
        with open(os.path.join(path, "estimates.json")) as f:
            est = json.load(f)
        with open(os.path.join(path, "benchmark.json")) as f:
            bench = json.load(f)
    except FileNotFoundError:
        return None
    ns = est["median"]["point_estimate"]
    tp = bench.get("throughput") or {}
    tp = tp.get("ElementsAndBytes") or tp
    return ns, tp.get("bytes") or tp.get("Bytes"), tp.get("elements") or tp.get("Elements")


def rate(r):
    ns, nbytes, elems = r
    if nbytes:
        return f"{nbytes / ns:.2f} GB/s"
    return f"{elems / ns * 1e3:.2f} M/s"


def fmt_time(ns):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= div:
            return f"{ns / div:.3g} {unit}"
    return f"{ns:.3g} ns"


def table(group, params, ours=("wsproto",)):
    rows = []
    for p in params:
        key = (p,) if p else ()
        base = {o: load(group, o, *key) for o in ours}
        peers = {q: load(group, q, *key) for q in PEERS}
        if not any(base.values()):
            continue
        cells = []
        for o in ours:
            r = base[o]
            cells.append(f"{fmt_time(r[0])} ({rate(r)})" if r else "-")
        for q in PEERS:
            r = peers[q]
            if not r:
                cells.append("-")
                continue
            ratios = "/".join(f"{r[0] / base[o][0]:.2f}x" for o in ours if base[o])
            cells.append(f"{fmt_time(r[0])} ({ratios})")
        fastest = min((r[0] for r in peers.values() if r), default=None)
        verdict = "/".join(
            f"{fastest / base[o][0]:.2f}x" for o in ours if base[o] and fastest
        )
        rows.append(f"| {group} | {p or '-'} | " + " | ".join(cells) + f" | {verdict} |")
    return rows


print("| workload | size | " + " | ".join(
    ["wsproto (in place)", "wsproto (read loop)"] + PEERS) + " | fastest peer / wsproto |")
print("|" + " --- |" * 8)
for g in ["receive_binary", "receive_text"]:
    for row in table(g, SIZES, ("wsproto", "wsproto_read_loop")):
        print(row)
print()
print("| workload | size | wsproto | " + " | ".join(PEERS) + " | fastest peer / wsproto |")
print("|" + " --- |" * 7)
for g in ["send_binary", "send_text"]:
    for row in table(g, SIZES):
        print(row)
for g in ["echo_100k", "handshake"]:
    for row in table(g, [None]):
        print(row)
print()
print("| primitive (1 MiB) | time | throughput | vs memcpy |")
print("| --- | --- | --- | --- |")
group = os.path.join(root, "primitives_1MiB")
memcpy = load("primitives_1MiB", "memcpy")
for name in sorted(os.listdir(group)) if os.path.isdir(group) else []:
    r = load("primitives_1MiB", name)
    if r and memcpy:
        print(f"| {name} | {fmt_time(r[0])} | {rate(r)} | {memcpy[0] / r[0]:.2f} |")
