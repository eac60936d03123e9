#!/usr/bin/env bash
# The trainer benchmark of the Trainer issue: cnn-small trained by Curate and by the PyTorch
# reference (../shared/peers/torch_reference.py) on the same Fashion-MNIST manifests, with the
# same recipe (SGD momentum 0.9, lr 0.05, weight decay 5e-4, batch 128, 28x28 grey), 2 threads
# each, for each seed: test accuracy and training images/s side by side, then the means and
# the ratio. Imports Fashion-MNIST through `curate import idx` first when needed.
#   bench/train.sh [--rows N] [--epochs E] [--seeds "0 1 2"] [--out DIR]
# Needs the peers' virtual environment with torch (../peers-venv, see ../shared/peers/README.md)
# and Debian's dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=60000; epochs=3; seeds="0 1 2"; out=../bench-inputs/fmnist
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
py=${PEERS_PYTHON:-../peers-venv/bin/python}
fm=/usr/share/datasets/fashion-mnist
swift build -c release >&2
curate=$PWD/.build/release/curate
if [ ! -f "$out/train/manifest.csv" ]; then
  "$curate" import idx $fm/train-images-idx3-ubyte.gz $fm/train-labels-idx1-ubyte.gz --class-names fashion-mnist --split train --out "$out/train" >&2
  "$curate" import idx $fm/t10k-images-idx3-ubyte.gz $fm/t10k-labels-idx1-ubyte.gz --class-names fashion-mnist --split test --out "$out/test" >&2
fi
head -n $((rows + 1)) "$out/train/manifest.csv" > "$out/train/bench.csv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--size 28 --channels 1 --epochs "$epochs" --threads 2)
printf "| seed | PyTorch accuracy | Curate accuracy | PyTorch images/s | Curate images/s | speed ratio |\n|---:|---:|---:|---:|---:|---:|\n"
for seed in $seeds; do
  "$py" ../shared/peers/torch_reference.py --train "$out/train/bench.csv" --test "$out/test/manifest.csv" "${common[@]}" --seed "$seed" > "$tmp/torch.json"
  "$curate" train --train "$out/train/bench.csv" "${common[@]}" --seed "$seed" --out "$tmp/c.ckpt" --json > "$tmp/train.json"
  "$curate" evaluate --model "$tmp/c.ckpt" --test "$out/test/manifest.csv" --json "$tmp/eval.json" > /dev/null
  "$py" - "$seed" "$tmp" <<'PY' | tee -a "$tmp/rows"
import json, sys
seed, tmp = sys.argv[1], sys.argv[2]
t = json.load(open(f"{tmp}/torch.json")); c = json.load(open(f"{tmp}/train.json")); e = json.load(open(f"{tmp}/eval.json"))
print(f"| {seed} | {100*t['overall_accuracy']:.2f}% | {100*e['overall_accuracy']:.2f}% | {t['train_images_per_s']:.0f} | {c['train_images_per_s']:.0f} | {c['train_images_per_s']/t['train_images_per_s']:.2f}x |")
PY
done
"$py" - "$tmp/rows" <<'PY'
import sys, statistics as st
rows = [l.strip().strip("|").split("|") for l in open(sys.argv[1])]
ta = [float(r[1].strip(" %")) for r in rows]; ca = [float(r[2].strip(" %")) for r in rows]
ts = [float(r[3]) for r in rows]; cs = [float(r[4]) for r in rows]
print(f"| mean | {st.mean(ta):.2f}% | {st.mean(ca):.2f}% | {st.median(ts):.0f} (median) | {st.median(cs):.0f} (median) | {st.median(cs)/st.median(ts):.2f}x |")
print(f"\naccuracy difference (Curate - PyTorch, mean over seeds): {st.mean(ca) - st.mean(ta):+.2f} points (target: within 1.5)")
PY
