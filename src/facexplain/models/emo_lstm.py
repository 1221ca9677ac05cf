"""The binary landmark-sequence emotion nets of Di Luzio et al.: T-EMO (trained conv) and R-EMO (random, frozen conv).

Input: a batch of sequences (N, P, 2, L) -- P frames, 2 coordinates, L landmarks. Each frame is a one-channel
2 x L "image": Conv2D (+ReLU) -> BatchNorm -> flatten -> LSTM over the P frames -> dropout -> FC1 (+ReLU) -> FC2
with two outputs (not-emotion, emotion). T-EMO learns the conv filters; R-EMO draws them at random and never
changes them (the paper's cheap, randomized variant).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

#: The paper's T-EMO hyperparameters (Tables 1-5: filters F, LSTM units Q, FC1 neurons R) per emotion and number of
#: input landmarks. The 468-landmark nets come from the authors' earlier paper (not listed); we use the 234 row.
PAPER_HYPERPARAMETERS: dict[int, dict[str, tuple[int, int, int]]] = {
    234: dict(anger=(25, 31, 54), disgust=(35, 50, 63), fear=(39, 51, 34), happiness=(50, 58, 63),
              sadness=(24, 68, 54), surprise=(30, 58, 63)),
    128: dict(anger=(25, 31, 54), disgust=(39, 30, 63), fear=(39, 51, 34), happiness=(39, 68, 72),
              sadness=(39, 58, 74), surprise=(40, 68, 73)),
    64: dict(anger=(25, 31, 54), disgust=(39, 30, 33), fear=(39, 51, 34), happiness=(16, 58, 52),
             sadness=(39, 68, 64), surprise=(40, 58, 63)),
    32: dict(anger=(25, 31, 54), disgust=(39, 50, 63), fear=(39, 61, 64), happiness=(16, 58, 52),
             sadness=(39, 58, 74), surprise=(30, 58, 63)),
    16: dict(anger=(25, 31, 54), disgust=(39, 50, 53), fear=(24, 68, 64), happiness=(16, 58, 52),
             sadness=(39, 58, 64), surprise=(40, 58, 63)),
}


def paper_hyperparameters(emotion: str, k: int) -> dict[str, int]:
    """The paper's (filters, lstm_units, fc1) for `emotion` with `k` landmarks (468 -> the 234 row)."""
    row = PAPER_HYPERPARAMETERS.get(234 if int(k) == 468 else int(k))
    if row is None or emotion not in row:
        raise ValueError(f"the paper lists hyperparameters for k in {sorted(PAPER_HYPERPARAMETERS) + [468]} and "
                         f"emotions {sorted(PAPER_HYPERPARAMETERS[234])}; got k={k}, emotion={emotion!r}")
    f, q, r = row[emotion]
    return dict(filters=f, lstm_units=q, fc1=r)


@dataclass(frozen=True)
class EmoConfig:
    """Architecture of one binary net (everything its weights' shapes depend on)."""

    n_landmarks: int = 468
    n_coords: int = 2
    filters: int = 25
    lstm_units: int = 31
    fc1: int = 54
    kernel: tuple[int, int] = (2, 1)   # (coordinates, landmarks) spanned by a filter; the paper does not state it
    dropout: float = 0.2
    randomized: bool = False           # True = R-EMO: conv filters random and frozen

    def __post_init__(self):
        for name in ("n_landmarks", "n_coords", "filters", "lstm_units", "fc1"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer; got {getattr(self, name)}")
        kc, kl = self.kernel
        if not (1 <= kc <= self.n_coords and 1 <= kl <= self.n_landmarks):
            raise ValueError(f"kernel {self.kernel} does not fit a {self.n_coords} x {self.n_landmarks} frame: "
                             f"use kernel=(<= {self.n_coords}, <= {self.n_landmarks})")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}")


class EmoNet(nn.Module):
    """Conv2D -> ReLU -> BatchNorm -> flatten -> LSTM -> dropout -> FC1 -> ReLU -> FC2 (2 logits)."""

    def __init__(self, config: EmoConfig | None = None, **options):
        super().__init__()
        self.config = c = config or EmoConfig(**options)
        self.conv = nn.Conv2d(1, c.filters, kernel_size=tuple(c.kernel))
        self.bn = nn.BatchNorm2d(c.filters)
        h, w = c.n_coords - c.kernel[0] + 1, c.n_landmarks - c.kernel[1] + 1
        self.lstm = nn.LSTM(c.filters * h * w, c.lstm_units, batch_first=True)
        self.drop = nn.Dropout(c.dropout)
        self.fc1 = nn.Linear(c.lstm_units, c.fc1)
        self.fc2 = nn.Linear(c.fc1, 2)
        if c.randomized:
            for p in self.conv.parameters():
                p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.ndim != 4 or tuple(x.shape[2:]) != (c.n_coords, c.n_landmarks):
            raise ValueError(f"EmoNet expects sequences (N, P, {c.n_coords}, {c.n_landmarks}); got "
                             f"{tuple(x.shape)}: select the same landmarks the net was built for")
        n, p = x.shape[:2]
        z = self.bn(torch.relu(self._conv(x.reshape(n * p, 1, c.n_coords, c.n_landmarks))))
        out, _ = self.lstm(z.reshape(n, p, -1))
        h = self.drop(out[:, -1])
        return self.fc2(torch.relu(self.fc1(h)))

    def _conv(self, z: torch.Tensor) -> torch.Tensor:
        """self.conv(z), computed as a matrix product when the filters span a single landmark (kernel (k, 1)):
        the same numbers, but several times faster than oneDNN's convolution on these thin 2 x L frames."""
        kc, kl = self.config.kernel
        if kl != 1:
            return self.conv(z)
        windows = z[:, 0].unfold(1, kc, 1)                       # (NP, H, L, kc)
        w = self.conv.weight[:, 0, :, 0]                          # (F, kc)
        out = torch.matmul(windows, w.t()) + self.conv.bias       # (NP, H, L, F)
        return out.permute(0, 3, 1, 2)

    def trainable_parameters(self):
        """The parameters the optimiser updates (R-EMO leaves its conv filters out)."""
        return [p for p in self.parameters() if p.requires_grad]


def t_emo(n_landmarks: int = 468, **options) -> EmoNet:
    """T-EMO: every layer trained."""
    return EmoNet(EmoConfig(n_landmarks=n_landmarks, randomized=False, **options))


def r_emo(n_landmarks: int = 468, **options) -> EmoNet:
    """R-EMO: conv filters drawn at random (PyTorch's default init) and frozen; the rest trained."""
    return EmoNet(EmoConfig(n_landmarks=n_landmarks, randomized=True, **options))


def make_emo(net: str, n_landmarks: int, **options) -> EmoNet:
    """"t-emo" or "r-emo" by name."""
    key = str(net).lower().replace("_", "-")
    if key not in ("t-emo", "r-emo"):
        raise ValueError(f"unknown net {net!r}: use 't-emo' or 'r-emo'")
    return (t_emo if key == "t-emo" else r_emo)(n_landmarks, **options)


def emo_loss(class_weight: torch.Tensor | None = None):
    """Cross-entropy over the two outputs (= binary cross-entropy on the emotion probability)."""
    def loss(model, xb, yb):
        w = None if class_weight is None else class_weight.to(xb.device)
        return nn.functional.cross_entropy(model(xb), yb, weight=w)
    return loss


def train_emo(model: EmoNet, x: torch.Tensor, y: torch.Tensor, epochs: int = 30, lr: float = 1e-4,
              batch_size: int = 16, seed: int = 0, device: str = "cpu", balanced: bool = False,
              progress: bool = False) -> list[float]:
    """Train with ADAM (paper: lr 1e-4, batch 16) on cross-entropy; `balanced` weights classes by 1/frequency."""
    x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.long)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"need as many labels as sequences (and at least one); got {len(x)} and {len(y)}")
    weight = None
    if balanced:
        counts = torch.bincount(y, minlength=2).float().clamp(min=1)
        weight = counts.sum() / (2 * counts)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.trainable_parameters(), lr=lr)
    from ..train import fit
    return fit(model, x, y, emo_loss(weight), opt, epochs=epochs, batch_size=batch_size, seed=seed, device=device,
               progress=progress)


def config_dict(model: EmoNet) -> dict:
    """The architecture as a plain dict (for cache keys and tables)."""
    d = asdict(model.config)
    d["kernel"] = list(d["kernel"])
    return d
