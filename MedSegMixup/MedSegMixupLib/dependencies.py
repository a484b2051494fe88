"""Backend dependencies inside Slicer: check without side effects, install on request (S3).

MedSegTrain itself ships inside the extension as pure-Python module scripts (beside this module
in an installed extension, the repository root in a source checkout), so nothing of ours is
built or downloaded. Only third-party packages are installed:

* torch through the PyTorch extension (``PyTorchUtils``, which picks the CUDA or CPU build that
  fits the machine), at least :data:`MIN_TORCH`;
* the packages of ``Resources/requirements.txt``: on Slicer 5.12+ with
  ``slicer.packaging.pip_ensure`` (imported explicitly: it is not an attribute of ``slicer`` until
  then), which asks the user and installs each package with its dependencies except the
  ``skip_packages``; on 5.10, which has no ``slicer.packaging``, after this module's own
  confirmation with ``slicer.util.pip_install`` and a constraints file pinning what Slicer ships.

Slicer's own numpy, scipy, SimpleITK, vtk and requests are never replaced. Every failure comes
back as a message for the panel, never an exception or a traceback dialog.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .slicer_version import PACKAGING_MIN, SlicerVersion

REQUESTER = "MedSegMixup"
MIN_TORCH = "2.2"
SLICER_PROVIDED = ("numpy", "scipy", "SimpleITK", "vtk", "requests")  # never replaced
Status = tuple[str, str]  # (kind: ok | warning | error, message)
VersionOf = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Requirement:
    """``name>=minimum`` (the only form ``requirements.txt`` uses)."""

    name: str
    minimum: str | None

    def __str__(self) -> str:
        return f"{self.name}>={self.minimum}" if self.minimum else self.name

    def satisfied_by(self, version: str | None) -> bool:
        """True when ``version`` is installed and not older than the minimum."""
        if version is None:
            return False
        return self.minimum is None or version_tuple(version) >= version_tuple(self.minimum)


def installed_version(distribution: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def version_tuple(version: str) -> tuple[int, ...]:
    """The leading numeric release of a version string: ``"2.3.1+cpu"`` -> ``(2, 3, 1)``."""
    numbers = []
    for part in version.split("+")[0].split("."):
        digits = part[: len(part) - len(part.lstrip("0123456789"))]
        if not digits:
            break
        numbers.append(int(digits))
        if digits != part:  # a pre-release tag ends the release part ("0rc1")
            break
    return tuple(numbers)


def requirements_path(module_dir: Path) -> Path:
    """``Resources/requirements.txt`` of the module."""
    return Path(module_dir) / "Resources" / "requirements.txt"


def read_requirements(path: Path) -> list[Requirement]:
    """The requirements file as :class:`Requirement` objects; ``ValueError`` names a bad line."""
    found = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        name, _sep, minimum = text.partition(">=")
        plain_name = name.strip().replace("-", "").replace("_", "").isalnum()
        if not plain_name or any(c in minimum for c in "<=!~;,"):
            raise ValueError(f"{path}:{number}: {text!r} is not of the form name>=version")
        found.append(Requirement(name.strip(), minimum.strip() or None))
    return found


def backend_folder(module_dir: Path) -> Path | None:
    """The folder holding the bundled ``MedSegTrain`` package: beside the module in an installed
    extension (both are module scripts in ``qt-scripted-modules``), the repository root in a
    checkout; None when it is missing (a broken install)."""
    module_dir = Path(module_dir)
    for candidate in (module_dir, module_dir.parent):
        if (candidate / "MedSegTrain" / "__init__.py").is_file():
            return candidate
    return None


def make_backend_importable(module_dir: Path) -> Path | None:
    """Put the bundled MedSegTrain on ``sys.path`` (a checkout's root is not on it); returns its folder."""
    folder = backend_folder(module_dir)
    if folder is not None and str(folder) not in sys.path:
        sys.path.append(str(folder))
        importlib.invalidate_caches()
    return folder


def missing_packages(module_dir: Path, version_of: VersionOf = installed_version) -> list[Requirement]:
    """Requirements that are not installed or older than required (torch not included)."""
    return [req for req in read_requirements(requirements_path(module_dir))
            if not req.satisfied_by(version_of(req.name))]


def torch_problem(version_of: VersionOf = installed_version) -> str:
    """Why torch cannot be used (``"missing"`` or a too-old version), ``""`` when it can."""
    version = version_of("torch")
    if version is None:
        return "missing"
    if not Requirement("torch", MIN_TORCH).satisfied_by(version):
        return version
    return ""


def check(module_dir: Path, version_of: VersionOf = installed_version,
          find_spec: Callable = importlib.util.find_spec) -> Status:
    """Whether the backend can run, without installing anything: ``ok``; ``warning`` with everything
    missing listed (the panel then offers the install); ``error`` when an install cannot help."""
    try:
        missing = [str(req) for req in missing_packages(module_dir, version_of)]
    except (OSError, ValueError) as exc:
        return "error", f"Cannot read {requirements_path(module_dir)}: {exc}"
    torch = torch_problem(version_of)
    if torch == "missing":
        missing.insert(0, f"torch>={MIN_TORCH} (through the PyTorch extension)")
    elif torch:
        return "error", (f"PyTorch {torch} is older than {MIN_TORCH}: update it in the PyTorch Utils module "
                         "and restart Slicer.")
    make_backend_importable(module_dir)
    backend_missing = find_spec("MedSegTrain") is None
    if not missing and not backend_missing:
        return "ok", "Backend ready (MedSegTrain and its Python packages are installed)."
    if not missing:
        return "error", (f"The MedSegTrain backend that ships with the extension is missing next to "
                         f"{module_dir}: reinstall the MedSegMixup extension.")
    text = ("The backend needs Python packages that are not installed yet: " + ", ".join(missing)
            + ". Press 'Install backend…' (you will be asked before anything is installed).")
    if backend_missing:
        text += (" MedSegTrain itself is missing too: if it stays missing, reinstall the MedSegMixup "
                 "extension.")
    return "warning", text


def ensure(slicer, module_dir: Path, version: SlicerVersion, version_of: VersionOf = installed_version,
           import_module: Callable = importlib.import_module,
           find_spec: Callable = importlib.util.find_spec) -> Status:
    """Install what :func:`check` reports missing; ``slicer`` is the ``slicer`` module."""
    kind, message = check(module_dir, version_of, find_spec)
    if kind != "warning":
        return kind, message
    status = _ensure_torch(version_of, import_module)
    if status is not None:
        return status
    missing = missing_packages(module_dir, version_of)
    if missing:
        try:
            if version >= PACKAGING_MIN:
                _install_with_pip_ensure(import_module, missing)
            else:
                _install_with_pip_install(slicer, missing)
        except _Declined:
            return "error", ("Installation declined: nothing was installed. The backend cannot run "
                             "without these packages.")
        except subprocess.CalledProcessError as exc:
            names = ", ".join(str(r) for r in missing)
            return "error", (f"Installing {names} failed (pip exited with status "
                             f"{exc.returncode}). Check the network connection or install them from Slicer's "
                             "Python console, then restart Slicer.")
        except Exception as exc:  # pip or Slicer errors of any kind end in a message
            return "error", f"Installing the backend packages failed: {exc}"
    importlib.invalidate_caches()
    return check(module_dir, version_of, find_spec)


class _Declined(Exception):
    """The user answered Cancel."""


def _ensure_torch(version_of: VersionOf, import_module: Callable) -> Status | None:
    if torch_problem(version_of) != "missing":
        return None
    try:
        pytorch_utils = import_module("PyTorchUtils")
    except ImportError:
        return "error", ("PyTorch is missing. Install the 'PyTorch' extension from the Extensions Manager, "
                         "restart Slicer, and try again.")
    try:
        torch = pytorch_utils.PyTorchUtilsLogic().installTorch(
            askConfirmation=True, torchVersionRequirement=f">={MIN_TORCH}")
    except Exception as exc:
        return "error", f"Installing PyTorch through the PyTorch extension failed: {exc}"
    if torch is None:
        return "error", "PyTorch was not installed (cancelled or failed); the backend cannot run without it."
    return None


def _install_with_pip_ensure(import_module: Callable, missing: list[Requirement]) -> None:
    packaging = import_module("slicer.packaging")
    try:
        packaging.pip_ensure([str(req) for req in missing], skip_packages=[*SLICER_PROVIDED, "torch"],
                             requester=REQUESTER)
    except RuntimeError as exc:
        if "declined" in str(exc).lower():
            raise _Declined() from exc
        raise


def _install_with_pip_install(slicer, missing: list[Requirement]) -> None:
    listing = "\n".join(f"- {req}" for req in missing)
    question = (f"MedSegMixup needs {len(missing)} Python package(s) that are not installed yet:\n"
                f"{listing}\n\n"
                "They will be installed into Slicer's Python with pip (network access needed). Slicer's own "
                "numpy, scipy, SimpleITK and requests are kept. Install now?")
    if not slicer.util.confirmOkCancelDisplay(question, windowTitle="MedSegMixup"):
        raise _Declined()
    pins = [f"{name}=={version}" for name in SLICER_PROVIDED
            if name != "vtk" and (version := installed_version(name)) is not None]
    with tempfile.TemporaryDirectory(prefix="medsegmixup-pip-") as folder:
        constraints = Path(folder) / "slicer-constraints.txt"
        constraints.write_text("\n".join(pins) + "\n", encoding="utf-8")
        slicer.util.pip_install(["--constraint", str(constraints), *(str(req) for req in missing)])
