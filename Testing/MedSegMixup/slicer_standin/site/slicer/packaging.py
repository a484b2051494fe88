"""Stand-in for ``slicer.packaging`` (Base/Python/slicer/packaging.py, v5.12.0 .. HEAD 583e9b37).

Only in Slicer 5.12+: at 5.10 the file does not exist, so importing it raises ModuleNotFoundError
(standin_config also makes ``importlib.util.find_spec("slicer.packaging")`` return None there).
Like any submodule, it is an attribute of ``slicer`` only once something imported it.

Behaviour follows the real file line by line; the only differences are where the real code would
touch the machine: pip runs the stand-in's pip (through ``slicer.util.executePythonModule``, as the
real code does), and ``_scrub_metadata`` records what it would remove instead of editing METADATA.
The progress dialog is a plain QDialog with the real titles and texts, without the collapsible
details section.
"""

from __future__ import annotations

import standin_config

if not standin_config.version_at_least(5, 12):
    raise ModuleNotFoundError("No module named 'slicer.packaging'", name="slicer.packaging")

import importlib
import importlib.metadata
import logging
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from subprocess import CalledProcessError

import tomllib
from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

import slicer.util
from slicer.i18n import tr as _


def load_requirements(path: str | Path) -> list[Requirement]:
    """packaging.py load_requirements: Requirement objects, one per line; blank lines, ``#`` comments
    and lines starting with ``-`` (``-r``, ``-c``, ``--index-url``) skipped; no inline comments
    (``numpy  # x`` raises InvalidRequirement)."""
    reqs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and not line.startswith("-"):
                reqs.append(Requirement(line))
    return reqs


def load_pyproject_dependencies(path: str | Path) -> list[Requirement]:
    """packaging.py load_pyproject_dependencies: ``[project].dependencies`` as Requirement objects;
    KeyError when there is no ``[project]`` table."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    if "project" not in data:
        raise KeyError(f"pyproject.toml has no [project] table: {path}")
    return [Requirement(dep) for dep in data["project"].get("dependencies", [])]


def _to_requirements(reqs) -> list[Requirement]:
    """packaging.py _to_requirements: a str is first one requirement (markers allowed), else split on
    whitespace; a Requirement; or a list of str/Requirement. Anything else: TypeError."""
    if isinstance(reqs, str):
        try:
            return [Requirement(reqs)]
        except InvalidRequirement:
            pass
        return [Requirement(s) for s in reqs.split()]
    if isinstance(reqs, Requirement):
        return [reqs]
    if isinstance(reqs, list):
        return [Requirement(r) if isinstance(r, str) else r for r in reqs]
    raise TypeError(f"Expected str, Requirement, or list, got {type(reqs).__name__}")


def pip_check(req, _seen=None) -> bool:
    """packaging.py pip_check: installed (importlib.metadata) at a version in the specifier, extras'
    dependencies recursively too; a requirement whose marker does not apply counts as satisfied."""
    from importlib.metadata import PackageNotFoundError, requires, version

    if _seen is None:
        _seen = set()
        return all(pip_check(r, _seen) for r in _to_requirements(req))
    if req.marker is not None and not req.marker.evaluate(default_environment()):
        return True
    key = (req.name.lower(), frozenset(req.extras))
    if key in _seen:
        return True
    _seen.add(key)
    try:
        installed = version(req.name)
    except PackageNotFoundError:
        return False
    if installed not in req.specifier:
        return False
    if not req.extras:
        return True
    env = default_environment()
    activated = []
    for dep_str in requires(req.name) or []:
        dep = Requirement(dep_str)
        if dep.marker is None:
            continue
        for extra in req.extras:
            if dep.marker.evaluate({**env, "extra": extra}):
                activated.append(Requirement(str(dep).split(";")[0].strip()))
                break
    return all(pip_check(dep, _seen) for dep in activated)


_pip_install_in_progress: bool = False


def isPipInstallInProgress() -> bool:
    """packaging.py isPipInstallInProgress: a non-blocking pip install is running."""
    return _pip_install_in_progress


def _get_installed_versions() -> dict[str, str]:
    importlib.invalidate_caches()
    return {canonicalize_name(dist.metadata["Name"]): dist.metadata["Version"]
            for dist in importlib.metadata.distributions()}


def _find_updated_imported_packages(before_versions, after_versions) -> list[tuple[str, str | None, str]]:
    """packaging.py: changed or newly installed distributions whose import names are in sys.modules."""
    dist_to_imports: dict[str, set[str]] = {}
    for import_name, dist_names in importlib.metadata.packages_distributions().items():
        for dn in dist_names:
            dist_to_imports.setdefault(canonicalize_name(dn), set()).add(import_name)
    result = []
    for name, new_ver in after_versions.items():
        old_ver = before_versions.get(name)
        if old_ver == new_ver:
            continue
        if any(imp in sys.modules for imp in dist_to_imports.get(name, set())):
            result.append((name, old_ver, new_ver))
    return result


def pip_ensure(requirements, constraints=None, skip_packages=None, prompt_install=True, prompt_restart=True,
               requester=None, skip_in_testing=True, show_progress=True) -> list[str] | None:
    """packaging.py pip_ensure: install what pip_check reports missing.

    Nothing missing: None. In testing mode (``slicer.app.testingEnabled()``) with skip_in_testing:
    logs and returns None without installing. prompt_install: ``confirmOkCancelDisplay`` titled
    "<requester> - Install Python Packages" with the packages as detailedText; declined ->
    RuntimeError("User declined package installation"). prompt_restart: after installing, offers a
    restart (confirmYesNoDisplay, outside testing mode) when an updated package was already imported.
    Returns pip_install's result (the skipped requirements when skip_packages is given).
    """
    requirements = _to_requirements(requirements)
    missing = [req for req in requirements if not pip_check(req)]
    if not missing:
        return None
    if not _isSlicerAppAvailable():
        return pip_install([str(req) for req in missing], constraints=constraints,
                           skip_packages=skip_packages)
    if skip_in_testing and slicer.app.testingEnabled():
        missing_str = ", ".join(str(req) for req in missing)
        logging.info(f"Testing mode is enabled: skipping pip_ensure for [{missing_str}]")
        return None
    if prompt_install:
        package_list = "\n".join(f"- {req}" for req in missing)
        title = (_("{requester} - Install Python Packages").format(requester=requester) if requester
                 else _("Install Python Packages"))
        if len(missing) == 1:
            message = _("1 Python package needs to be installed.\n\n"
                        "This will modify Slicer's Python environment. Continue?")
        else:
            message = _("{count} Python packages need to be installed.\n\n"
                        "This will modify Slicer's Python environment. Continue?").format(count=len(missing))
        if not slicer.util.confirmOkCancelDisplay(message, title, detailedText=package_list):
            raise RuntimeError("User declined package installation")
    before_versions = _get_installed_versions() if prompt_restart else None
    skipped = pip_install([str(req) for req in missing], constraints=constraints, skip_packages=skip_packages,
                          blocking=True, show_progress=show_progress, requester=requester)
    if not prompt_restart:
        return skipped
    updated = _find_updated_imported_packages(before_versions, _get_installed_versions())
    if updated:
        detail_text = "\n".join(f"- {name}: {old} -> {new}" if old else f"- {name}: (reinstalled) -> {new}"
                                for name, old, new in updated)
        logging.info(f"Updated packages already imported (restart recommended): {detail_text}")
        if not slicer.app.testingEnabled():
            title = (_("{requester} - Restart Recommended").format(requester=requester) if requester
                     else _("Restart Recommended"))
            if len(updated) == 1:
                message = _("1 updated package was already loaded in memory "
                            "and may not work correctly until Slicer is restarted.\n\n"
                            "Would you like to restart now?")
            else:
                message = _("{count} updated packages were already loaded in memory "
                            "and may not work correctly until Slicer is restarted.\n\n"
                            "Would you like to restart now?").format(count=len(updated))
            if slicer.util.confirmYesNoDisplay(message, title, detailedText=detail_text):
                slicer.util.restart()
    return skipped


def _isSlicerAppAvailable() -> bool:
    try:
        from slicer import app
        return app is not None
    except ImportError:
        return False


def _isMainQtThread() -> bool:
    if not _isSlicerAppAvailable():
        return False
    import qt

    return qt.QThread.currentThread() == slicer.app.thread()


def pip_install(requirements, constraints=None, no_deps_requirements=None, skip_packages=None,
                blocking=True, show_progress=True, requester=None, logCallback=None,
                completedCallback=None) -> list[str] | None:
    """packaging.py pip_install: dispatch on app / thread / testing mode / skip_packages / blocking /
    show_progress exactly as the real one (see the module docstring for the stand-in differences)."""
    if skip_packages is not None:
        if no_deps_requirements is not None:
            raise ValueError("skip_packages and no_deps_requirements are mutually exclusive. "
                             "skip_packages installs each package with --no-deps internally.")
        if not blocking:
            raise ValueError("skip_packages requires blocking=True. "
                             "The recursive dependency walk cannot run in non-blocking mode.")
    if not _isSlicerAppAvailable():
        if skip_packages is not None:
            return _pip_install_with_skips(requirements, skip_packages, constraints)
        _pip_install_simple(requirements, constraints, no_deps_requirements)
        return None
    if not _isMainQtThread():
        logging.warning("pip_install was called from a non-main thread; disabling progress UI.")
        if not blocking:
            raise RuntimeError("pip_install(blocking=False) is only supported on the main thread")
        if skip_packages is not None:
            raise RuntimeError("pip_install(skip_packages=...) is only supported on the main thread")
        _pip_install_simple(requirements, constraints, no_deps_requirements)
        return None
    if slicer.app.testingEnabled():
        logging.info("Testing mode is enabled: skipping progress UI for pip_install")
        if skip_packages is not None:
            return _pip_install_with_skips(requirements, skip_packages, constraints)
        _pip_install_simple(requirements, constraints, no_deps_requirements)
        return None
    if not blocking and _pip_install_in_progress:
        raise RuntimeError("A non-blocking pip_install is already in progress. "
                           "Wait for it to complete or use blocking=True.")
    if skip_packages is not None:
        if show_progress:
            dialog = _PipProgressDialog.acquire(requester=requester)
            try:
                return _pip_install_with_skips(requirements, skip_packages, constraints,
                                               log_fn=dialog.appendLog)
            finally:
                dialog.release()
        with _busyCursor():
            return _pip_install_with_skips(requirements, skip_packages, constraints)
    if show_progress and blocking:
        _pip_install_with_dialog(requirements, constraints, no_deps_requirements, requester)
    elif show_progress:
        _pip_install_with_statusbar(requirements, constraints, no_deps_requirements, requester,
                                    logCallback, completedCallback)
    elif blocking:
        with _busyCursor():
            _pip_install_simple(requirements, constraints, no_deps_requirements)
    else:
        _pip_install_nonblocking(requirements, constraints, no_deps_requirements, logCallback,
                                 completedCallback)
    return None


class _busyCursor:
    """qt.QApplication override cursor (BusyCursor) for the duration of a with-block."""

    def __enter__(self):
        import qt

        qt.QApplication.setOverrideCursor(qt.Qt.BusyCursor)

    def __exit__(self, *exc):
        import qt

        qt.QApplication.restoreOverrideCursor()


def _pip_install_simple(requirements, constraints=None, no_deps_requirements=None) -> None:
    """Blocking, no UI: CalledProcessError (from logProcessOutput) on failure."""
    if no_deps_requirements is not None:
        args = _build_pip_args(no_deps_requirements, constraints, no_deps=True)
        slicer.util.executePythonModule("pip", args, blocking=True)
    slicer.util.executePythonModule("pip", _build_pip_args(requirements, constraints, no_deps=False),
                                    blocking=True)


def _pip_install_with_dialog(requirements, constraints, no_deps_requirements, requester) -> None:
    """Modal progress dialog while the non-blocking install runs; on failure errorDisplay with the log,
    then CalledProcessError(returncode, "pip install")."""
    import threading

    import qt

    dialog = _PipProgressDialog.acquire(requester=requester)
    completed = threading.Event()
    result = {"returnCode": None, "log": ""}

    def onLog(line):
        dialog.appendLog(line)
        print(line)

    def onComplete(returnCode):
        result["returnCode"] = returnCode
        result["log"] = dialog.getFullLog()
        completed.set()

    _pip_install_nonblocking(requirements, constraints, no_deps_requirements,
                             logCallback=onLog, completedCallback=onComplete)
    while not completed.is_set():
        slicer.app.processEvents()
        qt.QThread.msleep(10)
    if result["returnCode"] != 0:
        dialog.hideNow()
        slicer.util.errorDisplay(
            _("Package installation failed."),
            windowTitle=(_("{requester} - Installation Failed").format(requester=requester) if requester
                         else _("Installation Failed")),
            detailedText=result["log"])
        raise CalledProcessError(result["returnCode"], "pip install")
    dialog.release()


def _pip_install_with_statusbar(requirements, constraints, no_deps_requirements, requester,
                                logCallback, completedCallback) -> None:
    """Non-blocking; each pip line in the status bar (prefixed "<requester>: "), busy cursor until done."""
    import qt

    prefix = f"{requester}: " if requester else ""
    qt.QApplication.setOverrideCursor(qt.Qt.BusyCursor)

    def wrappedLogCallback(line):
        slicer.util.showStatusMessage(f"{prefix}{line}", 0)
        (logCallback or print)(line)

    def wrappedCompletedCallback(returnCode):
        qt.QApplication.restoreOverrideCursor()
        slicer.util.showStatusMessage("", 0)
        if completedCallback:
            completedCallback(returnCode)
        elif returnCode != 0:
            logging.error(f"pip install failed with return code {returnCode}")

    try:
        _pip_install_nonblocking(requirements, constraints, no_deps_requirements,
                                 logCallback=wrappedLogCallback, completedCallback=wrappedCompletedCallback)
    except Exception:
        qt.QApplication.restoreOverrideCursor()
        slicer.util.showStatusMessage("", 0)
        raise


def _pip_install_nonblocking(requirements, constraints=None, no_deps_requirements=None, logCallback=None,
                             completedCallback=None) -> None:
    """Sets the in-progress flag until the (one or two chained) pip runs complete."""
    global _pip_install_in_progress
    _pip_install_in_progress = True

    def finish(returnCode):
        global _pip_install_in_progress
        _pip_install_in_progress = False
        if completedCallback:
            completedCallback(returnCode)

    def runRegular():
        slicer.util.executePythonModule("pip", _build_pip_args(requirements, constraints, no_deps=False),
                                        blocking=False, logCallback=logCallback, completedCallback=finish)

    def onNoDepsComplete(returnCode):
        if returnCode != 0:
            finish(returnCode)
        else:
            runRegular()

    try:
        if no_deps_requirements is None:
            runRegular()
        else:
            slicer.util.executePythonModule(
                "pip", _build_pip_args(no_deps_requirements, constraints, no_deps=True), blocking=False,
                logCallback=logCallback, completedCallback=onNoDepsComplete)
    except Exception:
        _pip_install_in_progress = False
        raise


def _build_pip_args(requirements, constraints=None, no_deps=False) -> list[str]:
    """``install`` + shlex.split(str) or the list as is (ValueError otherwise), ``--no-deps``,
    ``-c <constraints>``."""
    if type(requirements) is str:
        args = ["install", *shlex.split(requirements)]
    elif type(requirements) is list:
        args = ["install", *requirements]
    else:
        raise ValueError("pip_install requirement input must be string or list")
    if no_deps:
        args.append("--no-deps")
    if constraints is not None:
        args.extend(["-c", str(constraints)])
    return args


def _pip_install_with_skips(requirements, skip_packages, constraints=None,
                            log_fn: Callable[[str], None] | None = None) -> list[str]:
    """packaging.py: each requirement with ``--no-deps``, then its Requires-Dist recursively, skipping
    packages named in skip_packages (canonicalize_name, so any string is accepted there). A top-level
    requirement that is not a PEP 508 requirement (a folder path, a pip option) is logged as
    "Could not parse requirement: ..." and NOT installed; a failing dependency is logged and skipped,
    a failing top-level requirement raises CalledProcessError."""
    req_strings = shlex.split(requirements) if isinstance(requirements, str) else list(requirements)
    skip_set = {canonicalize_name(name) for name in skip_packages}
    seen: set[str] = set()
    skipped: list[str] = []

    def _log(msg):
        if log_fn:
            log_fn(msg)
        try:
            from slicer import app
            app.processEvents()
        except ImportError:
            pass

    def _install_one(req):
        canonical = canonicalize_name(req.name)
        if canonical in seen:
            return
        seen.add(canonical)
        if canonical in skip_set:
            skipped.append(str(req))
            _log(f"Skipping {req.name} (in skip list)")
            return
        if req.marker is not None and not req.marker.evaluate():
            return
        if pip_check(req):
            _log(f"{req.name} already satisfied")
            return
        _log(f"Installing {req.name}...")
        extras_str = f"[{','.join(req.extras)}]" if req.extras else ""
        args = _build_pip_args(f"{req.name}{extras_str}{req.specifier}", constraints, no_deps=True)
        slicer.util.executePythonModule("pip", args, blocking=True, logCallback=log_fn)
        importlib.invalidate_caches()
        try:
            sub_deps = importlib.metadata.requires(req.name) or []
        except importlib.metadata.PackageNotFoundError:
            sub_deps = []
        if skip_set:
            _scrub_metadata(canonical, skip_set)
        for dep_str in sub_deps:
            try:
                dep_req = Requirement(dep_str)
            except Exception:
                continue
            if dep_req.marker is not None and "extra" in str(dep_req.marker):
                continue
            try:
                _install_one(dep_req)
            except CalledProcessError:
                logging.warning("Failed to install %s, continuing with remaining dependencies", dep_req.name)
                _log(f"WARNING: Failed to install {dep_req.name}")

    for req_str in req_strings:
        try:
            req = Requirement(req_str)
        except Exception:
            logging.warning("Could not parse requirement: %s", req_str)
            continue
        _install_one(req)
    return skipped


def _scrub_metadata(package_name: str, skip_set: set[str]) -> None:
    """packaging.py removes the skipped packages' Requires-Dist lines from the installed METADATA; the
    stand-in must not edit the environment, so it records ("scrub_metadata", [package, *skipped])."""
    try:
        importlib.metadata.distribution(package_name)
    except importlib.metadata.PackageNotFoundError:
        logging.warning("_scrub_metadata: distribution not found for %s", package_name)
        return
    standin_config.record_call("scrub_metadata", [package_name, *sorted(skip_set)], 0)


def pip_uninstall(requirements, blocking=True, logCallback=None, completedCallback=None) -> None:
    """packaging.py pip_uninstall: ``pip uninstall <shlex.split(str) or list> --yes``."""
    if type(requirements) is str:
        args = ["uninstall", *shlex.split(requirements), "--yes"]
    elif type(requirements) is list:
        args = ["uninstall", *requirements, "--yes"]
    else:
        raise ValueError("pip_uninstall requirement input must be string or list")
    if not _isSlicerAppAvailable():
        slicer.util.executePythonModule("pip", args, blocking=True)
        return
    slicer.util.executePythonModule("pip", args, blocking=blocking, logCallback=logCallback,
                                    completedCallback=completedCallback)


class _PipProgressDialog:
    """packaging.py _PipProgressDialog: one modal dialog shared by all installs, parented to the main
    window, titled "<requester> - Installing Python Packages", hidden 0.5 s after an install ends."""

    _sharedInstance = None
    _hideDelaySeconds = 0.5

    @classmethod
    def acquire(cls, requester=None) -> _PipProgressDialog:
        if cls._sharedInstance is None:
            cls._sharedInstance = cls()
        cls._sharedInstance._beginInstall(requester)
        return cls._sharedInstance

    def __init__(self) -> None:
        import qt

        self._dialog = qt.QDialog(slicer.util.mainWindow())
        self._dialog.setModal(True)
        self._dialog.setWindowTitle(_("Installing Python Packages"))
        layout = qt.QVBoxLayout(self._dialog)
        self.statusLabel = qt.QLabel(_("Installing packages..."))
        layout.addWidget(self.statusLabel)
        self.progressBar = qt.QProgressBar()
        self.progressBar.setRange(0, 0)
        layout.addWidget(self.progressBar)
        self.logText = qt.QPlainTextEdit()
        self.logText.setReadOnly(True)
        layout.addWidget(self.logText)
        self._logLines: list[str] = []
        self._installs = 0

    def _beginInstall(self, requester) -> None:
        self._installs += 1
        self._dialog.setWindowTitle(_("{requester} - Installing Python Packages").format(requester=requester)
                                    if requester else _("Installing Python Packages"))
        self.statusLabel.setText(_("Installing packages..."))
        if self._dialog.isVisible():
            if self._logLines:
                self.appendLog("-" * 40)
        else:
            self._clearLog()
            self._dialog.show()
        slicer.app.processEvents()

    def release(self) -> None:
        import qt

        install = self._installs
        qt.QTimer.singleShot(int(self._hideDelaySeconds * 1000),
                             lambda: self.hideNow() if self._installs == install else None)

    def hideNow(self) -> None:
        self._dialog.hide()
        self._clearLog()

    def _clearLog(self) -> None:
        self._logLines = []
        self.logText.setPlainText("")

    def appendLog(self, line: str) -> None:
        self._logLines.append(line)
        self.logText.appendPlainText(line)

    def getFullLog(self) -> str:
        return "\n".join(self._logLines)
