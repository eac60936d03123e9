#!/usr/bin/env python3
"""fairlearn's MetricFrame on an audit benchmark manifest: one metric (accuracy of pred against
label) by the intersection of the sensitive columns, and the count; median of --repeats runs.
    fairlearn_peer.py MANIFEST.csv --by gender race [--repeats 3]"""
import argparse, json, statistics, time
import pandas as pd
from fairlearn.metrics import MetricFrame, count
from sklearn.metrics import accuracy_score
ap = argparse.ArgumentParser()
ap.add_argument("csv")
ap.add_argument("--by", nargs="+", required=True)
ap.add_argument("--repeats", type=int, default=3)
a = ap.parse_args()
df = pd.read_csv(a.csv)
secs = []
for _ in range(a.repeats):
    t = time.perf_counter()
    mf = MetricFrame(metrics={"accuracy": accuracy_score, "count": count}, y_true=df["label"], y_pred=df["pred"],
                     sensitive_features=df[a.by])
    _ = mf.by_group
    secs.append(time.perf_counter() - t)
print(json.dumps({"rows": len(df), "groups": len(mf.by_group), "metricframe_seconds": statistics.median(secs)}))
