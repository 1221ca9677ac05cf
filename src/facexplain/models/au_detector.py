"""Seed 001's AU detector: a parameter-reduced ResNet-18 with one sigmoid output per pain AU, and its evaluation.

The network is facexplain.models.resnet.small_resnet18 (torchvision BasicBlocks, so zennit's ResNetCanonizer
applies) with logits for AUs 4, 6, 7, 9, 10, 25, 26, 27; an AU counts as detected when its sigmoid exceeds 0.5
(logit > 0). Training follows the paper: weighted binary cross-entropy (positives weighted by n_neg / n_pos per
AU, against the imbalance), SGD with learning rate 0.01 and momentum 0.95. Trained weights are cached by a hash
of everything they depend on (the training images and labels included). Evaluation is subject-wise: k-fold
(or leave-one-subject-out) F1 per AU on one domain, then the best fold's model on another domain.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn

from ..faces.aus import PAIN_AUS, au_number
from ..faces.cue import cue_mask


#: Training recipes (DetectorConfig fields): "paper" is Rieger et al.'s SGD (learning rate 0.01, momentum 0.95, no
#: schedule, no augmentation); "one_cycle" is AdamW with a one-cycle schedule peaking at 0.01 and light augmentation,
#: which learns every pain AU in the few epochs a CPU affords (the paper's recipe needs many more).
RECIPES = {
    "paper": dict(optimizer="sgd", lr=0.01, momentum=0.95, weight_decay=0.0, schedule="constant", augment=False),
    "one_cycle": dict(optimizer="adamw", lr=0.01, weight_decay=1e-4, schedule="one_cycle", augment=True),
}

#: The training faces' random changes when DetectorConfig.augment is on (facexplain.train.Augment): shifts of up to
#: 4% of the image, scale changes of up to 5%, contrast and brightness changes of up to 20%.
AUGMENT = dict(shift=0.04, scale=0.05, contrast=0.2, brightness=0.2)


@dataclass(frozen=True)
class DetectorConfig:
    """What a trained detector depends on besides its data (hashed into the weight cache key)."""

    aus: tuple[int, ...] = PAIN_AUS
    widths: tuple[int, ...] = (8, 16, 32, 64)    # the paper's "parameter-reduced" ResNet-18; ImageNet uses 64..512
    epochs: int = 25                             # paper: 25 per fold
    lr: float = 0.01                             # paper: SGD lr 0.01 (with schedule="one_cycle": the peak rate)
    momentum: float = 0.95                       # paper: momentum 0.95 (SGD only)
    batch_size: int = 32
    max_pos_weight: float = 20.0                 # cap of n_neg / n_pos, for AUs that almost never occur
    seed: int = 0
    optimizer: str = "sgd"                       # paper: "sgd"; or "adamw"
    weight_decay: float = 0.0
    schedule: str = "constant"                   # paper: "constant"; or "one_cycle" (warm up, then cosine decay)
    augment: bool = False                        # light random shifts, scaling, contrast and brightness (Augment)

    def __post_init__(self):
        aus = tuple(au_number(a) for a in self.aus)
        object.__setattr__(self, "aus", aus)
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if not aus:
            raise ValueError("the detector needs at least one AU to detect")
        if len(self.widths) != 4 or min(self.widths) < 1:
            raise ValueError(f"widths must be four positive channel counts (one per ResNet stage); got {self.widths}")
        if int(self.epochs) < 1 or int(self.batch_size) < 1:
            raise ValueError("epochs and batch_size must be positive")
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be 'sgd' (the paper's) or 'adamw'; got {self.optimizer!r}")
        if self.schedule not in ("constant", "one_cycle"):
            raise ValueError(f"schedule must be 'constant' (the paper's) or 'one_cycle'; got {self.schedule!r}")

    @classmethod
    def recipe(cls, name: str, **fields) -> "DetectorConfig":
        """A config with the training recipe `name` (RECIPES: "paper" or "one_cycle") and the given fields."""
        if name not in RECIPES:
            raise ValueError(f"unknown training recipe {name!r}: use one of {sorted(RECIPES)}")
        return cls(**{**RECIPES[name], **fields})


def make_detector(aus=PAIN_AUS, widths=(8, 16, 32, 64), seed: int = 0) -> nn.Module:
    """An untrained detector with one logit per AU; `model.aus` names the outputs."""
    from .resnet import small_resnet18
    torch.manual_seed(int(seed))
    model = small_resnet18(len(aus), widths=tuple(widths), in_channels=1)
    model.aus = tuple(au_number(a) for a in aus)
    return model


def au_index(model_or_aus, au) -> int:
    """Output column of AU `au` in a detector (or a tuple of AUs); a clear error if the detector lacks it."""
    aus = tuple(getattr(model_or_aus, "aus", model_or_aus))
    n = au_number(au)
    if n not in aus:
        raise ValueError(f"AU{n} is not an output of this detector: it detects AUs {list(aus)}")
    return aus.index(n)


def detector_aus(dataset, aus=PAIN_AUS) -> tuple[int, ...]:
    """The requested AUs that `dataset` codes (some positives, not all NaN); an error if it codes none of them."""
    aus = [au_number(a) for a in aus]
    coded = []
    for a in aus:
        if a not in dataset.au_numbers:
            continue
        col = dataset.au_intensity[:, dataset.au_numbers.index(a)]
        if np.isfinite(col).any() and (np.nan_to_num(col) > 0).any():
            coded.append(a)
    if not coded:
        raise ValueError(f"dataset {dataset.name!r} has no Action Unit coding for AUs {aus} (it codes "
                         f"{list(dataset.au_numbers) or 'no AUs'}): this chapter needs AU labels, e.g. "
                         "dataset='synthetic', 'ckplus' (FACS/ folder) or 'unbc'")
    return tuple(coded)


def inputs_from(dataset) -> torch.Tensor:
    """Grey images as float (N, 1, H, W) in [0, 1] (the paper normalises pixel values to [0, 1])."""
    return torch.from_numpy(np.ascontiguousarray(dataset.images, dtype=np.float32) / 255.0).unsqueeze(1)


def targets_from(dataset, aus) -> torch.Tensor:
    """AU occurrence (N, len(aus)): 1 present, 0 absent, NaN where the dataset did not code it."""
    cols = [dataset.au_column(a) for a in aus]
    x = dataset.au_intensity[:, cols].astype(np.float32)
    return torch.from_numpy(np.where(np.isfinite(x), (x > 0).astype(np.float32), np.nan))


def pos_weights(targets: torch.Tensor, cap: float = 20.0) -> torch.Tensor:
    """Per-AU weight of the positives in the BCE: n_negative / n_positive, clipped to [1, cap]."""
    known = torch.isfinite(targets)
    pos = ((targets == 1) & known).sum(0).float()
    neg = ((targets == 0) & known).sum(0).float()
    return (neg / pos.clamp(min=1)).clamp(1.0, float(cap))


def weighted_bce(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor) -> torch.Tensor:
    """Weighted binary cross-entropy on the logits, ignoring uncoded (NaN) labels."""
    known = torch.isfinite(targets)
    y = torch.nan_to_num(targets, nan=0.0)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=pos_weight, reduction="none")
    return (loss * known).sum() / known.sum().clamp(min=1)


def _digest(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a.numpy() if hasattr(a, "numpy") else a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:20]


def train_detector(inputs: torch.Tensor, targets: torch.Tensor, config: DetectorConfig, device: str = "cpu",
                   progress: bool = False) -> nn.Module:
    """Train (or load from the cache) a detector on (inputs, targets) with the paper's loss and optimizer."""
    from ..train import Augment, cached_model, fit, one_cycle
    from .resnet import small_resnet18

    if inputs.ndim != 4 or inputs.shape[0] != targets.shape[0] or targets.shape[1] != len(config.aus):
        raise ValueError(f"inputs (N, 1, H, W) and targets (N, {len(config.aus)}) must match; "
                         f"got {tuple(inputs.shape)} and {tuple(targets.shape)}")
    key = dict(config=asdict(config), data=_digest(inputs, targets))
    weight = pos_weights(targets, config.max_pos_weight)

    def make():
        return make_detector(config.aus, config.widths, config.seed)

    def train(model):
        if config.optimizer == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                                  weight_decay=config.weight_decay)
        else:
            opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        cycle = config.schedule == "one_cycle"
        sched = one_cycle(opt, config.lr, config.epochs, len(inputs), config.batch_size, drop_last=cycle) \
            if cycle else None
        w = weight.to(device)
        fit(model, inputs, targets, lambda m, xb, yb: weighted_bce(m(xb), yb, w), opt, epochs=config.epochs,
            batch_size=config.batch_size, seed=config.seed, device=device, progress=progress, schedule=sched,
            augment=Augment(**AUGMENT) if config.augment else None, drop_last=cycle)

    model = cached_model("au_detector", key, make, train, code=(small_resnet18,), device=device).to(device).eval()
    model.aus = config.aus
    return model


def predict_logits(model: nn.Module, inputs: torch.Tensor, device: str = "cpu") -> torch.Tensor:
    """Logits (N, n_aus) on the CPU; detected = logit > 0 (sigmoid > 0.5)."""
    from ..train import predict
    return predict(model, inputs, device=device)


def f1_table(y_true, y_pred, aus, **labels):
    """F1 and support (positives) per AU; AUs without coded labels are skipped (a pandas DataFrame)."""
    import pandas as pd
    from sklearn.metrics import f1_score

    y_true, y_pred = np.asarray(y_true, np.float32), np.asarray(y_pred) > 0.5
    rows = []
    for k, au in enumerate(aus):
        known = np.isfinite(y_true[:, k])
        if not known.any():
            continue
        yt = y_true[known, k] > 0.5
        rows.append(dict(au=int(au), f1=float(f1_score(yt, y_pred[known, k], zero_division=0)),
                         support=int(yt.sum()), **labels))
    return pd.DataFrame(rows, columns=["au", "f1", "support", *labels])


@dataclass
class CrossValidation:
    """Results of a subject-wise cross-validation: per-fold F1, the splits and the fold models."""

    folds: list = field(default_factory=list)      # (train_idx, test_idx)
    models: list = field(default_factory=list)
    per_fold: object = None                        # DataFrame au, f1, support, fold

    def mean_f1(self):
        """Table-1 analog: F1 per AU averaged over folds, support summed over the test folds."""
        g = self.per_fold.groupby("au", sort=True)
        out = g.agg(f1=("f1", "mean"), support=("support", "sum")).reset_index()
        return out

    @property
    def best(self) -> int:
        """Index of the fold whose model has the highest mean F1 over the AUs (the paper inspects that model)."""
        scores = self.per_fold.groupby("fold")["f1"].mean()
        return int(scores.idxmax())


def train_fold(fold, x, y, config: DetectorConfig, device: str = "cpu", progress: bool = False):
    """One fold (index, train_idx, test_idx) of a cross-validation: (its model on the CPU, its F1 table)."""
    f, tr, te = fold
    tr_t, te_t = torch.as_tensor(tr), torch.as_tensor(te)
    model = train_detector(x[tr_t], y[tr_t], config, device=device, progress=progress)
    pred = (predict_logits(model, x[te_t], device) > 0).numpy()
    return model.cpu(), f1_table(y[te_t].numpy(), pred, config.aus, fold=f)


def cross_validate(dataset, config: DetectorConfig, k: int | str = 3, seed: int = 0, device: str = "cpu",
                   progress: bool = False, map_folds=None) -> CrossValidation:
    """Subject-wise k-fold (k="loso": leave one subject out) training and F1 per AU on each held-out fold.

    The folds are independent: `map_folds(train_fold, folds, shared)` may run them elsewhere (facexplain.grid.run
    does, on Dask) and must return train_fold's results in order; default: one after the other, here."""
    import pandas as pd

    from ..data.splits import leave_one_subject_out, subject_kfold

    if k == "loso":
        folds = leave_one_subject_out(dataset.subject)
    elif isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 2:
        folds = subject_kfold(dataset.subject, int(k), seed)
    else:
        raise ValueError(f"k must be a number of folds >= 2 or 'loso' (leave one subject out); got {k!r}")
    x, y = inputs_from(dataset), targets_from(dataset, config.aus)
    jobs = [(f, np.asarray(tr), np.asarray(te)) for f, (tr, te) in enumerate(folds)]
    shared = dict(x=x, y=y, config=config, device=device)
    if map_folds is None:
        done = [train_fold(job, progress=progress, **shared) for job in jobs]
    else:
        done = map_folds(train_fold, jobs, shared)
    cv = CrossValidation(folds=folds, models=[m.to(device) for m, _ in done])
    cv.per_fold = pd.concat([table for _, table in done], ignore_index=True)
    return cv


def cue_strip_mask(shape: tuple[int, int]) -> np.ndarray:
    """The top strip of the image where the synthetic shortcut mark is stamped (outside every face): faces.cue's."""
    return cue_mask(tuple(shape))


__all__ = ["AUGMENT", "RECIPES", "DetectorConfig", "make_detector", "au_index", "detector_aus", "inputs_from", "targets_from",
           "pos_weights", "weighted_bce", "train_detector", "predict_logits", "f1_table", "CrossValidation",
           "cross_validate", "train_fold", "cue_strip_mask"]
