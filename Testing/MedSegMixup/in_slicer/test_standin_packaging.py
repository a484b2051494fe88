"""Fidelity of the stand-in's packaging side: fresh mode, pip, slicer.packaging, processes, PyTorchUtils.

Runs only inside a stand-in process (every mode: full/fresh, Slicer 5.10/5.12); each test checks
what Slicer does in the mode at hand. Expected values are read from Slicer's Base/Python/slicer/util.py
and packaging.py (v5.10.0, v5.12.0, HEAD) and SlicerPyTorch's PyTorchUtils.py.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import shutil
import subprocess
import sys
import types

import pytest
import slicer
import slicer.util
import standin_config

AT_512 = standin_config.version_at_least(5, 12)
# The default fresh Slicer (no MEDSEG_STANDIN_MISSING override): only Slicer's own packages.
DEFAULT_FRESH = standin_config.FRESH and not standin_config.MISSING
TORCH_MISSING = "torch" in standin_config.blocked_modules()


@pytest.fixture(autouse=True)
def _fresh_record():
    """Every test starts from the start-up state: initial blocks, no pip record, online."""
    standin_config.reset()
    yield
    standin_config.reset()


@pytest.fixture
def testing_mode():
    """``testing_mode(enabled)``: emulate ``Slicer --testing`` (slicer.app.testingEnabled()) or not."""
    before = slicer.app.testingEnabled()
    yield slicer.app._setTestingEnabled
    slicer.app._setTestingEnabled(before)


@pytest.fixture
def interactive(monkeypatch, testing_mode):
    """Slicer outside testing mode (no --testing): dialogs are shown, pip_ensure installs.
    ``asked`` lists (function, text, windowTitle, kwargs) of every dialog; ``answers`` scripts them."""
    asked: list[tuple] = []
    answers = {"ok": True, "yes": False}
    testing_mode(False)

    def ok_cancel(text, windowTitle=None, parent=None, **kwargs):
        asked.append(("confirmOkCancelDisplay", text, windowTitle, kwargs))
        return answers["ok"]

    def yes_no(text, windowTitle=None, parent=None, **kwargs):
        asked.append(("confirmYesNoDisplay", text, windowTitle, kwargs))
        return answers["yes"]

    def error(text, windowTitle=None, parent=None, standardButtons=None, **kwargs):
        asked.append(("errorDisplay", text, windowTitle, kwargs))

    monkeypatch.setattr(slicer.util, "confirmOkCancelDisplay", ok_cancel)
    monkeypatch.setattr(slicer.util, "confirmYesNoDisplay", yes_no)
    monkeypatch.setattr(slicer.util, "errorDisplay", error)
    return types.SimpleNamespace(asked=asked, answers=answers)


def found_by_import_system(name: str) -> bool:
    """Whether a not-yet-imported ``name`` would be found (asks the finders, ignoring sys.modules)."""
    return any(getattr(f, "find_spec", None) and f.find_spec(name, None) for f in sys.meta_path)


def run_in_python_slicer(code: str) -> subprocess.CompletedProcess:
    """``PythonSlicer -c code`` started from the startup environment, as a module would start its backend."""
    proc = slicer.util.launchConsoleProcess([shutil.which("PythonSlicer"), "-c", code])
    out, _ = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out)


def pip_install_args() -> list[list[str]]:
    return [call["args"] for call in standin_config.pip_calls() if call["module"] == "pip"]


def test_version_switch_parses_the_emulated_release():
    text = standin_config.SLICER_VERSION
    assert ".".join(map(str, standin_config.VERSION)).startswith(text)
    assert tuple(int(p) for p in text.split(".")[:2]) == (standin_config.MAJOR, standin_config.MINOR)
    assert standin_config.version_at_least(5, 10)
    assert not standin_config.version_at_least(standin_config.MAJOR, standin_config.MINOR + 1)


@pytest.mark.skipif(not DEFAULT_FRESH, reason="default fresh Slicer only")
def test_fresh_slicer_has_only_what_slicer_ships():
    not_shipped = ("torch", "MedSegTrain", "monai", "safetensors", "yaml", "tqdm", "matplotlib", "psutil",
                   "Qt")
    for name in not_shipped:
        assert not found_by_import_system(name), name
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.version("torch")
    # SuperBuild/External_python-*.cmake and External_VTK.cmake: these ship with Slicer (requests too,
    # but the stand-in can only offer what its environment has).
    for name in ("numpy", "scipy", "SimpleITK", "vtk", "packaging", "PIL"):
        assert found_by_import_system(name) or name in sys.modules, name
    child = run_in_python_slicer("import numpy, SimpleITK\ntry:\n import torch\n"
                                 "except ModuleNotFoundError as e:\n print('missing', e.name)")
    assert child.returncode == 0, child.stdout
    assert "missing torch" in child.stdout


def test_pip_install_lifts_the_block_everywhere():
    # In a default fresh Slicer tqdm is missing; elsewhere it is already there ("already satisfied").
    was_missing = "tqdm" in standin_config.blocked_modules()
    slicer.util.pip_install("tqdm>=4.66")
    assert pip_install_args() == [["install", "tqdm>=4.66"]]  # util.py: a str is shlex-split
    assert found_by_import_system("tqdm") or "tqdm" in sys.modules
    assert importlib.metadata.version("tqdm")
    assert "tqdm" not in standin_config.blocked_modules()
    child = run_in_python_slicer("import tqdm; print('tqdm ok')")
    assert "tqdm ok" in child.stdout, child.stdout
    if was_missing:
        standin_config.reset()
        assert "tqdm" in standin_config.blocked_modules()


def test_pip_install_list_is_passed_as_is_and_tuple_rejected():
    slicer.util.pip_install(["--upgrade", "numpy"])
    assert pip_install_args() == [["install", "--upgrade", "numpy"]]
    with pytest.raises(ValueError, match="must be string or list"):
        slicer.util.pip_install(("numpy",))


def test_offline_pip_raises_called_process_error_with_the_command(testing_mode):
    testing_mode(True)  # 5.12+: testing mode installs without the progress dialog (see the test below)
    standin_config.set_pip_offline(True)
    with pytest.raises(subprocess.CalledProcessError) as failure:
        slicer.util.pip_install("no-such-package-xyz")
    # util.py logProcessOutput: CalledProcessError(returncode, proc.args), args = PythonSlicer -m pip ...
    assert failure.value.returncode == 1
    assert failure.value.cmd[1:] == ["-m", "pip", "install", "no-such-package-xyz"]
    assert failure.value.cmd[0] == shutil.which("PythonSlicer")
    assert standin_config.pip_calls()[-1]["returncode"] == 1


@pytest.mark.skipif(AT_512, reason="Slicer 5.10 API")
def test_slicer_510_has_no_packaging_and_the_old_process_api():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("slicer.packaging")
    assert importlib.util.find_spec("slicer.packaging") is None
    assert not hasattr(slicer.util, "executePythonModule")
    with pytest.raises(TypeError):
        slicer.util.pip_install("numpy", requester="MedSegMixup")
    with pytest.raises(TypeError):
        slicer.util.launchConsoleProcess([sys.executable, "-c", "pass"], blocking=False)
    proc = slicer.util.launchConsoleProcess([sys.executable, "-c", "pass"])
    with pytest.raises(TypeError):
        slicer.util.logProcessOutput(proc, logCallback=print)
    proc.wait()


@pytest.mark.skipif(not AT_512, reason="slicer.packaging is 5.12+")
def test_packaging_loads_requirement_objects(tmp_path):
    import slicer.packaging
    from packaging.requirements import Requirement

    path = tmp_path / "requirements.txt"
    path.write_text("# comment\n\n-r other.txt\nnumpy>=1.24\nPyYAML>=6.0\n", encoding="utf-8")
    loaded = slicer.packaging.load_requirements(path)
    assert all(isinstance(r, Requirement) for r in loaded)
    assert [str(r) for r in loaded] == ["numpy>=1.24", "PyYAML>=6.0"]
    assert slicer.packaging.pip_check("numpy>=1.0")
    assert not slicer.packaging.pip_check("numpy<1")


@pytest.mark.skipif(not AT_512, reason="slicer.packaging is 5.12+")
def test_folder_requirement_with_skip_packages_is_logged_and_not_installed(tmp_path, caplog):
    import slicer.packaging

    caplog.set_level(logging.WARNING)
    skipped = slicer.packaging.pip_install([str(tmp_path)], skip_packages=["torch", "SimpleITK"])
    assert skipped == []
    assert f"Could not parse requirement: {tmp_path}" in caplog.text
    assert pip_install_args() == []


@pytest.mark.skipif(not AT_512, reason="slicer.packaging is 5.12+")
def test_pip_ensure_asks_with_the_requester_and_raises_on_decline(interactive):
    import slicer.packaging

    interactive.answers["ok"] = False
    with pytest.raises(RuntimeError, match="User declined package installation"):
        slicer.packaging.pip_ensure(["numpy<1"], requester="MedSegMixup")
    (function, text, title, kwargs), = interactive.asked
    assert function == "confirmOkCancelDisplay"
    assert title == "MedSegMixup - Install Python Packages"
    assert text == ("1 Python package needs to be installed.\n\n"
                    "This will modify Slicer's Python environment. Continue?")
    assert kwargs == {"detailedText": "- numpy<1"}
    assert pip_install_args() == []


@pytest.mark.skipif(not AT_512, reason="slicer.packaging is 5.12+")
def test_pip_ensure_does_nothing_in_testing_mode(testing_mode, caplog):
    import slicer.packaging

    testing_mode(True)
    caplog.set_level(logging.INFO)
    assert slicer.packaging.pip_ensure(["numpy<1"], requester="MedSegMixup") is None
    assert "Testing mode is enabled: skipping pip_ensure for [numpy<1]" in caplog.text
    assert pip_install_args() == []


@pytest.mark.skipif(not AT_512, reason="slicer.packaging is 5.12+")
def test_pip_ensure_failure_shows_the_log_then_raises(interactive):
    import slicer.packaging

    # Slicer's numpy is not protected: pip is asked to replace it; here the index has no numpy<1.
    with pytest.raises(subprocess.CalledProcessError) as failure:
        slicer.packaging.pip_ensure("numpy<1", requester="MedSegMixup")
    assert failure.value.cmd == "pip install"  # packaging.py _pip_install_with_dialog
    error = [a for a in interactive.asked if a[0] == "errorDisplay"]
    assert error[0][1:3] == ("Package installation failed.", "MedSegMixup - Installation Failed")
    assert "No matching distribution found for numpy<1" in error[0][3]["detailedText"]
    assert pip_install_args() == [["install", "numpy<1"]]


@pytest.mark.skipif(not (AT_512 and DEFAULT_FRESH), reason="fresh Slicer 5.12+")
def test_pip_ensure_installs_after_yes_with_the_progress_dialog(interactive):
    import slicer.packaging

    assert slicer.packaging.pip_ensure(["safetensors>=0.4", "numpy>=1.24"], requester="MedSegMixup") is None
    assert interactive.asked[0][3] == {"detailedText": "- safetensors>=0.4"}  # only what is missing
    assert pip_install_args() == [["install", "safetensors>=0.4"]]
    assert slicer.packaging._PipProgressDialog._sharedInstance._dialog.windowTitle == \
        "MedSegMixup - Installing Python Packages"
    assert found_by_import_system("safetensors")


def test_launch_console_process_uses_the_startup_environment():
    code = ("import os; print(os.environ.get('PYTHONPATH'), os.environ.get('MEDSEG_SLICER_STANDIN'), "
            "os.environ['X'])")
    proc = slicer.util.launchConsoleProcess([sys.executable, "-c", code], updateEnvironment={"X": "1"})
    assert isinstance(proc, subprocess.Popen)
    out, _ = proc.communicate(timeout=60)
    assert out.split() == ["None", "None", "1"]  # no Slicer (launcher) settings in the startup environment
    proc = slicer.util.launchConsoleProcess([sys.executable, "-c", code], useStartupEnvironment=False,
                                            updateEnvironment={"X": "2"})
    out, _ = proc.communicate(timeout=60)
    assert out.split()[1:] == ["1", "2"]
    # PythonSlicer, like Slicer's launcher, puts Slicer's settings back for its child.
    child = run_in_python_slicer("import os, standin_config; print(os.environ['MEDSEG_SLICER_STANDIN'])")
    assert child.stdout.split() == ["1"], child.stdout


def test_log_process_output_raises_called_process_error():
    code = "print('a'); print('b', flush=True); exit(3)"
    proc = slicer.util.launchConsoleProcess([sys.executable, "-c", code])
    lines: list[str] = []
    with pytest.raises(subprocess.CalledProcessError) as failure:
        if AT_512:
            slicer.util.logProcessOutput(proc, logCallback=lines.append)
        else:
            slicer.util.logProcessOutput(proc)
    assert failure.value.returncode == 3
    assert lines == (["a", "b"] if AT_512 else [])


@pytest.mark.skipif(not AT_512, reason="non-blocking processes are 5.12+")
def test_non_blocking_launch_delivers_lines_through_the_event_loop(qtbot):
    lines: list[str] = []
    codes: list[int] = []
    slicer.util.launchConsoleProcess([sys.executable, "-c", "print('one'); print('two')"], blocking=False,
                                     logCallback=lines.append, completedCallback=codes.append)
    qtbot.waitUntil(lambda: codes == [0], timeout=30000)
    assert lines == ["one", "two"]


@pytest.mark.skipif(not TORCH_MISSING, reason="torch is installed in this mode")
def test_pytorchutils_asks_then_installs_torch(interactive):
    import PyTorchUtils

    logic = PyTorchUtils.PyTorchUtilsLogic()
    assert not logic.torchInstalled()
    interactive.answers["ok"] = False
    assert logic.installTorch(askConfirmation=True, torchVersionRequirement=">=2.2") is None
    assert interactive.asked[0][1] == ("PyTorch will be downloaded and installed using light-the-torch "
                                       "(ltt install torch>=2.2 torchvision)."
                                       " The process might take some minutes.")
    assert standin_config.pip_calls() == []
    interactive.answers["ok"] = True
    torch = logic.installTorch(askConfirmation=True, torchVersionRequirement=">=2.2")
    assert torch.__name__ == "torch"
    assert [(c["module"], c["args"]) for c in standin_config.pip_calls()] == [
        ("pip", ["install", "light-the-torch>=0.5"]),
        ("light_the_torch", ["install", "torch>=2.2", "torchvision"]),
    ]
    assert logic.torchInstalled()


@pytest.mark.skipif(TORCH_MISSING, reason="torch is missing in this mode")
def test_pytorchutils_sees_installed_torch(interactive):
    import PyTorchUtils

    assert PyTorchUtils.PyTorchUtilsLogic.torchInstalled()
    assert PyTorchUtils.PyTorchUtilsLogic().torch.__name__ == "torch"
    assert interactive.asked == []
    assert standin_config.pip_calls() == []
