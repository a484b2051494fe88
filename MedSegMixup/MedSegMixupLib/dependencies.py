"""Backend dependencies inside Slicer: check without side effects, install on request (S3).

Order matters: torch first through the PyTorch extension (``PyTorchUtils`` chooses the CUDA or CPU
build that fits the machine; a plain pip install often gets the wrong one), then the packages of
``Resources/requirements.txt`` with ``slicer.packaging.pip_ensure(..., requester="MedSegMixup")``
(which asks the user), then the bundled MedSegTrain from the extension's own folder. Slicer's
SimpleITK, torch, requests and vtk are never replaced. Older Slicer without ``slicer.packaging``
falls back to ``slicer.util.pip_install`` after a confirmation. Every failure comes back as a
message for the panel — never an exception or a traceback dialog.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

REQUESTER = "MedSegMixup"
NEVER_REPLACE = ("SimpleITK", "torch", "requests", "vtk")
BACKEND_FOLDER = "MedSegTrainBackend"
IMPORT_NAMES = {"PyYAML": "yaml", "scikit-image": "skimage"}

Status = tuple[str, str]  # (kind: ok | warning | error, message)


def requirements_path(module_dir: Path) -> Path:
    """``Resources/requirements.txt`` of the module."""
    return Path(module_dir) / "Resources" / "requirements.txt"


def backend_source(module_dir: Path) -> Path | None:
    """The folder to pip-install MedSegTrain from: the copy the extension build bundles beside the
    module, or (module path added from a source checkout) the repository root."""
    module_dir = Path(module_dir)
    for candidate in (module_dir / BACKEND_FOLDER, module_dir.parent):
        if (candidate / "pyproject.toml").is_file() and (candidate / "MedSegTrain").is_dir():
            return candidate
    return None


def requirement_names(path: Path) -> list[str]:
    """Distribution names listed in a requirements file (comments and blank lines skipped)."""
    names = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            names.append(_distribution_name(text))
    return names


def missing_modules(module_dir: Path, find_spec: Callable = importlib.util.find_spec) -> list[str]:
    """Importable names the backend needs but this Python lacks (torch and MedSegTrain included)."""
    needed = ["torch", *requirement_names(requirements_path(module_dir)), "MedSegTrain"]
    return [name for name in needed if find_spec(IMPORT_NAMES.get(name, name)) is None]


def check(module_dir: Path, find_spec: Callable = importlib.util.find_spec) -> Status:
    """Whether the backend can run, without installing anything."""
    try:
        missing = missing_modules(module_dir, find_spec)
    except OSError as exc:
        return "error", f"Cannot read {requirements_path(module_dir)}: {exc}"
    if not missing:
        return "ok", "Backend ready (MedSegTrain and its Python packages are installed)."
    return "warning", ("The backend needs Python packages that are not installed yet: " + ", ".join(missing)
                       + ". Press 'Install backend…' (you will be asked before anything is installed).")


def ensure(slicer, module_dir: Path, find_spec: Callable = importlib.util.find_spec,
           import_module: Callable = importlib.import_module) -> Status:
    """Install what :func:`check` reports missing; ``slicer`` is the ``slicer`` module (a fake in tests)."""
    status = _ensure_torch(slicer, find_spec, import_module)
    if status is not None:
        return status
    try:
        _ensure_packages(slicer, module_dir, find_spec)
    except Exception as exc:  # pip failures, a user who declines, a missing file: shown in the panel
        return "error", f"Installing the backend packages failed: {exc}"
    importlib.invalidate_caches()
    return check(module_dir, find_spec)


def _ensure_torch(slicer, find_spec: Callable, import_module: Callable) -> Status | None:
    if find_spec("torch") is not None:
        return None
    try:
        pytorch_utils = import_module("PyTorchUtils")
    except ImportError:
        return "error", ("PyTorch is missing. Install the 'PyTorch' extension from the Extensions Manager, "
                         "restart Slicer, and try again.")
    try:
        logic = pytorch_utils.PyTorchUtilsLogic()
        torch = logic.installTorch(askConfirmation=True)
    except Exception as exc:
        return "error", f"Installing PyTorch through the PyTorch extension failed: {exc}"
    if torch is None:
        return "error", "PyTorch was not installed (cancelled or failed); the backend cannot run without it."
    return None


def _ensure_packages(slicer, module_dir: Path, find_spec: Callable) -> None:
    requirements_file = requirements_path(module_dir)
    backend = backend_source(module_dir)
    if backend is None and find_spec("MedSegTrain") is None:
        raise FileNotFoundError(f"the bundled MedSegTrain is missing next to {module_dir}; reinstall the "
                                "MedSegMixup extension")
    if hasattr(getattr(slicer, "packaging", None), "pip_ensure"):
        requirements = list(slicer.packaging.load_requirements(str(requirements_file)))
        slicer.packaging.pip_ensure(requirements, skip_packages=list(NEVER_REPLACE), requester=REQUESTER)
        if find_spec("MedSegTrain") is None:
            slicer.packaging.pip_install([str(backend)], skip_packages=list(NEVER_REPLACE),
                                         requester=REQUESTER)
        return
    # Slicer before slicer.packaging: ask, then the classic pip_install.
    missing = [name for name in requirement_names(requirements_file)
               if find_spec(IMPORT_NAMES.get(name, name)) is None]
    install_backend = find_spec("MedSegTrain") is None
    if not missing and not install_backend:
        return
    listing = ", ".join([*missing, *(["MedSegTrain (bundled)"] if install_backend else [])])
    question = f"MedSegMixup needs these Python packages: {listing}. Install now?"
    if not slicer.util.confirmOkCancelDisplay(question, windowTitle="MedSegMixup"):
        raise RuntimeError("installation declined")
    text = requirements_file.read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    wanted = [line for line in lines if line and _distribution_name(line) in missing]
    if wanted:
        slicer.util.pip_install(wanted)
    if install_backend:
        slicer.util.pip_install(["--no-deps", str(backend)])


def _distribution_name(requirement: str) -> str:
    for separator in ("[", "<", ">", "=", "!", "~", ";", " ", "@"):
        requirement = requirement.split(separator, 1)[0]
    return requirement.strip()
