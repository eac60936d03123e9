#!/usr/bin/env bash
# How fast this machine runs the linear probe's parallel pass at all: bench/probe_pass_model.c
# (the same work in C, gcc -O3 -march=native: rows in cache, in file order, and shuffled with
# and without prefetching) beside Curate's own pass on the same file (CURATE_PROBE_TIMING=1
# curate bench features), in one run.
#   bench/probe-model.sh [--data DIR]      (DIR as bench/features.sh makes it)
set -euo pipefail
cd "$(dirname "$0")/.."
data=../bench-inputs/features
if [ "${1:-}" = "--data" ]; then data=$2; fi
[ -f "$data/train.npy" ] || { echo "no $data/train.npy: run bench/features.sh first" >&2; exit 2; }
swift build -c release >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O3 -march=native -pthread bench/probe_pass_model.c -o "$tmp/model" -lm
echo "== the C model"
"$tmp/model" "$data/train.npy"
echo "== Curate (each epoch's parallel pass; shuffled order)"
CURATE_PROBE_TIMING=1 .build/release/curate bench features "$data/train.csv" --features "$data/train.npy" --epochs 5 --threads 2 2>&1 \
  | grep -E "^probe epoch|mapped in|linear probe epoch" | sed 's/^/  /'
