"""The Face Game (seed 002): Jaccard scoring, natural-language instructions, simulated players and the study."""

from .instructions import MERGED, PHRASES, REGION_OF, REGIONS, SUPPORTED_AUS, Instruction, instructions, plan, region_phrase
from .scoring import au_set, jaccard

__all__ = ["MERGED", "PHRASES", "REGION_OF", "REGIONS", "SUPPORTED_AUS", "Instruction", "instructions", "plan",
           "region_phrase", "au_set", "jaccard"]
