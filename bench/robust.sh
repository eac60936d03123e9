#!/usr/bin/env bash
# The robustness benchmark of the Robustness issue: a PGD-10 evaluation of cnn-small on 4,000
# Fashion-MNIST test images and one epoch of PGD-7 adversarial training on 12,000 training
# images (epsilon 8/255, L-infinity, random start), Curate beside PyTorch (bench/robust_peer.py,
# torch_reference.py's model and recipe extended with PGD), 2 threads each, in one run.
#   bench/robust.sh [--eps 8/255] [--out DIR]
# Needs the peers' virtual environment with torch (../peers-venv) and Debian's dataset-fashion-mnist.
set -euo pipefail
cd "$(dirname "$0")/.."
eps=8/255; out=../bench-inputs/fmnist
while [ $# -gt 0 ]; do
  case "$1" in
    --eps) eps=$2; shift 2 ;;
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
head -n 12001 "$out/train/manifest.csv" > "$out/train/robust12k.csv"
head -n 4001 "$out/test/manifest.csv" > "$out/test/robust4k.csv"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--size 28 --channels 1 --threads 2 --seed 0)
"$curate" train --train "$out/train/robust12k.csv" "${common[@]}" --epochs 1 --adversarial pgd --epsilon "$eps" --steps 7 \
  --out "$tmp/adv.ckpt" --json > "$tmp/train.json"
start=$(date +%s.%N)
"$curate" evaluate --model "$tmp/adv.ckpt" --test "$out/test/robust4k.csv" --threads 2 --attack pgd --epsilon "$eps" --steps 10 --json "$tmp/eval.json" > /dev/null
end=$(date +%s.%N)
"$py" bench/robust_peer.py --train "$out/train/robust12k.csv" --test "$out/test/robust4k.csv" --eps "$eps" > "$tmp/peer.json"
"$py" - "$tmp" "$start" "$end" <<'PY'
import json, sys
tmp, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
c = json.load(open(f"{tmp}/train.json")); e = json.load(open(f"{tmp}/eval.json")); p = json.load(open(f"{tmp}/peer.json"))
ce = 4000 / (end - start)
ct = c["train_images_per_s"]
print(f"PyTorch {p['torch']}, 2 threads each\n")
print("| | Curate images/s | PyTorch images/s | ratio |")
print("|---|---:|---:|---:|")
print(f"| PGD-10 evaluation, 4,000 images (Curate: the whole command, decoding included) | {ce:.0f} | {p['pgd_eval_images_per_s']:.0f} | {ce / p['pgd_eval_images_per_s']:.2f}x |")
print(f"| one epoch of PGD-7 adversarial training, 12,000 images | {ct:.0f} | {p['adversarial_train_images_per_s']:.0f} | {ct / p['adversarial_train_images_per_s']:.2f}x |")
print(f"\nafter that epoch: Curate clean {100 * e['overall_accuracy']:.1f}%, robust {100 * e['robust_accuracy']:.1f}%; "
      f"PyTorch clean {100 * p['clean_accuracy']:.1f}%, robust {100 * p['robust_accuracy']:.1f}%")
PY
