"""Dependency handling inside Slicer, against recording fakes of Slicer's API (S3).

The stand-in suite (``Testing/MedSegMixup/in_slicer``) runs the same code against a faithful Slicer;
these tests pin the decisions: what is installed, through which Slicer call, with which arguments.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from MedSegMixupLib import dependencies
from MedSegMixupLib.slicer_version import SlicerVersion, running_version, unsupported_reason

MODULE_DIR = Path(__file__).resolve().parents[3] / "MedSegMixup"
ALL_PRESENT = {"torch": "2.13.0", "monai": "1.4.0", "safetensors": "0.4.5", "PyYAML": "6.0.2",
               "tqdm": "4.67.1", "matplotlib": "3.9.2"}
V512, V510 = SlicerVersion(5, 12, 0), SlicerVersion(5, 10, 0)


class Recorder:
    """Records calls ``name(*args, **kwargs)``; ``raises`` makes one of them fail."""

    def __init__(self, raises: dict[str, Exception] | None = None, results: dict | None = None, hook=None):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.raises = raises or {}
        self.results = results or {}
        self.hook = hook

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if self.hook is not None:
                self.hook(name, args, kwargs)
            if name in self.raises:
                raise self.raises[name]
            return self.results.get(name)
        return call


def versions(**overrides):
    table = {**ALL_PRESENT, **overrides}
    return lambda name: table.get(name)


def importer(modules: dict):
    def import_module(name):
        if name not in modules:
            raise ImportError(f"No module named {name!r}")
        return modules[name]
    return import_module


def test_requirements_never_list_what_slicer_provides():
    names = [req.name for req in dependencies.read_requirements(dependencies.requirements_path(MODULE_DIR))]
    assert {"monai", "safetensors", "PyYAML"} <= set(names)
    assert not {"torch", "numpy", "scipy", "SimpleITK", "vtk", "requests", "MedSegTrain"} & set(names)


def test_a_requirement_line_that_is_not_name_ge_version_is_refused(tmp_path):
    path = tmp_path / "requirements.txt"
    path.write_text("# ok\nmonai>=1.4\n\nnumpy<2\n")
    with pytest.raises(ValueError, match=r"requirements.txt:4: 'numpy<2'"):
        dependencies.read_requirements(path)


@pytest.mark.parametrize("text, expected", [("2.3.1+cpu", (2, 3, 1)), ("1.4.0rc1", (1, 4, 0)),
                                            ("6.0", (6, 0)), ("2.10", (2, 10))])
def test_versions_compare_by_number(text, expected):
    assert dependencies.version_tuple(text) == expected
    assert dependencies.Requirement("x", "2.9").satisfied_by("2.10")  # not a string comparison


def test_the_bundled_backend_is_found_in_a_checkout():
    folder = dependencies.backend_folder(MODULE_DIR)
    assert folder == MODULE_DIR.parent and (folder / "MedSegTrain" / "__init__.py").is_file()


def test_check_reports_everything_missing_without_installing():
    kind, message = dependencies.check(MODULE_DIR, versions(torch=None, monai=None))
    assert kind == "warning" and "torch>=2.2 (through the PyTorch extension)" in message
    assert "monai>=1.4" in message and "safetensors" not in message
    assert dependencies.check(MODULE_DIR, versions())[0] == "ok"
    kind, message = dependencies.check(MODULE_DIR, versions(torch="2.1.2"))
    assert kind == "error" and "PyTorch 2.1.2 is older than 2.2" in message
    kind, message = dependencies.check(MODULE_DIR, versions(monai="1.3.2"))
    assert kind == "warning" and "monai>=1.4" in message  # too old counts as missing


def test_a_missing_backend_is_named_and_cannot_be_fixed_by_pip(tmp_path):
    kind, message = dependencies.check(MODULE_DIR, versions(), find_spec=lambda name: None)
    assert kind == "error" and "reinstall the MedSegMixup extension" in message
    kind, message = dependencies.check(MODULE_DIR, versions(torch=None), find_spec=lambda name: None)
    assert kind == "warning" and "torch>=2.2" in message and "MedSegTrain itself is missing" in message


def test_slicer_5_12_uses_pip_ensure_imported_explicitly():
    packaging = Recorder()
    slicer = SimpleNamespace(util=Recorder())  # no `packaging` attribute: it exists only once imported
    kind, _message = dependencies.ensure(slicer, MODULE_DIR, V512, versions(monai=None, tqdm=None),
                                         importer({"slicer.packaging": packaging}))
    assert [name for name, _a, _k in packaging.calls] == ["pip_ensure"]
    _name, args, kwargs = packaging.calls[0]
    assert args[0] == ["monai>=1.4", "tqdm>=4.66"] and kwargs["requester"] == "MedSegMixup"
    assert kwargs["skip_packages"] == ["numpy", "scipy", "SimpleITK", "vtk", "requests", "torch"]
    assert all(not Path(entry).exists() for entry in kwargs["skip_packages"])  # names, never folders
    assert slicer.util.calls == []
    assert kind == "warning"  # the fake installs nothing, so the check afterwards still misses them


def test_slicer_5_10_asks_first_and_pins_what_slicer_ships(tmp_path):
    pinned = {}

    def keep_constraints(name, args, _kwargs):
        if name == "pip_install":
            pinned["text"] = Path(args[0][1]).read_text()

    util = Recorder(results={"confirmOkCancelDisplay": True}, hook=keep_constraints)
    slicer = SimpleNamespace(util=util)
    dependencies.ensure(slicer, MODULE_DIR, V510, versions(monai=None), importer({}))
    assert [name for name, _a, _k in util.calls] == ["confirmOkCancelDisplay", "pip_install"]
    question = util.calls[0][1][0]
    assert "- monai>=1.4" in question and util.calls[0][2] == {"windowTitle": "MedSegMixup"}
    arguments = util.calls[1][1][0]
    assert arguments[0] == "--constraint" and arguments[2:] == ["monai>=1.4"]
    assert "numpy==" in pinned["text"]  # Slicer's numpy cannot be replaced by a dependency
    assert not Path(arguments[1]).exists()  # the constraints file is temporary


def test_declined_or_failed_installs_are_messages_not_exceptions():
    slicer = SimpleNamespace(util=Recorder(results={"confirmOkCancelDisplay": False}))
    kind, message = dependencies.ensure(slicer, MODULE_DIR, V510, versions(monai=None), importer({}))
    assert kind == "error" and "declined" in message and slicer.util.calls[-1][0] == "confirmOkCancelDisplay"
    declined = Recorder(raises={"pip_ensure": RuntimeError("User declined package installation")})
    kind, message = dependencies.ensure(SimpleNamespace(), MODULE_DIR, V512, versions(monai=None),
                                        importer({"slicer.packaging": declined}))
    assert kind == "error" and "Installation declined" in message
    offline = Recorder(raises={"pip_ensure": subprocess.CalledProcessError(1, ["pip"])})
    kind, message = dependencies.ensure(SimpleNamespace(), MODULE_DIR, V512, versions(monai=None),
                                        importer({"slicer.packaging": offline}))
    assert kind == "error" and "pip exited with status 1" in message and "network" in message


def test_torch_comes_from_pytorch_utils_with_the_minimum_version_or_a_clear_message():
    packaging = Recorder()
    kind, message = dependencies.ensure(SimpleNamespace(), MODULE_DIR, V512, versions(torch=None),
                                        importer({"slicer.packaging": packaging}))
    assert kind == "error" and "PyTorch' extension" in message
    assert packaging.calls == []  # nothing else installed before torch is there

    logic = Recorder(results={"installTorch": None})
    utils = SimpleNamespace(PyTorchUtilsLogic=lambda: logic)
    kind, message = dependencies.ensure(SimpleNamespace(), MODULE_DIR, V512, versions(torch=None),
                                        importer({"PyTorchUtils": utils, "slicer.packaging": packaging}))
    expected = {"askConfirmation": True, "torchVersionRequirement": ">=2.2"}  # appended to "torch" as is
    assert logic.calls == [("installTorch", (), expected)]
    assert kind == "error" and "not installed" in message


def test_old_slicer_and_old_python_are_refused_kindly():
    assert running_version(SimpleNamespace(majorVersion=5, minorVersion=12)) == V512
    assert unsupported_reason(V512, (3, 12)) == ""
    reason = unsupported_reason(SlicerVersion(5, 8, 0), (3, 9))
    assert "needs 3D Slicer 5.10 or newer" in reason and "Slicer 5.8.0 with Python 3.9" in reason
    assert unsupported_reason(V510, (3, 9)) != ""
