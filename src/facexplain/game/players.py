"""Simulated Face Game players and the stated learning model behind the simulated study.

A player is a person (a generator identity, other than the targets') with a skill s in [s_min, s_max]. On a
target with AU set T, one game is `n_tries` tries:

1. Intent. The player starts by intending the target AUs they perceive (each with probability s) plus, with
   probability (1 - s) * confusion, a wrong AU of the same face region for each target AU.
2. Production. Each intended AU shows with probability control[AU] * (0.5 + 0.5 s) (some AUs are hard to make
   at will), at an intensity drawn in 1.5-4.5; any other AU slips in with probability `slip`.
3. Measurement. The face's landmarks are those the generator would draw for this person showing these AUs, with
   a little pose and landmark noise; the geometric AU estimator turns them into the detected set P, read
   against a neutral snapshot the game takes of the player at the start (neutral_snapshot=True, with a
   detector calibrated on subject references) or against the template (False). Score = Jaccard(P, T).
4. Feedback and learning, by group:

   - both groups keep the intent behind their best score so far and fall back to it after a worse try; both
     look again at the target between tries and notice each AU they still miss with probability look * s;
   - score-only players otherwise explore: with probability `explore` they toggle one AU of a region they
     already work on (a guess, since the score does not say what was wrong);
   - instruction players read the first `max_items` instructions (instructions(T, P)), and follow each with
     probability `comprehension`: add the named AUs to the intent, or drop them.

Nothing here is fitted to the paper's numbers; the parameters are stated defaults and can be changed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from .. import checks
from ..faces.aus import GENERATOR_AUS
from .instructions import REGION_OF, plan
from .scoring import jaccard

#: How easily each AU is made on purpose (probability factor); the rest default to `PlayerModel.control_default`.
CONTROL = {6: 0.5, 7: 0.7, 9: 0.6, 10: 0.6, 14: 0.5, 15: 0.5, 16: 0.6, 17: 0.6, 20: 0.6, 23: 0.5, 24: 0.7}


@dataclass(frozen=True)
class PlayerModel:
    """The stated parameters of the simulated players."""

    skill_min: float = 0.35
    skill_max: float = 0.9
    confusion: float = 0.5       # chance (times 1 - skill) of intending a wrong AU of a target AU's region
    slip: float = 0.02           # chance that any other AU shows unintended
    control_default: float = 0.9
    look: float = 0.25           # chance (times skill) of noticing a missed target AU between tries
    explore: float = 0.6         # score-only: chance of trying a one-AU change after a try
    comprehension: float = 0.7   # instructions: chance of following one instruction
    max_items: int = 3           # instructions shown per try
    landmark_noise: float = 0.015  # landmark jitter, in inter-ocular distances
    neutral_snapshot: bool = True  # the game records the player's neutral face first and reads AUs against it
    control: dict = field(default_factory=lambda: dict(CONTROL))


class PlayerFace:
    """Landmarks of one simulated player's face for any AU set: the generator's geometry, without rendering."""

    def __init__(self, subject: int, image_size: int = 112, domain: str = "shifted"):
        from ..faces.generator import GeneratorConfig, identity, rig
        self.rig = rig(image_size)
        who = identity(GeneratorConfig(image_size=image_size, domain=domain), subject)
        self.neutral = self.rig.neutral_landmarks(who)
        self.iod = self.rig.template.iod

    def landmarks(self, aus: dict[int, float], rng: np.random.Generator, noise: float) -> np.ndarray:
        land = self.neutral.copy()
        for a, level in aus.items():
            land = land + (level / 5.0) * self.rig.au_land[a]
        th = np.deg2rad(rng.uniform(-5, 5))
        rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]], np.float32)
        land = land @ rot.T * rng.uniform(0.95, 1.05) + rng.uniform(-3, 3, 2)
        return (land + rng.normal(0, noise * self.iod, land.shape)).astype(np.float32)


def _produce(intent: set[int], skill: float, model: PlayerModel, rng) -> dict[int, float]:
    shown = {}
    for a in GENERATOR_AUS:
        if a in intent:
            if rng.random() < model.control.get(a, model.control_default) * (0.5 + 0.5 * skill):
                shown[a] = float(rng.uniform(1.5, 4.5))
        elif rng.random() < model.slip:
            shown[a] = float(rng.uniform(1.0, 3.0))
    return shown


def _same_region_other(a: int, rng) -> int | None:
    others = [b for b in GENERATOR_AUS if b != a and REGION_OF.get(b) == REGION_OF.get(a)]
    return int(rng.choice(others)) if others else None


def play_game(target: set[int], group: str, skill: float, face: PlayerFace, detector, model: PlayerModel,
              n_tries: int, rng: np.random.Generator) -> list[dict]:
    """One game: `n_tries` tries at one target; returns one row per try (score, intended, produced, detected)."""
    if group not in ("score", "instructions"):
        raise ValueError(f"group must be 'score' or 'instructions'; got {group!r}")
    target = set(target)
    # the game first takes a neutral snapshot of the player (if the detector reads against the player's own
    # neutral face); a detector calibrated on the template gets no reference
    reference = face.landmarks({}, rng, model.landmark_noise) if model.neutral_snapshot else None
    intent = {a for a in target if rng.random() < skill}
    for a in sorted(target):
        if rng.random() < (1 - skill) * model.confusion:
            b = _same_region_other(a, rng)
            if b is not None:
                intent.add(b)
    best_score, best_intent = -1.0, set(intent)
    rows = []
    for k in range(1, n_tries + 1):
        shown = _produce(intent, skill, model, rng)
        lm = face.landmarks(shown, rng, model.landmark_noise)
        detected = set(detector.detect(lm, reference)[0])
        score = jaccard(detected, target)
        rows.append(dict(try_=k, score=score, intended=sorted(intent), shown=shown, detected=sorted(detected),
                         instructions=[st.phrase for st in plan(target, detected)[:model.max_items]]
                         if group == "instructions" else []))
        # feedback -> next intent
        if score >= best_score:
            best_score, best_intent = score, set(intent)
        else:
            intent = set(best_intent)
        for a in sorted(target - intent):
            if rng.random() < model.look * skill:
                intent.add(a)
        if group == "instructions":
            for step in plan(target, detected)[:model.max_items]:
                if rng.random() < model.comprehension:
                    intent = intent | set(step.aus) if step.polarity == "add" else intent - set(step.aus)
        elif rng.random() < model.explore and intent:
            a = int(rng.choice(sorted(intent)))
            b = _same_region_other(a, rng)
            if b is not None:
                intent ^= {b}
    return rows


def player_setup(player: int, n_players: int, seed: int, model: PlayerModel) -> tuple[str, float, PlayerFace]:
    """Group, skill and face of player `player` in a study of `n_players` (a pure function of the seed)."""
    order = np.random.default_rng([int(seed), 2002]).permutation(n_players)
    group = "instructions" if order[player] < n_players // 2 else "score"
    skill = float(np.random.default_rng([int(seed), player, 1]).uniform(model.skill_min, model.skill_max))
    return group, skill, PlayerFace(player % 40)


def replay_game(targets: dict[str, set[int]], detector, player: int, target: str, n_players: int = 36,
                n_tries: int = 5, seed: int = 0, model: PlayerModel | None = None) -> list[dict]:
    """The tries of one game of simulate_study(...) with the same arguments, with what was shown, detected and
    said (for the recorded game)."""
    model = model or PlayerModel()
    n_players, seed = checks.integer("n_players", n_players, 2), checks.integer("seed", seed, 0)
    player = checks.integer("player", player, 0)
    if player >= n_players:
        raise ValueError(f"player must be below n_players ({n_players}); got {player}")
    n_tries = checks.integer("n_tries", n_tries, 1)
    names = list(targets)
    if target not in names:
        raise ValueError(f"unknown target {target!r}: expected one of {names}")
    group, skill, face = player_setup(player, n_players, seed, model)
    rng = np.random.default_rng([int(seed), player, names.index(target), 7])
    rows = play_game(set(targets[target]), group, skill, face, detector, model, n_tries, rng)
    for r in rows:
        r.update(group=group, skill=skill, subject=player % 40)
    return rows


def simulate_study(targets: dict[str, set[int]], detector, n_players: int = 36, n_tries: int = 5, seed: int = 0,
                   model: PlayerModel | None = None) -> pd.DataFrame:
    """The simulated experiment: players split evenly into score-only and score+instructions groups, every
    player plays every target `n_tries` times. One row per try: player, group, target, try, score, skill,
    and the detected / intended AUs ('+'-joined)."""
    n_players = checks.integer("n_players", n_players, 2)
    if n_players % 2:
        raise ValueError(f"n_players must be an even number >= 2 (two equal groups); got {n_players}")
    n_tries = checks.integer("n_tries", n_tries, 2)                  # S1 against the later tries
    seed = checks.integer("seed", seed, 0)
    if not targets:
        raise ValueError("targets must map at least one target name to its AU set")
    model = model or PlayerModel()
    rows = []
    for player in range(n_players):
        group, skill, face = player_setup(player, n_players, seed, model)
        for ti, (name, aus) in enumerate(targets.items()):
            rng = np.random.default_rng([int(seed), player, ti, 7])
            for r in play_game(set(aus), group, skill, face, detector, model, n_tries, rng):
                rows.append(dict(player=player, group=group, target=name, **{"try": r["try_"]}, score=r["score"],
                                 skill=round(skill, 4), detected="+".join(map(str, r["detected"])),
                                 intended="+".join(map(str, r["intended"]))))
    return pd.DataFrame(rows)


def model_table(model: PlayerModel | None = None) -> pd.DataFrame:
    """The player model's parameters as a table (for the chapter)."""
    d = asdict(model or PlayerModel())
    d["control"] = ", ".join(f"AU{a}: {v}" for a, v in sorted(d["control"].items()))
    return pd.DataFrame({"parameter": list(d), "value": [str(v) for v in d.values()]})
