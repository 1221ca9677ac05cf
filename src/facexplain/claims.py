"""The claim checker every chapter uses: one table shape, one verdict vocabulary, one rule.

A chapter's claim table (`claims.csv`) has the columns ``claim, paper, ours, control, verdict`` (and ``evidence``
where a row needs more words). The verdict starts with one of

- ``reproduced``      the claim holds here and beats its named control by more than the noise;
- ``partly``          it beats the control by more than the noise, but only part of the claim holds
                      (some emotions, a lower level, one direction of two, ...);
- ``not reproduced``  the estimate does not beat the control by more than the noise, or the control wins;
- ``not comparable``  no noise estimate, or data/models too different for the paper's number to mean anything here;
- ``by construction`` what the generator or the simulation fixes (the claim cannot fail here, so it tests nothing),

optionally followed by ": reason". Chapters never write a verdict by hand: they call :func:`judge` (an estimate
against a control with its noise: a standard error, a seed sd, an interval or a test's p-value),
:func:`judge_paired` (a paired test over seeds), :func:`judge_count` (k of n units, binomial sign test),
:func:`not_comparable` or :func:`by_construction`, and add the returned :class:`Verdict` to a :class:`ClaimTable`,
which refuses plain strings. :func:`show_table` / :func:`show_claims` render wide tables as wrapped HTML with the
verdicts coloured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: the verdict vocabulary, in the order of the rule
VERDICTS = ("reproduced", "partly", "not reproduced", "not comparable", "by construction")
#: columns of every claims.csv (``evidence`` optional)
COLUMNS = ("claim", "paper", "ours", "control", "verdict")
#: verdict -> background colour of its cell in the HTML display
COLOURS = {"reproduced": "#c8e6c9", "partly": "#fff3b0", "not reproduced": "#f8c8c8",
           "not comparable": "#e0e0e0", "by construction": "#cfe2f3"}


@dataclass(frozen=True)
class Verdict:
    """A verdict word from :data:`VERDICTS` and its reason. Made by the judge functions, not by hand."""

    word: str
    reason: str = ""

    def __post_init__(self):
        if self.word not in VERDICTS:
            raise ValueError(f"verdict {self.word!r} is not in the vocabulary {VERDICTS}")

    def __str__(self) -> str:
        return f"{self.word}: {self.reason}" if self.reason else self.word


def _finite(v) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def judge(estimate, control, noise=None, *, p_value=None, alpha: float = 0.05, k: float = 2.0,
          direction: str = "higher", full: bool = True, why: str = "", partly_why: str = "") -> Verdict:
    """The rule: does `estimate` beat `control` by more than the noise?

    estimate, control: the measured value and the control's value (same units). noise: the standard error (or seed
    sd, or half-width of an interval) of the difference; the estimate must beat the control by more than `k` times
    it. p_value: a test of estimate against control instead (then the difference must have the claimed sign and
    p < alpha). direction: "higher" (the claim says the estimate exceeds the control) or "lower".
    full: whether the whole claim holds once the control is beaten (False -> "partly", with `partly_why`).
    Without a noise estimate or a p-value the verdict is "not comparable"."""
    if direction not in ("higher", "lower"):
        raise ValueError(f"direction must be 'higher' or 'lower'; got {direction!r}")
    if not (_finite(estimate) and _finite(control)):
        return Verdict("not comparable", f"no estimate or no control value ({estimate}, {control})")
    diff = float(estimate) - float(control)
    gap = diff if direction == "higher" else -diff
    word = "above" if direction == "higher" else "below"
    if p_value is not None:
        if not _finite(p_value) or not 0 <= float(p_value) <= 1:
            raise ValueError(f"p_value must be a probability in [0, 1]; got {p_value!r}")
        beats = gap > 0 and float(p_value) < alpha
        noise_txt = f"p={float(p_value):.2g} (alpha {alpha:g})"
    elif _finite(noise):
        if float(noise) < 0:
            raise ValueError(f"noise must be a non-negative standard error or sd; got {noise!r}")
        beats = gap > k * float(noise)
        noise_txt = f"{k:g}x noise = {_fmt(k * float(noise))}"
    else:
        return Verdict("not comparable", "no noise estimate (one run, no standard error or test)"
                       + (f"; {why}" if why else ""))
    tail = f"; {why}" if why else ""
    if beats:
        if full:
            return Verdict("reproduced", f"{_fmt(gap)} {word} the control, beyond {noise_txt}{tail}")
        return Verdict("partly", (partly_why or "only part of the claim holds")
                       + f"; {_fmt(gap)} {word} the control, beyond {noise_txt}{tail}")
    other = "below" if direction == "higher" else "above"
    if p_value is None and gap < -k * float(noise):
        return Verdict("not reproduced", f"the other way round: {_fmt(-gap)} {other} the control, beyond "
                       f"{noise_txt}{tail}")
    if p_value is not None and gap < 0:
        return Verdict("not reproduced", f"the other way round: {_fmt(-gap)} {other} the control "
                       f"({noise_txt} in the claimed direction){tail}")
    return Verdict("not reproduced", f"{_fmt(float(estimate))} vs the control's {_fmt(float(control))}: the gap is "
                   f"within {noise_txt}{tail}")


def judge_paired(ours, control, *, direction: str = "higher", alpha: float = 0.05, test: str = "t", full: bool = True,
                 why: str = "", partly_why: str = "") -> Verdict:
    """`judge` for paired values over seeds (or images): `ours[i]` and `control[i]` share unit i.

    test="t": scipy.stats.ttest_rel; "wilcoxon": scipy.stats.wilcoxon (one-sided in the claimed direction).
    Fewer than two pairs give no noise estimate: "not comparable". Pairs whose differences are all equal (no spread,
    t undefined) are read by the sign test over the pairs."""
    from scipy import stats

    if test not in ("t", "wilcoxon"):
        raise ValueError(f"test must be 't' or 'wilcoxon'; got {test!r}")
    a, b = np.asarray(ours, np.float64).ravel(), np.asarray(control, np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same length; got {a.shape} and {b.shape}")
    keep = np.isfinite(a) & np.isfinite(b)
    a, b = a[keep], b[keep]
    if len(a) < 2:
        return Verdict("not comparable", f"{len(a)} pair(s): no noise estimate" + (f"; {why}" if why else ""))
    alt = "greater" if direction == "higher" else "less"
    d = a - b
    if np.all(d == d[0]):           # no spread: t undefined; fall back to the sign test over the pairs
        same = (d[0] > 0) if direction == "higher" else (d[0] < 0)
        p = 0.5 ** len(d) if same else 1.0
        test = "sign"
    elif test == "t":
        p = float(stats.ttest_rel(a, b, alternative=alt).pvalue)
    else:
        p = float(stats.wilcoxon(a, b, alternative=alt).pvalue)
    name = {"t": "paired t", "wilcoxon": "Wilcoxon", "sign": "sign test (no spread)"}[test]
    return judge(float(a.mean()), float(b.mean()), p_value=p, alpha=alpha, direction=direction, full=full,
                 why=f"{name} over {len(a)} pairs" + (f"; {why}" if why else ""), partly_why=partly_why)


def judge_count(wins: int, n: int, *, chance: float = 0.5, alpha: float = 0.05, full: bool | None = None,
                why: str = "", partly_why: str = "") -> Verdict:
    """k of n units (emotions, AUs, seeds) where the claim holds, against the share `chance` a coin would give
    (the control), by a one-sided binomial test. full defaults to wins == n."""
    from scipy import stats

    wins, n = int(wins), int(n)
    if n < 1 or not 0 <= wins <= n:
        raise ValueError(f"need 0 <= wins <= n and n >= 1; got wins={wins}, n={n}")
    p = float(stats.binomtest(wins, n, chance, alternative="greater").pvalue)
    return judge(wins / n, chance, p_value=p, alpha=alpha, full=(wins == n) if full is None else full,
                 why=f"{wins}/{n}, binomial test against {chance:g}" + (f"; {why}" if why else ""),
                 partly_why=partly_why)


def not_comparable(reason: str) -> Verdict:
    """The paper's number cannot be compared here (other data, model, no noise estimate); say why."""
    if not str(reason).strip():
        raise ValueError("say why the claim is not comparable")
    return Verdict("not comparable", str(reason))


def by_construction(reason: str) -> Verdict:
    """What the generator or the simulation fixes: say what fixes it."""
    if not str(reason).strip():
        raise ValueError("say what fixes the outcome (the generator, the players' rule, ...)")
    return Verdict("by construction", str(reason))


def se_mean(values) -> float:
    """Standard error of a mean (NaNs dropped); NaN with fewer than two values."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    return float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


def se_proportion(p: float, n: int) -> float:
    """Standard error of an accuracy or share p measured on n items, Agresti-Coull style (two successes and two
    failures added), so that 0 % or 100 % on a few items still carries noise: sqrt(q (1 - q) / (n + 4)),
    q = (p n + 2) / (n + 4)."""
    if n < 1:
        raise ValueError(f"n must be >= 1; got {n}")
    q = (float(p) * int(n) + 2) / (int(n) + 4)
    return float(np.sqrt(q * (1 - q) / (int(n) + 4)))


def bootstrap_se(values, stat=np.mean, n_boot: int = 1000, seed: int = 0) -> float:
    """Bootstrap standard error of `stat` over `values` (seeded, scipy.stats.bootstrap)."""
    from scipy import stats

    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2 or np.all(v == v[0]):
        return float("nan") if len(v) < 2 else 0.0
    r = stats.bootstrap((v,), stat, n_resamples=int(n_boot), method="percentile",
                        random_state=np.random.default_rng(int(seed)))
    return float(r.standard_error)


class ClaimTable:
    """Rows of a chapter's claim check. `add` takes a :class:`Verdict` (from the judge functions), never a string,
    and requires a control on every row that is not "by construction"."""

    def __init__(self):
        self.rows: list[dict] = []

    def add(self, claim: str, paper: str, ours: str, control: str, verdict: Verdict, evidence: str = "") -> "ClaimTable":
        if not isinstance(verdict, Verdict):
            raise TypeError("verdict must come from claims.judge / judge_paired / judge_count / not_comparable / "
                            f"by_construction, not be written by hand (got {type(verdict).__name__})")
        if verdict.word != "by construction" and not str(control).strip():
            raise ValueError(f"claim {claim!r}: name its control (a template, a random-weights model, chance, ...)")
        self.rows.append(dict(claim=str(claim), paper=str(paper), ours=str(ours), control=str(control),
                              verdict=str(verdict), evidence=str(evidence)))
        return self

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows, columns=[*COLUMNS, "evidence"])
        if not df["evidence"].astype(bool).any():
            df = df.drop(columns="evidence")
        return df


def verdict_word(verdict: str) -> str:
    """The vocabulary word a verdict string starts with (ValueError when it starts with none)."""
    v = str(verdict).strip().lower()
    for w in sorted(VERDICTS, key=len, reverse=True):     # "not reproduced" before "reproduced"
        if v.startswith(w):
            return w
    raise ValueError(f"verdict {verdict!r} does not start with a word of {VERDICTS}")


def check_table(df: pd.DataFrame, name: str = "claims") -> pd.DataFrame:
    """Check a claim table's shape: the five columns, verdicts from the vocabulary, a control on every row that is
    not "by construction". Returns the table; raises ValueError naming every problem."""
    problems = [f"no column {c!r}" for c in COLUMNS if c not in df.columns]
    if not problems:
        for i, r in df.fillna("").iterrows():
            try:
                w = verdict_word(r["verdict"])
            except ValueError as err:
                problems.append(f"row {i}: {err}")
                continue
            if w != "by construction" and not str(r["control"]).strip():
                problems.append(f"row {i} ({str(r['claim'])[:40]!r}): no control")
    if problems:
        raise ValueError(f"{name}: " + "; ".join(problems))
    return df


def write_claims(df: pd.DataFrame, results_dir, name: str = "claims.csv") -> Path:
    """Check the table and write it atomically (temp file + rename) as results_dir/claims.csv."""
    import os
    import tempfile

    check_table(df)
    out = Path(results_dir)
    out.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
    os.close(fd)
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, out / name)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return out / name


_TABLE_CSS = [
    dict(selector="", props=[("table-layout", "auto"), ("width", "100%"), ("border-collapse", "collapse"),
                             ("font-size", "0.85em")]),
    dict(selector="th, td", props=[("white-space", "normal"), ("word-wrap", "break-word"),
                                   ("overflow-wrap", "anywhere"), ("max-width", "22em"), ("text-align", "left"),
                                   ("vertical-align", "top"), ("padding", "3px 6px"),
                                   ("border-bottom", "1px solid #ddd")]),
]


def style_table(df: pd.DataFrame, precision: int = 3, caption: str | None = None, hide_index: bool = True,
                uuid: str = "table"):
    """A wide table as a pandas Styler whose cells wrap inside the text column instead of running off the page;
    floats shown with `precision` digits. A fixed `uuid` keeps the HTML identical from run to run."""
    sty = df.style.format(precision=precision, na_rep="–").set_table_styles(_TABLE_CSS).set_uuid(uuid)
    if hide_index:
        sty = sty.hide(axis="index")
    if caption:
        sty = sty.set_caption(caption)
    return sty


def _verdict_css(v) -> str:
    try:
        return f"background-color: {COLOURS[verdict_word(v)]}; font-weight: bold"
    except ValueError:
        return ""


def style_claims(df: pd.DataFrame, caption: str | None = None):
    """A claim table as a Styler: wrapped cells, the verdict cells coloured by their vocabulary word."""
    check_table(df)
    return style_table(df, caption=caption, uuid="claims").map(_verdict_css, subset=["verdict"])


def show_table(df: pd.DataFrame, precision: int = 3, caption: str | None = None, hide_index: bool = True):
    """Display object (IPython HTML) of style_table: a wrapped HTML table in the notebook and the book, with a
    run-independent text form (so nbval can compare the cell)."""
    from IPython.display import HTML

    return HTML(style_table(df, precision, caption, hide_index).to_html())


def show_claims(df: pd.DataFrame, caption: str | None = None):
    """Display object (IPython HTML) of a claim table: wrapped cells, verdicts coloured (see COLOURS)."""
    from IPython.display import HTML

    return HTML(style_claims(df, caption).to_html())


__all__ = ["VERDICTS", "COLUMNS", "COLOURS", "Verdict", "judge", "judge_paired", "judge_count", "not_comparable",
           "by_construction", "se_mean", "se_proportion", "bootstrap_se", "ClaimTable", "verdict_word",
           "check_table", "write_claims", "style_table", "style_claims", "show_table", "show_claims"]
