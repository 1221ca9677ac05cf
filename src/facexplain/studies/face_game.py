"""Chapter 02 (Shingjergji et al.): the Face Game. A landmark AU reader calibrated on generated faces (shared with
chapter 12 through studies/shared.py), target faces, Jaccard scores and natural-language instructions
(facexplain.game), the simulated player study with its t-tests, and the AU x emotion matrix of good tries.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ..cache import atomic_to_csv
from ..data import load_dataset
from ..faces import codebook
from ..game import (PlayerModel, au_emotion_occurrence, instructions, jaccard, long_occurrence, paper_ttest,
                    simulate_study, ttest)
from ..game.players import model_table, replay_game
from ..game.study import claims as study_claims, seed_sweep
from ..models import geometric_au as geo
from ..viz import game as gv
from . import shared
from .settings import Param, resolve

#: preset -> values of the parameters left at None
PRESETS = {"cpu": dict(n_train=1000, n_test=400, n_study_seeds=5),
           "paper": dict(n_train=3000, n_test=2000, n_study_seeds=20),
           "paper-smoke": dict(n_train=120, n_test=40, n_study_seeds=2)}   # tests

#: Every parameter of the chapter's notebook: kind and range (checked before any work), default.
PARAMETERS = {
    "dataset": Param("str", "synthetic"),
    "n_players": Param("int", 36, low=2),
    "n_targets": Param("int", 6, low=1),
    "n_tries": Param("int", 5, low=1),
    "score_threshold": Param("float", 0.33, low=0, high=1),
    "max_items": Param("int", 3, low=1),
    "comprehension": Param("float", 0.7, low=0, high=1),
    "landmark_noise": Param("float", 0.015, low=0),
    "n_train": Param("int", None, low=20),
    "n_test": Param("int", None, low=10),
    "n_study_seeds": Param("int", None, low=0),
}


def settings(preset: str = "cpu", **given):
    """Chapter 02's parameters: the given ones, the rest from the preset, every one checked."""
    return resolve("02_face_game", PARAMETERS, PRESETS, preset, given)


def au_readers(cfg) -> dict:
    """The landmark AU readers of generated faces: against each subject's neutral face and against the template
    (photos are read by faces.read_aus, calibrated on what MediaPipe finds on generated faces)."""
    return {ref: shared.au_reader(cfg.seed, cfg.n_train, neutral=ref) for ref in ("subject", "template")}


def f1_table(cfg, readers: dict) -> pd.DataFrame:
    """F1 per AU of both readers on held-out generated faces, with prevalence and the always-present floor
    (au_f1.csv)."""
    test = load_dataset("synthetic", n=cfg.n_test, seed=cfg.seed + 7002)
    evals = {f"F1 ({ref} reference)": geo.evaluate(readers[ref], test, geo.reference_for(test, ref)).set_index("au")
             for ref in ("subject", "template")}
    first = next(iter(evals.values()))
    table = pd.DataFrame({k: v.f1 for k, v in evals.items()})
    table.insert(0, "prevalence", first.prevalence)
    table["chance F1"] = first.chance_f1
    table.loc["mean"] = table.mean()
    atomic_to_csv(table.reset_index(), cfg.out / "au_f1.csv", index=False)
    return table


def photo_reader_table(cfg) -> pd.DataFrame:
    """faces.read_aus on generated faces of subjects left out of its fitting (Face Mesh landmarks): per-AU F1
    without and with a neutral photo, the always-present floor, ROC AUC, and how often a held-out face at rest
    reads the AU (read_aus_f1.csv)."""
    from ..faces.au_reader import held_out_scores

    t = held_out_scores()
    table = pd.DataFrame({"prevalence": t.prevalence, "F1 (no neutral photo)": t.f1_template,
                          "F1 (neutral photo)": t.f1_neutral, "chance F1": t.chance_f1,
                          "AUC (no neutral photo)": t.auc_template, "AUC (neutral photo)": t.auc_neutral,
                          "read at rest": t.rest_rate})
    table.index.name = "au"
    table.loc["mean"] = table.mean()
    atomic_to_csv(table.reset_index(), cfg.out / "read_aus_f1.csv", index=False)
    return table


def coefficient_figure(reader):
    """What each AU is read from: the reader's standardised weights per landmark measurement."""
    fig, ax = plt.subplots(figsize=(8, 4.6))
    sns.heatmap(reader.coefficients(), cmap="vlag", center=0, ax=ax, cbar_kws=dict(label="weight (standardised)"))
    ax.set_title("what each AU is read from (subject reference)")
    return fig


def read_photos(readers: dict):
    """The two public-domain template photos read by faces.read_aus (and, for comparison, by the chapter's
    template-reference reader calibrated on exact landmarks of generated faces): (the astronaut photo, the AUs
    read_aus finds on it, its Face Mesh landmarks, a table with one row per photo: source and licence, AUs, their
    face regions, and the AUs closest below their thresholds as P(present) - threshold)."""
    from ..faces import read_aus, read_aus_model
    from ..faces.au_reader import regions_of
    from ..faces.mesh import detect_landmarks
    from ..faces.template import PHOTOS, photo
    from ..game.web import decision_margins

    model, rows, out = read_aus_model(), [], {}
    for name, about in PHOTOS.items():
        img = photo(name)
        aus, lm = read_aus(img), detect_landmarks(img)
        below = sorted(((m, a) for a, m in decision_margins(model, lm).items() if m < 0), reverse=True)[:3]
        rows.append({"photo": f"{about['person']} ({about['licence']})", "read_aus": _au_list(aus),
                     "regions": ", ".join(sorted(regions_of(aus))) or "none",
                     "closest below threshold": ", ".join(f"AU{a} ({m:+.2f})" for m, a in below),
                     "template reader (exact-landmark calibration)": _au_list(readers["template"].detect_photo(img)[0])})
        out[name] = (img, aus, lm)
    img, aus, lm = out["astronaut"]
    return img, aus, lm, pd.DataFrame(rows)


def _au_list(aus: dict) -> str:
    return ", ".join(f"AU{a} ({v:.1f})" for a, v in sorted(aus.items())) or "none"


def targets(cfg, readers: dict) -> dict:
    """The game's target faces (shared with chapter 12), read by the subject reader on generated faces."""
    reader = readers["subject" if cfg.dataset == "synthetic" else "template"]
    return shared.game_targets(reader, cfg.n_targets, cfg.seed, dataset=cfg.dataset, data_dir=cfg.data_dir)


def target_sets(targets: dict) -> dict:
    return {name: t["aus"] for name, t in targets.items()}


def emotion_of(targets: dict) -> dict:
    return {name: t["emotion"] for name, t in targets.items()}


def target_table(targets: dict) -> pd.DataFrame:
    """Each target: its emotion, the AUs the reader finds and the AUs the generator drew."""
    return pd.DataFrame([dict(target=name, emotion=t["emotion"], detected=" ".join(f"AU{a}" for a in sorted(t["aus"])),
                              generated=" ".join(f"AU{a}" for a in sorted(t["truth"] or [])))
                         for name, t in targets.items()])


def targets_figure(targets: dict):
    fig, axes = plt.subplots(1, len(targets), figsize=(1.7 * len(targets), 2.0))
    for ax, (name, t) in zip(np.atleast_1d(axes), targets.items()):
        ax.imshow(t["image"], cmap="gray", vmin=0, vmax=255)
        ax.set_title(name, fontsize=8)
        ax.axis("off")
    return fig


def instruction_examples(targets: dict, max_items: int) -> pd.DataFrame:
    """Score and instructions for a few hand-made player AU sets against the targets."""
    sets = target_sets(targets)
    examples = [("happiness", set()), ("happiness", {12}), ("happiness", {4, 15}), ("surprise", {1, 2, 25}),
                ("fear", {6, 12, 25}), ("anger", set(sets.get("anger", {4, 7})))]
    rows = []
    for name, player in examples:
        t = sets.get(name, next(iter(sets.values())))
        said = instructions(t, player, max_items=max_items)
        rows.append(dict(target=name, player=" ".join(f"AU{a}" for a in sorted(player)) or "-",
                         score=round(jaccard(player, t), 3), instructions=" | ".join(said) or "(perfect match)"))
    return pd.DataFrame(rows)


def example_game_figure(targets: dict, max_items: int):
    """One try against the surprise target, with the instructions drawn on the player's face."""
    t = targets["surprise"] if "surprise" in targets else next(iter(targets.values()))
    img, lm = gv.render_player(5, {4: 3.0, 12: 3.0, 25: 2.5})
    return gv.game_figure(t["image"], t["aus"], img, lm, {4, 12, 25}, max_items=max_items)


def player_model(cfg) -> PlayerModel:
    return PlayerModel(comprehension=cfg.comprehension, max_items=cfg.max_items, landmark_noise=cfg.landmark_noise)


def run_study(cfg, targets: dict, readers: dict):
    """The simulated study (study.csv) and its t-tests beside the paper's (ttest.csv): (study, ttest, side by side)."""
    study = simulate_study(target_sets(targets), readers["subject"], n_players=cfg.n_players, n_tries=cfg.n_tries,
                           seed=cfg.seed, model=player_model(cfg))
    atomic_to_csv(study[["player", "group", "target", "try", "score"]], cfg.out / "study.csv", index=False)
    tt = ttest(study)
    atomic_to_csv(tt, cfg.out / "ttest.csv", index=False)
    side = pd.concat({"ours": tt.set_index("group"), "paper": paper_ttest().set_index("group")}, axis=1)
    return study, tt, side.swaplevel(axis=1).sort_index(axis=1, level=0).round(3).T


def players_table(cfg):
    return model_table(player_model(cfg))


def scores_figure(study, seed: int):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    sns.pointplot(study, x="try", y="score", hue="group", errorbar=("ci", 95), dodge=0.2, ax=axes[0], seed=seed)
    axes[0].set_title("mean score per try (95% CI)")
    sns.pointplot(study, x="target", y="score", hue="group", errorbar=None, ax=axes[1], dodge=0.2)
    axes[1].set_title("mean score per target")
    axes[1].tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def seed_sweep_summary(cfg, targets: dict, readers: dict):
    """The t-tests over n_study_seeds other player draws (ttest_seeds.csv), and the same draws of players who do not
    learn (game.controls.no_learning; ttest_seeds_no_learning.csv), the null of the learning claim: t range, share of
    p < 0.05 and of games that end higher, per group. (None, None) when n_study_seeds is 0."""
    from ..game.controls import no_learning

    if not cfg.n_study_seeds:
        return None, None
    seeds = range(cfg.seed + 1, cfg.seed + 1 + cfg.n_study_seeds)
    sweep = seed_sweep(target_sets(targets), readers["subject"], seeds, n_players=cfg.n_players, n_tries=cfg.n_tries,
                       model=player_model(cfg))
    atomic_to_csv(sweep, cfg.out / "ttest_seeds.csv", index=False)
    null = seed_sweep(target_sets(targets), readers["subject"], seeds, n_players=cfg.n_players, n_tries=cfg.n_tries,
                      model=no_learning(player_model(cfg)))
    atomic_to_csv(null, cfg.out / "ttest_seeds_no_learning.csv", index=False)
    both = pd.concat([sweep, null.assign(group=null.group + " (no learning)")], ignore_index=True)
    summary = both.groupby("group").agg(t_mean=("t", "mean"), t_min=("t", "min"), t_max=("t", "max"),
                                        share_p_below_05=("p", lambda p: (p < 0.05).mean()),
                                        share_increased=("share_increased", "mean"))
    order = [g + tag for tag in ("", " (no learning)") for g in ("all", "instructions", "score")]
    return sweep, summary.loc[[g for g in order if g in summary.index]].round(3)


def occurrence(cfg, study, targets: dict) -> pd.DataFrame:
    """AU x emotion occurrence over the tries scoring at least score_threshold (au_emotion.csv)."""
    occ = au_emotion_occurrence(study, cfg.score_threshold, emotion_of=emotion_of(targets))
    atomic_to_csv(long_occurrence(occ), cfg.out / "au_emotion.csv", index=False)
    return occ


def occurrence_browser(cfg, study, targets: dict):
    """Kernel-free browser of the AU x emotion matrix over score thresholds (score_threshold among them)."""
    thresholds = sorted({0.0, 0.2, 0.33, 0.5, 0.67, cfg.score_threshold})
    return gv.au_emotion_browser(study, thresholds, emotion_of=emotion_of(targets), codebook="emfacs")


def top_aus(occ: pd.DataFrame, n: int = 4) -> pd.DataFrame:
    """Per emotion, the n most frequent AUs among good tries beside the EMFACS codebook's AUs."""
    top = occ.apply(lambda r: ", ".join(f"{a} {v:.2f}" for a, v in r.dropna().nlargest(n).items()), axis=1)
    return pd.DataFrame({"top AUs (occurrence)": top, "codebook (emfacs)": [
        ", ".join(f"AU{a}" for a in codebook("emfacs")[e]) for e in occ.index]})


def recorded_games(cfg, study, targets: dict, readers: dict):
    """A median-skilled player of the instructions group replayed on every target (kernel-free widget)."""
    instr = study[study.group == "instructions"].groupby("player").skill.first().sort_values()
    player = int(instr.index[len(instr) // 2])
    sets = target_sets(targets)
    recorded = {name: replay_game(sets, readers["subject"], player, name, n_players=cfg.n_players,
                                  n_tries=cfg.n_tries, seed=cfg.seed, model=player_model(cfg)) for name in sets}
    return gv.recorded_game(recorded, target_views(targets), max_items=cfg.max_items, seed=cfg.seed)


def target_views(targets: dict) -> dict:
    return {name: (t["image"], t["aus"]) for name, t in targets.items()}


def photo_game_figure(targets: dict, photo, photo_lm, photo_aus, max_items: int):
    """The photo as a player against the happiness target."""
    t = targets["happiness"] if "happiness" in targets else next(iter(targets.values()))
    return gv.game_figure(t["image"], t["aus"], photo, photo_lm, set(photo_aus), max_items=max_items,
                          title="astronaut -> happiness: ")


def claims(cfg, f1: pd.DataFrame, tt, occ, photo_aus) -> pd.DataFrame:
    """The chapter's claim check (game.study.claims) written to claims.csv: the AU reader per AU against the
    always-present floor, the learning claim over the seed sweep against players who do not learn (the run's
    ttest_seeds.csv and ttest_seeds_no_learning.csv, when n_study_seeds > 0)."""
    from ..claims import write_claims

    per_au = f1.drop(index="mean", errors="ignore")
    sweeps = [cfg.out / name for name in ("ttest_seeds.csv", "ttest_seeds_no_learning.csv")]
    sweep, null = [pd.read_csv(p) if cfg.n_study_seeds and p.exists() else None for p in sweeps]
    table = study_claims(tt, occ, photo_aus, per_au["F1 (subject reference)"], per_au["chance F1"],
                         cfg.score_threshold, sweep=sweep, null_sweep=null)
    write_claims(table, cfg.out)
    return table


__all__ = ["PARAMETERS", "PRESETS", "au_readers", "claims", "coefficient_figure", "emotion_of", "photo_reader_table",
           "example_game_figure", "f1_table", "instruction_examples", "occurrence", "occurrence_browser",
           "photo_game_figure", "player_model", "players_table", "read_photos", "recorded_games", "run_study",
           "scores_figure", "seed_sweep_summary", "settings", "target_sets", "target_table", "target_views",
           "targets", "targets_figure", "top_aus"]
