#!/bin/bash
# make bench: ikev2d against strongSwan on this machine (figures and ratios; never fails on time).
#   BENCH_QUICK=1   smoke run: N=50, one repetition
#   BENCH_REPS=k    repetitions per row (default 2; the median is reported)
#   BENCH_PROFILE=1 also profile ikev2d's handshake path under cProfile (N=50, slow)
# Output: bench/results/results.md, results.json, chart.png
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench: needs root (network namespaces, XFRM)" >&2; exit 1; }
exec timeout 2400 .venv/bin/python -m bench.run
