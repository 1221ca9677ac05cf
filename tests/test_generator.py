"""The synthetic face generator: determinism, ground truth that means what it says, the shortcut, sequences."""

import numpy as np
import pytest

from facexplain.data import load_dataset
from facexplain.faces import GENERATOR_AUS, codebook, generate_faces, generate_sequences, interocular_distance
from facexplain.faces.generator import FaceGenerator


@pytest.fixture(scope="module")
def faces():
    return load_dataset("synthetic", n=160, seed=5, cache=False)


def test_same_seed_gives_byte_identical_faces_and_labels(faces):
    again = generate_faces(160, seed=5)
    assert np.array_equal(faces.images, again.images)
    assert np.array_equal(faces.au_intensity, again.au_intensity)
    assert list(faces.emotion) == list(again.emotion) and list(faces.subject) == list(again.subject)
    other = generate_faces(20, seed=6)
    assert not np.array_equal(faces.images[:20], other.images)


def test_face_i_does_not_depend_on_batch_size(faces):
    assert np.array_equal(generate_faces(10, seed=5).images, faces.images[:10])


def test_shapes_and_ranges(faces):
    assert faces.images.shape == (160, 112, 112) and faces.images.dtype == np.uint8
    assert faces.landmarks.shape == (160, 468, 2)
    assert faces.au_numbers == GENERATOR_AUS
    assert np.all((faces.au_intensity == 0) | ((faces.au_intensity >= 1) & (faces.au_intensity <= 5)))
    inside = (faces.landmarks > 0) & (faces.landmarks < 112)
    assert inside.mean() > 0.99
    big = generate_faces(2, seed=0, image_size=224)
    assert big.images.shape == (2, 224, 224)
    assert interocular_distance(big.landmarks).mean() == pytest.approx(2 * interocular_distance(
        generate_faces(2, seed=0).landmarks).mean(), rel=0.05)


def test_labels_follow_the_codebook_with_variation(faces):
    present = faces.au_present()
    happy = faces.emotion == "happiness"
    col = {a: i for i, a in enumerate(GENERATOR_AUS)}
    assert present[happy, col[12]].mean() > 0.7            # prototype AUs usually show
    assert present[~happy & (faces.emotion != "neutral"), col[12]].mean() < 0.15
    # ... but not always, and other AUs sneak in: statistics are not trivial
    protos = [set(codebook("emfacs")[e]) for e in faces.emotion[faces.emotion != "neutral"]]
    exact = [set(r.aus) == p for r, p in zip([faces[i] for i in np.flatnonzero(faces.emotion != "neutral")], protos)]
    assert 0.05 < np.mean(exact) < 0.8


def test_regions_are_where_the_pixels_changed():
    gen = FaceGenerator()
    rng = np.random.default_rng(0)
    from facexplain.faces.generator import identity
    who = identity(gen.config, 3)
    scene = dict(roll=0.0, yaw=0.0, scale=1.0, tx=0.0, ty=0.0, light=0.0, light_angle=0.0)
    gen.domain = dict(gen.domain, noise=0.0)
    neutral, _, _ = gen.render(who, {}, scene, rng)
    for au in (4, 12, 26):
        img, land, bits = gen.render(who, {au: 5.0}, scene, rng)
        diff = np.abs(img.astype(int) - neutral.astype(int)) > 8
        region = (bits >> np.uint32(GENERATOR_AUS.index(au))) & 1 == 1
        assert region.any()
        # most changed pixels lie in (or right next to) the AU's region, most of the face did not change
        grown = np.zeros_like(region)
        ys, xs = np.nonzero(region)
        for dy in (-2, -1, 0, 1, 2):
            for dx in (-2, -1, 0, 1, 2):
                grown[np.clip(ys + dy, 0, 111), np.clip(xs + dx, 0, 111)] = True
        assert diff[grown].sum() / max(diff.sum(), 1) > 0.8, au
        assert diff.mean() < 0.2


def test_shortcut_mark_is_outside_the_face_and_coded_by_label():
    clean = generate_faces(40, seed=1, shortcut=0.0)
    marked = generate_faces(40, seed=1, shortcut=1.0)
    assert not clean.extra["shortcut"].any() and marked.extra["shortcut"].all()
    top = (marked.images[:, :8].astype(int) - clean.images[:, :8].astype(int)) != 0
    assert top.any(axis=(1, 2)).all()
    face_rows = slice(30, 100)
    assert np.array_equal(marked.images[:, face_rows], clean.images[:, face_rows])
    cols = {e: np.flatnonzero(top[marked.emotion == e].any(axis=(0, 1))) for e in set(marked.emotion)}
    spans = sorted((c.min(), c.max()) for c in cols.values())
    assert all(a[1] < b[0] for a, b in zip(spans, spans[1:]))   # each label marks its own columns


def test_sequences_go_from_neutral_to_apex():
    seq = generate_sequences(6, n_frames=5, seed=2)
    assert len(seq) == 30
    assert list(seq.frame[:5]) == [0, 1, 2, 3, 4] and (seq.extra["sequence"][:5] == 0).all()
    first, last = seq.au_intensity[seq.frame == 0], seq.au_intensity[seq.frame == 4]
    assert first.sum() == 0 and last.sum() > 0
    with pytest.raises(ValueError, match="n_frames"):
        generate_sequences(2, n_frames=1)


def test_shifted_domain_has_other_identities_and_harder_scenes():
    src = generate_faces(60, seed=0)
    tgt = generate_faces(60, seed=0, domain="shifted")
    assert not set(src.subject) & set(tgt.subject)
    assert np.abs(tgt.extra["pose"][:, 0]).max() > np.abs(src.extra["pose"][:, 0]).max()


def test_bad_options_are_named():
    with pytest.raises(ValueError, match="shortcut"):
        generate_faces(2, shortcut=1.5)
    with pytest.raises(TypeError, match="unknown generator option"):
        generate_faces(2, colour=True)
    with pytest.raises(ValueError, match="emotions"):
        generate_faces(2, emotions=("joy",))
    with pytest.raises(ValueError, match="domain"):
        generate_faces(2, domain="mars")


def test_load_dataset_caches_and_returns_the_same_faces(tmp_path, monkeypatch):
    monkeypatch.setenv("FACEXPLAIN_CACHE", str(tmp_path))
    a = load_dataset("synthetic", n=12, seed=4)
    files = list(tmp_path.rglob("*.npz"))
    assert len(files) == 1
    b = load_dataset("synthetic", n=12, seed=4)
    assert np.array_equal(a.images, b.images) and np.array_equal(a.region_bits, b.region_bits)
    assert list(a.emotion) == list(b.emotion)
    assert np.array_equal(a.images, generate_faces(12, seed=4).images)
    with pytest.raises(ValueError, match="data_dir"):
        load_dataset("ckplus")
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("fer2013", data_dir=tmp_path)


def test_subjects_look_like_different_people():
    from facexplain.faces.realism import between_subject_correlation
    ds = load_dataset("synthetic", n=240, seed=777, cache=False)
    first = {}
    for i, (s, e) in enumerate(zip(ds.subject, ds.emotion)):
        if s not in first or (e == "neutral" and ds.emotion[first[s]] != "neutral"):
            first[s] = i
    idx = list(first.values())
    r, c = between_subject_correlation(ds.images[idx], ds.landmarks[idx])
    assert len(idx) >= 35 and r <= 0.55, r
    # the same subject's faces (other expressions, scenes) are more alike than different people's
    s0 = ds.subject[idx[0]]
    same = np.flatnonzero(ds.subject == s0)[:4]
    r_same, _ = between_subject_correlation(ds.images[same], ds.landmarks[same])
    assert r_same > r + 0.15


def test_subjects_blend_only_the_configured_template_photos():
    from facexplain.faces.generator import GeneratorConfig, identity
    only = identity(GeneratorConfig(templates=("grace_hopper",), domain="shifted"), 3)
    both = identity(GeneratorConfig(domain="shifted"), 3)
    assert only.mix_shape.tolist() == [0.0, 1.0] and only.mix_texture[:, 0].tolist() == [0.0, 0.0]
    assert abs(both.mix_shape.sum() - 1) < 1e-5 and both.mix_texture.min() >= 0
    with pytest.raises(ValueError, match="templates"):
        GeneratorConfig(templates=("mona_lisa",))


def test_cue_mask_is_exactly_where_the_mark_is_drawn():
    from facexplain.faces.cue import cue_mask, draw_cue
    for size in (112, 224):
        for k in range(7):
            img = np.full((size, size), 0.5, np.float32)
            draw_cue(img, k, 7)
            changed = img != 0.5
            box = cue_mask((size, size), k, 7)
            assert changed[box].mean() > 0.4 and not changed[~box].any()
            assert (box <= cue_mask((size, size))).all()
    with pytest.raises(ValueError, match="cue"):
        draw_cue(np.zeros((112, 112), np.float32), 7, 7)


def test_template_does_not_need_the_au_kernels():
    """No actions <-> template cycle: the template module imports nothing from actions (or the generator)."""
    import ast
    import inspect

    import facexplain.faces.template as template
    tree = ast.parse(inspect.getsource(template))
    names = {(n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not {m for m in names if m.split(".")[-1] in ("actions", "generator")}, names


def _still_scene(gen):
    gen.domain = dict(gen.domain, noise=0.0)
    return dict(roll=0.0, yaw=0.0, scale=1.0, tx=0.0, ty=0.0, light=0.0, light_angle=0.0)


def test_an_opened_mouth_belongs_to_the_aus_that_opened_it():
    import cv2

    from facexplain.faces.generator import identity
    from facexplain.faces.template import LOWER_INNER_LIP, UPPER_INNER_LIP

    gen = FaceGenerator()
    scene = _still_scene(gen)
    who = identity(gen.config, 3)
    rng = np.random.default_rng(0)
    bit = lambda bits, au: (bits >> np.uint32(GENERATOR_AUS.index(au))) & 1 == 1  # noqa: E731
    for au in (25, 26, 27):
        _, land, bits = gen.render(who, {au: 5.0, 4: 4.0}, scene, rng)
        opening = np.zeros((112, 112), np.uint8)        # between the inner lips, where the mouth is painted
        poly = np.concatenate([land[list(UPPER_INNER_LIP)], land[list(LOWER_INNER_LIP)][::-1]])
        cv2.fillPoly(opening, [np.round(poly).astype(np.int32)], 1)
        inner = opening.astype(bool)
        assert inner.sum() >= 10, au
        assert bit(bits, au)[inner].mean() > 0.8, au    # the opening is where AU25/26/27 show
        assert not bit(bits, 4)[inner].any()            # ... and not where the brow lowerer does
    _, _, bits = gen.render(who, {12: 4.0}, scene, rng)  # a smile with closed lips claims no mouth interior
    assert not bit(bits, 25).any() and not bit(bits, 26).any()


def test_aus_move_the_face_but_not_the_neck_collar_or_background():
    from facexplain.faces.generator import FACE_REACH, identity

    gen = FaceGenerator()
    scene = _still_scene(gen)
    who = identity(gen.config, 3)
    neutral, land0, _ = gen.render(who, {}, scene, np.random.default_rng(0))
    margin = (FACE_REACH + 0.1) * gen.rig.template.iod      # the reach beyond the face, and a little more
    chin = land0[152, 1]                                    # Face Mesh: the chin tip
    for au in (26, 27):
        img, _, _ = gen.render(who, {au: 5.0}, scene, np.random.default_rng(0))
        moved = np.abs(img.astype(int) - neutral.astype(int)) > 2
        assert moved[int(chin) - 5:int(chin) + 5].sum() > 20, au     # the jaw drops ...
        assert not moved[int(np.ceil(chin + margin)):].any(), au      # ... the neck and collar stay
