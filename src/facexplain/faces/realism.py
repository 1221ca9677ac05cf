"""How real do generated faces look to a face tracker? MediaPipe's detection rate and landmark error on them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .landmarks import interocular_distance, mesh_to_ibug68
from .mesh import detect_many


def mediapipe_agreement(dataset, min_size: int = 256) -> tuple[pd.DataFrame, np.ndarray]:
    """Run Face Mesh on every face; per face: found, and mean landmark error / inter-ocular distance (468 and 68).

    Returns (per-face table, detected landmarks with NaN where no face was found)."""
    if dataset.landmarks is None or dataset.landmarks.shape[1] != 468:
        raise ValueError("realism needs ground-truth 468-point landmarks (generated data)")
    found_pts, found = detect_many(dataset.images, min_size)
    truth = dataset.landmarks
    iod = interocular_distance(truth)
    err468 = np.linalg.norm(found_pts - truth, axis=-1).mean(1) / iod
    err68 = np.linalg.norm(mesh_to_ibug68(found_pts) - mesh_to_ibug68(truth), axis=-1).mean(1) / iod
    table = pd.DataFrame({"subject": dataset.subject, "emotion": dataset.emotion, "found": found,
                          "nme468": err468, "nme68": err68})
    return table, found_pts


def realism_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Detection rate and median/mean normalised landmark error, overall."""
    hit = table[table.found]
    return pd.DataFrame([{
        "faces": len(table), "detection_rate": table.found.mean(),
        "nme468_median": hit.nme468.median(), "nme468_mean": hit.nme468.mean(),
        "nme68_median": hit.nme68.median(), "nme68_mean": hit.nme68.mean(),
    }])
