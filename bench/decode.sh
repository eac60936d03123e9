#!/usr/bin/env bash
# The decode benchmark of the Foundation issue: Curate beside Pillow (and OpenCV) on the same
# files, in one run, with the ratios. Makes the standard inputs first when they are missing.
#   bench/decode.sh [INPUTS_DIR]       (default ../bench-inputs, outside the project)
# Needs the peers' virtual environment (../peers-venv, see ../shared/peers/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
inputs=${1:-../bench-inputs}
py=${PEERS_PYTHON:-../peers-venv/bin/python}
peers=../shared/peers
[ -d "$inputs/png32" ] || "$py" "$peers/make_decode_bench.py" "$inputs"
swift build -c release >&2
curate=.build/release/curate
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
run() { echo "\$ $*" >&2; "$@" | tee -a "$out/log" >&2; }
echo "# one thread and all cores" >&2
"$curate" bench decode "$inputs/png32" --repeats 5 > "$out/c_png"; cat "$out/c_png" >&2
"$py" "$peers/decode_peer.py" "$inputs/png32" --repeats 5 > "$out/p_png"; cat "$out/p_png" >&2
"$curate" bench decode "$inputs/jpg1024" --repeats 5 > "$out/c_jpg"; cat "$out/c_jpg" >&2
"$py" "$peers/decode_peer.py" "$inputs/jpg1024" --repeats 5 > "$out/p_jpg"; cat "$out/p_jpg" >&2
"$curate" bench decode "$inputs/jpg1024" --repeats 5 --size 128x96 --threads 1 > "$out/c_small"; cat "$out/c_small" >&2
"$py" bench/pillow_resize_peer.py "$inputs/jpg1024" --size 128x96 --repeats 5 > "$out/p_small"; cat "$out/p_small" >&2

ips() { awk -v k="$2" -v t="$3" '$1==k && index($0, t) {print $2; exit}' "$1"; }
c1=$(ips "$out/c_png" curate "1 thread"); cN=$(ips "$out/c_png" curate "2 thread"); p1=$(ips "$out/p_png" pillow "")
j1=$(ips "$out/c_jpg" curate "1 thread"); jN=$(ips "$out/c_jpg" curate "2 thread"); q1=$(ips "$out/p_jpg" pillow "")
s1=$(ips "$out/c_small" curate ""); r1=$(ips "$out/p_small" pillow-full+resize ""); d1=$(ips "$out/p_small" pillow-draft+resize "")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }
echo
echo "| input | Curate images/s | peer images/s | ratio | target |"
echo "|---|---:|---:|---:|---:|"
echo "| 10,000 32x32 PNG, 1 thread | $c1 | Pillow $p1 | $(ratio "$c1" "$p1") | >= 1.6x |"
echo "| 200 1024x768 JPEG, 1 thread | $j1 | Pillow $q1 | $(ratio "$j1" "$q1") | >= 1.25x |"
echo "| 32x32 PNG, all cores vs Curate 1 thread | ${cN:-n/a} | Curate $c1 | $(ratio "${cN:-0}" "$c1") | >= 1.8x |"
echo "| 1024x768 JPEG, all cores vs Curate 1 thread | ${jN:-n/a} | Curate $j1 | $(ratio "${jN:-0}" "$j1") | >= 1.8x |"
echo "| 1024x768 JPEG to 128x96, 1 thread (DCT scaling) | $s1 | Pillow decode+resize $r1 | $(ratio "$s1" "$r1") | >= 4x |"
echo "| same, against Pillow with draft() (its DCT scaling) | $s1 | Pillow draft+resize $d1 | $(ratio "$s1" "$d1") | (for reference) |"
