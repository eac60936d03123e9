#!/usr/bin/env bash
# The features benchmark of the Embeddings issue: a linear probe on 1,000,000 x 768 float32
# features (3.07 GB, read through a memory map), Curate beside scikit-learn's SGDClassifier and
# LogisticRegression on the same files, in the same run, 2 threads each. Curate's figures come
# from `curate bench features`: the median epoch, its GB/s of feature data, and that as a share
# of this machine's copy bandwidth (1 GiB memcpy) and of the file's own read bandwidth (every
# row summed in a shuffled order) measured in the same process, and how much of the file the
# kernel maps in 2 MiB pages (pass --cold to `curate bench features` to read it afresh into them).
#   bench/features.sh [--data DIR] [--epochs E] [--rows N] [--skip-logreg]
# Needs the peers' virtual environment (../peers-venv, see ../shared/peers/README.md); makes the
# data with bench/make_features.py when DIR lacks it (about 3.2 GB on disk).
set -euo pipefail
cd "$(dirname "$0")/.."
data=../bench-inputs/features; epochs=3; rows=1000000; logreg=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --skip-logreg) logreg=(--skip-logreg); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
py=${PEERS_PYTHON:-../peers-venv/bin/python}
swift build -c release >&2
curate=$PWD/.build/release/curate
"$py" bench/make_features.py --rows "$rows" --out "$data" >&2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$curate" bench features "$data/train.csv" --features "$data/train.npy" --test "$data/test.csv" --test-features "$data/test.npy" \
  --epochs "$epochs" --threads 2 --json > "$tmp/curate.json"
"$py" bench/features_peer.py --train "$data/train.npy" --train-csv "$data/train.csv" --test "$data/test.npy" --test-csv "$data/test.csv" \
  --epochs "$epochs" "${logreg[@]}" > "$tmp/peer.json"
"$py" - "$tmp" <<'PY'
import json, sys
c = json.load(open(sys.argv[1] + "/curate.json"))
p = json.load(open(sys.argv[1] + "/peer.json"))
sgd = p["sgd"]; lr = p.get("logreg")
print(f"{c['rows']:,} x {c['dimension']} float32 ({c['bytes'] / 1e9:.2f} GB), {c['layout']}; 2 threads each\n")
huge = c.get("share_in_2mib_pages")
pages = f"; {100 * huge:.0f}% of the file mapped in 2 MiB pages" if huge is not None else ""
print(f"copy bandwidth {c['copy_gb_per_s']:.2f} GB/s; the file read in shuffled order {c['read_gb_per_s']:.2f} GB/s{pages}")
print(f"the probe's epoch: {100 * c['share_of_read']:.0f}% of that read bandwidth\n")
print("| | median epoch (s) | GB/s | share of copy bandwidth | test accuracy |")
print("|---|---:|---:|---:|---:|")
print(f"| Curate linear probe (SGD, batch {c['batch_size']}) | {c['median_epoch_seconds']:.3f} | {c['epoch_gb_per_s']:.2f} | {100 * c['share_of_copy']:.0f}% | {100 * c['test_accuracy']:.2f}% |")
gbs = c["bytes"] / sgd["median_epoch_seconds"] / 1e9
print(f"| scikit-learn SGDClassifier | {sgd['median_epoch_seconds']:.3f} | {gbs:.2f} | {100 * gbs / c['copy_gb_per_s']:.0f}% | {100 * sgd['test_accuracy']:.2f}% |")
if lr:
    print(f"| scikit-learn LogisticRegression (lbfgs, {lr['n_iter']} iterations, whole fit) | {lr['seconds']:.1f} | | | {100 * lr['test_accuracy']:.2f}% |")
ratio = sgd["median_epoch_seconds"] / c["median_epoch_seconds"]
gap = 100 * (c["test_accuracy"] - sgd["test_accuracy"])
print(f"\nepoch speed: Curate {ratio:.1f}x SGDClassifier (target >= 3x); accuracy {gap:+.2f} points (target within 0.5)")
PY
