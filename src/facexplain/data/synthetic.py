"""The generated dataset behind load_dataset("synthetic"), cached under data/cache/ by its config."""

from __future__ import annotations

import numpy as np

from .. import checks, faces
from ..cache import cached_arrays, code_hash
from ..faces.aus import GENERATOR_AUS
from ..faces.generator import GENERATOR_VERSION, FaceGenerator, GeneratorConfig, _normalise
from .records import FaceDataset

_EXTRA = ("shortcut", "pose", "lighting", "sequence")


def load_synthetic(n: int = 600, seed: int = 0, n_frames: int = 1, cache: bool = True, progress: bool = False,
                   **options) -> FaceDataset:
    """`n` generated faces (n_frames=1) or `n` neutral->apex sequences of `n_frames` frames, cached by config."""
    n, seed = checks.integer("n", n, 1), checks.integer("seed", seed, 0)
    n_frames = checks.integer("n_frames", n_frames, 1)
    if "image_size" in options:
        options["image_size"] = checks.integer("image_size", options["image_size"], 16)
    config = GeneratorConfig(**_normalise(dict(options)))
    gen = FaceGenerator(config)

    def build() -> dict[str, np.ndarray]:
        ds = gen.faces(n, seed, progress) if n_frames == 1 else gen.sequences(n, n_frames, seed, progress)
        arrays = dict(images=ds.images, landmarks=ds.landmarks, au_intensity=ds.au_intensity,
                      emotion=ds.emotion.astype(str), subject=ds.subject.astype(str), frame=ds.frame,
                      region_bits=ds.region_bits)
        arrays.update({f"extra_{k}": ds.extra[k] for k in _EXTRA})
        return arrays

    # the generator's code (the whole faces package, this module, the record) is part of the key: edits make new data
    key = dict(kind="synthetic", code=code_hash(faces, load_synthetic, FaceDataset), n=int(n), seed=int(seed),
               n_frames=int(n_frames), config=repr(config))
    arrays = cached_arrays("synthetic", key, build) if cache else build()
    info = dict(generator=key, version=GENERATOR_VERSION, seed=int(seed), n=int(n), n_frames=int(n_frames))
    return FaceDataset("synthetic", arrays["images"], arrays["landmarks"], GENERATOR_AUS, arrays["au_intensity"],
                       arrays["emotion"].astype(object), arrays["subject"].astype(object), arrays["frame"],
                       region_bits=arrays["region_bits"], extra={k: arrays[f"extra_{k}"] for k in _EXTRA}, info=info)
