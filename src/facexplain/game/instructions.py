"""Natural-language instructions for the Face Game: what to change so the player's AUs P match the target's T.

T - P gives prescriptions ("raise your eyebrows"), P - T negative ones ("try not to raise your eyebrows").
AUs of one face region that need the same change merge into one phrase (AU1 + AU2 -> "lift your whole
eyebrows"), grouped by region as the game's public app does. Going beyond the paper (its players asked for
this), the instructions are ordered by how much following each one alone would raise the Jaccard score, and
can be capped at the few most useful ones.
"""

from __future__ import annotations

from dataclasses import dataclass

from .. import checks
from .scoring import au_set

#: Face regions whose AUs merge into one phrase (the game app's grouping; 18, 22 and 45 added where they belong).
REGIONS: dict[str, tuple[int, ...]] = {
    "eyebrows": (1, 2, 4),
    "eyelids": (5, 7, 43, 45),
    "cheeks": (6, 13),
    "nose and chin": (9, 17),
    "lips": (10, 15, 16),
    "oblique lip": (11, 12),
    "horizontal lip": (14, 20),
    "lip muscles": (18, 22, 23, 24, 28),
    "mouth": (25, 26, 27),
}
REGION_OF: dict[int, str] = {au: region for region, aus in REGIONS.items() for au in aus}

#: Every AU the game can speak about.
SUPPORTED_AUS: tuple[int, ...] = tuple(sorted(REGION_OF))

#: One imperative phrase per AU (what to do to show it).
PHRASES: dict[int, str] = {
    1: "raise the inner ends of your eyebrows",
    2: "raise the outer ends of your eyebrows",
    4: "pull your eyebrows down and together into a frown",
    5: "open your eyes wide by lifting the upper lids",
    6: "lift your cheeks so that your eyes crinkle at the corners",
    7: "tense your lower eyelids so your eyes narrow",
    9: "wrinkle your nose",
    10: "lift your upper lip towards your nose",
    11: "deepen the folds that run from your nose to your mouth corners",
    12: "pull the corners of your mouth up into a smile",
    13: "puff out your cheeks while pulling your mouth corners sharply up",
    14: "press your mouth corners inward so that dimples form",
    15: "pull the corners of your mouth down",
    16: "pull your lower lip down",
    17: "push your chin up so that it presses the lower lip upward",
    18: "push your lips forward into a pucker",
    20: "stretch your lips sideways towards your ears",
    22: "shape your lips into a funnel",
    23: "tighten your lips so that they look thinner",
    24: "press your lips firmly together",
    25: "let your lips part a little",
    26: "let your jaw drop so that your mouth opens",
    27: "stretch your mouth wide open",
    28: "suck your lips in",
    43: "close your eyes",
    45: "blink",
}

#: Merged phrases for AUs of one region that need the same change together.
MERGED: dict[frozenset[int], str] = {
    frozenset({1, 2}): "lift your whole eyebrows",
    frozenset({1, 4}): "draw your eyebrows together while lifting their inner ends, as if worried",
    frozenset({2, 4}): "pull your eyebrows together while lifting their outer ends",
    frozenset({1, 2, 4}): "lift your eyebrows and draw them together at the same time",
    frozenset({5, 7}): "open your eyes wide while tensing the lower lids",
    frozenset({6, 13}): "lift and puff out your cheeks",
    frozenset({9, 17}): "wrinkle your nose and push your chin up",
    frozenset({10, 16}): "pull your lips apart, the upper one up and the lower one down",
    frozenset({11, 12}): "smile broadly so that the folds beside your nose deepen",
    frozenset({14, 20}): "stretch your lips sideways with the corners tight",
    frozenset({23, 24}): "press your lips together and tighten them",
    frozenset({25, 26}): "let your jaw drop so that your lips part",
    frozenset({25, 27}): "open your mouth as wide as you can",
    frozenset({26, 27}): "open your mouth as wide as you can",
    frozenset({25, 26, 27}): "open your mouth as wide as you can",
}


@dataclass(frozen=True)
class Instruction:
    """One instruction: a change to the AUs of one region, its phrase, and the score it would gain alone."""

    region: str
    aus: tuple[int, ...]
    polarity: str      # "add" (T - P: show these) or "remove" (P - T: stop showing these)
    phrase: str
    gain: float        # Jaccard score after following it alone minus the current score

    def __str__(self) -> str:
        return self.phrase


def _check_supported(aus: frozenset[int], which: str) -> None:
    bad = sorted(aus - set(SUPPORTED_AUS))
    if bad:
        raise ValueError(f"the game has no phrasing for AU(s) {bad} in the {which} set: "
                         f"use AUs among {list(SUPPORTED_AUS)}")


def region_phrase(aus) -> str:
    """The imperative phrase for a set of AUs of one region (merged where a joint phrase exists)."""
    s = au_set(aus)
    _check_supported(s, "given")
    if not s:
        raise ValueError("region_phrase needs at least one AU")
    regions = {REGION_OF[a] for a in s}
    if len(regions) > 1:
        raise ValueError(f"AUs {sorted(s)} span several regions {sorted(regions)}: phrase each region separately")
    if s in MERGED:
        return MERGED[s]
    parts = [PHRASES[a] for a in sorted(s)]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _sentence(phrase: str, polarity: str) -> str:
    text = phrase if polarity == "add" else "try not to " + phrase
    return text[0].upper() + text[1:] + "."


def plan(target, player) -> list[Instruction]:
    """All instructions for moving `player`'s AUs towards `target`'s, most score-raising first.

    One instruction per (region, polarity). Gains: adding k target AUs gives ``k / |P | T|``; removing k extra AUs
    gives ``|P & T| / (|P | T| - k) - |P & T| / |P | T|``. Ties: additions first, bigger groups, then region order."""
    t, p = au_set(target), au_set(player)
    _check_supported(t, "target")
    _check_supported(p, "player")
    inter, union = len(p & t), len(p | t)
    score = inter / union if union else 1.0
    items = []
    for polarity, todo in (("add", t - p), ("remove", p - t)):
        for rank, (region, members) in enumerate(REGIONS.items()):
            group = frozenset(a for a in todo if a in members)
            if not group:
                continue
            k = len(group)
            after = (inter + k) / union if polarity == "add" else (inter / (union - k) if union > k else 1.0)
            items.append((-(after - score), polarity != "add", -k, rank,
                          Instruction(region, tuple(sorted(group)), polarity,
                                      _sentence(region_phrase(group), polarity), after - score)))
    items.sort(key=lambda x: x[:4])
    return [x[-1] for x in items]


def instructions(target, player, max_items: int | None = 3) -> list[str]:
    """Ordered phrases telling the player how to match the target (at most `max_items`; None = all).

    Empty when the sets already match. Unknown AUs raise ValueError."""
    if max_items is not None:
        max_items = checks.integer("max_items", max_items, 1)            # None: all
    steps = plan(target, player)
    return [s.phrase for s in (steps if max_items is None else steps[:max_items])]
