"""The faces `read_aus` is fitted on: generated faces of many identities with independent random AUs, each with a
neutral face of the same subject, and the Face Mesh points MediaPipe finds on them (cached: MediaPipe runs once).

Kept apart from au_reader.py so that editing the reader's fitting does not re-run MediaPipe (the cache key holds
the source of the module that builds an entry, and of the generator code named below)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .aus import GENERATOR_AUS


def _calibration_faces(n: int, seed: int, image_size: int):
    """Generated faces of many identities with independent random AUs, each with a neutral face of the same
    subject in another head pose: (images, neutral images, AU intensities (n, len(GENERATOR_AUS)), subject ids).
    A subject id is 10000 * domain index + subject number, so held-out evaluation can leave whole people out."""
    from .generator import FaceGenerator, identity

    mouth_open = (25, 26, 27)
    others = [a for a in GENERATOR_AUS if a not in mouth_open]
    imgs = np.empty((n, image_size, image_size), np.uint8)
    neutrals = np.empty_like(imgs)
    y = np.zeros((n, len(GENERATOR_AUS)), np.float32)
    subject = np.zeros(n, np.int64)
    gens = {d: FaceGenerator(image_size=image_size, domain=d) for d in ("source", "shifted")}
    for i in range(n):
        rng = np.random.default_rng([int(seed), i, 4242])
        domain = "shifted" if i % 3 == 2 else "source"
        gen, number = gens[domain], 1000 + int(rng.integers(400))
        who = identity(gen.config, number)
        subject[i] = 10000 * ("source", "shifted").index(domain) + number
        aus: dict[int, float] = {}
        for a in others:
            if rng.random() < 0.22:
                aus[a] = float(rng.uniform(1.0, 5.0))
        if 12 in aus and 15 in aus:
            del aus[15 if rng.random() < 0.5 else 12]
        k = int(rng.integers(5))
        if k < 3:
            aus[mouth_open[k]] = float(rng.uniform(1.0, 5.0))
        imgs[i] = gen.render(who, aus, gen.sample_scene(rng), rng)[0]
        neutrals[i] = gen.render(who, {}, gen.sample_scene(rng), rng)[0]
        for a, v in aus.items():
            y[i, GENERATOR_AUS.index(a)] = v
    return imgs, neutrals, y, subject


def calibration_landmarks(n: int = 2400, seed: int = 0, image_size: int = 160) -> dict[str, np.ndarray]:
    """Face Mesh points found on `n` calibration faces and their subjects' neutral faces, with the true AU
    intensities and subject ids (faces where Face Mesh missed either image are dropped); cached by the source of
    the code that draws the faces and finds their points."""
    from ..cache import cached_arrays
    from .mesh import detect_many

    def build():
        imgs, neutral_imgs, y, subject = _calibration_faces(n, seed, image_size)
        pts, found = detect_many(imgs)
        npts, nfound = detect_many(neutral_imgs)
        ok = found & nfound
        return dict(points=pts[ok], neutral_points=npts[ok], intensity=y[ok], subject=subject[ok])

    key = dict(kind="read-aus-calibration", n=int(n), seed=int(seed), image_size=int(image_size), aus=GENERATOR_AUS)
    here = Path(__file__).parent                     # the code that draws the calibration faces and finds their points
    code = tuple(here / f for f in ("generator.py", "template.py", "actions.py", "mesh.py", "aus.py", "codebooks.py"))
    return cached_arrays("read_aus", key, build, code=code + (here / "assets",))
