"""Generated faces per second at 112 px (bar >= 500/s, goal >= 1000/s on 2 cores), against MediaPipe's
Face Mesh throughput on the same faces as a yardstick for "cheap" (chapter 03 runs Face Mesh on every frame of its
clips). The machine's load average is printed beside the rates: on a shared machine they fall as it rises.

Run from the project root: .venv/bin/python benchmarks/generate_faces.py [--n 2000] [--mediapipe 200]"""

from __future__ import annotations

import argparse
import os
import time

import cv2

from facexplain.faces.generator import GENERATOR_VERSION, FaceGenerator, rig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--image-size", type=int, default=112)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--mediapipe", type=int, default=200, help="faces to time Face Mesh on (0: skip)")
    args = ap.parse_args()
    cv2.setNumThreads(2)
    print(f"load average before (1, 5, 15 min): {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"{os.cpu_count()} cores; generator version {GENERATOR_VERSION}")
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
    if args.mediapipe > 0:
        from facexplain.faces.mesh import detect_many

        faces = gen.faces(args.mediapipe, seed=7).images
        detect_many(faces[:2])  # Face Mesh's one-off start-up
        t0 = time.perf_counter()
        _, found = detect_many(faces)
        mp_rate = len(faces) / (time.perf_counter() - t0)
        print(f"MediaPipe Face Mesh on the same faces (upscaled to 256 px): {mp_rate:.0f} faces/s, "
              f"{1000 / mp_rate:.1f} ms per face, found {found.mean():.1%}; the generator is {rate / mp_rate:.1f}x faster")
    print(f"load average after (1, 5, 15 min): {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
