"""The module holds to Slicer's API and to PythonQt's limits, read from the source.

* every ``slicer.util.X(...)`` / ``sitkUtils.X(...)`` call (and every name imported from them)
  exists in ../shared/slicer_util_api.txt, with only keyword arguments listed there and no more
  positional arguments than it takes; the ITK-Python functions (Slicer ships no ``itk``) are
  never called; ``slicer.packaging`` is reached only by importing it (it is not an attribute of
  ``slicer`` until then), never as ``slicer.packaging.X`` or ``hasattr(slicer, "packaging")``;
* no Qt property is called as a method (PythonQt reads ``w.sizeHint`` as the QSize value, so
  ``w.sizeHint()`` raises inside Slicer);
* no module code imports PySide6/PyQt/Qt.py directly (only ``qt_shim`` does), declares Qt
  signals, or uses QThread.
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
MODULE_DIR = PROJECT / "MedSegMixup"
API_FILE = Path(os.environ.get("MEDSEG_SLICER_API", PROJECT.parent / "shared" / "slicer_util_api.txt"))
QT_BINDINGS = {"PySide6", "PySide2", "PyQt5", "PyQt6", "Qt", "qt", "shiboken6", "sip"}
FORBIDDEN_NAMES = {"Signal", "pyqtSignal", "QThread", "QThreadPool", "Slot", "pyqtSlot"}
# Classes (not functions) that Slicer's own scripted-module template imports from slicer.util.
SLICER_UTIL_CLASSES = {"VTKObservationMixin"}


@dataclass(frozen=True)
class Signature:
    positional: tuple[str, ...]
    keywords: frozenset[str]
    var_keyword: bool
    var_positional: bool


def load_api(path: Path) -> dict[str, Signature]:
    """``{"util.name" | "packaging.name": Signature}`` from the API listing."""
    api = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        text = line.strip()
        if not text or text.startswith("#") or "(" not in text:
            continue
        qualified, params = text.split("(", 1)
        namespace, name = qualified.split(".", 1) if "." in qualified else ("util", qualified)
        function = ast.parse(f"def {name}({params[:-1] if params.endswith(')') else params}): pass").body[0]
        args = function.args
        positional = tuple(a.arg for a in args.posonlyargs + args.args)
        keywords = frozenset(positional + tuple(a.arg for a in args.kwonlyargs))
        api[f"{namespace}.{name}"] = Signature(positional, keywords, args.kwarg is not None,
                                               args.vararg is not None)
    return api


ITK_PYTHON_FUNCTIONS = {"util.itkImageFromVolume", "util.itkImageFromVolumeModified",
                        "util.addVolumeFromITKImage", "util.updateVolumeFromITKImage"}


def slicer_calls(tree: ast.AST) -> list[tuple[str, ast.Call]]:
    """``("util.X" | "packaging.X" | "sitkUtils.X", call)`` for every ``slicer.util.X(...)``,
    ``slicer.packaging.X(...)`` and ``sitkUtils.X(...)``."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (isinstance(owner, ast.Attribute) and owner.attr in ("util", "packaging")
                    and isinstance(owner.value, ast.Name) and owner.value.id == "slicer"):
                found.append((f"{owner.attr}.{node.func.attr}", node))
            elif isinstance(owner, ast.Name) and owner.id in ("sitkUtils", "packaging"):
                found.append((f"{owner.id}.{node.func.attr}", node))  # packaging: imported slicer.packaging
    return found


def packaging_problems(source: str, where: str) -> list[str]:
    """``slicer.packaging`` used as an attribute, or probed with ``hasattr``/``getattr``."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Attribute) and node.attr == "packaging" and isinstance(node.value, ast.Name)
                and node.value.id == "slicer"):
            problems.append(f"{where}:{node.lineno}: slicer.packaging used as an attribute (import it)")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in ("hasattr", "getattr") and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant) and node.args[1].value == "packaging"):
            problems.append(f"{where}:{node.lineno}: probes for slicer.packaging instead of importing it")
    return problems


VALUE_CLASSES = {"QSize", "QSizeF", "QPoint", "QPointF", "QRect", "QRectF", "QColor", "QFont", "QIcon",
                 "QPixmap", "QImage", "QPalette", "QModelIndex", "QByteArray", "QKeySequence"}


def qt_property_names() -> tuple[set[str], set[str]]:
    """(Q_PROPERTY names of the widget, layout and timer classes panels use, names that are also
    methods of Qt value classes such as QSize or QTableWidgetItem, where calling them is right)."""
    from PySide6 import QtCore, QtGui, QtWidgets

    properties, value_methods = set(), set()
    for module in (QtCore, QtGui, QtWidgets):
        for name in dir(module):
            cls = getattr(module, name)
            if not isinstance(cls, type):
                continue
            if issubclass(cls, (QtWidgets.QWidget, QtWidgets.QLayout, QtCore.QTimer)):
                meta = cls.staticMetaObject
                properties |= {meta.property(i).name() for i in range(meta.propertyCount())}
            elif name in VALUE_CLASSES:
                value_methods |= {m for m in dir(cls) if not m.startswith("_")}
    return properties, value_methods


def property_call_problems(source: str, where: str, properties: set[str],
                           value_methods: set[str]) -> list[str]:
    """``x.name()`` where ``name`` is a Qt property and no Qt value class has such a method."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and not node.args
                and node.func.attr in properties and node.func.attr not in value_methods):
            problems.append(f"{where}:{node.lineno}: calls Qt property {node.func.attr!r} (PythonQt reads "
                            "it as a value: use qt_shim.prop)")
    return problems


def api_problems(source: str, api: dict[str, Signature], where: str) -> list[str]:
    """Every call or import that the API listing does not allow."""
    tree = ast.parse(source)
    problems = []
    for name, call in slicer_calls(tree):
        signature = api.get(name)
        if signature is None:
            problems.append(f"{where}:{call.lineno}: slicer.{name} is not in the API listing")
            continue
        if name in ITK_PYTHON_FUNCTIONS:
            problems.append(f"{where}:{call.lineno}: slicer.{name} needs ITK-Python, which Slicer lacks")
        for keyword in call.keywords:
            if keyword.arg is None or (keyword.arg not in signature.keywords and not signature.var_keyword):
                problems.append(f"{where}:{call.lineno}: slicer.{name} has no parameter {keyword.arg!r}")
        if len(call.args) > len(signature.positional) and not signature.var_positional:
            problems.append(f"{where}:{call.lineno}: slicer.{name} takes at most {len(signature.positional)} "
                            f"positional arguments, got {len(call.args)}")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("slicer.util", "slicer.packaging"):
            namespace = node.module.split(".")[1]
            for alias in node.names:
                if f"{namespace}.{alias.name}" not in api and alias.name not in SLICER_UTIL_CLASSES:
                    problems.append(f"{where}:{node.lineno}: {node.module}.{alias.name} is not in the API "
                                    "listing")
    return problems


def qt_problems(source: str, where: str, is_shim: bool) -> list[str]:
    """Direct Qt binding imports (outside the shim), signal declarations and QThread uses."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
            problems += [f"{where}:{node.lineno}: uses {alias.name}" for alias in node.names
                         if alias.name in FORBIDDEN_NAMES]
        for module in modules:
            if module.split(".")[0] in QT_BINDINGS and not is_shim:
                problems.append(f"{where}:{node.lineno}: imports {module} directly (use qt_shim)")
        name = getattr(node, "id", None) if isinstance(node, ast.Name) else getattr(node, "attr", None)
        if name in FORBIDDEN_NAMES:
            problems.append(f"{where}:{node.lineno}: uses {name}")
    return problems


def module_sources() -> list[Path]:
    return sorted([*MODULE_DIR.glob("*.py"), *(MODULE_DIR / "MedSegMixupLib").glob("*.py")])


@pytest.fixture(scope="module")
def api() -> dict[str, Signature]:
    if not API_FILE.is_file():
        pytest.skip(f"{API_FILE} is missing (set MEDSEG_SLICER_API)")
    return load_api(API_FILE)


def test_api_listing_is_parsed(api):
    assert api["util.loadVolume"].keywords == {"filename", "properties", "returnNode"}
    assert api["packaging.pip_ensure"].positional[0] == "requirements"
    assert "requester" in api["packaging.pip_install"].keywords
    assert api["util.delayDisplay"].var_keyword


def test_checker_catches_unknown_functions_and_keywords(api):
    bad = ("import slicer\n"
           "slicer.util.loadVolume('a.nrrd', returnNode=True, show=True)\n"
           "slicer.util.noSuchFunction()\n"
           "slicer.packaging.pip_ensure([], requester='x', askUser=False)\n"
           "slicer.util.getNode('a', 0, None, 'extra')\n"
           "from slicer.util import notThere\n")
    problems = api_problems(bad, api, "bad.py")
    assert len(problems) == 5, problems
    assert any("no parameter 'show'" in p for p in problems)
    assert any("noSuchFunction" in p for p in problems)
    assert any("'askUser'" in p for p in problems)
    assert any("at most 3 positional" in p for p in problems)
    assert any("notThere" in p for p in problems)
    good = "import slicer\nslicer.util.delayDisplay('x', autoCloseMsec=10, anything=1)\n"
    assert api_problems(good, api, "good.py") == []


def test_module_calls_only_listed_slicer_functions(api):
    sources = module_sources()
    assert MODULE_DIR / "MedSegMixup.py" in sources and len(sources) > 10
    problems = [p for path in sources for p in api_problems(path.read_text(encoding="utf-8"), api, path.name)]
    problems += [p for path in sources
                 for p in packaging_problems(path.read_text(encoding="utf-8"), path.name)]
    assert problems == []
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sources]
    calls = {name for tree in trees for name, _call in slicer_calls(tree)}
    assert {"sitkUtils.PullVolumeFromSlicer", "sitkUtils.PushVolumeToSlicer",
            "util.arrayFromSegmentBinaryLabelmap", "util.updateSegmentBinaryLabelmapFromArray",
            "util.pip_install", "packaging.pip_ensure"} <= calls
    assert not calls & ITK_PYTHON_FUNCTIONS


def test_checker_catches_itk_packaging_attributes_and_property_calls(api):
    bad = ("import slicer, sitkUtils\nslicer.util.itkImageFromVolume(n)\nsitkUtils.PullVolume(n)\n"
           "if hasattr(slicer, 'packaging'):\n    slicer.packaging.pip_ensure([])\n")
    problems = api_problems(bad, api, "bad.py") + packaging_problems(bad, "bad.py")
    assert any("ITK-Python" in p for p in problems) and any("PullVolume is not" in p for p in problems)
    assert sum("packaging" in p for p in problems) == 2  # the probe and the attribute
    properties, value_methods = qt_property_names()
    assert {"sizeHint", "currentIndex", "rowCount", "font"} <= properties
    calls = "w.sizeHint().height()\ncombo.currentIndex()\nsize.height()\nfont.setBold(True)\n"
    found = property_call_problems(calls, "bad.py", properties, value_methods)
    assert sorted(p.split("'")[1] for p in found) == ["currentIndex", "sizeHint"]  # value-class methods pass


def test_no_qt_property_is_called_as_a_method():
    properties, value_methods = qt_property_names()
    problems = [p for path in module_sources()
                for p in property_call_problems(path.read_text(encoding="utf-8"), path.name, properties,
                                                value_methods)]
    assert problems == []


def test_checker_catches_qt_bindings_signals_and_threads():
    bad = ("from PySide6.QtCore import Signal\nimport PyQt5\nfrom Qt import QtWidgets\n"
           "class A:\n    changed = Signal(int)\n    t = qt.QThread()\n")
    problems = qt_problems(bad, "bad.py", is_shim=False)
    assert sum("directly" in p for p in problems) == 3
    assert sum("uses Signal" in p for p in problems) == 2 and any("QThread" in p for p in problems)
    assert qt_problems("from Qt import QtCore\n", "qt_shim.py", is_shim=True) == []


def test_no_direct_qt_bindings_signals_or_threads():
    problems = [p for path in module_sources()
                for p in qt_problems(path.read_text(encoding="utf-8"), path.name, path.name == "qt_shim.py")]
    assert problems == []


def test_module_file_imports_nothing_heavy_at_load_time():
    tree = ast.parse((MODULE_DIR / "MedSegMixup.py").read_text(encoding="utf-8"))
    top_level = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import)
                 for alias in node.names}
    top_level |= {node.module.split(".")[0] for node in tree.body
                  if isinstance(node, ast.ImportFrom) and node.module}
    assert top_level <= {"slicer", "vtk", "qt", "ctk", "functools", "logging", "os"}, top_level
    assert "imp" not in top_level
