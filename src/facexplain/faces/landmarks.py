"""Landmark schemes: MediaPipe Face Mesh (468 points), iBUG/Multi-PIE (68 points) and the map between them."""

from __future__ import annotations

import numpy as np

N_MESH = 468
N_IBUG = 68

#: For each of the 68 iBUG points (0-based, iBUG order) the Face Mesh point that stands for it.
MESH_TO_IBUG68: tuple[int, ...] = (
    162, 234, 93, 58, 172, 136, 149, 148, 152, 377, 378, 365, 397, 288, 323, 454, 389,  # jaw 0-16
    71, 63, 105, 66, 107,  # right brow 17-21 (subject's right = image left)
    336, 296, 334, 293, 301,  # left brow 22-26
    168, 197, 5, 4,  # nose bridge 27-30
    75, 97, 2, 326, 305,  # lower nose 31-35
    33, 160, 158, 133, 153, 144,  # right eye 36-41
    362, 385, 387, 263, 373, 380,  # left eye 42-47
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,  # outer lip 48-59
    78, 82, 13, 312, 308, 317, 14, 87,  # inner lip 60-67
)

#: iBUG 68 groups (0-based, inclusive ranges as index arrays).
IBUG68_GROUPS: dict[str, tuple[int, ...]] = {
    "jaw": tuple(range(0, 17)),
    "right_brow": tuple(range(17, 22)),
    "left_brow": tuple(range(22, 27)),
    "nose_bridge": tuple(range(27, 31)),
    "lower_nose": tuple(range(31, 36)),
    "right_eye": tuple(range(36, 42)),
    "left_eye": tuple(range(42, 48)),
    "outer_lip": tuple(range(48, 60)),
    "inner_lip": tuple(range(60, 68)),
}


def check_landmarks(points, n: int | None = None) -> np.ndarray:
    """Validate an (L, 2) landmark array (L = 468 or 68, or `n`) and return it as float32."""
    pts = np.asarray(points, dtype=np.float32)
    allowed = (n,) if n is not None else (N_MESH, N_IBUG)
    if pts.ndim != 2 or pts.shape[1] != 2 or pts.shape[0] not in allowed:
        raise ValueError(f"landmarks must have shape (L, 2) with L in {allowed}; got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("landmarks contain NaN or inf")
    return pts


def mesh_to_ibug68(mesh: np.ndarray) -> np.ndarray:
    """Reduce Face Mesh landmarks (..., 468, 2) to the 68 iBUG points (..., 68, 2)."""
    mesh = np.asarray(mesh)
    if mesh.shape[-2:] != (N_MESH, 2):
        raise ValueError(f"expected Face Mesh landmarks of shape (..., 468, 2); got {mesh.shape}")
    return mesh[..., list(MESH_TO_IBUG68), :]


def as_ibug68(points: np.ndarray) -> np.ndarray:
    """68 iBUG points from either scheme."""
    pts = np.asarray(points, dtype=np.float32)
    return mesh_to_ibug68(pts) if pts.shape[-2] == N_MESH else pts


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the subject's right and left eye (image left and right)."""
    l68 = as_ibug68(points)
    return l68[..., 36:42, :].mean(-2), l68[..., 42:48, :].mean(-2)


def interocular_distance(points: np.ndarray) -> np.ndarray:
    """Distance between the eye centres, the usual normaliser of landmark errors."""
    right, left = eye_centres(points)
    return np.linalg.norm(left - right, axis=-1)
