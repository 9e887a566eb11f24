"""The layers of docs/architecture.md, read from the source: who may import whom, no circle, the public list.

Every ``import`` statement of the package counts, wherever it is (module level, inside a function, under
``TYPE_CHECKING``): a lazy import is still a dependency, and a circle through one is still a circle. Each
rule is also shown to fail: the same checker runs over a small package written for the purpose, with the
violation in it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "airflow_provider_oktopost"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

DATA = ("exceptions", "models", "partner_models")
#: part -> the parts it may import (a part is a dotted prefix below the package; "" is the package itself).
#: The same table as in docs/architecture.md; the most specific part that matches a module applies.
ALLOWED: dict[str, tuple[str, ...]] = {
    "": (),
    "exceptions": (),
    "models": ("exceptions", "_core.timestamps"),
    "partner_models": ("exceptions", "_core.timestamps"),
    "_core": ("_core", *DATA),
    "assets": ("_core.wire", *DATA),
    "hooks": ("hooks", "_core", "get_provider_info", *DATA),
    "triggers": ("triggers", "hooks", "_core", *DATA),
    "operators": ("operators", "sensors", "triggers", "hooks", "assets", "_core", *DATA),
    "sensors": ("operators", "sensors", "triggers", "hooks", "assets", "_core", *DATA),
    "plugins": ("plugins", "budget_view", "_core", *DATA),
    "budget_view": ("plugins", "budget_view", "_core", *DATA),
    "get_provider_info": ("_core.config_options",),
    "testing": ("testing",),
    "testing.pytest_plugin": ("testing", "_core"),
    "testing.budget": ("testing", "_core"),
}
#: The store implementations: outside _core, only these parts may name them.
STORES = ("_core.budget.memory", "_core.budget.local_disk", "_core.budget.redis_server")
STORE_USERS = ("_core", "budget_view", "plugins", "testing.pytest_plugin", "testing.budget")


def modules_of(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name (without the package prefix; "" for the package) -> its file."""
    found = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = path.relative_to(root / package).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(path: Path, package: str, known: Iterable[str]) -> set[str]:
    """The package's modules that ``path`` imports (a ``from x import name`` of a submodule names it)."""
    known = set(known)

    def resolve(dotted: str) -> str | None:
        while True:
            if dotted in known:
                return dotted
            if "." not in dotted:
                return "" if dotted == "" else None
            dotted = dotted.rsplit(".", 1)[0]

    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == package or node.module.startswith(package + "."):
                base = node.module[len(package) + 1 :]
                names = [f"{base}.{alias.name}".lstrip(".") for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (the layers are checked on absolute names)")
        elif isinstance(node, ast.Import):
            names = [a.name[len(package) + 1 :] for a in node.names if a.name.startswith(package + ".")]
        for name in names:
            target = resolve(name)
            if target is not None:
                found.add(target)
    return found


def graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules it imports, without a module's imports of its own parent packages."""
    modules = modules_of(root, package)
    edges = {}
    for name, path in modules.items():
        targets = imports_of(path, package, modules)
        edges[name] = {t for t in targets if t != name and not (t == "" or name.startswith(t + "."))}
    return edges


def part_of(module: str, table: Mapping[str, object]) -> str:
    """The most specific part of ``table`` that ``module`` belongs to."""
    if module == "":
        return ""
    return max((p for p in table if p and (module == p or module.startswith(p + "."))), key=len)


def within(module: str, parts: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in parts)


def layer_violations(edges: Mapping[str, set[str]]) -> list[str]:
    wrong = []
    for module, targets in sorted(edges.items()):
        part = part_of(module, ALLOWED)
        for target in sorted(targets):
            if not within(target, ALLOWED[part]):
                wrong.append(f"{module or '<package>'} imports {target} ({part or '<package>'} may not)")
            if within(target, STORES) and not within(module, STORE_USERS):
                wrong.append(f"{module} imports the store implementation {target}: use the budget")
    return wrong


def circles(edges: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_every_import_follows_the_layers() -> None:
    assert layer_violations(graph(ROOT, PACKAGE)) == []


def test_no_module_imports_itself_through_others() -> None:
    assert circles(graph(ROOT, PACKAGE)) == []


def test_every_module_belongs_to_a_layer() -> None:
    """A new top-level module must be placed in the table (and the page) before it can import anything."""
    homeless = [m for m in modules_of(ROOT, PACKAGE) if m and not within(m, [p for p in ALLOWED if p])]
    assert homeless == []


def _write(root: Path, files: Mapping[str, str]) -> None:
    for name, text in files.items():
        path = root / PACKAGE / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # the core reaching up into a trigger
            {"_core/__init__.py": "", "_core/observe.py": f"from {PACKAGE}.triggers import _poller\n",
             "triggers/__init__.py": "", "triggers/_poller.py": ""},
            ["_core.observe imports triggers._poller (_core may not)"],
        ),
        (  # an operator naming a store
            {"_core/__init__.py": "", "_core/budget/__init__.py": "", "_core/budget/memory.py": "",
             "operators/__init__.py": "",
             "operators/oktopost.py": f"def f():\n    from {PACKAGE}._core.budget import memory\n"},
            ["operators.oktopost imports the store implementation _core.budget.memory: use the budget"],
        ),
        (  # the sandbox importing the provider, under TYPE_CHECKING
            {"testing/__init__.py": "", "models.py": "",
             "testing/state.py": f"if TYPE_CHECKING:\n    from {PACKAGE}.models import Integration\n"},
            ["testing.state imports models (testing may not)"],
        ),
    ],
)  # fmt: skip
def test_the_layer_check_catches(tmp_path: Path, files: dict[str, str], expected: list[str]) -> None:
    _write(tmp_path, {"__init__.py": "", **files})
    assert layer_violations(graph(tmp_path, PACKAGE)) == expected


def test_the_circle_check_catches_one_under_type_checking(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "__init__.py": "",
            "_core/__init__.py": "",
            "_core/operations.py": f"from {PACKAGE}._core.exactly_once import create\n",
            "_core/exactly_once.py": f"if TYPE_CHECKING:\n    from {PACKAGE}._core.operations import Op\n",
            "_core/wire.py": f"from {PACKAGE}._core import operations\n",
        },
    )
    assert circles(graph(tmp_path, PACKAGE)) == [["_core.exactly_once", "_core.operations"]]


def declared_public_modules() -> list[str]:
    """The list between the ``public-modules`` markers of docs/architecture.md."""
    text = ARCHITECTURE.read_text()
    block = re.search(r"<!-- public-modules.*?-->(.*?)<!-- /public-modules -->", text, re.S)
    assert block, "docs/architecture.md lost its public-modules list"
    return re.findall(r"^- `([\w.]+)`$", block.group(1), re.M)


def test_the_api_reference_is_the_declared_public_surface_and_nothing_private() -> None:
    """The modules docs/conf.py documents are exactly those the page declares public, none of them private.

    ``public_modules()`` walks the installed package, so a new module without a leading underscore appears
    in the API reference (and fails here until the page declares it, with what semver then promises).
    """
    pytest.importorskip("sphinx", reason="the docs extra (make test installs it on the newest Airflow)")
    import importlib.util

    spec = importlib.util.spec_from_file_location("oktopost_docs_conf", ROOT / "docs" / "conf.py")
    assert spec and spec.loader
    conf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conf)
    documented = conf.public_modules()
    assert [m for m in documented if any(part.startswith("_") for part in m.split("."))] == []
    assert documented == sorted(declared_public_modules())
    private = [f"{PACKAGE}.{m}" for m in modules_of(ROOT, PACKAGE) if m.startswith("_core")]
    assert private and not set(private) & set(documented)
