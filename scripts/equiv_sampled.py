#!/usr/bin/env python3
"""Sampled lower bound on max |A(x) - B(x)| over L-infinity balls around data rows, by onnxruntime:
the reference `twinverify equiv`'s certified bound is compared with (README, "Comparing two exports").

    python3 scripts/equiv_sampled.py A.onnx B.onnx DATA.csv [--scale 1/255] [--rows 0..5]
        [--delta 0.01] [--domain 0,1] [--points 10000] [--seed 0]

Prints one line per row: the row, the largest |A_i - B_i| over the sampled points (uniform in the
ball clipped to the domain, plus the centre and the ball's corners along the sign of a random
direction), and the output where it was attained. Needs numpy and onnxruntime (a reference check,
not a dependency of the tool).
"""
import argparse
from fractions import Fraction

import numpy as np
import onnxruntime as ort


def session(path):
    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    i = s.get_inputs()[0]
    batched = not isinstance(i.shape[0], int)
    shape = [d if isinstance(d, int) else 1 for d in i.shape]
    return s, i.name, shape, batched


def run(model, x):
    """Outputs of the points `x` (one row each), in batches when the model takes any batch size."""
    s, name, shape, batched = model
    if not batched:
        return np.vstack([run((s, name, shape, True), x[k : k + 1]) for k in range(len(x))])
    return s.run(None, {name: x.reshape([len(x)] + shape[1:]).astype(np.float32)})[0].reshape(len(x), -1)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("data")
    p.add_argument("--scale", default="1")
    p.add_argument("--rows", default="0..5")
    p.add_argument("--delta", type=float, default=0.01)
    p.add_argument("--domain", default="0,1")
    p.add_argument("--points", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    scale = float(Fraction(args.scale))
    lo, hi = (float(v) for v in args.domain.split(","))
    first, last = (int(v) for v in args.rows.split(".."))
    rows = np.loadtxt(args.data, delimiter=",", max_rows=last)[first:last]
    a, b = session(args.a), session(args.b)
    rng = np.random.default_rng(args.seed)
    for k, row in enumerate(rows, start=first):
        x = row[1:] * scale
        pts = rng.uniform(x - args.delta, x + args.delta, size=(args.points, len(x)))
        signs = np.sign(rng.standard_normal((args.points // 10, len(x))))
        pts = np.clip(np.vstack([x[None, :], pts, x + args.delta * signs]), lo, hi)
        worst, at = 0.0, 0
        for chunk in np.array_split(pts, max(1, len(pts) // 1000)):
            d = np.abs(run(a, chunk).astype(np.float64) - run(b, chunk).astype(np.float64))
            if d.max() > worst:
                worst, at = float(d.max()), int(np.unravel_index(d.argmax(), d.shape)[1])
        print(f"row {k}: sampled max |A - B| = {worst:.6g} (output {at}, {len(pts)} points)")


if __name__ == "__main__":
    main()
