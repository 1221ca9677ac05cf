"""Face Game views: the regions to change drawn on the player's face, the recorded game (kernel-free), the
AU-emotion matrix browser, and a live playable widget for JupyterLab."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ..faces.regions import au_map
from ..game.instructions import plan
from ..game.scoring import au_set, jaccard

ADD_COLOUR = (0.1, 0.75, 0.3)      # regions to move: green
REMOVE_COLOUR = (0.9, 0.2, 0.2)    # regions to relax: red


def _aus_text(aus) -> str:
    s = sorted(au_set(aus))
    return ", ".join(f"AU{a}" for a in s) if s else "none"


def draw_instruction_regions(ax, image, landmarks, target, player, max_items: int | None = 3):
    """The player's face with the regions of the first `max_items` instructions tinted (green: do, red: stop)
    and numbered in instruction order; returns the instructions drawn."""
    img = np.asarray(image)
    ax.imshow(img, cmap="gray", vmin=0, vmax=255)
    steps = plan(target, player)
    steps = steps if max_items is None else steps[:max_items]
    h, w = img.shape[:2]
    placed: list[np.ndarray] = []
    for k, step in enumerate(steps, 1):
        m = au_map(landmarks, step.aus, (h, w))
        colour = ADD_COLOUR if step.polarity == "add" else REMOVE_COLOUR
        overlay = np.zeros((h, w, 4), np.float32)
        overlay[..., :3] = colour
        overlay[..., 3] = 0.55 * (m > 0.35) * m
        ax.imshow(overlay, interpolation="bilinear")
        yy, xx = np.nonzero(m > 0.8)
        if len(xx):
            if np.ptp(xx) > 0.25 * w:               # a pair of regions (both eyes, both cheeks): mark the left one
                keep = xx < xx.mean()
                xx, yy = xx[keep], yy[keep]
            pos = np.array([xx.mean(), yy.mean()])
            while any(np.linalg.norm(pos - q) < 0.07 * max(h, w) for q in placed):   # keep numbers apart
                pos = pos + (0.075 * w, 0.0)
            placed.append(pos)
            ax.text(pos[0], pos[1], str(k), color="white", fontsize=8, ha="center", va="center",
                    fontweight="bold", bbox=dict(boxstyle="circle,pad=0.15", fc=colour, ec="none", alpha=0.9))
    ax.axis("off")
    return steps


def crop_face(image, landmarks, scale: float = 1.5):
    """Square crop around the face (landmark box times `scale`) -> (image, landmarks in the crop)."""
    img, lm = np.asarray(image), np.asarray(landmarks, np.float32)
    lo, hi = lm.min(0), lm.max(0)
    c, half = (lo + hi) / 2, scale * float(np.max(hi - lo)) / 2
    x0, y0 = int(max(0, c[0] - half)), int(max(0, c[1] - half))
    x1, y1 = int(min(img.shape[1], c[0] + half)), int(min(img.shape[0], c[1] + half))
    return img[y0:y1, x0:x1], lm - np.array([x0, y0], np.float32)


def game_figure(target_image, target_aus, player_image, player_landmarks, player_aus, max_items: int | None = 3,
                title: str = "", size: float = 2.3, fontsize: float = 10):
    """Target | player with drawn regions, the score and the numbered instructions (one try of the game).

    Text is set at `fontsize` points (10 pt is about 11 px at the recorded game's 80 dpi, readable in the page)."""
    lm = np.asarray(player_landmarks, np.float32)
    if np.ptp(lm[:, 1]) < 0.5 * np.asarray(player_image).shape[0]:   # a photo: show the face, not the scene
        player_image, player_landmarks = crop_face(player_image, lm)
    steps_preview = plan(target_aus, player_aus)
    n_lines = 1 + max(min(len(steps_preview), max_items or len(steps_preview)), 1)
    text_h = 0.2 * fontsize / 10 * (1.6 * n_lines + 1)                  # inches for the instruction block
    fig = plt.figure(figsize=(2 * size + 0.4, size + 0.55 + text_h))
    top = 1 - 0.5 / fig.get_figheight()
    bottom = text_h / fig.get_figheight()
    axes = fig.subplots(1, 2, gridspec_kw=dict(wspace=0.05, left=0.01, right=0.99, top=top, bottom=bottom))
    axes[0].imshow(np.asarray(target_image), cmap="gray", vmin=0, vmax=255)
    axes[0].set_title(_wrap("target: " + _aus_text(target_aus), 26), fontsize=fontsize - 1)
    axes[0].axis("off")
    steps = draw_instruction_regions(axes[1], player_image, player_landmarks, target_aus, player_aus, max_items)
    axes[1].set_title(_wrap("you: " + _aus_text(player_aus), 26), fontsize=fontsize - 1)
    score = jaccard(player_aus, target_aus)
    lines = [f"{title}score {score:.2f}"] + [f"{k}. {s.phrase}" for k, s in enumerate(steps, 1)]
    if not steps:
        lines.append("A perfect match.")
    fig.text(0.02, 0.02, "\n".join(_wrap(t, 48) for t in lines), fontsize=fontsize, va="bottom", ha="left")
    return fig


def _png(fig, dpi: int = 80, colors: int = 256) -> bytes:
    """Render and close a figure (so dozens of precomputed views do not pile up as open figures); the PNG is
    palette-quantised (`colors` colours) to keep the pages light."""
    import io

    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(int(colors))
    small = io.BytesIO()
    img.save(small, format="PNG", optimize=True)
    return small.getvalue()


def _wrap(text: str, width: int) -> str:
    import textwrap
    return "\n   ".join(textwrap.wrap(text, width)) or text


def render_player(subject: int, aus: dict[int, float], seed: int = 0, image_size: int = 112):
    """A generated face of player `subject` (a "shifted"-domain identity) showing `aus` -> (image, landmarks)."""
    from ..faces.generator import FaceGenerator, identity
    gen = FaceGenerator(image_size=image_size, domain="shifted")
    rng = np.random.default_rng([int(seed), int(subject), 11])
    scene = dict(roll=0.0, yaw=0.0, scale=1.0, tx=0.0, ty=0.0, light=0.1, light_angle=0.0)
    image, landmarks, _ = gen.render(identity(gen.config, int(subject)), dict(aus), scene, rng)
    return image, landmarks


def recorded_game(games: dict[str, list[dict]], targets: dict[str, tuple], max_items: int = 3, seed: int = 0):
    """Kernel-free browser over a recorded game: target x try -> the game view of that try.

    games: target name -> replay_game(...) rows; targets: name -> (image, AU set)."""
    from .widgets import browser
    views = {}
    names = list(games)
    n_tries = max(len(r) for r in games.values())
    for name in names:
        t_img, t_aus = targets[name]
        for r in games[name]:
            img, lm = render_player(r["subject"], r["shown"], seed)
            fig = game_figure(t_img, t_aus, img, lm, r["detected"], max_items=max_items,
                              title=f"{name}, try {r['try_']}: ")
            views[(name, r["try_"])] = _png(fig, dpi=80, colors=64)
    return browser(views, {"target": names, "try": list(range(1, n_tries + 1))}, sliders=["try"])


def matrix_figure(matrix, title: str, kind: str = "occurrence", size=(5.2, 2.6)):
    """Heatmap of an emotion x AU matrix (occurrence in [0, 1] or correlation in [-1, 1])."""
    import seaborn as sns
    fig, ax = plt.subplots(figsize=size)
    kw = dict(vmin=0, vmax=1, cmap="rocket_r") if kind != "correlation" else dict(vmin=-1, vmax=1, cmap="vlag")
    sns.heatmap(matrix.astype(float), ax=ax, cbar=True, linewidths=0.3, annot=False, **kw)
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return fig


def au_emotion_browser(study, thresholds, emotion_of=None, codebook: str = "emfacs", aus=None):
    """Kernel-free widget: threshold slider x (occurrence | correlation) -> the AU-emotion heatmap, beside the
    codebook's emotion x AU matrix it should resemble."""
    import ipywidgets as widgets

    from ..faces.codebooks import codebook_matrix
    from ..game.study import au_emotion_correlation, au_emotion_occurrence
    from .widgets import browser, image_to_widget
    views = {}
    for th in thresholds:
        occ = au_emotion_occurrence(study, th, aus=aus, emotion_of=emotion_of)
        n = int((study.score >= th).sum())
        views[("occurrence", th)] = _png(matrix_figure(occ, f"occurrence, score >= {th:.2f} ({n} tries)"))
        cor = au_emotion_correlation(study, th, aus=aus, emotion_of=emotion_of)
        views[("correlation", th)] = _png(matrix_figure(cor, f"correlation, score >= {th:.2f} ({n} tries)",
                                                        kind="correlation"))
    # opens at the paper's threshold (0.33) when it is among the thresholds
    opening = min(thresholds, key=lambda th: abs(th - 0.33))
    b = browser(views, {"view": ["occurrence", "correlation"], "threshold": list(thresholds)},
                sliders=["threshold"], initial={"threshold": opening}, dpi=80)
    cols = list(occ.columns)
    book = codebook_matrix(codebook, tuple(int(c[2:]) for c in cols))
    ref = image_to_widget(matrix_figure(book, f"codebook '{codebook}'"), dpi=80)
    return widgets.HBox([b, widgets.VBox([widgets.HTML("<b>what it should resemble</b>"), ref])])


def live_game(targets: dict[str, tuple], photo_detector=None, aus=None, max_items: int = 3, subject: int = 3):
    """A playable Face Game for a live kernel: pick a target, toggle AUs (a generated face shows them) or upload
    a photo (MediaPipe -> AUs); shows the score, the instructions and the regions to change.

    targets: name -> (image, AU set). photo_detector: None reads uploaded photos with faces.read_aus (the reader
    the browser game runs too), or an object with detect_photo(image) -> (AUs, landmarks). Only works with a
    running kernel (callbacks); the book shows a recording.
    The controls start disabled under a note that says so, and a "start" button (a callback, so it only works in a
    live kernel) enables them: in the static book the game cannot look playable when it is not."""
    import io

    import ipywidgets as widgets
    from PIL import Image

    from ..faces.aus import GENERATOR_AUS
    from ..faces.au_reader import read_aus
    from ..faces.mesh import NoFaceFound, detect_landmarks
    from ..images import pil_to_array

    aus = tuple(aus or GENERATOR_AUS)
    pick = widgets.Dropdown(options=list(targets), description="target", disabled=True)
    toggles = [widgets.ToggleButton(description=f"AU{a}", layout=widgets.Layout(width="64px"), disabled=True)
               for a in aus]
    upload = widgets.FileUpload(accept="image/*", multiple=False, description="your photo", disabled=True)
    use_photo = widgets.Checkbox(value=False, description="use the photo", disabled=True)
    note = widgets.HTML("<b>This game needs a running Python kernel</b> (JupyterLab, Colab or Binder: open the "
                        "source notebook). In the static book its controls are disabled; the recorded game above "
                        "plays the same views. With a kernel, press start.")
    start = widgets.Button(description="start the game", button_style="success", icon="play")
    view = widgets.Image(format="png")        # the current game view (updated in place, no Output capture)
    message = widgets.HTML("")
    photo = {}

    def refresh(*_):
        t_img, t_aus = targets[pick.value]
        message.value = ""
        if use_photo.value and "image" in photo:
            img = photo["image"]
            try:
                if photo_detector is None:          # faces.read_aus: the reader the browser game runs too
                    found, lm = read_aus(img), detect_landmarks(img)
                else:
                    found, lm = photo_detector.detect_photo(img)
            except NoFaceFound as e:
                message.value = f"<i>{e}</i>"
                return
            player = set(found)
        else:
            player = {a for a, t in zip(aus, toggles) if t.value}
            img, lm = render_player(subject, {a: 3.5 for a in player})
        view.value = _png(game_figure(t_img, t_aus, img, lm, player, max_items=max_items), dpi=90)

    def on_upload(change):
        files = upload.value
        if files:
            f = files[0] if isinstance(files, (list, tuple)) else list(files.values())[0]
            content = f["content"] if isinstance(f, dict) else f.content
            with Image.open(io.BytesIO(bytes(content))) as im:     # 16-bit photos scaled, not clipped
                photo["image"] = pil_to_array(im, "RGB", "the uploaded photo")
            use_photo.value = True
        refresh()

    def on_start(_):
        for w in [pick, upload, use_photo] + toggles:
            w.disabled = False
        start.disabled = True
        note.value = "<b>Playing.</b> Pick a target, then toggle AUs or upload a photo of yourself."

    for w in [pick, use_photo] + toggles:
        w.observe(refresh, names="value")
    upload.observe(on_upload, names="value")
    start.on_click(on_start)
    refresh()
    rows = [widgets.HBox(toggles[i:i + 10]) for i in range(0, len(toggles), 10)]
    head = widgets.VBox([note, widgets.HBox([start, pick, upload, use_photo])])
    return widgets.VBox([head, *rows, message, view])
