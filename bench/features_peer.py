#!/usr/bin/env python3
"""scikit-learn's linear probes on a features benchmark (made by bench/make_features.py): the
peer for Curate's "features" training. Prints one JSON object on stdout; progress goes to
stderr.

usage: features_peer.py --train train.npy --train-csv train.csv --test test.npy --test-csv test.csv
                        --epochs E [--logreg-max-iter 100] [--skip-logreg] [--rows N]
  e.g. ../peers-venv/bin/python bench/features_peer.py --train /work/bench-inputs/features/train.npy \\
         --train-csv /work/bench-inputs/features/train.csv --test /work/bench-inputs/features/test.npy \\
         --test-csv /work/bench-inputs/features/test.csv --epochs 3

What it measures (2 threads throughout: OMP/OpenBLAS/MKL thread counts are set to 2 before
NumPy is imported, and SGDClassifier gets n_jobs=2):
  conversion_seconds  the one up-front copy of the memory-mapped .npy rows into an in-memory,
                      C-ordered array of the dtype scikit-learn will use. Both SGDClassifier
                      and LogisticRegression(lbfgs) accept float32 as is, so the dtype stays
                      float32 and this is the mmap -> RAM read; no estimator converts or copies
                      X again. Not counted in any epoch or fit time.
  sgd                 SGDClassifier(loss="log_loss", alpha=1e-4, learning_rate="optimal",
                      random_state=0, n_jobs=2, shuffle=False) trained for E epochs with
                      partial_fit (classes given on the first call). For 10 classes this is
                      one-vs-rest: 10 binary logistic models, each one pass over the rows per
                      epoch, spread over the 2 jobs.
                      Shuffling: before epoch e the rows are permuted with
                      numpy.random.default_rng([0, e]).permutation(n), gathered into a reused
                      buffer (np.take). That gather is timed separately (shuffle_seconds) and
                      NOT included in epoch_seconds, which time partial_fit alone (it does
                      include scikit-learn's own input validation for the call).
                      SGDClassifier's built-in shuffle is off on purpose: with an int
                      random_state every partial_fit call re-seeds it identically, so it would
                      replay the same order every epoch.
                      test_accuracy is after E epochs; test_accuracy_by_epoch is measured
                      outside the timers.
  logreg              LogisticRegression(solver="lbfgs", max_iter=--logreg-max-iter, C=1.0):
                      multinomial (scikit-learn's only mode for lbfgs with > 2 classes since
                      1.7). seconds is the whole fit() call; n_iter is lbfgs's iteration
                      count (== max_iter means it stopped on the cap, not on tol=1e-4).
  Wall-clock seconds are the headline numbers; *cpu_seconds (time.process_time, all threads of
  this process) ride along because on a shared machine they move less when other work runs.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "2"

import argparse, json, statistics, sys, time

import numpy as np
import pandas as pd
import sklearn
from sklearn.linear_model import LogisticRegression, SGDClassifier
from threadpoolctl import threadpool_info

ap = argparse.ArgumentParser(description="scikit-learn linear probes on a features benchmark")
ap.add_argument("--train", required=True)
ap.add_argument("--train-csv", required=True)
ap.add_argument("--test", required=True)
ap.add_argument("--test-csv", required=True)
ap.add_argument("--epochs", type=int, required=True)
ap.add_argument("--logreg-max-iter", type=int, default=100)
ap.add_argument("--skip-logreg", action="store_true")
ap.add_argument("--rows", type=int, default=None, help="use only the first N train rows (default all)")
a = ap.parse_args()
LOAD_START = os.getloadavg()[0]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# --- load: memory-map the features, labels from the CSV's label column -------------------------
Xtr_map = np.load(a.train, mmap_mode="r")
Xte_map = np.load(a.test, mmap_mode="r")
n = Xtr_map.shape[0] if a.rows is None else min(a.rows, Xtr_map.shape[0])
labels_tr = pd.read_csv(a.train_csv, usecols=["label"], dtype={"label": str})["label"].to_numpy()[:n]
labels_te = pd.read_csv(a.test_csv, usecols=["label"], dtype={"label": str})["label"].to_numpy()
if len(labels_tr) != n or len(labels_te) != Xte_map.shape[0]:
    sys.exit("CSV row counts do not match the .npy row counts")
classes, ytr = np.unique(labels_tr, return_inverse=True)      # integer codes 0..K-1
yte = np.searchsorted(classes, labels_te)
if not np.array_equal(classes[yte], labels_te):
    sys.exit("test labels include a class missing from train")

# --- the one conversion: mmap rows -> in-memory C-ordered float32 (sklearn's accepted dtype) ---
DTYPE = np.float32   # SGDClassifier and LogisticRegression(lbfgs) both validate with dtype=[float64, float32]
t = time.perf_counter()
Xtr = np.array(Xtr_map[:n], dtype=DTYPE, order="C", copy=True)
Xte = np.array(Xte_map, dtype=DTYPE, order="C", copy=True)
conversion_seconds = time.perf_counter() - t
del Xtr_map, Xte_map
log(f"loaded {n} x {Xtr.shape[1]} train, {Xte.shape[0]} test rows as {np.dtype(DTYPE).name} in {conversion_seconds:.2f} s")

# --- SGD: E epochs of partial_fit over a freshly, seededly permuted copy -------------------------
sgd = SGDClassifier(loss="log_loss", alpha=1e-4, learning_rate="optimal", random_state=0,
                    n_jobs=2, shuffle=False)
buf = np.empty_like(Xtr)
epoch_seconds, epoch_cpu_seconds, shuffle_seconds, acc_by_epoch = [], [], [], []
for e in range(a.epochs):
    t = time.perf_counter()
    perm = np.random.default_rng([0, e]).permutation(n)
    np.take(Xtr, perm, axis=0, out=buf, mode="clip")   # perm is in range; mode="raise" would buffer `out`
    yperm = ytr[perm]
    shuffle_seconds.append(time.perf_counter() - t)
    t, c = time.perf_counter(), time.process_time()
    if e == 0:
        sgd.partial_fit(buf, yperm, classes=np.arange(len(classes)))
    else:
        sgd.partial_fit(buf, yperm)
    epoch_seconds.append(time.perf_counter() - t)
    epoch_cpu_seconds.append(time.process_time() - c)
    acc_by_epoch.append(float(sgd.score(Xte, yte)))
    log(f"sgd epoch {e + 1}: {epoch_seconds[-1]:.2f} s (+ {shuffle_seconds[-1]:.2f} s shuffle), "
        f"test accuracy {acc_by_epoch[-1]:.4f}")
del buf

out = {"rows": int(n), "dim": int(Xtr.shape[1]), "classes": int(len(classes)), "test_rows": int(Xte.shape[0]),
       "dtype": np.dtype(DTYPE).name,
       "sgd": {"epochs": a.epochs,
               "epoch_seconds": epoch_seconds,
               "median_epoch_seconds": statistics.median(epoch_seconds) if epoch_seconds else None,
               "epoch_cpu_seconds": epoch_cpu_seconds,
               "shuffle_seconds": shuffle_seconds,
               "test_accuracy": acc_by_epoch[-1] if acc_by_epoch else None,
               "test_accuracy_by_epoch": acc_by_epoch,
               "settings": "SGDClassifier(loss='log_loss', alpha=1e-4, learning_rate='optimal', random_state=0, "
                           "n_jobs=2, shuffle=False) + own per-epoch permutation default_rng([0, epoch]); "
                           "one-vs-rest"}}

# --- multinomial logistic regression (lbfgs) --------------------------------------------------
if a.skip_logreg:
    out["logreg"] = None
else:
    lr = LogisticRegression(solver="lbfgs", max_iter=a.logreg_max_iter, C=1.0)
    t, c = time.perf_counter(), time.process_time()
    lr.fit(Xtr, ytr)
    secs, cpu = time.perf_counter() - t, time.process_time() - c
    n_iter = int(np.max(lr.n_iter_))
    out["logreg"] = {"seconds": secs, "cpu_seconds": cpu, "n_iter": n_iter, "max_iter": a.logreg_max_iter,
                     "hit_max_iter": n_iter >= a.logreg_max_iter,
                     "test_accuracy": float(lr.score(Xte, yte)),
                     "settings": "LogisticRegression(solver='lbfgs', C=1.0, tol=1e-4), multinomial"}
    log(f"logreg: {secs:.1f} s, {n_iter} iterations, test accuracy {out['logreg']['test_accuracy']:.4f}")

out["conversion_seconds"] = conversion_seconds
out["threads"] = 2
# The machine may be shared: the 1-minute load average before and after says whether the
# numbers were measured alone (about 2 or less on 2 cores while this runs) or with company.
out["loadavg_1min"] = {"start": LOAD_START, "end": os.getloadavg()[0]}
out["blas"] = [{"api": p.get("internal_api"), "num_threads": p.get("num_threads")} for p in threadpool_info()]
out["versions"] = {"numpy": np.__version__, "scikit-learn": sklearn.__version__}
print(json.dumps(out))
