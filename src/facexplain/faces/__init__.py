"""Faces: AU vocabulary, emotion codebooks, landmark schemes, AU regions, the template photos, the synthetic
generator, the shortcut cue, Face Mesh, and reading AUs from a photo (read_aus)."""

from .aus import ACTION_UNITS, GENERATOR_AUS, PAIN_AUS, ActionUnit, action_unit, au_number
from .codebooks import CODEBOOKS, EMOTIONS, EMOTIONS_WITH_NEUTRAL, codebook, codebook_matrix
from .cue import cue_box, cue_mask, draw_cue
from .generator import FaceGenerator, GeneratedFaces, GeneratorConfig, generate_faces, generate_sequences
from .landmarks import MESH_TO_IBUG68, as_ibug68, interocular_distance, mesh_to_ibug68
from .mesh import NoFaceFound
from .au_reader import READ_REGIONS, apply_model, read_aus, read_aus_model
from .regions import au_box_mask, au_boxes, au_map, boxes_to_mask
from .template import PHOTOS, photos_table

__all__ = [
    "ACTION_UNITS", "GENERATOR_AUS", "PAIN_AUS", "ActionUnit", "action_unit", "au_number",
    "CODEBOOKS", "EMOTIONS", "EMOTIONS_WITH_NEUTRAL", "codebook", "codebook_matrix",
    "cue_box", "cue_mask", "draw_cue",
    "FaceGenerator", "GeneratedFaces", "GeneratorConfig", "generate_faces", "generate_sequences",
    "NoFaceFound", "READ_REGIONS", "apply_model", "read_aus", "read_aus_model", "PHOTOS", "photos_table",
    "MESH_TO_IBUG68", "as_ibug68", "interocular_distance", "mesh_to_ibug68",
    "au_box_mask", "au_boxes", "au_map", "boxes_to_mask",
]
