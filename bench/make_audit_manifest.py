#!/usr/bin/env python3
"""Writes a seeded N-row manifest for the audit benchmark: path, label (10 classes), gender (2
values), race (5 values, correlated with the label), pred (the label, right 80% of the time).
    make_audit_manifest.py OUT.csv [--rows 1000000]"""
import argparse
import numpy as np, pandas as pd
ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--rows", type=int, default=1_000_000)
a = ap.parse_args()
rng = np.random.default_rng(7)
n = a.rows
label = rng.integers(0, 10, n)
gender = np.where(rng.random(n) < 0.6, "female", "male")
race = np.where(rng.random(n) < 0.3, label % 5, rng.integers(0, 5, n))
races = np.array(["asian", "black", "indian", "other", "white"])[race]
pred = np.where(rng.random(n) < 0.8, label, rng.integers(0, 10, n))
pd.DataFrame({"path": [f"img/{i:07d}.png" for i in range(n)], "label": label, "gender": gender,
              "race": races, "pred": pred}).to_csv(a.out, index=False)
