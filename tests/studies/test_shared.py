"""What chapters share (facexplain.studies.shared): the same inputs give the same reader and targets in every
chapter, with the seed offsets written in one place."""

from facexplain.studies import shared


def test_reader_and_targets_derive_their_seeds_in_one_place(monkeypatch):
    calls = []
    monkeypatch.setattr("facexplain.models.geometric_au.calibrated_detector",
                        lambda n, seed, neutral, landmarks: calls.append(("reader", n, seed, neutral)) or "reader")
    monkeypatch.setattr("facexplain.game.targets.choose_targets",
                        lambda reader, n, seed, dataset, data_dir: calls.append(("targets", n, seed)) or {})
    reader = shared.au_reader(3, 200, neutral="template")
    shared.game_targets(reader, 6, 3)
    assert calls == [("reader", 200, 3 + shared.READER_SEED_OFFSET, "template"),
                     ("targets", 6, 3 + shared.TARGETS_SEED_OFFSET)]
