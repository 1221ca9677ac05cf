"""One module per chapter, one shape: PRESETS, PARAMETERS, ``settings(preset, **given)`` (checked by the shared
resolver in studies/settings.py), the chapter's steps as functions, and claims(...).

  00_faces                 studies.faces
  01_au_lrp                studies.au_lrp               (Rieger et al. 2020)
  02_face_game             studies.face_game            (Shingjergji et al.)
  03_landmark_ig           studies.landmark_ig          (Di Luzio et al.)
  04_au_guided_fer         studies.au_guided_fer        (Belharbi et al.)
  10_explainers_compared   studies.explainers_compared
  11_shortcuts             studies.shortcuts
  12_au_emotion_codebooks  studies.codebooks

Models that several chapters share come from studies/shared.py.
"""

#: notebook name -> study module (imported on demand: `importlib.import_module(f"facexplain.studies.{module}")`)
CHAPTERS = {
    "00_faces": "faces",
    "01_au_lrp": "au_lrp",
    "02_face_game": "face_game",
    "03_landmark_ig": "landmark_ig",
    "04_au_guided_fer": "au_guided_fer",
    "10_explainers_compared": "explainers_compared",
    "11_shortcuts": "shortcuts",
    "12_au_emotion_codebooks": "codebooks",
}
