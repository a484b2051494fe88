"""Dependency handling inside Slicer, against a recording stand-in for Slicer's API (S3)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from MedSegMixupLib import dependencies

MODULE_DIR = Path(__file__).resolve().parents[3] / "MedSegMixup"


class Recorder:
    """Records calls ``name(*args, **kwargs)``; ``raises`` makes one of them fail."""

    def __init__(self, raises: dict[str, Exception] | None = None, results: dict | None = None):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.raises = raises or {}
        self.results = results or {}

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            if name in self.raises:
                raise self.raises[name]
            return self.results.get(name)
        return call


def finder(missing: set[str]):
    return lambda name: None if name in missing else object()


def test_requirements_never_list_what_slicer_provides():
    names = dependencies.requirement_names(dependencies.requirements_path(MODULE_DIR))
    assert {"monai", "scipy", "safetensors"} <= set(names)
    assert not {"torch", "SimpleITK", "vtk", "requests"} & set(names)


def test_backend_source_is_found_in_a_checkout():
    source = dependencies.backend_source(MODULE_DIR)
    assert source is not None and (source / "MedSegTrain" / "__init__.py").is_file()


def test_check_reports_missing_packages_without_installing():
    kind, message = dependencies.check(MODULE_DIR, finder({"monai", "MedSegTrain"}))
    assert kind == "warning" and "monai" in message and "MedSegTrain" in message
    assert dependencies.check(MODULE_DIR, finder(set()))[0] == "ok"


def test_pip_ensure_with_requester_and_protected_packages():
    packaging = Recorder(results={"load_requirements": ["monai>=1.4"]})
    slicer = SimpleNamespace(packaging=packaging, util=Recorder())
    missing = {"monai", "MedSegTrain"}
    kind, _message = dependencies.ensure(slicer, MODULE_DIR, finder(missing))
    names = [name for name, _a, _k in packaging.calls]
    assert names == ["load_requirements", "pip_ensure", "pip_install"]
    _name, args, kwargs = packaging.calls[1]
    assert args[0] == ["monai>=1.4"] and kwargs["requester"] == "MedSegMixup"
    assert {"SimpleITK", "torch", "requests", "vtk"} <= set(kwargs["skip_packages"])
    _name, args, kwargs = packaging.calls[2]
    assert Path(args[0][0]) == dependencies.backend_source(MODULE_DIR)  # installed from our own folder
    assert kwargs["requester"] == "MedSegMixup"
    assert slicer.util.calls == []  # no fallback used
    assert kind == "warning"  # the fake installs nothing, so the check afterwards still misses them


def test_old_slicer_falls_back_to_pip_install_after_asking():
    util = Recorder(results={"confirmOkCancelDisplay": True})
    slicer = SimpleNamespace(util=util)
    dependencies.ensure(slicer, MODULE_DIR, finder({"monai", "MedSegTrain"}))
    names = [name for name, _a, _k in util.calls]
    assert names == ["confirmOkCancelDisplay", "pip_install", "pip_install"]
    assert util.calls[1][1][0] == ["monai>=1.4"]
    assert util.calls[2][1][0][0] == "--no-deps"


def test_declined_or_failed_install_is_a_message_not_an_exception():
    slicer = SimpleNamespace(util=Recorder(results={"confirmOkCancelDisplay": False}))
    kind, message = dependencies.ensure(slicer, MODULE_DIR, finder({"monai"}))
    assert kind == "error" and "declined" in message
    failing = SimpleNamespace(packaging=Recorder(raises={"pip_ensure": RuntimeError("pip exited with 1")},
                                                 results={"load_requirements": []}), util=Recorder())
    kind, message = dependencies.ensure(failing, MODULE_DIR, finder({"monai"}))
    assert kind == "error" and "pip exited with 1" in message


def test_torch_comes_from_pytorch_utils_or_a_clear_message():
    def no_pytorch_utils(name):
        raise ImportError(name)

    slicer = SimpleNamespace(packaging=Recorder(), util=Recorder())
    kind, message = dependencies.ensure(slicer, MODULE_DIR, finder({"torch"}), no_pytorch_utils)
    assert kind == "error" and "PyTorch' extension" in message
    assert slicer.packaging.calls == []  # nothing else installed before torch is there

    logic = Recorder(results={"installTorch": None})
    utils = SimpleNamespace(PyTorchUtilsLogic=lambda: logic)
    kind, message = dependencies.ensure(slicer, MODULE_DIR, finder({"torch"}), lambda name: utils)
    assert logic.calls == [("installTorch", (), {"askConfirmation": True})]
    assert kind == "error" and "not installed" in message


@pytest.mark.parametrize("line, name", [("monai>=1.4", "monai"), ("PyYAML[extra]==6", "PyYAML"),
                                        ("numpy ; python_version>'3'", "numpy")])
def test_distribution_names(line, name, tmp_path):
    path = tmp_path / "r.txt"
    path.write_text(f"# comment\n\n{line}\n")
    assert dependencies.requirement_names(path) == [name]
