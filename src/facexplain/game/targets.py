"""Target faces for the Face Game: generated faces, one per emotion in turn, with their AUs as the game detects them."""

from __future__ import annotations

import numpy as np

from ..faces.codebooks import EMOTIONS, codebook
from .scoring import jaccard

#: Targets should look like their emotion: among the qualifying faces, the one whose true AUs overlap most (Jaccard
#: index) with this codebook's prototype of the emotion is taken.
PROTOTYPES = "emfacs"


def choose_targets(detector, n_targets: int = 6, seed: int = 0, dataset: str = "synthetic", data_dir=None,
                   min_aus: int = 2, pool: int = 120) -> dict[str, dict]:
    """`n_targets` target faces, cycling through the six emotions: name -> dict(emotion, aus (detected),
    truth (ground-truth AUs, if known), image, landmarks). Generated targets are read against their subject's
    neutral face; faces of a real dataset against the template. A face qualifies when >= min_aus AUs are found;
    where the true AUs are known, the qualifying face closest to the emotion's prototype (PROTOTYPES) is taken
    (the first of equals), so that a surprise target does not smile because it drew an extra AU12."""
    from ..data import load_dataset
    from ..models.geometric_au import synthetic_neutrals

    from .. import checks

    n_targets, seed = checks.integer("n_targets", n_targets, 1), checks.integer("seed", seed, 0)
    min_aus, pool = checks.integer("min_aus", min_aus, 0), checks.integer("pool", pool, 1)
    if dataset == "synthetic":
        ds = load_dataset("synthetic", n=pool, seed=seed, emotions=EMOTIONS)
        found = detector.detect(ds.landmarks, synthetic_neutrals(ds))
    else:
        ds = load_dataset(dataset, data_dir=data_dir)
        if ds.landmarks is None:
            raise ValueError(f"dataset {dataset!r} has no landmarks: the geometric detector needs them")
        found = detector.detect(ds.landmarks)
    truth = ds.au_present(ds.au_numbers) if ds.au_intensity is not None and ds.au_intensity.size else None
    true_aus = None if truth is None else [{a for a, v in zip(ds.au_numbers, row) if v} for row in truth]
    used: set[int] = set()
    out: dict[str, dict] = {}
    for k in range(n_targets):
        emotion = EMOTIONS[k % len(EMOTIONS)]
        name = emotion if k < len(EMOTIONS) else f"{emotion}-{k // len(EMOTIONS) + 1}"
        idx = [i for i in range(len(ds)) if ds.emotion[i] == emotion and len(found[i]) >= min_aus and i not in used]
        if not idx:
            raise ValueError(f"no {emotion} face with >= {min_aus} detected AUs among {len(ds)}: raise `pool`")
        if true_aus is not None:
            proto = set(codebook(PROTOTYPES)[emotion]) & set(ds.au_numbers)
            idx.sort(key=lambda j: -jaccard(true_aus[j], proto))
        i = idx[0]
        used.add(i)
        out[name] = dict(emotion=emotion, aus=set(found[i]), truth=None if true_aus is None else true_aus[i],
                         image=ds.images[i], landmarks=np.asarray(ds.landmarks[i]), index=i)
    return out
