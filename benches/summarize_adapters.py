#!/usr/bin/env python3
"""Prints tables from a `cargo bench -p wsproto-benches --bench adapters` run.

    python3 benches/summarize_adapters.py            # results under target/criterion
    python3 benches/summarize_adapters.py DIR        # results under DIR/criterion
    python3 benches/summarize_adapters.py --compact  # the ratio grids of docs/benchmarks.md

Times are criterion's median point estimates; throughput is the bench's own declared
throughput (payload bytes, or messages for broadcast_1000) divided by that time.

Columns per cell:
  - each library's throughput (GB/s of payload, or M msg/s);
  - "tokio / best peer": wsproto's tokio adapter throughput divided by the fastest peer's
    (tungstenite, tokio-tungstenite, fastwebsockets, tokio-websockets): above 1, wsproto wins;
  - "tokio / core", "blocking / core": each wsproto adapter's throughput divided by
    `wsproto_core`'s (driving wsproto::Connection directly): the adapter's overhead;
  - for the 64 KiB and 1 MiB cells, the `limits` group at the same size: memcpy, and memcpy plus
    XOR masking (word loop and wsproto::mask::apply_mask).
"""
import json
import os
import sys

WSPROTO = ["wsproto_tokio", "wsproto_blocking", "wsproto_core"]
PEERS = ["tungstenite", "tokio-tungstenite", "fastwebsockets", "tokio-websockets"]
LIBRARIES = WSPROTO + PEERS
SIZES = ["16B", "1KiB", "64KiB", "1MiB"]
LIMIT_SIZES = {"64KiB", "1MiB"}
LIMITS = ["memcpy", "memcpy_xor_words", "memcpy_apply_mask"]
SIZED_GROUPS = [
    "adapter_receive_binary",
    "adapter_receive_text_ascii",
    "adapter_receive_text_multibyte",
    "adapter_send_binary",
    "adapter_send_text_ascii",
    "adapter_send_text_multibyte",
    "adapter_send_binary_server",
]
SINGLE_GROUPS = ["adapter_echo_100k", "broadcast_1000"]


def load(root):
    """{(group, function, value): (median ns, throughput dict)} from criterion's output."""
    results = {}
    for dirpath, _dirnames, filenames in os.walk(root):
        if os.path.basename(dirpath) != "new":
            continue
        if "estimates.json" not in filenames or "benchmark.json" not in filenames:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        key = (bench["group_id"], bench.get("function_id"), bench.get("value_str"))
        results[key] = (est["median"]["point_estimate"], bench.get("throughput") or {})
    return results


def rate(entry):
    """(value per second, unit) for a result, from its declared throughput."""
    ns, tp = entry
    if "Bytes" in tp:
        return tp["Bytes"] / ns, "GB/s"  # bytes per ns = GB/s
    if "BytesDecimal" in tp:
        return tp["BytesDecimal"] / ns, "GB/s"
    if "ElementsAndBytes" in tp:
        return tp["ElementsAndBytes"]["elements"] / ns * 1e3, "M msg/s"
    if "Elements" in tp:
        return tp["Elements"] / ns * 1e3, "M msg/s"
    return 1e9 / ns, "/s"


def fmt_rate(entry):
    if not entry:
        return "-"
    value, unit = rate(entry)
    return f"{value:.3g} {unit}"


def ratio(a, b):
    if not a or not b:
        return "-"
    return f"{rate(a)[0] / rate(b)[0]:.2f}x"


def best_peer(cells):
    present = [(rate(cells[p])[0], p) for p in PEERS if cells.get(p)]
    return max(present) if present else (None, None)


def compact(results):
    """Two grids, workload by size: tokio adapter / fastest peer, and tokio adapter / core."""
    for title, against in [("tokio adapter / fastest peer", None),
                           ("tokio adapter / wsproto_core", "wsproto_core"),
                           ("blocking adapter / fastest peer", "blocking")]:
        print(f"\n{title}:\n")
        print("| workload | " + " | ".join(SIZES) + " |")
        print("| --- |" + " --- |" * len(SIZES))
        for group in SIZED_GROUPS:
            out = []
            for size in SIZES:
                cells = {lib: results.get((group, lib, size)) for lib in LIBRARIES}
                _, best = best_peer(cells)
                if against == "wsproto_core":
                    out.append(ratio(cells["wsproto_tokio"], cells["wsproto_core"]))
                elif against == "blocking":
                    out.append(ratio(cells["wsproto_blocking"], cells.get(best)) if best else "-")
                else:
                    cell = ratio(cells["wsproto_tokio"], cells.get(best)) if best else "-"
                    out.append(f"{cell} ({best})" if best else cell)
            print(f"| {group} | " + " | ".join(out) + " |")
    for group in SINGLE_GROUPS:
        cells = {lib: results.get((group, lib, None)) for lib in LIBRARIES}
        _, best = best_peer(cells)
        peers = ", ".join(f"{p} {fmt_rate(cells[p])}" for p in PEERS if cells.get(p))
        print(f"\n{group}: tokio {fmt_rate(cells['wsproto_tokio'])}, blocking "
              f"{fmt_rate(cells['wsproto_blocking'])}, core {fmt_rate(cells['wsproto_core'])}; "
              f"{peers}; tokio / {best} {ratio(cells['wsproto_tokio'], cells.get(best))}")


def main():
    args = [a for a in sys.argv[1:] if a != "--compact"]
    base = args[0] if args else "target"
    results = load(os.path.join(base, "criterion"))
    if not results:
        sys.exit(f"no criterion results under {base}/criterion: run the bench first")
    if "--compact" in sys.argv[1:]:
        compact(results)
        return

    header = (["workload", "size"] + LIBRARIES
              + ["tokio / best peer", "best peer", "tokio / core", "blocking / core"]
              + [f"limit: {name}" for name in LIMITS])
    print("| " + " | ".join(header) + " |")
    print("|" + " --- |" * len(header))

    def row(group, size):
        cells = {lib: results.get((group, lib, size)) for lib in LIBRARIES}
        if not any(cells.values()):
            return
        best_rate, best = best_peer(cells)
        out = [group, size or "-"] + [fmt_rate(cells[lib]) for lib in LIBRARIES]
        out.append(ratio(cells["wsproto_tokio"], cells.get(best)) if best else "-")
        out.append(best or "-")
        out.append(ratio(cells["wsproto_tokio"], cells["wsproto_core"]))
        out.append(ratio(cells["wsproto_blocking"], cells["wsproto_core"]))
        for name in LIMITS:
            limit = results.get(("limits", name, size)) if size in LIMIT_SIZES else None
            out.append(fmt_rate(limit) if limit else "")
        print("| " + " | ".join(out) + " |")

    for group in SIZED_GROUPS:
        for size in SIZES:
            row(group, size)
    for group in SINGLE_GROUPS:
        # Criterion stores a parameterless function under value_str None.
        row(group, None)

    limits = [(name, size) for size in SIZES for name in LIMITS if ("limits", name, size) in results]
    if limits:
        print()
        print("| limit | size | throughput | this / memcpy |")
        print("| --- | --- | --- | --- |")
        for name, size in limits:
            entry = results[("limits", name, size)]
            memcpy = results.get(("limits", "memcpy", size))
            print(f"| {name} | {size} | {fmt_rate(entry)} | {ratio(entry, memcpy)} |")


if __name__ == "__main__":
    main()
