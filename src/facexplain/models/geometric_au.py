"""A transparent geometric AU estimator: named landmark measurements -> AU presence and intensity.

Each face's landmarks (468 Face Mesh or 68 iBUG points) are mapped by an affine fit on points that no AU
moves (temples, upper jaw, inner eye corners, nose bridge, forehead) onto the neutral template of the
synthetic generator. There, about twenty named measurements are taken (brow heights, lid heights, cheek
height, nose wings, lip-corner height and spread, lip thickness, lip gap, chin drop, ...), in units of the
inter-ocular distance and relative to a neutral reference of the same face: the subject's own neutral face
when one is known (person-specific normalisation, as in Baltrusaitis et al.), else the template. Per AU, a
logistic regression on these measurements gives presence (its threshold fitted for F1) and a linear
regression gives the FACS intensity (0-5); both are fitted on the generator's ground truth. Every weight
belongs to a named measurement, so the estimator can be read (`coefficients()`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..faces.aus import GENERATOR_AUS
from ..faces.landmarks import MESH_TO_IBUG68

os.environ.setdefault("GLOG_minloglevel", "2")   # keep MediaPipe's C++ start-up chatter out of notebook outputs

# Points no generator AU moves by more than ~1% of the inter-ocular distance (checked on the template).
STABLE_MESH = (10, 6, 168, 197, 127, 356, 234, 454, 133, 362, 67, 297, 103, 332)
STABLE_68 = (1, 2, 3, 14, 15, 27, 28, 39, 42)
# Face Mesh points on the cheeks just below the eyes (AU6 lifts them); no 68-point equivalent.
CHEEK_MESH = (36, 101, 205, 266, 330, 425)

FEATURES: tuple[str, ...] = (
    "inner brow height", "outer brow height", "brow gap", "upper lid height", "lower lid height",
    "eye opening", "cheek height", "nose wing height", "nose tip height", "upper lip height",
    "upper lip centre height", "lip corner height", "lip corner spread", "mouth width", "lower lip drop",
    "lip gap", "upper lip thickness", "lower lip thickness", "chin drop", "chin to lower lip",
)

_BROW = ("inner brow height", "outer brow height", "brow gap")
_EYE = ("upper lid height", "lower lid height", "eye opening", "cheek height")
_CORNER = ("lip corner height", "lip corner spread", "mouth width", "upper lip height", "lower lip drop")
_OPEN = ("lip gap", "lower lip drop", "chin drop", "chin to lower lip", "lower lip thickness", "mouth width")
_LIPS = ("upper lip thickness", "lower lip thickness", "mouth width", "lip gap", "lip corner spread",
         "upper lip centre height", "lower lip drop")

#: The measurements each AU is read from: only those of the face area its muscle moves, so that an AU is never
#: inferred from another AU it merely tends to co-occur with in the training data.
READS: dict[int, tuple[str, ...]] = {
    1: _BROW, 2: _BROW, 4: _BROW,
    5: _EYE, 7: _EYE, 6: _EYE,
    9: ("nose wing height", "nose tip height", "upper lip height", "upper lip centre height"),
    10: ("upper lip height", "upper lip centre height", "nose wing height", "upper lip thickness", "lip gap"),
    12: _CORNER, 14: _CORNER, 15: _CORNER, 20: _CORNER,
    16: ("lower lip drop", "lower lip thickness", "chin to lower lip", "chin drop", "lip gap"),
    17: ("lower lip drop", "lower lip thickness", "chin to lower lip", "chin drop", "lip gap"),
    23: _LIPS, 24: _LIPS,
    25: _OPEN, 26: _OPEN, 27: _OPEN,
}


class _quiet_stderr:
    """Silence C++ log lines written straight to file descriptor 2 (MediaPipe/TFLite start-up chatter)."""

    def __enter__(self):
        import sys
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            self._saved = None
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            os.dup2(self._saved, 2)
            os.close(self._saved)
        return False


def _reference():
    from ..faces.template import neutral_template
    t = neutral_template(112)
    return t.mesh.astype(np.float64), float(t.iod)


def _affine(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 affine taking points src (K, 2) onto dst (K, 2)."""
    a = np.concatenate([src, np.ones((len(src), 1))], 1)
    m, *_ = np.linalg.lstsq(a, dst, rcond=None)
    return m.T


def align(landmarks) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks (..., 468|68, 2) mapped into the template frame -> ((..., 68, 2), cheek heights (..., 2) or NaN)."""
    pts = np.asarray(landmarks, np.float64)
    if pts.ndim == 2:
        pts = pts[None]
    if pts.ndim != 3 or pts.shape[-1] != 2 or pts.shape[1] not in (468, 68):
        raise ValueError(f"landmarks must have shape (N, 468 or 68, 2) or (468 or 68, 2); got {np.shape(landmarks)}")
    if not np.isfinite(pts).all():
        raise ValueError("landmarks contain NaN/inf: drop faces where no landmarks were found")
    ref, _ = _reference()
    mesh = pts.shape[1] == 468
    stable = STABLE_MESH if mesh else STABLE_68
    ref_pts = ref[list(stable)] if mesh else ref[list(MESH_TO_IBUG68)][list(stable)]
    out68 = np.empty((len(pts), 68, 2))
    cheeks = np.full((len(pts), 2), np.nan)
    for i, p in enumerate(pts):
        m = _affine(p[list(stable)], ref_pts)
        q = p @ m[:, :2].T + m[:, 2]
        out68[i] = q[list(MESH_TO_IBUG68)] if mesh else q
        if mesh:
            c = q[list(CHEEK_MESH), 1]
            cheeks[i] = (c[:3].mean(), c[3:].mean())
    return out68, cheeks


def measurements(landmarks) -> np.ndarray:
    """The named measurements (N, len(FEATURES)) of aligned faces, in template pixels (positive = up/out/open)."""
    p, cheeks = align(landmarks)
    y = lambda *i: p[:, list(i), 1].mean(1)  # noqa: E731
    x = lambda i: p[:, i, 0]  # noqa: E731
    eye_line = y(39, 42)
    cols = [
        eye_line - y(20, 21, 22, 23),                 # inner brow height
        eye_line - y(17, 18, 25, 26),                 # outer brow height
        x(22) - x(21),                                # brow gap
        eye_line - y(37, 38, 43, 44),                 # upper lid height
        eye_line - y(40, 41, 46, 47),                 # lower lid height (less negative = lid raised)
        y(40, 41, 46, 47) - y(37, 38, 43, 44),        # eye opening
        eye_line - cheeks.mean(1) if np.isfinite(cheeks).all() else np.zeros(len(p)),  # cheek height
        eye_line - y(31, 35),                         # nose wing height
        eye_line - y(29, 30),                         # nose tip height
        eye_line - y(50, 52),                         # upper lip height
        eye_line - y(51),                             # upper lip centre height
        y(51, 57) - y(48, 54),                        # lip corner height above the lips' middle
        (x(54) - x(48)),                              # lip corner spread (mouth width at the corners)
        np.linalg.norm(p[:, 54] - p[:, 48], axis=1),  # mouth width
        y(57) - eye_line,                             # lower lip drop
        y(65, 66, 67) - y(61, 62, 63),                # lip gap (inner lips)
        y(61, 62, 63) - y(50, 51, 52),                # upper lip thickness
        y(56, 57, 58) - y(65, 66, 67),                # lower lip thickness
        y(8) - eye_line,                              # chin drop
        y(8) - y(57),                                 # chin to lower lip
    ]
    return np.stack(cols, 1)


def features(landmarks, neutral=None) -> np.ndarray:
    """Measurements relative to a neutral reference, in inter-ocular distances (N, len(FEATURES)).

    neutral: landmarks of the same face(s) at rest ((468|68, 2) shared, or (N, 468|68, 2) one per face);
    None = the generator's neutral template."""
    n_points = np.asarray(landmarks).shape[-2]
    m = measurements(landmarks)
    ref_mesh, iod = _reference()
    if neutral is None:
        neutral = ref_mesh if n_points == 468 else ref_mesh[list(MESH_TO_IBUG68)]
    base = measurements(neutral)
    if len(base) not in (1, len(m)):
        raise ValueError(f"neutral must be one reference or one per face: got {len(base)} for {len(m)} faces")
    out = (m - base) / iod
    if n_points == 68 or np.asarray(neutral).shape[-2] == 68:   # the 68 scheme has no cheek points
        out[:, FEATURES.index("cheek height")] = 0.0
    return out


@dataclass
class GeometricAUDetector:
    """Per-AU logistic presence + linear intensity on the named measurements of its face area (READS); thresholds
    fitted for F1 on the training faces."""

    aus: tuple[int, ...] = GENERATOR_AUS
    C: float = 1.0
    mean_: np.ndarray | None = None
    scale_: np.ndarray | None = None
    coef_: np.ndarray | None = None        # (n_aus, F) logistic weights on standardised features
    intercept_: np.ndarray | None = None
    threshold_: np.ndarray | None = None   # probability threshold per AU
    int_coef_: np.ndarray | None = None    # (n_aus, F + 1) intensity regression (last column: intercept)
    info: dict = field(default_factory=dict)

    # --- fitting -------------------------------------------------------------------------------------------
    def fit(self, landmarks, intensity, neutral=None) -> "GeometricAUDetector":
        """Fit on landmarks with ground-truth FACS intensities (N, len(aus)); 0 = absent."""
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.metrics import precision_recall_curve

        x = features(landmarks, neutral)
        y = np.asarray(intensity, np.float64)
        if y.shape != (len(x), len(self.aus)):
            raise ValueError(f"intensity must have shape (N, {len(self.aus)}) = faces x aus {self.aus}; got {y.shape}")
        self.mean_, self.scale_ = x.mean(0), x.std(0) + 1e-6
        z = (x - self.mean_) / self.scale_
        k = len(self.aus)
        self.coef_, self.intercept_ = np.zeros((k, z.shape[1])), np.zeros(k)
        self.threshold_ = np.full(k, 0.5)
        self.int_coef_ = np.zeros((k, z.shape[1] + 1))
        for j in range(k):
            cols = [FEATURES.index(f) for f in READS.get(self.aus[j], FEATURES)]
            present = y[:, j] > 0
            if present.all() or not present.any():
                self.intercept_[j] = 20.0 if present.all() else -20.0
                continue
            clf = LogisticRegression(C=self.C, class_weight="balanced", max_iter=2000).fit(z[:, cols], present)
            self.coef_[j, cols], self.intercept_[j] = clf.coef_[0], clf.intercept_[0]
            prob = clf.predict_proba(z[:, cols])[:, 1]
            prec, rec, thr = precision_recall_curve(present, prob)
            f1 = 2 * prec * rec / np.maximum(prec + rec, 1e-12)
            self.threshold_[j] = float(thr[int(np.argmax(f1[:-1]))])
            reg = Ridge(alpha=1.0).fit(z[:, cols], y[:, j])
            self.int_coef_[j, cols], self.int_coef_[j, -1] = reg.coef_, reg.intercept_
        return self

    def _check(self):
        if self.coef_ is None:
            raise ValueError("the detector is not fitted: call fit(...) or use calibrated_detector()")

    # --- prediction ----------------------------------------------------------------------------------------
    def _z(self, landmarks, neutral) -> np.ndarray:
        z = (features(landmarks, neutral) - self.mean_) / self.scale_
        if np.asarray(landmarks).shape[-2] == 68:   # no cheek points: that measurement counts as average
            z[:, FEATURES.index("cheek height")] = 0.0
        return z

    def probability(self, landmarks, neutral=None) -> np.ndarray:
        """P(AU present) per face and AU, (N, n_aus)."""
        self._check()
        z = self._z(landmarks, neutral)
        return 1.0 / (1.0 + np.exp(-(z @ self.coef_.T + self.intercept_)))

    def predict(self, landmarks, neutral=None) -> tuple[np.ndarray, np.ndarray]:
        """(present (N, n_aus) bool, intensity (N, n_aus) in 0-5, 0 where absent)."""
        self._check()
        z = self._z(landmarks, neutral)
        prob = 1.0 / (1.0 + np.exp(-(z @ self.coef_.T + self.intercept_)))
        present = prob >= self.threshold_
        inten = np.clip(z @ self.int_coef_[:, :-1].T + self.int_coef_[:, -1], 0.5, 5.0)
        return present, np.where(present, inten, 0.0)

    def detect(self, landmarks, neutral=None) -> list[dict[int, float]]:
        """One dict AU -> intensity per face, holding the AUs found present."""
        present, inten = self.predict(landmarks, neutral)
        return [{a: round(float(inten[i, j]), 2) for j, a in enumerate(self.aus) if present[i, j]}
                for i in range(len(present))]

    def detect_photo(self, image, neutral_image=None) -> tuple[dict[int, float], np.ndarray]:
        """AUs of the face in a photo (MediaPipe Face Mesh -> landmarks -> AUs), optionally against a neutral photo
        of the same person; returns (AU -> intensity, (468, 2) landmarks). Raises NoFaceFound if no face."""
        from ..faces.mesh import detect_landmarks
        with _quiet_stderr():
            lm = detect_landmarks(image)
            neutral = detect_landmarks(neutral_image) if neutral_image is not None else None
        return self.detect(lm, neutral)[0], lm

    def coefficients(self) -> pd.DataFrame:
        """The presence weights (AU x named feature, standardised units): what each AU is read from."""
        self._check()
        return pd.DataFrame(self.coef_, index=[f"AU{a}" for a in self.aus], columns=list(FEATURES))

    def to_arrays(self) -> dict[str, np.ndarray]:
        self._check()
        return dict(aus=np.array(self.aus), mean=self.mean_, scale=self.scale_, coef=self.coef_,
                    intercept=self.intercept_, threshold=self.threshold_, int_coef=self.int_coef_)

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> "GeometricAUDetector":
        return cls(aus=tuple(int(v) for v in a["aus"]), mean_=a["mean"], scale_=a["scale"], coef_=a["coef"],
                   intercept_=a["intercept"], threshold_=a["threshold"], int_coef_=a["int_coef"])


# --- the generator's ground truth ------------------------------------------------------------------------------

def synthetic_neutrals(dataset) -> np.ndarray:
    """For each generated face, its subject's neutral landmarks (468, 2) as the generator draws them (no AUs,
    no pose): the person-specific reference. Works for datasets from load_dataset("synthetic", ...)."""
    from ..faces.generator import GeneratorConfig, identity, rig

    if dataset.name != "synthetic":
        raise ValueError(f"synthetic_neutrals needs a generated dataset; got {dataset.name!r}: pass neutral "
                         "landmarks of each subject yourself (e.g. a neutral frame) or use neutral=None")
    size = int(dataset.images.shape[1])
    r = rig(size)
    out = np.empty((len(dataset), 468, 2), np.float32)
    cache: dict[str, np.ndarray] = {}
    for i, s in enumerate(dataset.subject):
        if s not in cache:
            domain = "source" if str(s).startswith("S") else "shifted"
            who = identity(GeneratorConfig(image_size=size, domain=domain), int(str(s)[1:]))
            cache[s] = r.neutral_landmarks(who)
        out[i] = cache[s]
    return out


def reference_for(dataset, neutral: str):
    """Neutral references for a dataset: "subject" (the subject's own neutral face) or "template"."""
    if neutral == "subject":
        return synthetic_neutrals(dataset)
    if neutral == "template":
        return None
    raise ValueError(f"neutral must be 'subject' or 'template'; got {neutral!r}")


def mediapipe_landmarks(n: int, seed: int, **options) -> tuple[np.ndarray, np.ndarray]:
    """Face Mesh landmarks that MediaPipe finds on generated faces (cached): ((N, 468, 2) with NaN, (N,) found)."""
    from ..cache import cached_arrays
    from ..data import load_dataset
    from ..faces.mesh import detect_many

    def build():
        ds = load_dataset("synthetic", n=n, seed=seed, **options)
        with _quiet_stderr():
            lm, found = detect_many(ds.images)
        return dict(landmarks=lm, found=found)

    from .. import faces
    from ..data import synthetic
    key = dict(n=int(n), seed=int(seed), **options)
    a = cached_arrays("mediapipe_landmarks", key, build, code=(faces, synthetic))
    return a["landmarks"], a["found"]


def calibrated_detector(n_train: int = 1500, seed: int = 7001, neutral: str = "subject",
                        landmarks: str = "truth", C: float = 1.0) -> GeometricAUDetector:
    """The estimator fitted on `n_train` generated faces (cached).

    neutral="subject": each subject's own neutral face is the reference; "template": the generator's template
    (what a single photo of a stranger gets). landmarks="truth": the generator's exact landmarks;
    "mediapipe": what MediaPipe Face Mesh finds on the generated images (use this for photos)."""
    from ..cache import cached_arrays
    from ..data import load_dataset

    if neutral not in ("subject", "template"):
        raise ValueError(f"neutral must be 'subject' or 'template'; got {neutral!r}")
    if landmarks not in ("truth", "mediapipe"):
        raise ValueError(f"landmarks must be 'truth' or 'mediapipe'; got {landmarks!r}")

    def build():
        ds = load_dataset("synthetic", n=n_train, seed=seed)
        lm = ds.landmarks
        if landmarks == "mediapipe":
            lm, found = mediapipe_landmarks(n_train, seed)
            ds, lm = ds.subset(np.where(found)[0]), lm[found]
        det = GeometricAUDetector(C=C).fit(lm, ds.au_intensity, reference_for(ds, neutral))
        return det.to_arrays()

    from .. import faces
    from ..data import synthetic
    cfg = dict(reads=repr(READS), n_train=int(n_train), seed=int(seed), neutral=neutral,
               landmarks=landmarks, C=float(C), features=FEATURES)
    return GeometricAUDetector.from_arrays(cached_arrays("geometric_au", cfg, build, code=(faces, synthetic)))


def evaluate(detector: GeometricAUDetector, dataset, neutral=None, landmarks=None) -> pd.DataFrame:
    """Per-AU precision, recall, F1 against the dataset's ground truth, with the prevalence and the F1 of the
    chance baseline that calls every face positive (2p / (1 + p))."""
    from sklearn.metrics import f1_score, precision_score, recall_score

    lm = dataset.landmarks if landmarks is None else landmarks
    present, _ = detector.predict(lm, neutral)
    truth = dataset.au_present(detector.aus)
    rows = []
    for j, a in enumerate(detector.aus):
        t, p = truth[:, j], present[:, j]
        prev = float(t.mean())
        rows.append(dict(au=f"AU{a}", n_present=int(t.sum()), prevalence=prev,
                         precision=precision_score(t, p, zero_division=0), recall=recall_score(t, p, zero_division=0),
                         f1=f1_score(t, p, zero_division=0), chance_f1=2 * prev / (1 + prev)))
    return pd.DataFrame(rows)

