"""The synthetic face generator: the book's default dataset, with ground truth no public FER set has.

Each face is the neutral template warped by (a) its subject's face geometry, (b) the displacement fields of its
active Action Units at their intensities, and (c) its head pose, then re-lit and re-toned by the subject's
appearance and the scene's lighting. Furrows that FACS describes are added as skin texture, an opened mouth is
painted in, and the pixels each AU moved or marked are kept as its ground-truth region. An optional `shortcut`
stamps a label-coded mark outside the face. Everything is a pure function of (seed, index): byte-identical.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import cv2
import numpy as np

from .actions import Gates, au_kernels, au_textures, displacement, identity_kernels
from .aus import GENERATOR_AUS
from .cue import draw_cue
from .codebooks import CODEBOOKS, EMOTIONS_WITH_NEUTRAL, codebook
from .template import LOWER_INNER_LIP, PHOTOS, UPPER_INNER_LIP, Template, mesh_field, neutral_template, template_set

#: An AU whose displacement parts the inner lips by more than this many pixels (at its intensity) opened the mouth:
#: the painted mouth interior joins its ground-truth region.
PARTED = 0.3

#: The generator's version for readers: chapter 00 and every generated dataset's `info` show it. Bump it when what
#: the faces look like changes (6: subjects blended from two photos, AU kernels wide enough never to fold the skin;
#: 7: AUs move the face and a margin around it, not the neck, collar, hair or background, and a parted mouth's
#: painted interior belongs to the regions of the AUs that parted the lips; 8: the jaw drop opens an oval, not a slit,
#: teeth fade towards the mouth corners, forehead furrows arch and fade at their ends, and the nose wrinkler marks
#: short transverse wrinkles at the root of the nose and oblique ones down its sides instead of straight bands).
#: Caches do not read it: they are keyed by a hash of the generator's source (cache.code_hash), so any edit to the
#: faces package makes new data whether or not this number moves.
GENERATOR_VERSION = 8

# How strongly each domain varies pose, lighting and noise. "shifted" is the cross-domain test set of chapter 1:
# other identities, wider head poses, harsher light, more sensor noise and blur.
DOMAINS = {
    "source": dict(roll=7.0, yaw=0.10, scale=0.05, shift=0.03, light=0.35, noise=0.012, blur=0.0),
    "shifted": dict(roll=14.0, yaw=0.22, scale=0.09, shift=0.06, light=0.7, noise=0.03, blur=0.6),
}


@dataclass
class GeneratedFaces:
    """What the generator makes, as plain arrays (data.load_dataset("synthetic") wraps them in a FaceDataset).

    images uint8 (N, S, S); landmarks float32 (N, 468, 2); au_intensity float32 (N, len(au_numbers)) in FACS 0-5;
    emotion, subject object (N,); frame int (N,); region_bits uint32 (N, S, S), bit k = au_numbers[k] acts here;
    extra: per-face "shortcut" (bool), "pose" (roll, yaw, scale, tx, ty), "lighting", "sequence" (-1 for stills)."""

    images: np.ndarray
    landmarks: np.ndarray
    au_numbers: tuple[int, ...]
    au_intensity: np.ndarray
    emotion: np.ndarray
    subject: np.ndarray
    frame: np.ndarray
    region_bits: np.ndarray
    extra: dict
    info: dict

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class GeneratorConfig:
    """What a generated dataset depends on (besides n and seed); hashed for the data cache."""

    image_size: int = 112
    shortcut: float = 0.0           # probability that a face carries the label-coded mark outside the face
    n_subjects: int = 40
    emotions: tuple[str, ...] = EMOTIONS_WITH_NEUTRAL
    codebook: str = "emfacs"        # prototype AUs each emotion starts from
    extras_from: str = "seed004"    # AUs an emotion often adds (those of this codebook not in the prototype)
    p_core: float = 0.85            # chance a prototype AU shows
    p_extra: float = 0.35           # chance an "often added" AU shows
    p_other: float = 0.015          # chance any other AU shows
    domain: str = "source"
    templates: tuple[str, ...] = tuple(PHOTOS)   # the photos this config's subjects are blended from

    def __post_init__(self):
        if not 16 <= int(self.image_size) <= 1024:
            raise ValueError(f"image_size must be between 16 and 1024 pixels; got {self.image_size}")
        if not 0.0 <= float(self.shortcut) <= 1.0:
            raise ValueError(f"shortcut is a probability in [0, 1]; got {self.shortcut}")
        if self.domain not in DOMAINS:
            raise ValueError(f"unknown domain {self.domain!r}: use one of {sorted(DOMAINS)}")
        if int(self.n_subjects) < 1:
            raise ValueError("n_subjects must be at least 1")
        for name in (self.codebook, self.extras_from):
            if name not in CODEBOOKS:
                raise ValueError(f"unknown codebook {name!r}: expected one of {sorted(CODEBOOKS)}")
        if not self.templates or any(t not in PHOTOS for t in self.templates):
            raise ValueError(f"templates must be a non-empty subset of {tuple(PHOTOS)}; got {self.templates}")
        bad = [e for e in self.emotions if e not in EMOTIONS_WITH_NEUTRAL]
        if bad or not self.emotions:
            raise ValueError(f"emotions must be a non-empty subset of {EMOTIONS_WITH_NEUTRAL}; got {self.emotions}")


@dataclass
class Rig:
    """Everything precomputed for one image size: fields, landmark shifts, textures, regions."""

    template: Template
    au_field: dict[int, np.ndarray]      # AU -> (S, S, 2) displacement at full intensity
    au_land: dict[int, np.ndarray]       # AU -> (468, 2)
    au_texture: dict[int, np.ndarray]    # AU -> (S, S)
    region_bits: np.ndarray              # uint32 (S, S): bit k = GENERATOR_AUS[k] acts here
    id_field: np.ndarray                 # (M, S, S, 2)
    id_land: np.ndarray                  # (M, 468, 2)
    grid: tuple[np.ndarray, np.ndarray]  # pixel-centre coordinates
    tpl_names: tuple[str, ...] = ()      # the template photos
    tpl_field: np.ndarray | None = None  # (K, S, S, 2): displacement taking the astronaut's face to photo k's shape
    tpl_land: np.ndarray | None = None   # (K, 468, 2)
    tpl_texture: np.ndarray | None = None  # (K, S, S) shape-free textures (on the astronaut's neutral mesh)
    feature_masks: np.ndarray | None = None  # (F, S, S) soft masks of brows, eyes, lips, for appearance modes
    lower_face: np.ndarray | None = None     # (S, S): 0 above the cheekbones, 1 below (upper/lower texture mix)
    au_parts_lips: dict | None = None        # AU -> how far it parts the inner lips at full intensity (pixels)
    on_face: np.ndarray | None = None        # (S, S): 1 on the template's face, 0 beyond its reach (_face_reach)

    def neutral_landmarks(self, who: "Identity") -> np.ndarray:
        """A subject's neutral landmarks (468, 2) in template pixels: no AU, no pose."""
        return (self.template.mesh + np.tensordot(who.shape, self.id_land, axes=1)
                + np.tensordot(who.mix_shape, self.tpl_land, axes=1)).astype(np.float32)


@lru_cache(maxsize=4)
def rig(image_size: int = 112) -> Rig:
    t = neutral_template(image_size)
    gates = Gates(t)
    s = image_size
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    mx, my = t.mesh[:, 0], t.mesh[:, 1]
    pix = lambda g: gates.pixels(g, xx, yy)  # noqa: E731
    textures = au_textures(t)
    au_field, au_land, au_tex = {}, {}, {}
    bits = np.zeros((s, s), np.uint32)
    on_face = _face_reach(t)
    for k, (au, kernels) in enumerate(sorted(au_kernels(t).items())):
        au_field[au] = displacement(kernels, xx, yy, pix)
        au_land[au] = displacement(kernels, mx, my, gates.landmarks)
        mag = np.linalg.norm(au_field[au], axis=-1) * on_face          # the template's face moves, not its neck
        region = mag > min(0.3 * mag.max(), 0.75 * s / 112)  # moved noticeably: 30% of peak, at most 3/4 px
        if au in textures:
            au_tex[au] = textures[au]
            region |= np.abs(textures[au]) > 0.3 * np.abs(textures[au]).max()
        bits |= region.astype(np.uint32) << np.uint32(GENERATOR_AUS.index(au))
    parts_lips = {au: float(np.max(v[list(LOWER_INNER_LIP), 1] - v[list(UPPER_INNER_LIP), 1]))
                  for au, v in au_land.items()}
    ids = identity_kernels(t)
    id_field = np.stack([displacement(k, xx, yy, lambda g: 1.0) for k in ids])
    id_land = np.stack([displacement(k, mx, my, lambda g: 1.0) for k in ids])
    ts = template_set(image_size)
    tpl_land = ts.meshes - t.mesh[None]
    tpl_field = np.stack([np.zeros((s, s, 2), np.float32) if k == 0 else
                          np.stack([xx, yy], -1) - mesh_field(t.mesh, m, s) for k, m in enumerate(ts.meshes)])
    return Rig(t, au_field, au_land, au_tex, bits, id_field, id_land, (xx, yy), ts.names, tpl_field.astype(np.float32),
               tpl_land.astype(np.float32), ts.textures, _feature_masks(t, xx, yy),
               (1 / (1 + np.exp(-(yy - t.l68[29, 1]) / (0.12 * t.iod)))).astype(np.float32), parts_lips, on_face)


#: How far beyond the face (the mesh hull) facial muscles still move the skin, in inter-ocular distances: the skin
#: under the chin follows a dropped jaw; the neck, the collar, the hair and the background do not.
FACE_REACH = 0.5


def _face_reach(t: Template) -> np.ndarray:
    """(S, S) weight of the AU displacements: 1 on the face (every mesh point), easing to 0 at FACE_REACH inter-ocular
    distances outside it (smoothstep; gentle enough that no AU folds the skin, see test_generator)."""
    inside = (t.face_mask > 0.01).astype(np.uint8)
    dist = cv2.distanceTransform(1 - inside, cv2.DIST_L2, 5)          # pixels outside the face to its edge
    u = np.clip(1.0 - dist / (FACE_REACH * t.iod), 0.0, 1.0)
    return (u * u * (3 - 2 * u)).astype(np.float32)


def _feature_masks(t: Template, xx, yy) -> np.ndarray:
    """Soft masks of the brows, the eye sockets and the lips on the template (for appearance modes)."""
    p, d = t.l68, t.iod

    def blobs(points, sigma):
        out = np.zeros_like(xx)
        for q in points:
            out = np.maximum(out, np.exp(-0.5 * ((xx - q[0]) ** 2 + (yy - q[1]) ** 2) / (sigma * d) ** 2))
        return out

    brows = blobs(p[17:27], 0.07)
    eyes = blobs([p[36:42].mean(0), p[42:48].mean(0)], 0.22)
    lips = blobs(p[48:60], 0.06)
    return np.stack([brows, eyes, lips]).astype(np.float32)


@dataclass(frozen=True)
class Identity:
    """A subject: a blend of the template photos' shapes (mix_shape) and textures (mix_texture), face-geometry
    coefficients, and appearance (tone, contrast, skin grain, shading, brow/eye/lip darkness)."""

    shape: np.ndarray
    skin: float
    surround: float
    contrast: float
    gamma: float
    grain_seed: int
    mix_shape: np.ndarray = None      # (K,) weights of the templates' shapes (sum 1; may reach a little beyond 0-1)
    mix_texture: np.ndarray = None    # (2, K) weights of the templates' textures (sum 1, in 0-1): upper, lower face
    features: np.ndarray = None       # (3,) darkness of brows, eye sockets, lips
    shading: np.ndarray = None        # (B, 4): bumps (x, y, width, amplitude) of the face's own relief shading
    au_gain: np.ndarray = None        # (len(GENERATOR_AUS),): how strongly this person's face moves for each AU


#: How far subjects' shapes reach beyond the photos (1 = plain blends; 1.3 = 30% caricature either way).
SHAPE_REACH = 1.3


def _mix(rng: np.random.Generator, k_all: int, allowed: np.ndarray, reach: float) -> np.ndarray:
    w = np.zeros(k_all)
    w[allowed] = rng.dirichlet(np.full(allowed.sum(), 0.5)) if allowed.sum() > 1 else 1.0
    if allowed.sum() > 1:
        w[allowed] = (w[allowed] - 1.0 / allowed.sum()) * reach + 1.0 / allowed.sum()
    return w.astype(np.float32)


@lru_cache(maxsize=4096)
def identity(config: GeneratorConfig, subject: int) -> Identity:
    """Subject `subject` of the config's domain; the same person in every dataset of that domain."""
    rng = np.random.default_rng([7, list(DOMAINS).index(config.domain), subject])
    r = rig(config.image_size)
    allowed = np.array([n in config.templates for n in r.tpl_names])
    shape = (GEOMETRY * np.clip(rng.normal(size=len(r.id_land)), -2, 2)).astype(np.float32)
    skin, surround = float(rng.uniform(-0.12, 0.12)), float(rng.uniform(-0.2, 0.2))
    contrast, gamma = float(rng.uniform(0.75, 1.2)), float(rng.uniform(0.8, 1.25))
    grain_seed = int(rng.integers(2**31))
    mix_shape = _mix(rng, len(allowed), allowed, SHAPE_REACH)
    mix_texture = np.stack([_mix(rng, len(allowed), allowed, 1.0), _mix(rng, len(allowed), allowed, 1.0)])
    features = rng.uniform(-1, 1, size=3).astype(np.float32)
    shading = np.stack([rng.uniform(0.2, 0.8, 5), rng.uniform(0.25, 0.8, 5), rng.uniform(0.08, 0.2, 5),
                        rng.uniform(-1, 1, 5)], 1).astype(np.float32)
    au_gain = rng.uniform(*AU_GAIN_RANGE, size=len(GENERATOR_AUS)).astype(np.float32)
    return Identity(shape, skin, surround, contrast, gamma, grain_seed, mix_shape, mix_texture, features, shading,
                    au_gain)


#: People move their faces differently: each subject's AU displacements and furrows are scaled by a factor drawn
#: from this range per AU (the label keeps the FACS intensity; the ground-truth region is the AU's footprint).
AU_GAIN_RANGE = (0.75, 1.3)
#: Strength of the geometry modes (eye spacing, face width, nose length, ...) on top of the templates' shapes.
GEOMETRY = 1.5
#: Appearance strengths: skin grain sd, shading bump amplitude, brow / eye-socket / lip darkness (grey levels 0-1).
GRAIN, SHADING, FEATURE_DARKNESS = 0.03, 0.10, (0.14, 0.07, 0.08)


def sample_aus(config: GeneratorConfig, emotion: str, rng: np.random.Generator) -> dict[int, float]:
    """AU intensities (FACS 1-5) for one face of `emotion`: the prototype, varied the way people vary."""
    aus: dict[int, float] = {}
    if emotion != "neutral":
        core = [a for a in codebook(config.codebook)[emotion] if a in GENERATOR_AUS]
        extra = [a for a in codebook(config.extras_from)[emotion] if a in GENERATOR_AUS and a not in core]
        kept = [a for a in core if rng.random() < config.p_core] or [core[int(rng.integers(len(core)))]]
        for a in kept:
            aus[a] = float(rng.uniform(2.0, 5.0))
        for a in extra:
            if rng.random() < config.p_extra:
                aus[a] = float(rng.uniform(1.0, 4.0))
    for a in GENERATOR_AUS:
        if a not in aus and rng.random() < config.p_other:
            aus[a] = float(rng.uniform(1.0, 3.0))
    return aus


def _pose_matrix(size: int, roll: float, yaw: float, scale: float, tx: float, ty: float) -> np.ndarray:
    """2x3 affine from template to image pixels: roll, a yaw-like horizontal squeeze and shift, scale, move."""
    c = size / 2
    th = np.deg2rad(roll)
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]], np.float32)
    lin = scale * rot @ np.diag([1.0 - 0.35 * abs(yaw), 1.0]).astype(np.float32)
    shift = np.array([c + tx * size + yaw * 0.12 * size, c + ty * size], np.float32) - lin @ np.array([c, c], np.float32)
    return np.concatenate([lin, shift[:, None]], 1).astype(np.float32)


class FaceGenerator:
    """Renders synthetic faces for one GeneratorConfig. `faces(n, seed)` and `sequences(...)` give GeneratedFaces."""

    def __init__(self, config: GeneratorConfig | None = None, **options):
        self.config = config or GeneratorConfig(**options)
        self.rig = rig(int(self.config.image_size))
        self.domain = DOMAINS[self.config.domain]
        self._grain: dict[int, np.ndarray] = {}

    # --- one face --------------------------------------------------------------------------------------
    def _subject_base(self, who: Identity) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(texture, shape displacement field, neutral landmarks, where AUs move the skin) of a subject, in template
        pixels (cached). The last is the template's on_face carried by the subject's shape: a long jaw moves with AU26
        to its tip."""
        base = self._grain.get(who.grain_seed)
        if base is None:
            r, s = self.rig, self.config.image_size
            t = r.template
            grain = np.random.default_rng(who.grain_seed).normal(size=(s, s)).astype(np.float32)
            grain = cv2.GaussianBlur(grain, (0, 0), max(1.0, s / 112 * 2.0))
            grain *= GRAIN / (grain.std() + 1e-6)
            upper = np.tensordot(who.mix_texture[0], r.tpl_texture, axes=1)
            lower = np.tensordot(who.mix_texture[1], r.tpl_texture, axes=1)
            face = upper + r.lower_face * (lower - upper)
            surround = r.tpl_texture[int(np.argmax(who.mix_texture[0]))]
            xx, yy = r.grid
            relief = np.zeros((s, s), np.float32)
            for bx, by, bw, amp in who.shading:
                relief += SHADING * amp * np.exp(-0.5 * ((xx / s - bx) ** 2 + (yy / s - by) ** 2) / bw ** 2)
            marks = -np.tensordot(who.features * np.asarray(FEATURE_DARKNESS, np.float32), r.feature_masks, axes=1)
            base = (t.face_mask * (face + who.skin + grain + relief + marks)
                    + (1 - t.face_mask) * (surround + who.surround))
            field = np.tensordot(who.shape, r.id_field, axes=1) + np.tensordot(who.mix_shape, r.tpl_field, axes=1)
            reach = cv2.remap(r.on_face, xx - 0.5 - field[..., 0], yy - 0.5 - field[..., 1], cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            base = (base.astype(np.float32), field.astype(np.float32), r.neutral_landmarks(who),
                    reach[..., None].astype(np.float32))
            self._grain[who.grain_seed] = base
        return base

    def sample_scene(self, rng: np.random.Generator) -> dict[str, float]:
        d = self.domain
        return dict(roll=float(rng.uniform(-d["roll"], d["roll"])), yaw=float(rng.uniform(-d["yaw"], d["yaw"])),
                    scale=float(1 + rng.uniform(-d["scale"], d["scale"])),
                    tx=float(rng.uniform(-d["shift"], d["shift"])), ty=float(rng.uniform(-d["shift"], d["shift"])),
                    light=float(rng.uniform(0, d["light"])), light_angle=float(rng.uniform(0, 2 * np.pi)))

    def render(self, who: Identity, aus: dict[int, float], scene: dict[str, float], rng: np.random.Generator,
               cue: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One face -> (uint8 image, (468, 2) landmarks, uint32 region bits of the active AUs)."""
        r, s = self.rig, self.config.image_size
        t = r.template
        pre, field, land, reach = self._subject_base(who)
        active = np.uint32(0)
        moves = np.zeros_like(field)
        for au, level in aus.items():
            f = level / 5.0 * float(who.au_gain[GENERATOR_AUS.index(au)])
            moves += f * r.au_field[au]
            land = land + f * r.au_land[au]
            if au in r.au_texture:
                pre = pre + f * r.au_texture[au]  # a new array: the cached subject base stays untouched
            active |= np.uint32(1) << np.uint32(GENERATOR_AUS.index(au))
        field = field + reach * moves             # muscles move the face (and the skin just around it) only

        m = _pose_matrix(s, scene["roll"], scene["yaw"], scene["scale"], scene["tx"], scene["ty"])
        inv = cv2.invertAffineTransform(m)
        xx, yy = r.grid
        px = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]   # template position of each output pixel centre
        py = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
        d = cv2.remap(field, px - 0.5, py - 0.5, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        sx, sy = px - 0.5 - d[..., 0], py - 0.5 - d[..., 1]
        img = cv2.remap(pre, sx, sy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        bits = cv2.remap((r.region_bits & active).view(np.float32), sx, sy, cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0).view(np.uint32)
        land = land @ m[:, :2].T + m[:, 2]
        cavity = self._paint_mouth(img, land)
        if cavity is not None:     # the opened mouth is where the AUs that parted the lips show
            opened = np.uint32(0)
            for au, level in aus.items():
                f = level / 5.0 * float(who.au_gain[GENERATOR_AUS.index(au)])
                if f * r.au_parts_lips.get(au, 0.0) > PARTED:
                    opened |= np.uint32(1) << np.uint32(GENERATOR_AUS.index(au))
            bits = np.where(cavity > 0.5, bits | opened, bits)

        ramp = (np.cos(scene["light_angle"]) * (xx - s / 2) + np.sin(scene["light_angle"]) * (yy - s / 2)) / s
        img = img * (1.0 + scene["light"] * ramp)
        img = np.clip((img - 0.5) * who.contrast + 0.5, 0, 1) ** who.gamma
        if self.domain["blur"] > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.domain["blur"] * s / 112)
        img = img + rng.normal(0, self.domain["noise"], img.shape).astype(np.float32)
        if cue is not None:
            draw_cue(img, cue, len(self.config.emotions))
        return np.round(np.clip(img, 0, 1) * 255).astype(np.uint8), land.astype(np.float32), bits

    def _paint_mouth(self, img: np.ndarray, land: np.ndarray) -> np.ndarray | None:
        """Paint the inside of a parted mouth: a cavity darker towards the back, the upper teeth (with the gaps
        between them) below the upper lip, and, when the mouth is wide open, the lower teeth and the tongue.
        Returns the painted opening's coverage (S, S) in 0-1, or None when the lips are closed."""
        upper, lower = land[list(UPPER_INNER_LIP)], land[list(LOWER_INNER_LIP)]
        opening = float(np.max(lower[1:-1, 1] - upper[1:-1, 1]))
        if opening < 0.4:
            return None
        d = self.rig.template.iod
        poly = np.concatenate([upper, lower[::-1]])
        x0, y0 = np.floor(poly.min(0)).astype(int) - 2
        x1, y1 = np.ceil(poly.max(0)).astype(int) + 3
        h, w = img.shape
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        scale = 16
        pw, ph = x1 - x0, y1 - y0
        off = np.array([x0, y0], np.float32)
        to_int = lambda pts: [np.round((pts - off) * scale).astype(np.int32)]  # noqa: E731
        cavity = np.zeros((ph, pw), np.float32)
        cv2.fillPoly(cavity, to_int(poly), 1.0, cv2.LINE_AA, shift=4)
        yy, xx = np.ogrid[y0:y1, x0:x1]
        yy, xx = yy.astype(np.float32) + 0.5, xx.astype(np.float32) + 0.5
        centre = poly.mean(0)
        depth = np.exp(-0.5 * (((xx - centre[0]) / (0.3 * d + 1e-3)) ** 2 + ((yy - centre[1]) / (0.5 * opening + 1e-3)) ** 2))
        inside = 0.26 - 0.16 * depth                       # darker towards the back of the mouth
        if opening > 0.22 * d:                            # tongue on the floor of a wide-open mouth
            tongue = np.exp(-0.5 * (((xx - centre[0]) / (0.2 * d)) ** 2 + ((yy - lower[5, 1] + 0.08 * d) / (0.07 * d)) ** 2))
            inside = inside + 0.2 * tongue
        span = upper[-1, 0] - upper[0, 0]
        teeth = np.zeros((ph, pw), np.float32)
        t_depth = min(0.42 * opening, 0.11 * d)
        band = upper[3:-3]
        cv2.fillPoly(teeth, to_int(np.concatenate([band, (band + (0, t_depth))[::-1]])), 1.0, cv2.LINE_AA, shift=4)
        if opening > 0.28 * d:                            # the lower teeth show when the jaw drops far
            lband = lower[3:-3]
            cv2.fillPoly(teeth, to_int(np.concatenate([lband, (lband - (0, 0.06 * d))[::-1]])), 0.8, cv2.LINE_AA, shift=4)
        gaps = 0.5 + 0.5 * np.cos(2 * np.pi * (xx - centre[0]) / max(0.1 * d, 1.5))   # gaps between the teeth
        # teeth fade into the mouth's shadow towards the corners
        side = np.clip(np.abs(xx - centre[0]) / (0.5 * span + 1e-3), 0, 1)
        tooth = (0.74 - 0.05 * gaps ** 8) * (1 - 0.55 * side ** 2)
        mouth = inside + teeth * (tooth - inside)
        patch = img[y0:y1, x0:x1]
        img[y0:y1, x0:x1] = patch + cavity * (mouth - patch)
        coverage = np.zeros(img.shape, np.float32)
        coverage[y0:y1, x0:x1] = cavity
        return coverage

    # --- datasets --------------------------------------------------------------------------------------
    def _face_plan(self, rng: np.random.Generator):
        c = self.config
        subject = int(rng.integers(c.n_subjects))
        k = int(rng.integers(len(c.emotions)))
        emotion = c.emotions[k]
        aus = sample_aus(c, emotion, rng)
        cue = k if rng.random() < c.shortcut else None
        return subject, emotion, aus, cue

    def faces(self, n: int, seed: int = 0, progress: bool = False) -> GeneratedFaces:
        """`n` still faces; face i depends only on (seed, i, config)."""
        return self._collect(n, seed, n_frames=1, progress=progress)

    def sequences(self, n_sequences: int, n_frames: int = 10, seed: int = 0, progress: bool = False) -> GeneratedFaces:
        """`n_sequences` clips of `n_frames` frames each, from neutral (frame 0) to the apex (last frame)."""
        if n_frames < 2:
            raise ValueError("a sequence needs n_frames >= 2 (neutral first frame, apex last)")
        return self._collect(n_sequences, seed, n_frames=n_frames, progress=progress)

    def _collect(self, n: int, seed: int, n_frames: int, progress: bool) -> GeneratedFaces:
        if int(n) < 1:
            raise ValueError(f"n must be a positive number of faces/sequences; got {n}")
        c, s = self.config, self.config.image_size
        total = n * n_frames
        images = np.empty((total, s, s), np.uint8)
        landmarks = np.empty((total, 468, 2), np.float32)
        bits = np.empty((total, s, s), np.uint32)
        au_cols = GENERATOR_AUS
        inten = np.zeros((total, len(au_cols)), np.float32)
        emotion = np.empty(total, object)
        subject = np.empty(total, object)
        frame = np.zeros(total, np.int64)
        sequence = np.full(total, -1, np.int64)
        cue_on = np.zeros(total, bool)
        pose = np.zeros((total, 5), np.float32)
        light = np.zeros((total, 2), np.float32)
        prefix = "S" if c.domain == "source" else "T"
        items = range(n)
        if progress:
            from tqdm.auto import tqdm
            items = tqdm(items, desc="generating faces", leave=False)
        row = 0
        for i in items:
            rng = np.random.default_rng([int(seed), i, n_frames])
            subj, emo, aus, cue = self._face_plan(rng)
            who = identity(c, subj)
            scene = self.sample_scene(rng)
            for f in range(n_frames):
                level = 1.0 if n_frames == 1 else float(np.clip(f / (n_frames - 1), 0, 1))
                level = level * level * (3 - 2 * level)  # ease in and out
                frame_aus = {a: v * level for a, v in aus.items() if v * level > 0.05}
                sc = dict(scene)
                if n_frames > 1:  # small head motion along the clip
                    sc["roll"] += 1.5 * np.sin(f / 3.0)
                    sc["tx"] += 0.004 * f
                img, land, b = self.render(who, frame_aus, sc, rng, cue)
                images[row], landmarks[row], bits[row] = img, land, b
                for a, v in frame_aus.items():
                    inten[row, au_cols.index(a)] = v
                emotion[row], subject[row], frame[row] = emo, f"{prefix}{subj:03d}", f
                sequence[row] = i if n_frames > 1 else -1
                cue_on[row] = cue is not None
                pose[row] = [sc["roll"], sc["yaw"], sc["scale"], sc["tx"], sc["ty"]]
                light[row] = [sc["light"], sc["light_angle"]]
                row += 1
        extra = dict(shortcut=cue_on, pose=pose, lighting=light, sequence=sequence)
        info = dict(generator=asdict(c), version=GENERATOR_VERSION, seed=int(seed), n=int(n), n_frames=int(n_frames))
        return GeneratedFaces(images, landmarks, au_cols, inten, emotion, subject, frame, bits, extra, info)


def generate_faces(n: int, seed: int = 0, progress: bool = False, **options) -> GeneratedFaces:
    """`n` generated faces (see GeneratorConfig for the options: image_size, shortcut, domain, ...)."""
    return FaceGenerator(**_normalise(options)).faces(n, seed, progress=progress)


def generate_sequences(n_sequences: int, n_frames: int = 10, seed: int = 0, progress: bool = False,
                       **options) -> GeneratedFaces:
    """`n_sequences` generated neutral -> apex clips of `n_frames` frames."""
    return FaceGenerator(**_normalise(options)).sequences(n_sequences, n_frames, seed, progress=progress)


def _normalise(options: dict) -> dict:
    unknown = set(options) - set(GeneratorConfig.__dataclass_fields__)
    if unknown:
        raise TypeError(f"unknown generator option(s) {sorted(unknown)}: "
                        f"expected some of {sorted(GeneratorConfig.__dataclass_fields__)}")
    for key in ("emotions", "templates"):
        if key in options and not isinstance(options[key], str):
            options[key] = tuple(options[key])
    return options

