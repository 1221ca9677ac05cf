"""Sphinx extension for the book (named in _config.yml under `sphinx.extra_extensions`).

The table of contents renders the *executed* copies of the chapters (book/chapters/NAME.ipynb, git-ignored), so
the theme's launch and download buttons would point at files that are not in the repository. This extension:

- copies each chapter's source notebook (notebooks/NAME.ipynb, committed without outputs) into the built site
  (`_sources/notebooks/NAME.ipynb`) and puts a "source notebook" box at the top of every chapter page, with a
  download link and links that open the source in Colab and on Binder;
- rewrites the theme's Binder/Colab launch buttons to the source notebook, and adds the source notebook to the
  page's download menu;
- switches sphinx-thebe off (its configuration script was emitted twice per page, and it loads thebe from a CDN
  while the book is meant to work offline);
- provides the ``facexplain-api`` directive, which documents every public module of the package with autodoc,
  so modules added or moved later appear on the API page without editing it.

The repository the links point at is `repository.url` / `repository.branch` in _config.yml.
"""

from __future__ import annotations

import html
import importlib
import pkgutil
import shutil
from pathlib import Path
from urllib.parse import quote

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

LOGGER = logging.getLogger(__name__)

CHAPTERS = "book/chapters/"       # docname prefix of the executed chapter copies
SOURCES = "notebooks"             # where their source notebooks live, relative to the repository root
COPIED = "_sources/notebooks"     # where the build puts the source notebooks, relative to the html output
COLAB = "https://colab.research.google.com"
BINDER = "https://mybinder.org"

# Layer order of the package (DESIGN.md), for the API page; modules not listed here follow alphabetically.
API_ORDER = ("faces", "data", "models", "train", "explain", "metrics", "game", "viz", "claims", "grid", "studies",
             "book", "cache", "config")
API_SKIP = ("facexplain.sphinxext",)


# ------------------------------------------------------------------------------------------ settings

def repository(app) -> tuple[str, str]:
    """(repository URL without trailing slash, branch) from html_theme_options (`repository:` in _config.yml)."""
    opts = app.config.html_theme_options or {}
    url = str(opts.get("repository_url") or "").rstrip("/")
    branch = str(opts.get("repository_branch") or "main")
    return url, branch


def chapter_name(docname: str) -> str | None:
    """NAME for a chapter page book/chapters/NAME, else None."""
    if docname.startswith(CHAPTERS) and "/" not in docname[len(CHAPTERS):]:
        return docname[len(CHAPTERS):]
    return None


def source_notebook(app, name: str) -> Path | None:
    """The source notebook of chapter NAME: in the book's source folder, else in the package's checkout (a staged
    build copies only the executed chapters)."""
    from .cache import repo_root

    for root in (Path(app.srcdir), repo_root()):
        path = root / SOURCES / f"{name}.ipynb"
        if path.exists():
            return path
    return None


def launch_urls(app, name: str) -> dict[str, str]:
    """Links to the source notebook of chapter NAME in the repository: GitHub view, Colab and Binder."""
    url, branch = repository(app)
    if not url:
        return {}
    rel = f"{SOURCES}/{name}.ipynb"
    out = {"repository": f"{url}/blob/{branch}/{rel}"}
    if url.startswith("https://github.com/"):
        org_repo = url[len("https://github.com/"):]
        out["colab"] = f"{COLAB}/github/{org_repo}/blob/{branch}/{rel}"
        out["binder"] = f"{BINDER}/v2/gh/{org_repo}/{branch}?urlpath={quote('lab/tree/' + rel)}"
    return out


# -------------------------------------------------------------------------------- source-notebook box

def add_source_box(app, doctree, docname: str) -> None:
    """Insert the "source notebook" box under the title of every chapter page (doctree-resolved)."""
    name = chapter_name(docname)
    if name is None or app.builder.format != "html":
        return
    source = source_notebook(app, name)
    if source is None:
        LOGGER.warning(f"chapter {name}: no source notebook {SOURCES}/{name}.ipynb to link", location=docname)
        return
    to_root = "../" * docname.count("/")          # from book/chapters/NAME.html up to the site's root
    links = [f'<a class="source-notebook-link" href="{to_root}{COPIED}/{name}.ipynb" download>'
             f'download <code>{SOURCES}/{name}.ipynb</code></a>']
    urls = launch_urls(app, name)
    for key, text in (("colab", "open in Colab"), ("binder", "open on Binder"), ("repository", "view in the repository")):
        if key in urls:
            links.append(f'<a class="source-notebook-{key}" href="{html.escape(urls[key])}">{text}</a>')
    running = app.builder.get_relative_uri(docname, "book/running")
    teaching = app.builder.get_relative_uri(docname, "book/teaching") if "book/teaching" in app.env.all_docs else None
    more = f' Running it yourself: <a href="{running}">Running the book</a>'
    more += f', <a href="{teaching}">Teaching with this book</a>.' if teaching else "."
    box = nodes.raw("", (
        '<div class="admonition note source-notebook">'
        '<p class="admonition-title">Source notebook</p>'
        f'<p>This page is the notebook <code>{SOURCES}/{name}.ipynb</code> executed with its default parameters. '
        + " · ".join(links) + "." + more + "</p></div>"), format="html")
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is not None and section.children and isinstance(section.children[0], nodes.title):
        section.insert(1, box)
    else:
        doctree.insert(0, box)


def copy_sources(app, exception) -> None:
    """Copy every chapter's source notebook into the built site (build-finished)."""
    if exception is not None or app.builder.format != "html":
        return
    dest = Path(app.outdir) / COPIED
    for docname in sorted(app.env.found_docs):
        name = chapter_name(docname)
        source = source_notebook(app, name) if name else None
        if source is not None:
            dest.mkdir(parents=True, exist_ok=True)
            tmp = dest / f".{name}.ipynb.tmp"
            shutil.copyfile(source, tmp)
            tmp.replace(dest / f"{name}.ipynb")


def fix_header_buttons(app, pagename, templatename, context, doctree) -> None:
    """Point the theme's launch buttons at the source notebook and add it to the download menu (runs after the
    theme's own html-page-context handlers)."""
    name = chapter_name(pagename)
    if name is None or "header_buttons" not in context:
        return
    executed = f"{pagename}.ipynb"
    wanted = f"{SOURCES}/{name}.ipynb"
    for group in context["header_buttons"]:
        for button in group.get("buttons", []) if isinstance(group, dict) else []:
            if button.get("type") == "link" and executed in button.get("url", ""):
                if group.get("label") == "launch-buttons":
                    button["url"] = button["url"].replace(executed, wanted)
        if isinstance(group, dict) and group.get("label") == "download-buttons":
            group["buttons"].insert(0, {
                "type": "link", "url": f"{context['pathto']('_sources', 1)}/notebooks/{name}.ipynb",
                "text": "source .ipynb", "icon": "fas fa-book", "tooltip": "Download the source notebook (no outputs)",
                "label": "download-source-notebook-button"})


# ---------------------------------------------------------------------------------------------- thebe

def switch_off_thebe(app) -> None:
    """Disconnect sphinx-thebe's event handlers and drop its stylesheet (jupyter-book loads the extension whatever
    launch_buttons say; without its handlers the stylesheet is not copied and the page would ask for a missing
    file)."""
    for listeners in list(app.events.listeners.values()):
        for listener in list(listeners):
            if getattr(listener.handler, "__module__", "").startswith("sphinx_thebe"):
                app.disconnect(listener.id)
    app.registry.css_files[:] = [(f, a) for f, a in app.registry.css_files if f != "sphinx-thebe.css"]
    builder = getattr(app, "builder", None)
    if builder is not None and hasattr(builder, "css_files"):
        builder.css_files[:] = [c for c in builder.css_files if getattr(c, "filename", c) != "_static/sphinx-thebe.css"
                                and not str(getattr(c, "filename", c)).endswith("sphinx-thebe.css")]


def light_mode_by_default(app, config) -> None:
    """Give the theme a default colour mode: without one, pydata-sphinx-theme logs "Got invalid theme mode" as a
    console error on every page opened from disk (config-inited)."""
    config.html_context = dict(config.html_context or {})      # the theme's layout reads it from the context
    config.html_context.setdefault("default_mode", "light")


# ------------------------------------------------------------------------------------------ API page

def public_modules(package: str = "facexplain") -> list[str]:
    """Importable public modules of the package in layer order (private `_x` modules and this extension skipped)."""
    pkg = importlib.import_module(package)
    names = [package]
    for info in pkgutil.walk_packages(pkg.__path__, prefix=package + "."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts[1:]) or info.name in API_SKIP or parts[-1] == "__main__":
            continue
        names.append(info.name)

    def key(name: str):
        parts = name.split(".")
        top = parts[1] if len(parts) > 1 else ""
        rank = API_ORDER.index(top) if top in API_ORDER else len(API_ORDER)
        return (len(parts) > 1, rank, top, len(parts) > 2, name)
    return sorted(names, key=key)


class FacexplainAPI(SphinxDirective):
    """``facexplain-api``: a section per public module of facexplain, documented with autodoc."""

    has_content = False

    def run(self):
        # the page is MyST markdown, so the generated text is too: ## per layer, ### per module
        lines = []
        for name in public_modules():
            if name == "facexplain":
                continue
            module = importlib.import_module(name)
            is_package = hasattr(module, "__path__")
            level = "##" if is_package or name.count(".") == 1 else "###"
            # autodoc writes reStructuredText, so it runs inside an eval-rst block
            lines += [f"{level} `{name}`", "", "```{eval-rst}", f".. automodule:: {name}", "   :members:"]
            if is_package:
                lines.append("   :ignore-module-all:")   # what the package defines; its re-exports are
            lines += ["```", ""]                          # documented where they are defined
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(lines, source="facexplain-api"), node)
        return node.children


def setup(app):
    """Register the extension with Sphinx.

    Parameters
    ----------
    app : sphinx.application.Sphinx

    Returns
    -------
    dict
        Extension metadata (version, parallel safety).
    """
    app.add_directive("facexplain-api", FacexplainAPI)
    switch_off_thebe(app)                                   # loaded before us by jupyter-book's default list
    app.connect("builder-inited", switch_off_thebe)
    app.connect("config-inited", light_mode_by_default)
    app.connect("doctree-resolved", add_source_box)
    app.connect("html-page-context", fix_header_buttons, priority=900)
    app.connect("build-finished", copy_sources)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
