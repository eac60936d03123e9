#!/usr/bin/env python3
"""Pillow's decode-then-resize of every JPEG/PNG under DIR to WxH, files preloaded in memory:
the peer for `curate bench decode DIR --size WxH`. Times the median of --repeats passes after a
warm-up, like shared/peers/decode_peer.py. Prints one line per method:
  full+resize  Pillow decodes at full size, then Image.resize (BOX, area averaging when shrinking)
  draft+resize Pillow asks libjpeg for DCT scaling first (Image.draft), then resizes the rest
usage: pillow_resize_peer.py DIR --size 128x96 [--repeats 5]
"""
import argparse, glob, io, os, statistics, time
from PIL import Image

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--size", required=True)
ap.add_argument("--repeats", type=int, default=5)
a = ap.parse_args()
w, h = (int(v) for v in a.size.lower().split("x"))
files = sorted(f for ext in ("png", "jpg", "jpeg") for f in glob.glob(os.path.join(a.dir, "**", "*." + ext), recursive=True))
blobs = [open(f, "rb").read() for f in files]


def full(b):
    im = Image.open(io.BytesIO(b)).convert("RGBA")
    return im.resize((w, h), Image.BOX).width


def draft(b):
    im = Image.open(io.BytesIO(b))
    im.draft("RGB", (w, h))
    return im.convert("RGBA").resize((w, h), Image.BOX).width


for name, fn in (("full+resize", full), ("draft+resize", draft)):
    times = []
    for _ in range(a.repeats + 1):
        t = time.perf_counter()
        for b in blobs:
            fn(b)
        times.append(time.perf_counter() - t)
    med = statistics.median(times[1:])
    print(f"pillow-{name:12s} {len(blobs) / med:10.1f} images/s  median {med:.4f} s  ({len(blobs)} files, 1 thread, to {w}x{h})")
