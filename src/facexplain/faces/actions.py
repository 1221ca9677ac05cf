"""How each Action Unit moves and marks the face: displacement kernels and furrow textures on the template.

An AU is a list of Gaussian displacement kernels anchored on the 68 landmarks (vectors and widths in units of
the inter-ocular distance d), some gated to one side of a seam (the lips' meeting line, an eye's corner line),
plus, where FACS describes furrows or wrinkles, a texture added to the skin. Full intensity (FACS "E" = 5) gives
the listed displacement; lower intensities scale it linearly.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .template import LOWER_INNER_LIP, UPPER_INNER_LIP, Template, below, seam


@dataclass(frozen=True)
class Kernel:
    anchor: tuple[float, float]   # pixel position
    vector: tuple[float, float]   # displacement at the anchor (pixels)
    sigma: tuple[float, float]    # width in x and y (pixels)
    gate: str = ""                # "" | "below_mouth" | "above_mouth" | "below_eyes" | "above_eyes"


def _k(anchor, v, s, d, gate=""):
    s = (s, s) if np.isscalar(s) else s
    return Kernel((float(anchor[0]), float(anchor[1])), (v[0] * d, v[1] * d), (s[0] * d, s[1] * d), gate)


#: How much stronger than the base table each AU moves the face at full intensity. Chosen so that at 112 px every
#: AU moves its landmarks by 0.1-0.2 inter-ocular distances at "E" (real apex expressions move them by about that
#: much; MediaPipe Face Mesh follows movements of this size, it smooths away smaller ones).
GAIN = {1: 1.9, 2: 1.9, 4: 1.9, 5: 1.7, 6: 2.0, 7: 1.7, 9: 2.1, 10: 1.6, 12: 1.9, 14: 1.8, 15: 1.7, 16: 1.5,
        17: 1.6, 20: 1.6, 23: 1.6, 24: 1.5, 25: 1.0, 26: 1.0, 27: 1.0}


#: Minimum kernel width per pixel of displacement: keeps the steepest stretch of a kernel (0.61 ``|v|`` / sigma) well
#: below 1 even when AUs add up and a subject's gain reaches 1.3.
NO_FOLD = 1.6


def au_kernels(t: Template) -> dict[int, list[Kernel]]:
    """Displacement kernels of every renderable AU on template `t` (GAIN applied)."""
    out = {}
    for au, ks in _base_kernels(t).items():
        out[au] = []
        for k in ks:
            v = (k.vector[0] * GAIN[au], k.vector[1] * GAIN[au])
            # a kernel wider than NO_FOLD x its reach never folds the skin over itself (the warp stays one-to-one)
            reach = NO_FOLD * float(np.hypot(*v))
            out[au].append(Kernel(k.anchor, v, (max(k.sigma[0], reach), max(k.sigma[1], reach)), k.gate))
    return out


def _base_kernels(t: Template) -> dict[int, list[Kernel]]:
    p, d = t.l68, t.iod
    mid = lambda a, b: (p[a] + p[b]) / 2  # noqa: E731
    up = lambda y: (0.0, -y)  # noqa: E731
    cheek_r, cheek_l = p[41] + (0, 0.38 * d), p[46] + (0, 0.38 * d)
    return {
        1: [_k(p[21], up(0.11), 0.14, d), _k(p[22], up(0.11), 0.14, d),
            _k(p[20], up(0.05), 0.12, d), _k(p[23], up(0.05), 0.12, d)],
        2: [_k(p[17], up(0.09), 0.13, d), _k(p[18], up(0.10), 0.13, d),
            _k(p[25], up(0.10), 0.13, d), _k(p[26], up(0.09), 0.13, d)],
        4: [_k(p[20], (0.05, 0.06), 0.13, d), _k(p[21], (0.07, 0.08), 0.12, d),
            _k(p[22], (-0.07, 0.08), 0.12, d), _k(p[23], (-0.05, 0.06), 0.13, d)],
        5: [_k(mid(37, 38), up(0.07), (0.16, 0.10), d, "above_eyes"),
            _k(mid(43, 44), up(0.07), (0.16, 0.10), d, "above_eyes")],
        6: [_k(cheek_r, up(0.08), (0.2, 0.16), d), _k(cheek_l, up(0.08), (0.2, 0.16), d),
            _k(mid(40, 41), up(0.03), (0.14, 0.08), d, "below_eyes"),
            _k(mid(46, 47), up(0.03), (0.14, 0.08), d, "below_eyes")],
        7: [_k(mid(40, 41), up(0.06), (0.15, 0.08), d, "below_eyes"),
            _k(mid(46, 47), up(0.06), (0.15, 0.08), d, "below_eyes"),
            _k(mid(37, 38), (0, 0.02), (0.15, 0.08), d, "above_eyes"),
            _k(mid(43, 44), (0, 0.02), (0.15, 0.08), d, "above_eyes")],
        9: [_k(p[31], up(0.07), 0.1, d), _k(p[35], up(0.07), 0.1, d), _k(p[29], up(0.04), 0.12, d)],
        10: [_k(p[50], up(0.08), 0.12, d, "above_mouth"), _k(p[52], up(0.08), 0.12, d, "above_mouth")],
        12: [_k(p[48], (-0.08, -0.09), 0.13, d), _k(p[54], (0.08, -0.09), 0.13, d)],
        14: [_k(p[48], (0.035, 0.0), 0.08, d), _k(p[54], (-0.035, 0.0), 0.08, d)],
        15: [_k(p[48], (-0.02, 0.09), 0.12, d), _k(p[54], (0.02, 0.09), 0.12, d)],
        16: [_k(p[57], (0, 0.07), (0.18, 0.12), d, "below_mouth")],
        17: [_k(mid(57, 8), up(0.07), (0.22, 0.15), d, "below_mouth")],
        20: [_k(p[48], (-0.10, 0.015), 0.12, d), _k(p[54], (0.10, 0.015), 0.12, d)],
        23: [_k(p[51], (0, 0.03), (0.25, 0.06), d, "above_mouth"), _k(p[57], up(0.035), (0.25, 0.08), d, "below_mouth"),
             _k(p[48], (0.02, 0), 0.08, d), _k(p[54], (-0.02, 0), 0.08, d)],
        24: [_k(p[51], (0, 0.04), (0.25, 0.07), d, "above_mouth"), _k(p[57], up(0.05), (0.25, 0.1), d, "below_mouth")],
        25: [_k(p[57], (0, 0.10), (0.3, 0.25), d, "below_mouth"), _k(p[51], up(0.02), (0.25, 0.08), d, "above_mouth")],
        # the jaw drops; the relaxed lips part most at the middle (an oval opening) and the corners draw in a little
        26: [_k(p[57], (0, 0.13), (0.55, 0.8), d, "below_mouth"), _k(p[57], (0, 0.13), (0.22, 0.25), d, "below_mouth"),
             _k(p[48], (0.03, 0.02), 0.1, d), _k(p[54], (-0.03, 0.02), 0.1, d)],
        27: [_k(p[57], (0, 0.34), (0.6, 0.9), d, "below_mouth"),
             _k(p[48], (0.04, 0), 0.1, d), _k(p[54], (-0.04, 0), 0.1, d)],
    }


def identity_kernels(t: Template) -> list[list[Kernel]]:
    """Modes of face geometry that tell identities apart (one coefficient per mode and subject)."""
    p, d = t.l68, t.iod
    er, el = p[36:42].mean(0), p[42:48].mean(0)
    return [
        [_k(er, (-0.06, 0), 0.22, d), _k(el, (0.06, 0), 0.22, d)],                       # eye spacing
        [_k(p[3], (-0.07, 0), 0.35, d), _k(p[13], (0.07, 0), 0.35, d)],                  # face width
        [_k(p[33], (0, 0.06), (0.2, 0.15), d), _k(p[30], (0, 0.03), 0.15, d)],           # nose length
        [_k(p[48], (-0.05, 0), 0.12, d), _k(p[54], (0.05, 0), 0.12, d)],                 # mouth width
        [_k(p[19], (0, -0.06), 0.22, d), _k(p[24], (0, -0.06), 0.22, d)],                # brow height
        [_k(p[8], (0, 0.10), (0.45, 0.35), d)],                                          # jaw length
        [_k((p[51] + p[57]) / 2, (0, 0.05), (0.3, 0.2), d)],                             # mouth height
        [_k(p[30], (0.04, 0), (0.15, 0.3), d)],                                          # nose bend
    ]


class Gates:
    """Which side of the mouth and eye seams a pixel or a landmark lies on."""

    def __init__(self, t: Template):
        self.mouth = seam(t.mesh, UPPER_INNER_LIP)
        self.mouth = (self.mouth[0], self.mouth[1] + 0.5)
        self.eyes = [seam(t.mesh, (33, 133)), seam(t.mesh, (362, 263))]
        # landmarks are labelled on the photo with the mouth still open, so the closed lips stay apart
        o = t.mesh_open
        mid = (seam(o, UPPER_INNER_LIP)[0],
               (seam(o, UPPER_INNER_LIP)[1] + seam(o, LOWER_INNER_LIP)[1]) / 2)
        self.mesh_below_mouth = below(mid, o[:, 0], o[:, 1])
        self.mesh_below_eyes = self._eyes_below(o[:, 0], o[:, 1], soft=0)

    def _eyes_below(self, x, y, soft):
        xs_r, _ = self.eyes[0]
        split = (xs_r.max() + self.eyes[1][0].min()) / 2
        right = below(self.eyes[0], x, y, soft)
        left = below(self.eyes[1], x, y, soft)
        return np.where(x < split, right, left)

    def pixels(self, gate, x, y):
        if gate == "":
            return 1.0
        b = below(self.mouth, x, y, 0.35) if gate.endswith("mouth") else self._eyes_below(x, y, 0.35)
        return b if gate.startswith("below") else 1.0 - b

    def landmarks(self, gate):
        if gate == "":
            return 1.0
        b = self.mesh_below_mouth if gate.endswith("mouth") else self.mesh_below_eyes
        return b if gate.startswith("below") else 1.0 - b


def displacement(kernels: list[Kernel], x: np.ndarray, y: np.ndarray, gate_of) -> np.ndarray:
    """Sum of the kernels' displacements at points (x, y): array (..., 2)."""
    out = np.zeros(np.shape(x) + (2,), np.float32)
    for k in kernels:
        w = np.exp(-0.5 * (((x - k.anchor[0]) / k.sigma[0]) ** 2 + ((y - k.anchor[1]) / k.sigma[1]) ** 2))
        w = w * gate_of(k.gate)
        out[..., 0] += k.vector[0] * w
        out[..., 1] += k.vector[1] * w
    return out


# --- furrows and wrinkles --------------------------------------------------------------------------------

def _lines(xx, yy, start, end, width):
    """Soft line segment from start to end (0..1)."""
    a, b = np.asarray(start, np.float32), np.asarray(end, np.float32)
    ab = b - a
    t = np.clip(((xx - a[0]) * ab[0] + (yy - a[1]) * ab[1]) / max(float(ab @ ab), 1e-6), 0, 1)
    dist2 = (xx - a[0] - t * ab[0]) ** 2 + (yy - a[1] - t * ab[1]) ** 2
    return np.exp(-0.5 * dist2 / width ** 2)


def _arc(xx, yy, x0, x1, y, sag, width):
    """Soft arched line from x0 to x1 at height y, its ends `sag` pixels lower (negative: higher), fading out
    towards both ends (0..1)."""
    c, half = (x0 + x1) / 2, max((x1 - x0) / 2, 1e-6)
    u = (xx - c) / half
    curve = y + sag * u ** 2
    fade = np.clip(1 - u ** 2, 0, 1) ** 0.5
    return fade * np.exp(-0.5 * ((yy - curve) / width) ** 2)


def au_textures(t: Template) -> dict[int, np.ndarray]:
    """Skin texture (negative = darker furrow, positive = lighter) each AU adds at full intensity, in template
    pixels: the wrinkles, furrows, bulges and folds FACS describes for it."""
    p, d, s = t.l68, t.iod, t.size
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    w = max(0.6, 0.025 * d)
    line = lambda a, b, width=w: _lines(xx, yy, a, b, width)  # noqa: E731
    blob = lambda c, sx, sy: np.exp(-0.5 * (((xx - c[0]) / (sx * d)) ** 2 + ((yy - c[1]) / (sy * d)) ** 2))  # noqa: E731
    tex: dict[int, np.ndarray] = {}
    brow_y = p[17:27, 1].min()
    arc = lambda x0, x1, y, sag, width=w: _arc(xx, yy, x0, x1, y, sag, width)  # noqa: E731
    # forehead furrows: gentle arches, fading out at their ends, each a little shorter than the one below
    forehead = lambda x0, x1: sum(  # noqa: E731
        arc(x0 + (x1 - x0) * 0.06 * k, x1 - (x1 - x0) * 0.06 * k, brow_y - k * 0.11 * d, 0.05 * d)
        for k in (1.3, 2.2, 3.1))
    tex[1] = -0.26 * forehead(p[20, 0], p[23, 0])
    tex[2] = -0.22 * (forehead(p[17, 0], p[19, 0]) + forehead(p[24, 0], p[26, 0]))
    cx = (p[21, 0] + p[22, 0]) / 2
    tex[4] = -0.34 * sum(line((cx + o * d, p[21, 1] - 0.1 * d), (cx + o * 0.8 * d, p[27, 1] + 0.05 * d), 1.2 * w)
                         for o in (-0.07, 0.07)) - 0.10 * blob((cx, p[21, 1] + 0.05 * d), 0.25, 0.12)
    # AU5: more of the eye's white shows under the raised upper lid
    tex[5] = 0.16 * (blob((p[37] + p[38]) / 2 + (0, 0.05 * d), 0.12, 0.035) + blob((p[43] + p[44]) / 2 + (0, 0.05 * d), 0.12, 0.035))
    feet = lambda c, sgn: sum(  # noqa: E731
        line(c + (sgn * 0.08 * d, a * d), c + (sgn * 0.3 * d, a * 2.2 * d)) for a in (-0.08, 0.0, 0.08))
    under_eye = lambda a, b: line(a + (0, 0.14 * d), b + (0, 0.14 * d), 1.2 * w)  # noqa: E731
    tex[6] = (-0.28 * (feet(p[36], -1) + feet(p[45], 1)) - 0.22 * (under_eye(p[41], p[40]) + under_eye(p[46], p[47]))
              + 0.10 * (blob(p[41] + (0, 0.42 * d), 0.2, 0.12) + blob(p[46] + (0, 0.42 * d), 0.2, 0.12)))
    tex[7] = -0.22 * (line(p[36] + (0.05 * d, 0.06 * d), p[39] + (-0.02 * d, 0.06 * d)) +
                      line(p[42] + (0.02 * d, 0.06 * d), p[45] + (-0.05 * d, 0.06 * d)))
    # AU9: short transverse wrinkles over the root of the nose and oblique ones down its sides
    nx = p[27, 0]
    root = sum(arc(nx - h * d, nx + h * d, y, -0.025 * d) for h, y in
               zip((0.12, 0.14, 0.12), np.linspace(p[27, 1], p[29, 1], 3)))
    sides = sum(line((nx + sgn * (0.06 + o) * d, p[28, 1] + o * d), (nx + sgn * (0.12 + o) * d, p[29, 1] + o * d))
                for sgn in (-1, 1) for o in (0.0, 0.05))
    tex[9] = -0.34 * root - 0.2 * sides
    fold = lambda a, b: line(a, b, 1.4 * w)  # noqa: E731
    naso = fold(p[31] + (-0.12 * d, -0.05 * d), p[48] + (-0.12 * d, 0.1 * d)) + \
        fold(p[35] + (0.12 * d, -0.05 * d), p[54] + (0.12 * d, 0.1 * d))
    tex[10] = -0.26 * naso
    tex[12] = -0.24 * naso + 0.10 * (blob(p[48] + (-0.22 * d, -0.22 * d), 0.16, 0.12) +
                                     blob(p[54] + (0.22 * d, -0.22 * d), 0.16, 0.12))
    dimples = line(p[48] + (-0.1 * d, -0.02 * d), p[48] + (-0.1 * d, 0.06 * d), 1.6 * w) + \
        line(p[54] + (0.1 * d, -0.02 * d), p[54] + (0.1 * d, 0.06 * d), 1.6 * w)
    tex[14] = -0.34 * dimples
    # AU15: lines run down from the lowered mouth corners
    tex[15] = -0.22 * (line(p[48] + (-0.03 * d, 0.04 * d), p[48] + (-0.08 * d, 0.3 * d), 1.3 * w) +
                       line(p[54] + (0.03 * d, 0.04 * d), p[54] + (0.08 * d, 0.3 * d), 1.3 * w))
    rng = np.random.default_rng(17)  # a fixed orange-peel pattern on the chin
    chin = blob((p[8, 0], (p[8, 1] + p[57, 1]) / 2), 0.3, 0.15)
    bumps = cv2.GaussianBlur(rng.normal(size=(s, s)).astype(np.float32), (0, 0), max(0.7, 0.03 * d))
    mentolabial = line(p[58] + (-0.05 * d, 0.12 * d), p[56] + (0.05 * d, 0.12 * d), 1.4 * w)
    tex[17] = 0.35 * chin * bumps / (np.abs(bumps).max() + 1e-6) - 0.06 * chin - 0.22 * mentolabial
    tex[20] = -0.16 * (line(p[48] + (-0.04 * d, 0), p[48] + (-0.16 * d, 0.02 * d)) +
                       line(p[54] + (0.04 * d, 0), p[54] + (0.16 * d, 0.02 * d)))
    # AU23/24: the lips tighten or press and lose colour (lighter in grey); AU24 bulges above and below
    lips = sum(blob(q, 0.07, 0.045) for q in p[48:60])
    lips = np.clip(lips, 0, 1)
    tex[23] = 0.12 * lips - 0.12 * line(p[49] + (0, -0.05 * d), p[53] + (0, -0.05 * d))
    tex[24] = 0.12 * lips - 0.18 * line(p[58] + (0, 0.07 * d), p[56] + (0, 0.07 * d), 1.5 * w) - \
        0.12 * line(p[50] + (0, -0.07 * d), p[52] + (0, -0.07 * d), 1.3 * w)
    return {k: v.astype(np.float32) for k, v in tex.items()}
