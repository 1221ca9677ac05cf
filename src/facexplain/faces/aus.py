"""Action Unit vocabulary: FACS numbers, names, plain-language descriptions and the face region of each AU."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ActionUnit:
    number: int
    name: str          # FACS name
    description: str   # what a reader sees on the face, in plain words
    region: str        # face region the movement lives in

    @property
    def label(self) -> str:
        return f"AU{self.number}"


_TABLE = [
    (1, "inner brow raiser", "the inner ends of the eyebrows go up", "eyebrows"),
    (2, "outer brow raiser", "the outer ends of the eyebrows go up", "eyebrows"),
    (4, "brow lowerer", "the eyebrows are pulled down and together, furrowing the brow", "eyebrows"),
    (5, "upper lid raiser", "the upper eyelids open wide", "eyelids"),
    (6, "cheek raiser", "the cheeks lift and crow's feet form at the eye corners", "cheeks"),
    (7, "lid tightener", "the lower eyelids tighten and the eyes narrow", "eyelids"),
    (9, "nose wrinkler", "the nose wrinkles and its sides lift", "nose"),
    (10, "upper lip raiser", "the upper lip is drawn up", "lips"),
    (11, "nasolabial deepener", "the fold from nose to mouth corner deepens", "oblique lip"),
    (12, "lip corner puller", "the mouth corners are pulled up and back, as in a smile", "oblique lip"),
    (13, "sharp lip puller", "the cheeks puff as the lip corners are pulled sharply up", "cheeks"),
    (14, "dimpler", "the mouth corners tighten inward, making dimples", "horizontal lip"),
    (15, "lip corner depressor", "the mouth corners are pulled down", "lips"),
    (16, "lower lip depressor", "the lower lip is pulled down", "lips"),
    (17, "chin raiser", "the chin boss pushes the lower lip up", "chin"),
    (18, "lip pucker", "the lips push forward into a pucker", "lip muscles"),
    (20, "lip stretcher", "the lips are stretched sideways", "horizontal lip"),
    (22, "lip funneler", "the lips funnel outward", "lip muscles"),
    (23, "lip tightener", "the lips tighten and thin", "lip muscles"),
    (24, "lip pressor", "the lips press together", "lip muscles"),
    (25, "lips part", "the lips part slightly", "mouth"),
    (26, "jaw drop", "the jaw drops and the mouth opens", "mouth"),
    (27, "mouth stretch", "the mouth is stretched wide open", "mouth"),
    (28, "lip suck", "the lips are sucked in", "lip muscles"),
    (43, "eyes closed", "the eyes are closed", "eyelids"),
    (45, "blink", "the eyes blink", "eyelids"),
]

ACTION_UNITS: dict[int, ActionUnit] = {n: ActionUnit(n, name, desc, region) for n, name, desc, region in _TABLE}

#: The pain-relevant AUs of seed 001 (Rieger et al.).
PAIN_AUS: tuple[int, ...] = (4, 6, 7, 9, 10, 25, 26, 27)

#: The AUs the synthetic face generator can render (shape change and, where FACS describes it, texture).
GENERATOR_AUS: tuple[int, ...] = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 16, 17, 20, 23, 24, 25, 26, 27)


def action_unit(number: int | str) -> ActionUnit:
    """The ActionUnit for 4, "4" or "AU4"; a clear error for an AU that FACS (as tabled here) does not have."""
    key = str(number).strip().upper().removeprefix("AU").strip()
    try:
        return ACTION_UNITS[int(key)]
    except (ValueError, KeyError):
        known = ", ".join(str(n) for n in ACTION_UNITS)
        raise ValueError(f"unknown Action Unit {number!r}: expected one of {known}") from None


def au_number(au: int | str) -> int:
    """Normalise 4 / "4" / "AU4" to the AU number 4 (validated)."""
    return action_unit(au).number
