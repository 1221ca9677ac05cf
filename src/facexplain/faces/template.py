"""The neutral faces every synthetic face is made from: real photos of different people with their Face Mesh.

Each photo in PHOTOS is a real face (so MediaPipe finds the generated faces), public domain, named with its source.
Its 468 Face Mesh points were found once with MediaPipe and ship in assets/<name>_mesh.npy (photo pixels). The
photos are brought into one frame (the astronaut's crop: a similarity transform fitted on all 468 points), turned
grey and made neutral: the astronaut's smile is undone (the open mouth closed over the teeth, the mouth corners
lowered and drawn in, the raised cheeks and lower lids lowered, the cheeks' smile shading flattened); Grace
Hopper's portrait is near-neutral already. Each neutral photo is then warped piecewise-affinely over the mesh
triangulation onto the astronaut's neutral mesh (its "shape-free" texture), so that subjects can blend the
templates' shapes and textures point by point.
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
# How far the astronaut's smile is undone, in inter-ocular distances d (outer eye corners): mouth corners down and
# in, cheeks and lower lids down. Judged by eye against Grace Hopper's neutral portrait (her corners sit level with
# the lips' midline; the astronaut's, with the mouth closed, still rise by ~0.02 d and her cheeks bunch).
CORNER_DOWN, CORNER_IN, CHEEK_DOWN, LID_DOWN = 0.045, 0.035, 0.05, 0.02


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


#: The real photos subjects are made from: who, where the photo ships, its licence.
PHOTOS: dict[str, dict[str, str]] = {
    "astronaut": dict(person="Eileen Collins, NASA astronaut", source="scikit-image: skimage.data.astronaut()",
                      licence="public domain (NASA photo)", expression="smiling (neutralised here)"),
    "grace_hopper": dict(person="Grace Hopper, US Navy rear admiral",
                         source="matplotlib: matplotlib.cbook.get_sample_data('grace_hopper.jpg')",
                         licence="public domain (US Navy photo)", expression="near-neutral"),
}


def photos_table():
    """PHOTOS as a pandas DataFrame (one row per photo), for the book."""
    import pandas as pd
    return pd.DataFrame([dict(photo=k, **v) for k, v in PHOTOS.items()])


def photo(name: str) -> np.ndarray:
    """The photo `name` of PHOTOS as an RGB uint8 array (offline: it ships with an installed package)."""
    if name == "astronaut":
        from skimage import data
        return data.astronaut()
    if name == "grace_hopper":
        import matplotlib.cbook as cbook
        import matplotlib.image as mpimg
        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(mpimg.imread(f, format="jpg"))
    raise ValueError(f"unknown photo {name!r}: expected one of {sorted(PHOTOS)}")


def photo_mesh(name: str) -> np.ndarray:
    """The 468 Face Mesh points of photo `name` (photo pixels), found once with MediaPipe (assets/<name>_mesh.npy)."""
    if name not in PHOTOS:
        raise ValueError(f"unknown photo {name!r}: expected one of {sorted(PHOTOS)}")
    with resources.files("facexplain.faces").joinpath(f"assets/{name}_mesh.npy").open("rb") as f:
        return np.load(f).astype(np.float32)


def astronaut_mesh() -> np.ndarray:
    """The 468 Face Mesh points of skimage.data.astronaut() (photo pixels)."""
    return photo_mesh("astronaut")


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


def _crop_matrix(mesh: np.ndarray, size: int) -> np.ndarray:
    """Affine photo -> template pixels of the astronaut-style crop around a mesh (pixel centres at +0.5)."""
    lo, hi = mesh.min(0), mesh.max(0)
    centre = np.array([(lo[0] + hi[0]) / 2, lo[1] + 0.42 * (hi[1] - lo[1])], np.float32)
    scale = size / (CROP_SCALE * (hi[1] - lo[1]))
    return np.array([[scale, 0, size / 2 - scale * centre[0]], [0, scale, size / 2 - scale * centre[1]]], np.float32)


def _similarity(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity taking points src onto dst."""
    ms, md = src.mean(0), dst.mean(0)
    s, d = src - ms, dst - md
    ss = float((s ** 2).sum())
    a = float((s * d).sum()) / ss
    b = float((s[:, 0] * d[:, 1] - s[:, 1] * d[:, 0]).sum()) / ss
    lin = np.array([[a, -b], [b, a]])
    return np.concatenate([lin, (md - lin @ ms)[:, None]], 1).astype(np.float32)


def _grey(rgb: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2gray
    return rgb2gray(rgb[..., :3]).astype(np.float32)


def _ring(mesh: np.ndarray, size: int, n: int = 32, reach: float = 1.3) -> np.ndarray:
    """Points on a loop around the face (reach x the mesh's extent in each direction) and the image corners."""
    c = mesh.mean(0)
    ang = np.linspace(0, 2 * np.pi, n, endpoint=False)
    u = np.stack([np.cos(ang), np.sin(ang)], 1)
    extent = np.array([np.max((mesh - c) @ v) for v in u])
    loop = c + u * (reach * extent)[:, None]
    m = 0.5 * size
    corners = np.array([[-m, -m], [size + m, -m], [-m, size + m], [size + m, size + m]], np.float32)
    return np.concatenate([loop, corners]).astype(np.float32)


def mesh_field(src: np.ndarray, dst: np.ndarray, size: int, follow: float = 0.5) -> np.ndarray:
    """Piecewise-affine map over the mesh triangulation: for each pixel centre of an image whose face has points
    `dst`, the position (S, S, 2) in an image whose face has points `src`. Outside the face the displacement
    fades out through a loop around the face (`follow` x the nearest mesh point's) to none at the corners."""
    from scipy.interpolate import LinearNDInterpolator

    dst = np.asarray(dst, np.float64)
    src = np.asarray(src, np.float64)
    ring = _ring(dst.astype(np.float32), size).astype(np.float64)
    near = np.argmin(np.linalg.norm(ring[:-4, None] - dst[None], axis=-1), 1)
    ring_src = ring.copy()
    ring_src[:-4] += follow * (src - dst)[near]
    interp = LinearNDInterpolator(np.concatenate([dst, ring]), np.concatenate([src, ring_src]))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64) + 0.5
    out = interp(np.stack([xx.ravel(), yy.ravel()], 1)).reshape(size, size, 2)
    return out.astype(np.float32)


def mesh_warp(image: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """`image` (face points `src`) warped so its face points move to `dst`, piecewise-affinely over the mesh."""
    size = image.shape[0]
    f = mesh_field(src, dst, size)
    return cv2.remap(image, f[..., 0] - 0.5, f[..., 1] - 0.5, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def _gauss(x, y, centre, sigma) -> np.ndarray:
    return np.exp(-0.5 * ((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / sigma ** 2)


@lru_cache(maxsize=8)
def neutral_template(size: int = 112) -> Template:
    """The astronaut's grey, neutral, cropped template at `size` x `size` pixels (cached per size): the frame
    every generated face is drawn in."""
    return _astronaut_template(size)


def _astronaut_template(size: int) -> Template:
    mesh = astronaut_mesh()
    m = _crop_matrix(mesh, size)
    image = cv2.warpAffine(_grey(photo("astronaut")), m, (size, size), flags=cv2.INTER_AREA,
                           borderMode=cv2.BORDER_REFLECT)
    mesh_t = mesh * m[0, 0] + m[:, 2]

    # undo the smile: close the mouth (lower lip up onto the upper lip)
    l68 = mesh_t[list(MESH_TO_IBUG68)]
    d = float(interocular_distance(l68))
    upper = seam(mesh_t, UPPER_INNER_LIP)
    gap = float(np.mean(mesh_t[list(LOWER_INNER_LIP[1:-1]), 1] - mesh_t[list(UPPER_INNER_LIP[1:-1]), 1]))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    eye_r, eye_l = l68[36:42].mean(0), l68[42:48].mean(0)
    cheeks = [(l68[41] + (0, 0.38 * d), (0.0, CHEEK_DOWN), 0.2 * d), (l68[46] + (0, 0.38 * d), (0.0, CHEEK_DOWN), 0.2 * d),
              (l68[31] + (-0.25 * d, 0.2 * d), (0.0, 0.6 * CHEEK_DOWN), 0.15 * d),
              (l68[35] + (0.25 * d, 0.2 * d), (0.0, 0.6 * CHEEK_DOWN), 0.15 * d)]
    lids = [((l68[40] + l68[41]) / 2, (0.0, LID_DOWN), 0.1 * d), ((l68[46] + l68[47]) / 2, (0.0, LID_DOWN), 0.1 * d)]

    def field(x, y, gate, lid_gate):
        c = l68[66]
        g = np.exp(-0.5 * (((x - c[0]) / (0.9 * d)) ** 2 + ((y - c[1]) / (0.45 * d)) ** 2)) * gate
        dy = -gap * g
        dx = np.zeros_like(dy)
        for corner, sign in ((l68[48], 1.0), (l68[54], -1.0)):
            k = _gauss(x, y, corner, 0.14 * d)
            dx += sign * CORNER_IN * d * k
            dy += CORNER_DOWN * d * k
        for centre, (vx, vy), sigma in cheeks:
            k = _gauss(x, y, centre, sigma)
            dx, dy = dx + vx * d * k, dy + vy * d * k
        for centre, (vx, vy), sigma in lids:
            k = _gauss(x, y, centre, sigma) * lid_gate
            dx, dy = dx + vx * d * k, dy + vy * d * k
        return dx, dy

    def below_eyes(x, y, soft):
        split = (eye_r[0] + eye_l[0]) / 2
        return np.where(x < split, below(seam(mesh_t, (33, 133)), x, y, soft), below(seam(mesh_t, (362, 263)), x, y, soft))

    mid_seam = (upper[0], upper[1] + gap / 2)
    dx, dy = field(xx, yy, below(upper, xx, yy, soft=0.3), below_eyes(xx, yy, 0.35))
    image = cv2.remap(image, xx - 0.5 - dx, yy - 0.5 - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    mx, my = mesh_t[:, 0], mesh_t[:, 1]
    ldx, ldy = field(mx, my, below(mid_seam, mx, my), below_eyes(mx, my, 0))
    mesh_n = mesh_t + np.stack([ldx, ldy], 1)
    mesh_n[list(LOWER_INNER_LIP)] = mesh_n[list(UPPER_INNER_LIP)]  # closed lips: the inner contours meet
    # the closed lips meet in a darker line
    line = np.round(mesh_n[list(UPPER_INNER_LIP)]).astype(np.int32)
    seam_img = np.zeros_like(image)
    cv2.polylines(seam_img, [line], False, 1.0, thickness=max(1, size // 112), lineType=cv2.LINE_AA)
    image = np.clip(image - 0.08 * cv2.GaussianBlur(seam_img, (3, 3), 0.6), 0, 1)
    # flatten the smile's shading on the cheeks and along the nasolabial folds (keep the fine skin texture)
    l68n = mesh_n[list(MESH_TO_IBUG68)]
    flat = np.zeros_like(image)
    for a, b in ((l68n[41] + (0, 0.25 * d), l68n[48] + (-0.05 * d, 0)), (l68n[46] + (0, 0.25 * d), l68n[54] + (0.05 * d, 0))):
        for t in np.linspace(0, 1, 6):
            flat = np.maximum(flat, _gauss(xx, yy, a + t * (b - a), 0.14 * d))
    low = cv2.GaussianBlur(image, (0, 0), 0.25 * d)
    fine = image - cv2.GaussianBlur(image, (0, 0), 0.04 * d)
    image = image * (1 - 0.85 * flat) + 0.85 * flat * (low + fine)
    return Template(image.astype(np.float32), mesh_n.astype(np.float32), mesh_t.astype(np.float32),
                    _face_mask(mesh_n, size), size)


def _face_mask(mesh: np.ndarray, size: int) -> np.ndarray:
    hull = cv2.convexHull(np.round(mesh).astype(np.int32))
    face = np.zeros((size, size), np.float32)
    cv2.fillConvexPoly(face, hull, 1.0)
    return cv2.GaussianBlur(face, (0, 0), max(1.0, size / 112 * 1.5))


@dataclass(frozen=True)
class TemplateSet:
    """Every photo's neutral face in the astronaut template's frame: meshes (K, 468, 2) and shape-free textures
    (K, S, S), i.e. each face's pixels warped onto the astronaut's neutral mesh."""

    names: tuple[str, ...]
    meshes: np.ndarray
    textures: np.ndarray
    surrounds: np.ndarray     # (K, S, S): each photo's own hair and background around its face (not shape-free)


@lru_cache(maxsize=4)
def template_set(size: int = 112) -> TemplateSet:
    base = neutral_template(size)
    names, meshes, textures, surrounds = [], [], [], []
    for name in PHOTOS:
        if name == "astronaut":
            img, mesh = base.image, base.mesh
        else:
            raw = photo_mesh(name)
            m = _similarity(raw, _photo_to_frame(raw, base))
            img = cv2.warpAffine(_grey(photo(name)), m, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT)
            mesh = raw @ m[:, :2].T + m[:, 2]
        names.append(name)
        meshes.append(mesh)
        surrounds.append(img)
        textures.append(img if name == "astronaut" else mesh_warp(img, mesh, base.mesh))
    return TemplateSet(tuple(names), np.stack(meshes).astype(np.float32), np.stack(textures).astype(np.float32),
                       np.stack(surrounds).astype(np.float32))


def _photo_to_frame(raw: np.ndarray, base: Template) -> np.ndarray:
    """Where a photo's mesh points should land in the template frame: the astronaut's neutral mesh, fitted by a
    similarity on the points no expression moves much (face outline, nose, eye corners)."""
    idx = [10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 127, 356, 234, 454, 93, 323, 132, 361, 33, 133, 362, 263, 152]
    m = _similarity(raw[idx], base.mesh[idx])
    return raw @ m[:, :2].T + m[:, 2]
