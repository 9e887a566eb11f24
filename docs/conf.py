"""Sphinx configuration of the documentation site (``make docs``; built with ``-W`` in ``make test``).

Sphinx, because Airflow's own providers use it and autodoc documents the code from its docstrings; MyST
reads the existing Markdown pages unchanged. The API reference is generated at every build from the
package's modules (every module whose name does not start with ``_``), so a new module appears without
editing this file, and every public module, class, function, method and property must have a docstring:
a missing one is a warning, which ``-W`` turns into a failed build.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from sphinx.application import Sphinx
from sphinx.util import logging

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import airflow_provider_oktopost  # noqa: E402

PACKAGE = "airflow_provider_oktopost"
API_DIR = DOCS / "api"  # generated, not committed (.gitignore)

project = "airflow-provider-oktopost"
author = "airflow-provider-oktopost developers"
copyright = "airflow-provider-oktopost developers"
release = airflow_provider_oktopost.__version__
version = release

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
# performance-notes.md is an input of bench/report.py, included verbatim in performance.md.
exclude_patterns = ["_build", "README.md", "performance-notes.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
html_theme = "furo"
html_title = f"airflow-provider-oktopost {release}"

autodoc_default_options = {
    "undoc-members": True,  # undocumented public names are listed, so the check below sees them
    "show-inheritance": True,
}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Type annotations such as ``type`` match several attributes of that name; Sphinx then warns about the
# ambiguity, which is not a broken reference.
suppress_warnings = ["ref.python"]

_CHECKED = {"module", "class", "exception", "function", "method", "property"}
_log = logging.getLogger(__name__)


def public_modules() -> list[str]:
    """Every importable module of the package whose dotted name has no part starting with ``_``."""
    names = [PACKAGE]
    for info in pkgutil.walk_packages(airflow_provider_oktopost.__path__, prefix=f"{PACKAGE}."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def defined_here(module: ModuleType) -> list[str]:
    """Public classes and functions the module defines itself (not those it imports), in source order."""
    names = []
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) == module.__name__:
            names.append(name)
    return names


def write_api_pages() -> None:
    """One page per public module (its docstring and what it defines) and an index listing them."""
    shutil.rmtree(API_DIR, ignore_errors=True)
    API_DIR.mkdir()
    modules = public_modules()
    for name in modules:
        module = importlib.import_module(name)  # an import error fails here, with its traceback
        title = f"``{name}``"
        members = ", ".join(defined_here(module))
        body = f".. automodule:: {name}\n" + (f"   :members: {members}\n" if members else "   :no-members:\n")
        (API_DIR / f"{name}.rst").write_text(f"{title}\n{'=' * len(title)}\n\n{body}")
    entries = "\n".join(f"   {name}" for name in modules)
    (API_DIR / "index.rst").write_text(
        "API reference\n=============\n\n"
        "Generated from the docstrings of every public module (``docs/conf.py``).\n\n"
        f".. toctree::\n   :maxdepth: 1\n\n{entries}\n"
    )


def write_other_pages() -> None:
    """List every ``docs/*.md`` page that index.md does not, so a new page is published, not a warning."""
    index = (DOCS / "index.md").read_text()
    listed = {line.strip() for line in index.splitlines()}
    skipped = {"index", "changelog", *(Path(p).stem for p in exclude_patterns)}
    others = sorted(p.stem for p in DOCS.glob("*.md") if p.stem not in listed | skipped)
    entries = "".join(f"../{name}\n" for name in others)
    (API_DIR / "other-pages.md").write_text(
        "# More pages\n\nPages not yet placed in the index's sections.\n\n"
        f"```{{toctree}}\n:maxdepth: 1\n\n{entries}```\n"
    )


def require_docstring(  # noqa: PLR0917  (the signature of Sphinx's event)
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Warn (an error under ``-W``) when a public object has no docstring."""
    if what not in _CHECKED or any(part.startswith("_") for part in name.split(".")):
        return
    if not any(line.strip() for line in lines):
        _log.warning("missing docstring: %s %s", what, name, type="oktopost", subtype="docstring")


def setup(app: Sphinx) -> None:
    """Generate the API pages before Sphinx reads the sources; check docstrings while autodoc runs."""
    write_api_pages()
    write_other_pages()
    app.connect("autodoc-process-docstring", require_docstring)
