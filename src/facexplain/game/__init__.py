"""The Face Game (seed 002): Jaccard scoring, natural-language instructions, simulated players and the study."""

from .instructions import (MERGED, PHRASES, REGION_OF, REGIONS, SUPPORTED_AUS, Instruction, instructions, plan,
                           region_phrase)
from .players import PlayerModel, simulate_study
from .scoring import au_set, jaccard
from .study import PAPER, au_emotion_correlation, au_emotion_occurrence, games, long_occurrence, paper_ttest, ttest

__all__ = ["MERGED", "PHRASES", "REGION_OF", "REGIONS", "SUPPORTED_AUS", "Instruction", "instructions", "plan",
           "region_phrase", "au_set", "jaccard", "PlayerModel", "simulate_study", "PAPER",
           "au_emotion_correlation", "au_emotion_occurrence", "games", "long_occurrence", "paper_ttest", "ttest"]
