"""The neutral face every synthetic face is warped from: scikit-image's astronaut photo with its Face Mesh.

The photo is a real face (so MediaPipe finds the generated faces), cropped around the face, turned grey and
made neutral: her smile is undone (mouth corners lowered, the open mouth closed over the teeth) and so is the
cheek raise that comes with it (AU6: cheeks and lower lids lowered by the generator's own AU6 displacement at
intensity NEUTRALISED_AU6). The 468 mesh points were found once with MediaPipe Face Mesh and ship in
assets/astronaut_mesh.npy (512 x 512 photo pixels).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from .landmarks import MESH_TO_IBUG68, interocular_distance

# Face Mesh contours used to open and close the mouth and the eyes.
UPPER_INNER_LIP = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LOWER_INNER_LIP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
RIGHT_EYE_CORNERS = (33, 133)   # subject's right eye = image left
LEFT_EYE_CORNERS = (362, 263)

CROP_SCALE = 1.6   # crop side / face height
# FACS intensity (0-5) of the cheek raise (AU6) taken out of the photo: her Duchenne smile lifts the cheeks and
# narrows the eyes from below. The size is a judgement by eye ("C", marked), not a measurement.
NEUTRALISED_AU6 = 3.0


@dataclass(frozen=True)
class Template:
    image: np.ndarray         # float32 (S, S) in [0, 1], neutral
    mesh: np.ndarray          # (468, 2) neutral landmarks in template pixels
    mesh_open: np.ndarray     # (468, 2) landmarks before the mouth was closed (labels sides of seams)
    face_mask: np.ndarray     # float32 (S, S), 1 on the face (mesh hull), soft edge
    size: int

    @property
    def l68(self) -> np.ndarray:
        return self.mesh[list(MESH_TO_IBUG68)]

    @property
    def iod(self) -> float:
        return float(interocular_distance(self.l68))


def astronaut_mesh() -> np.ndarray:
    """The 468 Face Mesh points of skimage.data.astronaut() (photo pixels)."""
    with resources.files("facexplain.faces").joinpath("assets/astronaut_mesh.npy").open("rb") as f:
        return np.load(f).astype(np.float32)


def seam(points: np.ndarray, idx) -> tuple[np.ndarray, np.ndarray]:
    """A polyline (xs ascending, ys) through the given mesh points, for above/below tests."""
    pts = points[list(idx)]
    order = np.argsort(pts[:, 0])
    return pts[order, 0], pts[order, 1]


def below(xs_ys, x, y, soft: float = 0.0):
    """1 where (x, y) lies below the seam (larger y), 0 above; a sigmoid of width `soft` pixels if soft > 0."""
    xs, ys = xs_ys
    dy = y - np.interp(x, xs, ys)
    if soft <= 0:
        return (dy > 0).astype(np.float32)
    return (1.0 / (1.0 + np.exp(-dy / soft))).astype(np.float32)


@lru_cache(maxsize=8)
def neutral_template(size: int = 112) -> Template:
    """The grey, neutral, cropped template at `size` x `size` pixels (cached per size)."""
    from skimage import data
    from skimage.color import rgb2gray

    photo = rgb2gray(data.astronaut()).astype(np.float32)
    mesh = astronaut_mesh()
    lo, hi = mesh.min(0), mesh.max(0)
    centre = np.array([(lo[0] + hi[0]) / 2, lo[1] + 0.42 * (hi[1] - lo[1])], np.float32)
    side = CROP_SCALE * (hi[1] - lo[1])
    scale = size / side
    # affine photo -> template pixels (pixel centres at +0.5)
    m = np.array([[scale, 0, size / 2 - scale * centre[0]], [0, scale, size / 2 - scale * centre[1]]], np.float32)
    image = cv2.warpAffine(photo, m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
    mesh_t = mesh * scale + m[:, 2]

    # undo the smile: close the mouth (lower lip up onto the upper lip), lower the mouth corners
    l68 = mesh_t[list(MESH_TO_IBUG68)]
    d = float(interocular_distance(l68))
    upper = seam(mesh_t, UPPER_INNER_LIP)
    gap = float(np.mean(mesh_t[list(LOWER_INNER_LIP[1:-1]), 1] - mesh_t[list(UPPER_INNER_LIP[1:-1]), 1]))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5

    def field(x, y, gate):
        c = l68[66]
        g = np.exp(-0.5 * (((x - c[0]) / (0.9 * d)) ** 2 + ((y - c[1]) / (0.45 * d)) ** 2)) * gate
        dy = -gap * g
        dx = np.zeros_like(dy)
        for corner, sign in ((l68[48], 1.0), (l68[54], -1.0)):
            k = np.exp(-0.5 * ((x - corner[0]) ** 2 + (y - corner[1]) ** 2) / (0.12 * d) ** 2)
            dx += sign * 0.03 * d * k
            dy += 0.05 * d * k
        return dx, dy

    mid_seam = (upper[0], upper[1] + gap / 2)
    dx, dy = field(xx, yy, below(upper, xx, yy, soft=0.3))
    image = cv2.remap(image, xx - 0.5 - dx, yy - 0.5 - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    ldx, ldy = field(mesh_t[:, 0], mesh_t[:, 1], below(mid_seam, mesh_t[:, 0], mesh_t[:, 1]))
    mesh_n = mesh_t + np.stack([ldx, ldy], 1)
    mesh_n[list(LOWER_INNER_LIP)] = mesh_n[list(UPPER_INNER_LIP)]  # closed lips: the inner contours meet
    # the closed lips meet in a darker line
    line = np.round(mesh_n[list(UPPER_INNER_LIP)]).astype(np.int32)
    seam_img = np.zeros_like(image)
    cv2.polylines(seam_img, [line], False, 1.0, thickness=max(1, size // 112), lineType=cv2.LINE_AA)
    image = np.clip(image - 0.08 * cv2.GaussianBlur(seam_img, (3, 3), 0.6), 0, 1)

    image, mesh_n = _lower_cheeks(image, mesh_n, mesh_t, size, NEUTRALISED_AU6)
    return Template(image.astype(np.float32), mesh_n.astype(np.float32), mesh_t.astype(np.float32),
                    _face_mask(mesh_n, size), size)


def _face_mask(mesh: np.ndarray, size: int) -> np.ndarray:
    hull = cv2.convexHull(np.round(mesh).astype(np.int32))
    face = np.zeros((size, size), np.float32)
    cv2.fillConvexPoly(face, hull, 1.0)
    return cv2.GaussianBlur(face, (0, 0), max(1.0, size / 112 * 1.5))


def _lower_cheeks(image, mesh, mesh_open, size: int, intensity: float):
    """Undo a cheek raise: apply the generator's AU6 displacement with the opposite sign, to pixels and mesh."""
    from .actions import Gates, au_kernels, displacement   # actions builds on this module

    draft = Template(image, mesh, mesh_open, _face_mask(mesh, size), size)
    kernels, gates = au_kernels(draft)[6], Gates(draft)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    f = -intensity / 5.0
    d = f * displacement(kernels, xx, yy, lambda g: gates.pixels(g, xx, yy))
    image = cv2.remap(image, xx - 0.5 - d[..., 0], yy - 0.5 - d[..., 1], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REFLECT)
    mesh = mesh + f * displacement(kernels, mesh[:, 0], mesh[:, 1], gates.landmarks)
    return image, mesh
