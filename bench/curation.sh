#!/usr/bin/env bash
# The curation benchmark of the Curation issue: every strategy that writes no images, and the
# split, on a seeded 1,000,000-row manifest (10 labels, gender, race, a binary `smiling`, 20%
# synthetic rows; the pool for augment is its synthetic rows). Each time is one run of the
# command, reading and writing the manifests; the median of --repeats runs.
#   bench/curation.sh [--rows N] [--repeats 3]
set -euo pipefail
cd "$(dirname "$0")/.."
rows=1000000; repeats=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) rows=$2; shift 2 ;;
    --repeats) repeats=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
py=${PEERS_PYTHON:-../peers-venv/bin/python}
swift build -c release >&2
dir=../bench-inputs/curation-$rows
mkdir -p "$dir"
if [ ! -f "$dir/m.csv" ]; then
  "$py" - "$dir" "$rows" <<'PY'
import sys, numpy as np, pandas as pd
d, n = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(11)
label = rng.integers(0, 10, n)
gender = np.where(rng.random(n) < 0.6, "female", "male")
smiling = np.where(rng.random(n) < np.where(gender == "female", 0.7, 0.4), "yes", "no")
race = np.array(["asian", "black", "indian", "other", "white"])[rng.integers(0, 5, n)]
origin = np.where(rng.random(n) < 0.2, "synthetic", "real")
df = pd.DataFrame({"path": [f"img/{i:07d}.png" for i in range(n)], "label": label, "gender": gender,
                   "race": race, "smiling": smiling, "origin": origin})
df.to_csv(f"{d}/m.csv", index=False)
df[df.origin == "synthetic"].to_csv(f"{d}/pool.csv", index=False)
df[df.origin == "real"].to_csv(f"{d}/real.csv", index=False)
PY
fi
c=.build/release/curate
m=$dir/m.csv
run() {
  local name=$1; shift
  local times=()
  for _ in $(seq "$repeats"); do
    local start end
    start=$(date +%s.%N)
    "$@" > /dev/null 2>&1
    end=$(date +%s.%N)
    times+=("$(echo "$end - $start" | bc)")
  done
  printf "| %s | %s s |\n" "$name" "$(printf "%s\n" "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}')"
}
echo "| strategy ($rows rows) | time |"
echo "|---|---:|"
run "undersample --by label,gender" $c build undersample "$m" --by label,gender --out "$dir/o.csv"
run "oversample --by label,gender" $c build oversample "$m" --by label,gender --out "$dir/o.csv"
run "reweight --method reweighing --by label,gender" $c build reweight "$m" --by label,gender --out "$dir/o.csv"
run "correlate --label smiling --by gender --strength 0.5" $c build correlate "$m" --label smiling --by gender --strength 0.5 --out "$dir/o.csv"
run "proportion --by race --group black --share 0.05" $c build proportion "$m" --by race --group black --share 0.05 --out "$dir/o.csv"
run "augment --by label,gender --pool (200,000 rows)" $c build augment "$dir/real.csv" --by label,gender --pool "$dir/pool.csv" --fill equal-add --add 1000 --out "$dir/o.csv"
run "ffr --by label,gender --stage2 reweighted" $c build ffr "$m" --by label,gender --stage2 reweighted --out "$dir/plan.json"
run "split --by label,gender,race" $c split "$m" --by label,gender,race --out-dir "$dir/split"
