"""MediaPipe Face Mesh: 468 landmarks from a real (or generated) photo, offline (the model ships in the wheel)."""

from __future__ import annotations

import contextlib
import os
import sys
from functools import lru_cache

import numpy as np


class NoFaceFound(ValueError):
    """MediaPipe found no face in the image."""


@contextlib.contextmanager
def quiet_native_stderr():
    """Send what native code writes to file descriptor 2 to /dev/null while the block runs.

    MediaPipe's C++ graph (TF Lite's "Created TensorFlow Lite XNNPACK delegate", absl's "All log messages
    before absl::InitializeLog()" and its W0000 warnings) writes straight to the process's stderr, which a
    Jupyter kernel forwards into the notebook; environment variables do not reach absl's early logging.
    Python's own sys.stderr is flushed first and restored after, so Python warnings and errors still show."""
    try:
        fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
    except (AttributeError, ValueError, OSError):
        fd = 2
    for stream in (sys.stderr, sys.__stderr__):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            try:
                yield
            finally:
                os.dup2(saved, fd)
    finally:
        os.close(saved)


@lru_cache(maxsize=1)
def _face_mesh():
    os.environ.setdefault("GLOG_minloglevel", "2")      # keep MediaPipe's C++ start-up chatter out of outputs
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with quiet_native_stderr():
        from absl import logging as absl_logging        # mediapipe's Python side logs through absl
        absl_logging.set_verbosity(absl_logging.ERROR)
        import mediapipe as mp
        return mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False,
                                               min_detection_confidence=0.5)


#: The longest side handed to Face Mesh: larger images are shrunk first (OpenCV inside MediaPipe aborts the whole
#: process on a side of 32767 px or more, and the face model itself works on crops of 192 px).
MAX_SIDE = 4096


def _as_rgb_uint8(image) -> np.ndarray:
    """An RGB uint8 (H, W, 3) array from a path, a grey (H, W) or RGB(A) array of any depth (scaled, not clipped)."""
    from ..images import read_image, to_uint8

    if isinstance(image, (str, os.PathLike)):
        return read_image(image, "RGB")
    if hasattr(image, "detach"):
        image = image.detach().cpu().numpy()
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)) or min(img.shape[:2]) < 1:
        raise ValueError(f"expected an image path, a grey (H, W) or an RGB (H, W, 3) image; got shape {img.shape}")
    img = to_uint8(img)
    if img.ndim == 2:
        img = np.repeat(img[..., None], 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def detect_landmarks(image, min_size: int = 256, max_side: int = MAX_SIDE) -> np.ndarray:
    """The 468 Face Mesh landmarks (x, y in the image's pixels) of the face in `image` (an array or a file path).

    Small images (the generator's 112 px) are upscaled to `min_size` first: the detector expects faces larger than
    that. Images whose longer side would exceed `max_side` are shrunk to it (very large or very wide images), so
    MediaPipe never sees a size it cannot handle. Raises NoFaceFound (a ValueError), naming the image size, when
    MediaPipe finds no face."""
    rgb = _as_rgb_uint8(image)
    h, w = rgb.shape[:2]
    if int(max_side) < int(min_size):
        raise ValueError(f"max_side ({max_side}) must be at least min_size ({min_size})")
    factor = min(max(1.0, min_size / min(h, w)), max_side / max(h, w))
    if factor != 1:
        import cv2
        size = (max(1, round(w * factor)), max(1, round(h * factor)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA)
    mesh = _face_mesh()
    with quiet_native_stderr():                           # the first calls log TF Lite/absl warnings natively
        result = mesh.process(rgb)
    if not result.multi_face_landmarks:
        raise NoFaceFound(f"MediaPipe Face Mesh found no face in this {w}x{h} image: pass a photo with one "
                          "frontal face, at least ~100 px across")
    lm = result.multi_face_landmarks[0].landmark
    return np.array([[p.x * w, p.y * h] for p in lm[:468]], np.float32)


def detect_many(images, min_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks for a stack of images: ((N, 468, 2) with NaN where no face, (N,) bool found)."""
    out = np.full((len(images), 468, 2), np.nan, np.float32)
    found = np.zeros(len(images), bool)
    for i, img in enumerate(images):
        try:
            out[i] = detect_landmarks(img, min_size)
            found[i] = True
        except NoFaceFound:
            pass
        except (ValueError, FileNotFoundError) as err:       # a bad image (NaN, wrong shape, missing file): which one
            raise type(err)(f"image {i} of {len(images)}: {err}") from None
    return out, found


def cached_landmarks(images, min_size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """detect_many, cached under data/cache/landmarks/ by a hash of the image bytes (MediaPipe runs once per set)."""
    import hashlib

    from ..cache import cached_arrays
    stack = np.ascontiguousarray(np.asarray(images))
    digest = hashlib.sha256(stack.tobytes()).hexdigest()
    key = dict(kind="facemesh-468", images=digest, shape=list(stack.shape), dtype=str(stack.dtype), min_size=min_size)

    def build():
        pts, found = detect_many(stack, min_size)
        return dict(landmarks=pts, found=found)

    arrays = cached_arrays("landmarks", key, build)
    return arrays["landmarks"], arrays["found"]
