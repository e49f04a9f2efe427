#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 30) from the checked-in seeds; fails on a crash.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"; shift || true
targets=("$@")
# cargo fuzz needs nightly flags; fall back to stable with RUSTC_BOOTSTRAP when nightly is gone.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz() { cargo +nightly fuzz "$@"; }
else
    export RUSTC_BOOTSTRAP=1
    fuzz() { cargo fuzz "$@"; }
fi
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(fuzz list)
fuzz build -O
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    cp -n ../tests/fuzz_seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    echo "== fuzz $t for ${secs}s"
    fuzz run -O "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=65536 2>&1 \
        | grep -E "^(#[0-9]+ +DONE|Done|==[0-9]+==|SUMMARY)|panicked|Test unit written" || true
    if ls artifacts/"$t"/crash-* artifacts/"$t"/oom-* artifacts/"$t"/timeout-* >/dev/null 2>&1; then
        echo "fuzz $t: crash found: $(ls artifacts/"$t")" >&2
        exit 1
    fi
done
