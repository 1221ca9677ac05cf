"""Generated faces per second at 112 px (bar >= 500/s, goal >= 1000/s on 2 cores), against MediaPipe's
Face Mesh throughput on the same faces as a yardstick for "cheap"."""

from __future__ import annotations

import argparse
import time

import cv2

from facexplain.faces.generator import FaceGenerator, rig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--image-size", type=int, default=112)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    cv2.setNumThreads(2)
    rig(args.image_size)  # one-off set-up (template, fields) is not part of the per-face cost
    gen = FaceGenerator(image_size=args.image_size)
    gen.faces(50, seed=99)  # warm-up
    best = float("inf")
    for r in range(args.repeats):
        t0 = time.perf_counter()
        gen.faces(args.n, seed=r)
        best = min(best, time.perf_counter() - t0)
    rate = args.n / best
    print(f"generated {args.n} faces at {args.image_size} px: best of {args.repeats} = {best:.2f} s")
    print(f"faces per second: {rate:.0f}  (bar 500/s: ratio {rate / 500:.2f}x; goal 1000/s: ratio {rate / 1000:.2f}x)")


if __name__ == "__main__":
    main()
