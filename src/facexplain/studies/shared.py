"""What several chapters share, with explicit inputs: chapter 04's data and emotion classifier (chapters 04, 10,
11, 12), chapter 01's AU detector (chapter 10), and chapter 02's landmark AU reader and game targets (chapter 12).

Every function takes the chapter's own parameters (preset, seed, sizes) and derives what it needs here, in one
place: a chapter that reuses another's model calls the same function with the same inputs and gets the same
(cached) weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..config import seed_everything
from ..data import load_dataset
from ..data.splits import subject_split
from ..faces import EMOTIONS_WITH_NEUTRAL
from ..metrics.maps import class_average, map_cosine
from ..models.au_maps import au_maps, ensure_landmarks
from ..models.fer import AUGMENT as FER_AUGMENT
from ..models.fer import BLOCKS as FER_BLOCKS
from ..models.fer import LAYERS, attention, au_loss, fer_model, fit_classifier, layer_index, to_input
from ..models.resnet import SmallResNet
from ..train import cached_model, predict

#: Chapter 02's AU reader is calibrated on generated faces drawn with this offset from the chapter seed, and its
#: game targets with the second one (chapter 12 reads the same reader and targets through au_reader/game_targets).
READER_SEED_OFFSET, TARGETS_SEED_OFFSET = 7001, 2002


# --- chapter 04's data and classifier ------------------------------------------------------------------------

@dataclass
class FERData:
    """A train/test split ready for training: normalised inputs, class indices, AU maps (zeros = no map)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    maps_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    maps_test: torch.Tensor
    classes: tuple[str, ...]
    images_test: np.ndarray
    key: dict = field(default_factory=dict)   # what the data depend on (goes into the model cache key)

    @property
    def labels_test(self) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[self.y_test.numpy()]


def fer_data(train, test, codebook: str = "seed004", classes=EMOTIONS_WITH_NEUTRAL, key: dict | None = None) -> FERData:
    """FERData from two FaceDatasets with landmarks; faces whose emotion is not in `classes` are dropped."""

    def part(ds):
        keep = np.isin(ds.emotion.astype(str), list(classes))
        ds = ds.subset(np.flatnonzero(keep))
        if len(ds) == 0:
            raise ValueError(f"no faces with an emotion in {classes} in dataset {ds.name!r}")
        y = torch.as_tensor([classes.index(e) for e in ds.emotion], dtype=torch.long)
        maps = au_maps(ds.landmarks, ds.emotion, codebook, ds.images.shape[1:])
        return to_input(ds.images), y, torch.as_tensor(maps), ds.images

    xtr, ytr, mtr, _ = part(train)
    xte, yte, mte, imgs = part(test)
    return FERData(xtr, ytr, mtr, xte, yte, mte, tuple(classes), imgs, dict(key or {}, codebook=codebook,
                                                                             classes=list(classes)))


def load_fer_data(dataset: str = "synthetic", data_dir=None, n_faces: int = 600, seed: int = 0,
                  image_size: int = 112, codebook: str = "seed004", test_fraction: float = 0.25,
                  detect_landmarks: bool = True) -> FERData:
    """The chapter's data: generated faces split by subject, or a real set's own train/test split.

    Real sets need landmarks: AffectNet ships 68; RAF-DB has none, so MediaPipe Face Mesh is run on every face
    (detect_landmarks=True; cached) or a ValueError says so. n_faces caps each real split (None = all)."""

    name = str(dataset).lower().replace("-", "")
    if name == "synthetic":
        if data_dir is not None:
            raise ValueError("the synthetic dataset is generated: leave data_dir=None")
        ds = load_dataset("synthetic", n=int(n_faces), seed=int(seed), image_size=int(image_size))
        tr, te = subject_split(ds.subject, test_fraction=test_fraction, seed=seed)
        key = dict(dataset="synthetic", n=int(n_faces), seed=int(seed), image_size=int(image_size),
                   generator=ds.info.get("generator"), test_fraction=float(test_fraction))
        return fer_data(ds.subset(tr), ds.subset(te), codebook, key=key)
    if name not in ("rafdb", "affectnet"):
        raise ValueError(f"dataset {dataset!r} is not a FER set this chapter reads: use 'synthetic', 'rafdb' or "
                         "'affectnet'")
    opts = dict(image_size=int(image_size), max_items=None if n_faces is None else int(n_faces))
    train = ensure_landmarks(load_dataset(name, data_dir, split="train", **opts), detect=detect_landmarks)
    test = ensure_landmarks(load_dataset(name, data_dir, split="test", **opts), detect=detect_landmarks)
    key = dict(dataset=name, data_dir=str(data_dir), n=n_faces, image_size=int(image_size),
               n_train=len(train), n_test=len(test))
    return fer_data(train, test, codebook, key=key)


def train_fer(data: FERData, lam: float = 0.0, layer="layer4", epochs: int = 10, seed: int = 0,
              batch_size: int = 32, lr: float = 4e-3, weight_decay: float = 5e-4, widths=(16, 32, 64, 128),
              device: str = "cpu", progress: bool = False, cache: bool = True, augment: bool = True) -> SmallResNet:
    """Train (or load from the model cache) the classifier with alignment weight `lam` at `layer`: AdamW with a
    one-cycle learning rate peaking at `lr`, full batches, and (augment=True) the training faces lightly shifted,
    scaled and changed in contrast and brightness with their AU maps (models.fer.fit_classifier, AUGMENT)."""

    if lam < 0:
        raise ValueError(f"lam must be >= 0 (0 = no AU alignment); got {lam}")
    if int(epochs) < 1:
        raise ValueError(f"epochs must be at least 1; got {epochs}")
    layer = LAYERS[layer_index(layer)]
    config = dict(data=data.key, n_train=len(data.y_train), lam=float(lam), layer=layer,
                  epochs=int(epochs), seed=int(seed), batch_size=int(batch_size), lr=float(lr),
                  weight_decay=float(weight_decay), widths=list(widths), blocks=list(FER_BLOCKS), schedule="one_cycle",
                  augment=dict(FER_AUGMENT) if augment else None)

    def make():
        seed_everything(seed)
        return fer_model(len(data.classes), widths)

    def train(model):
        fit_classifier(model, data.x_train, data.y_train, data.maps_train, lam=lam, layer=layer, epochs=int(epochs),
                       batch_size=batch_size, lr=lr, weight_decay=weight_decay,
                       augment=dict(FER_AUGMENT) if augment else None, seed=seed, device=device, progress=progress)

    if not cache:
        model = make()
        train(model)
        return model.eval().cpu()
    return cached_model("fer_au", config, make, train, code=(fer_model, au_loss, fit_classifier),
                        device=device).cpu()


@torch.no_grad()
def evaluate_fer(model: SmallResNet, data: FERData, layer="layer4", batch_size: int = 128) -> dict:
    """Test accuracy and ATT-COS (attention upsampled to image size vs AU map, per class then over classes)."""

    model.eval()
    pred = predict(model, data.x_test, batch_size).argmax(1)
    acc = float((pred == data.y_test).float().mean())
    att = torch.cat([attention(model, data.x_test[i:i + batch_size], layer, data.x_test.shape[-2:])
                     for i in range(0, len(data.x_test), batch_size)])
    with_map = data.maps_test.flatten(1).amax(1) > 0
    cos = np.full(len(att), np.nan)
    cos[with_map.numpy()] = map_cosine(att[with_map], data.maps_test[with_map], zero_saliency="zero")
    att_cos, per_class = class_average(cos, data.labels_test)
    return dict(accuracy=acc, att_cos=att_cos, att_cos_per_class=per_class, predictions=pred.numpy(),
                att_cos_per_face=cos)


def chapter01_detector(preset: str = "cpu", seed: int = 0, device: str = "cpu", n_faces: int | None = None,
                       epochs: int | None = None):
    """Chapter 01's AU detector (its preset's data, config and subject-wise CV; weights from the cache when the
    chapter ran before): the best fold's model and its held-out faces. n_faces/epochs override the chapter's preset
    (quick tests only: a different model is then trained).
    Returns dict(model, test (FaceDataset), inputs, y_true, y_pred, fold, config)."""
    from ..models import au_detector as det
    from . import au_lrp

    knobs = au_lrp.settings(preset, n_faces=n_faces, epochs=epochs, seed=seed, device=device)
    source, _ = au_lrp.load_data("synthetic", None, knobs["n_faces"], knobs["n_shifted"], seed)
    cfg = au_lrp.detector_config(knobs, source)
    cv = au_lrp.cross_validate(source, cfg, knobs, device=device)
    best, _, test_idx = au_lrp.fold_of_best(cv)
    model = cv.models[best].cpu().eval()
    test = source.subset(test_idx)
    x = det.inputs_from(test)
    y_true = det.targets_from(test, cfg.aus).numpy()
    y_pred = (det.predict_logits(model, x).numpy() > 0).astype(float)
    return dict(model=model, test=test, inputs=x, y_true=y_true, y_pred=y_pred, fold=best, config=cfg)


def chapter04_classifier(preset: str = "cpu", seed: int = 0, device: str = "cpu", lam: float | None = 0.0,
                         codebook: str = "seed004", n_faces: int | None = None, epochs: int | None = None):
    """Chapter 04's emotion classifier (its preset's data and training; lam=0: the plain "w/o AU" model, None: the
    chapter's "w/ AU" lambda) and its test faces; n_faces/epochs override the preset (quick tests only).
    Returns dict(model, test, inputs, y_true, y_pred, classes, data, lam)."""
    from . import au_guided_fer

    knobs = au_guided_fer.settings(preset, n_faces=n_faces, epochs=epochs, seed=seed, device=device)
    lam = knobs["lam"] if lam is None else float(lam)
    size = knobs["image_size"]
    data = load_fer_data("synthetic", None, n_faces=knobs["n_faces"], seed=seed, image_size=size,
                         codebook=codebook, test_fraction=0.3)
    model = train_fer(data, lam=lam, layer="layer4", epochs=knobs["epochs"], seed=seed, device=device).eval()
    test = fer_test_faces("synthetic", None, knobs["n_faces"], seed, size, 0.3)
    if not np.array_equal(test.images, data.images_test):
        raise RuntimeError("chapter 04's test faces could not be rebuilt: load_fer_data's split changed")
    y_pred = predict(model, data.x_test).argmax(1).numpy()
    return dict(model=model, test=test, inputs=data.x_test, y_true=data.y_test.numpy(), y_pred=y_pred,
                classes=data.classes, data=data, lam=lam)


def fer_test_faces(dataset: str = "synthetic", data_dir=None, n_faces: int = 600, seed: int = 0,
                   image_size: int = 112, test_fraction: float = 0.25, detect_landmarks: bool = True):
    """The test faces of load_fer_data(...) with the same arguments, as a FaceDataset (landmarks, emotions and, for
    generated faces, ground-truth AUs and regions), so explanations can be read per AU region."""
    name = str(dataset).lower().replace("-", "")
    if name == "synthetic":
        ds = load_dataset("synthetic", n=int(n_faces), seed=int(seed), image_size=int(image_size))
        _, te = subject_split(ds.subject, test_fraction=test_fraction, seed=seed)
        return ds.subset(te)
    if name not in ("rafdb", "affectnet"):
        raise ValueError(f"dataset {dataset!r} has no emotion classifier in this book: use 'synthetic', 'rafdb' or "
                         "'affectnet'")
    test = load_dataset(name, data_dir, split="test", image_size=int(image_size),
                        max_items=None if n_faces is None else int(n_faces))
    return ensure_landmarks(test, detect=detect_landmarks)


# --- chapter 02's AU reader and game targets -------------------------------------------------------------------

def au_reader(seed: int, n_calibration: int, neutral: str = "subject", landmarks: str = "truth"):
    """Chapter 02's geometric AU reader, calibrated on n_calibration generated faces (seed + READER_SEED_OFFSET;
    cached), reading against each subject's neutral face ("subject") or the template."""
    from ..models.geometric_au import calibrated_detector
    return calibrated_detector(int(n_calibration), seed=int(seed) + READER_SEED_OFFSET, neutral=neutral,
                               landmarks=landmarks)


def game_targets(reader, n_targets: int, seed: int, dataset: str = "synthetic", data_dir=None) -> dict[str, dict]:
    """Chapter 02's Face Game target faces (seed + TARGETS_SEED_OFFSET), as `reader` detects their AUs."""
    from ..game.targets import choose_targets
    return choose_targets(reader, int(n_targets), seed=int(seed) + TARGETS_SEED_OFFSET, dataset=dataset,
                          data_dir=data_dir)


__all__ = ["FERData", "READER_SEED_OFFSET", "TARGETS_SEED_OFFSET", "au_reader", "chapter01_detector",
           "chapter04_classifier", "evaluate_fer", "fer_data", "fer_test_faces", "game_targets", "load_fer_data",
           "train_fer"]
