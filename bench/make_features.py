#!/usr/bin/env python3
"""Writes the seeded benchmark dataset for Curate's "features" capability (linear probes on
per-image embeddings) and for its peer, bench/features_peer.py:

  OUT/train.npy   N x 768 float32, C order, .npy format 1.0   (N = --rows, default 1,000,000)
  OUT/train.csv   path,label,group   path img/{i:07d}.png (dummy: the features stand in for
                  the images), label c0..c9, group g0/g1
  OUT/test.npy    50,000 x 768 float32 (--test-rows)
  OUT/test.csv    the same columns, paths img/test_{i:07d}.png
  OUT/params.json the parameters it was made with (used to decide whether to regenerate)

usage: make_features.py [--out /work/bench-inputs/features] [--rows 1000000] [--test-rows 50000]
                        [--force]
Run with the peers' environment (../peers-venv/bin/python). The full default set is ~3.1 GB
and goes outside the repository on purpose. It is skipped when OUT already holds files of the
right shapes made with the same parameters, unless --force.

Why this data: the task has to be linearly learnable but not trivial, so that a probe's
accuracy means something and an epoch does real work. Each class k has a mean m_k =
SCALE * u_k, u_k a seeded random unit vector in 768-D (ten random directions are nearly
orthogonal there), and x = m_label + N(0, I). The Bayes rule is the nearest mean, a linear
classifier; SCALE = 3.0 puts its accuracy near 90% (a Monte Carlo estimate on the test set is
printed), and a multinomial logistic regression trained on enough rows lands at roughly
85-92% test accuracy. The group column (g1 for ~70% of c0..c4 and ~30% of c5..c9) does not
move the features: it is there so worst-group reports have two groups to split by.

Deterministic, and prefix-stable: rows are made in blocks of CHUNK = 50,000, block b drawing
its labels, groups and noise from numpy.random.default_rng([SEED, split, b]) (separate
streams for labels and noise), so the first K rows of a --rows N file are the same for every
N >= K, and the test set does not depend on --rows. Memory stays bounded by one block
(~150 MB of float32) because rows go straight into an np.lib.format.open_memmap.
"""
import argparse, json, os, time

import numpy as np

SEED = 20260515
DIM = 768
CLASSES = 10
SCALE = 3.0
CHUNK = 50_000
SPLITS = {"train": 0, "test": 1}

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--out", default="/work/bench-inputs/features")
ap.add_argument("--rows", type=int, default=1_000_000, help="train rows")
ap.add_argument("--test-rows", type=int, default=50_000)
ap.add_argument("--force", action="store_true", help="regenerate even if the files look right")
a = ap.parse_args()
os.makedirs(a.out, exist_ok=True)

params = {"seed": SEED, "dim": DIM, "classes": CLASSES, "scale": SCALE, "chunk": CHUNK,
          "rows": a.rows, "test_rows": a.test_rows, "noise": "N(0, I)", "format": "float32 C order npy 1.0"}

# Class means: seeded unit directions times SCALE, shared by both splits.
u = np.random.default_rng([SEED, 99]).standard_normal((CLASSES, DIM))
means = (SCALE * u / np.linalg.norm(u, axis=1, keepdims=True)).astype(np.float32)


def up_to_date(split, n):
    """True when OUT holds split.npy of shape (n, DIM) float32, split.csv, and params.json
    recording exactly these parameters."""
    try:
        with open(os.path.join(a.out, "params.json")) as f:
            if json.load(f) != params:
                return False
        arr = np.load(os.path.join(a.out, f"{split}.npy"), mmap_mode="r")
        return (arr.shape == (n, DIM) and arr.dtype == np.float32 and arr.flags.c_contiguous
                and os.path.getsize(os.path.join(a.out, f"{split}.csv")) > 0)
    except (OSError, ValueError):
        return False


def generate(split, n, prefix):
    t0 = time.perf_counter()
    x = np.lib.format.open_memmap(os.path.join(a.out, f"{split}.npy.tmp"), mode="w+",
                                  dtype=np.float32, shape=(n, DIM), version=(1, 0))
    correct = 0
    with open(os.path.join(a.out, f"{split}.csv.tmp"), "w") as csv:
        csv.write("path,label,group\n")
        for b, start in enumerate(range(0, n, CHUNK)):
            m = min(CHUNK, n - start)
            meta = np.random.default_rng([SEED, SPLITS[split], b, 0])   # labels and groups
            noise = np.random.default_rng([SEED, SPLITS[split], b, 1])  # features
            y = meta.integers(0, CLASSES, CHUNK)[:m]                     # draw a full block, keep a prefix
            g = (meta.random(CHUNK)[:m] < np.where(y < CLASSES // 2, 0.7, 0.3)).astype(int)
            block = noise.standard_normal((m, DIM), dtype=np.float32)   # rows fill in order: prefix-stable
            block += means[y]
            x[start:start + m] = block
            if split == "test":                                          # Bayes (nearest mean) accuracy
                scores = block @ means.T - 0.5 * (means * means).sum(1)
                correct += int((scores.argmax(1) == y).sum())
            csv.write("".join(f"img/{prefix}{start + i:07d}.png,c{y[i]},g{g[i]}\n" for i in range(m)))
    x.flush()
    del x
    os.replace(os.path.join(a.out, f"{split}.npy.tmp"), os.path.join(a.out, f"{split}.npy"))
    os.replace(os.path.join(a.out, f"{split}.csv.tmp"), os.path.join(a.out, f"{split}.csv"))
    secs = time.perf_counter() - t0
    size = os.path.getsize(os.path.join(a.out, f"{split}.npy")) / 1e9
    print(f"{split}: {n} x {DIM} float32 ({size:.2f} GB) + csv in {secs:.1f} s"
          + (f"; Bayes (nearest class mean) accuracy {correct / n:.4f}" if split == "test" else ""), flush=True)


# Both splits are remade together if either is missing or stale (params.json covers both).
if not a.force and up_to_date("train", a.rows) and up_to_date("test", a.test_rows):
    print(f"{a.out}: up to date ({a.rows} train rows, {a.test_rows} test rows); --force to regenerate")
else:
    # Drop params.json first so an interrupted run is never mistaken for a finished one.
    if os.path.exists(os.path.join(a.out, "params.json")):
        os.remove(os.path.join(a.out, "params.json"))
    t = time.perf_counter()
    for s, n, p in (("train", a.rows, ""), ("test", a.test_rows, "test_")):
        generate(s, n, p)
    with open(os.path.join(a.out, "params.json"), "w") as f:
        json.dump(params, f, indent=1)
        f.write("\n")
    print(f"total {time.perf_counter() - t:.1f} s -> {a.out}")
