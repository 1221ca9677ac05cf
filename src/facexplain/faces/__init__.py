"""Faces: AU vocabulary, emotion codebooks, landmark schemes, AU regions, the synthetic generator, Face Mesh."""

from .aus import ACTION_UNITS, GENERATOR_AUS, PAIN_AUS, ActionUnit, action_unit, au_number
from .codebooks import CODEBOOKS, EMOTIONS, EMOTIONS_WITH_NEUTRAL, codebook, codebook_matrix
from .generator import FaceGenerator, GeneratorConfig, generate_faces, generate_sequences
from .landmarks import MESH_TO_IBUG68, as_ibug68, interocular_distance, mesh_to_ibug68
from .regions import au_box_mask, au_boxes, au_map, boxes_to_mask

__all__ = [
    "ACTION_UNITS", "GENERATOR_AUS", "PAIN_AUS", "ActionUnit", "action_unit", "au_number",
    "CODEBOOKS", "EMOTIONS", "EMOTIONS_WITH_NEUTRAL", "codebook", "codebook_matrix",
    "FaceGenerator", "GeneratorConfig", "generate_faces", "generate_sequences",
    "MESH_TO_IBUG68", "as_ibug68", "interocular_distance", "mesh_to_ibug68",
    "au_box_mask", "au_boxes", "au_map", "boxes_to_mask",
]
