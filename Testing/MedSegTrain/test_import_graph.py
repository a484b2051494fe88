"""The package's import graph has no cycle: each module can be understood (and imported) after the
modules it imports, and a layer never needs the layers above it.

Every module of ``MedSegTrain`` is parsed with ``ast`` (nothing is imported): module-level and
function-local imports both count, relative imports (``from . import x``, ``from ..y import z``)
are resolved, and ``from package import name`` points at ``package.name`` when that is a module,
else at the package. Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def package_modules(root: Path, package: str) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package ``__init__``), for every ``.py`` under ``root/package``."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return modules


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth (functions, classes, try blocks)."""
    found, stack = [], [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                stack.extend(child.orelse)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                found.append(child)
            else:
                stack.append(child)
    return found


def _source(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names (relative levels resolved)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of ``package`` it imports."""
    modules = package_modules(root, package)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                source = _source(name, is_package, node)
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source
                           for alias in node.names]
            graph[name].update(t for t in targets if t in modules and t != name)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as ``[a, b, ..., a]``, or None (depth-first search, deterministic order)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: finished
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return [*path[path.index(target):], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[module] = 2
        path.pop()
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            if cycle:
                return cycle
    return None


def test_medsegtrain_has_no_import_cycle() -> None:
    graph = import_graph(PROJECT, "MedSegTrain")
    assert len(graph) > 100 and "MedSegTrain.workflows.transfer_chain" in graph
    assert "MedSegTrain.training.api" in graph["MedSegTrain.workflows.transfer_chain"]
    assert find_cycle(graph) is None


# docs/architecture.md, "Floors": a package imports only from floors below its own.
FLOORS = [
    {"MedSegTrain", "errors", "limits", "fileutil", "progress", "device", "io", "dicom", "image_data",
     "output_folder", "predict_options"},
    {"data", "preprocessing", "networks", "losses", "augment", "stats"},
    {"metrics", "bundle", "reporting"},
    {"inference"},
    {"training"},
    {"workflows"},
    {"cli"},
    {"__main__"},  # python -m MedSegTrain
]


def _floor(module: str) -> int:
    part = module.split(".")[1] if "." in module else module
    return next(k for k, names in enumerate(FLOORS) if part in names)


def test_each_package_imports_only_from_the_floors_below() -> None:
    graph = import_graph(PROJECT, "MedSegTrain")
    unplaced = {m.split(".")[1] for m in graph if "." in m} - set().union(*FLOORS)
    assert unplaced == set(), "place new packages in FLOORS and docs/architecture.md"
    upward = sorted((m, t) for m, targets in graph.items() for t in targets
                    if _floor(t) >= _floor(m) and m.split(".")[:2] != t.split(".")[:2]
                    and t != "MedSegTrain" and _floor(m) > 0)
    assert upward == []


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize(("files", "cycle"), [
    pytest.param({  # a function-local import closes the loop
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import f\n",
        "pkg/b.py": "def f():\n    from pkg.a import g\n    return g\n",
    }, ["pkg.a", "pkg.b", "pkg.a"], id="function-local"),
    pytest.param({  # relative imports: `from . import c` in a package, `from ..a import x` one level down
        "pkg/__init__.py": "",
        "pkg/a.py": "from .sub import c\n",
        "pkg/sub/__init__.py": "from . import c\n",
        "pkg/sub/c.py": "from ..a import x\n",
    }, ["pkg.a", "pkg.sub.c", "pkg.a"], id="relative"),
    pytest.param({  # `import pkg.b` inside a try block, and a package __init__ re-exporting a name
        "pkg/__init__.py": "from pkg.a import thing\n",
        "pkg/a.py": "try:\n    import pkg.b\nexcept ImportError:\n    pass\nthing = 1\n",
        "pkg/b.py": "from pkg import thing\n",
    }, ["pkg", "pkg.a", "pkg.b", "pkg"], id="import-and-init"),
])
def test_a_reintroduced_cycle_is_found(tmp_path: Path, files: dict[str, str], cycle: list[str]) -> None:
    _write(tmp_path, files)
    assert find_cycle(import_graph(tmp_path, "pkg")) == cycle


def test_type_checking_imports_and_outside_modules_are_not_edges(tmp_path: Path) -> None:
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from typing import TYPE_CHECKING\nimport numpy\nfrom pkg.b import f\n",
        "pkg/b.py": "import typing\nif typing.TYPE_CHECKING:\n    from pkg.a import x\nelse:\n    import os\n"
                    "def f():\n    pass\n",
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": set()}
    assert find_cycle(graph) is None
