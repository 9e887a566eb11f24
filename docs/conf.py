"""Sphinx configuration of the documentation site (``make docs``; built with ``-W`` in ``make test``).

Sphinx, because Airflow's own providers use it and autodoc documents the code from its docstrings; MyST
reads the existing Markdown pages unchanged. The API reference is generated at every build from the
package's modules (every module whose name does not start with ``_``), so a new module appears without
editing this file, and every public module, class, function, method and property must have a docstring:
a missing one is a warning, which ``-W`` turns into a failed build.
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.ext import napoleon
from sphinx.pycode import ModuleAnalyzer
from sphinx.transforms.post_transforms import SphinxPostTransform
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
autodoc_default_options["no-value"] = True  # constants are documented by their comment; OPTIONS is huge

# Every cross-reference must resolve (nitpicky), a broken one fails the build under -W. The build is offline
# (no intersphinx inventories), so references into these libraries cannot resolve: exactly these top-level
# modules are ignored. A reference into this package is never ignored, except the private names below.
EXTERNAL_MODULES = (
    "airflow", "annotated_types", "asyncio", "collections", "datetime", "enum", "fastapi", "httpx",
    "os", "pathlib", "pendulum", "pydantic", "random", "requests", "threading", "types", "typing", "urllib",
)  # fmt: skip
nitpicky = True
# Names that modules import only under TYPE_CHECKING (no import cost at DAG parse): autodoc cannot evaluate
# such annotations and leaves the bare name, which this maps to the real one.
autodoc_type_aliases = {
    "Asset": "airflow.sdk.Asset",
    "Context": "airflow.sdk.Context",
}
# OktopostAsyncClient's signature names httpx.AsyncClient, imported only for type checking (httpx stays off
# the import path), so autodoc shows that signature as written: the private ClientConfig is then a bare name.
nitpick_ignore = [("py:class", "ClientConfig")]
nitpick_ignore_regex = [
    ("py:.*", rf"(?:{'|'.join(EXTERNAL_MODULES)})(?:\..+)?"),
    # Private names (a ``_`` part: ``operators._base.OktopostBaseOperator`` as a base class, ``_Wake`` or
    # ``_Record`` in a signature) are deliberately left out of the API reference; the name is still shown.
    ("py:.*", rf"{PACKAGE}(?:\.\w+)*\._\w+(?:\.\w+)*"),
]

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
    """Public names the module defines itself (not those it imports), in source order.

    Classes and functions, and the constants, type variables and type aliases that have a ``#:`` comment
    (so that ``:data:`` references and the names in signatures resolve).
    """
    names = []
    for name, obj in vars(module).items():
        if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
            continue
        if getattr(obj, "__module__", None) == module.__name__:
            names.append(name)
    commented = ModuleAnalyzer.for_module(module.__name__).find_attr_docs()
    names += [name for (scope, name) in commented if not scope and name[0] != "_" and name not in names]
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


def parseable_defaults(  # noqa: PLR0917  (the signature of Sphinx's event)
    app: Sphinx,
    what: str,
    name: str,
    obj: Any,
    options: Any,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None]:
    """Show a dataclass field's ``<factory>`` default as ``factory()``.

    ``<factory>`` is not Python, so Sphinx cannot parse the signature and splits it at every comma, which
    turns ``dict[str, Any]`` into a broken reference to ``dict[str``.
    """
    if signature:
        signature = signature.replace("<factory>", "factory()")
    return signature, return_annotation


def napoleon_except_attributes(  # noqa: PLR0917  (the signature of Sphinx's event)
    app: Sphinx, what: str, name: str, obj: Any, options: Any, lines: list[str]
) -> None:
    """Napoleon, but not on the docstrings of attributes, constants and properties.

    On those napoleon does one thing: it reads ``text: more text`` on the first line as ``type: description``
    (Google style's inline type), which turns our prose ("Seconds between ...: longer than ...") into a
    broken reference to a type named after the prose. Our types are annotations, never written there.
    """
    if what not in {"attribute", "data", "property"}:
        napoleon._process_docstring(app, what, name, obj, options, lines)


class BuiltinNamesStayText(SphinxPostTransform):
    """A built-in name in an annotation (``type`` in ``tuple[type[Exception], ...]``) is text, not a link.

    Sphinx resolves annotation names by suffix too, so ``type`` matched every attribute called ``type``
    (``Integration.type``...): an ambiguity warning and a link to the wrong place. Running before Sphinx's
    resolver (priority 10), this leaves built-in classes unlinked, as Sphinx does when nothing matches, so
    no warning needs suppressing and an ambiguous reference to this package's objects fails the build.
    """

    default_priority = 5

    def run(self, **kwargs: Any) -> None:
        """Replace each ``py:class`` reference to a built-in class by its text (``:attr:`.type``` stays)."""
        for node in list(self.document.findall(addnodes.pending_xref)):
            target = node.get("reftarget", "")
            is_class_ref = node.get("refdomain") == "py" and node.get("reftype") in {"class", "obj"}
            if is_class_ref and inspect.isclass(getattr(builtins, target, None)):
                node.replace_self(node.children)


def connect_handlers(app: Sphinx) -> None:
    """Napoleon except on attributes, the docstring check, parseable defaults, unlinked built-in names.

    Also used by tests/packaging/test_docs_references.py.
    """
    for listener in list(app.events.listeners["autodoc-process-docstring"]):
        if listener.handler is napoleon._process_docstring:
            app.disconnect(listener.id)
    app.connect("autodoc-process-docstring", napoleon_except_attributes)
    app.connect("autodoc-process-docstring", require_docstring)
    app.connect("autodoc-process-signature", parseable_defaults)
    app.add_post_transform(BuiltinNamesStayText)


def setup(app: Sphinx) -> None:
    """Generate the API pages before Sphinx reads the sources; check docstrings while autodoc runs."""
    write_api_pages()
    write_other_pages()
    connect_handlers(app)
