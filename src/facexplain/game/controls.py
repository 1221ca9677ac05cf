"""The null for the simulated Face Game study: players who do not learn, and the learning verdict over seeds.

The simulated players learn because their rule says so (they keep their best intent, look at the target again,
follow instructions or explore). Whether the study's paired t-test *sees* that learning is still a question: the
no-learning model keeps the first intent for every try (look, explore and comprehension set to 0), so any rise of
S2..S5 over S1 under it is noise, the false-positive side of the test.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .players import PlayerModel


def no_learning(model: PlayerModel | None = None) -> PlayerModel:
    """The same players (skill, control, confusion, noise) without any learning between tries."""
    return replace(model or PlayerModel(), look=0.0, explore=0.0, comprehension=0.0)


def sweep_summary(sweep, group: str = "all", alpha: float = 0.05) -> dict:
    """Over the seeds of a seed_sweep table (rows per seed and group: s1_mean, rest_mean, p): the number of seeds,
    the share with p < alpha and a rise, the effects rest - s1 per seed, their mean and standard error."""
    if not {"seed", "group", "s1_mean", "rest_mean", "p"} <= set(sweep.columns):
        raise ValueError("sweep needs the columns seed, group, s1_mean, rest_mean, p (game.study.seed_sweep)")
    g = sweep[sweep.group == group].sort_values("seed")
    if g.empty:
        raise ValueError(f"no rows for group {group!r} in the sweep")
    eff = (g.rest_mean - g.s1_mean).to_numpy(np.float64)
    sig = ((g.p < alpha) & (eff > 0)).to_numpy()
    n = len(eff)
    return dict(n_seeds=n, share_significant=float(sig.mean()), effects=eff, effect=float(eff.mean()),
                effect_se=float(eff.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan"))


__all__ = ["no_learning", "sweep_summary"]
