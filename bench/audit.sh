#!/usr/bin/env bash
# The audit benchmark of the Audit issue: a 1,000,000-row manifest (10 labels, gender, race)
# audited by `curate audit` (reading the CSV, counts, every association and parity number for
# gender, race and gender x race, the JSON report) beside fairlearn's MetricFrame computing one
# metric by gender x race on the same rows, in one run. Medians of --repeats runs.
#   bench/audit.sh [--rows N] [--repeats 3]
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
input=../bench-inputs/audit-$rows.csv
[ -f "$input" ] || "$py" bench/make_audit_manifest.py "$input" --rows "$rows"
times=()
for _ in $(seq "$repeats"); do
  start=$(date +%s.%N)
  .build/release/curate audit "$input" --by gender --by race --json /dev/null > /dev/null || [ $? -eq 1 ]
  end=$(date +%s.%N)
  times+=("$(echo "$end - $start" | bc)")
done
curate=$(printf "%s\n" "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
peer=$("$py" bench/fairlearn_peer.py "$input" --by gender race --repeats "$repeats")
fl=$(echo "$peer" | "$py" -c "import json,sys; print(json.load(sys.stdin)['metricframe_seconds'])")
echo "| rows | curate audit (everything) | fairlearn MetricFrame (one metric) | ratio |"
echo "|---:|---:|---:|---:|"
awk -v r="$rows" -v c="$curate" -v f="$fl" 'BEGIN { printf "| %d | %.2f s | %.2f s | %.1fx faster |\n", r, c, f, f / c }'
