"""Process and pip part of the ``slicer.util`` stand-in (Base/Python/slicer/util.py).

The API follows the emulated release (standin_config.SLICER_VERSION):

* 5.10 (util.py at v5.10.0): ``launchConsoleProcess(args, useStartupEnvironment=True,
  updateEnvironment=None, cwd=None)``, ``logProcessOutput(proc)``, ``_executePythonModule(module, args)``,
  ``pip_install(requirements)`` / ``pip_uninstall(requirements)`` (no keyword arguments); there is no
  ``executePythonModule``. Extra keyword arguments raise TypeError, as they would there.
* 5.12+ (v5.12.0 .. HEAD, identical here): non-blocking ``launchConsoleProcess`` with callbacks,
  ``logProcessOutput(proc, logCallback=None)``, public ``executePythonModule``, deprecated
  ``_executePythonModule`` and ``pip_install``/``pip_uninstall`` delegating to ``slicer.packaging``.

Processes really run. ``PythonSlicer`` is the stand-in's launcher on PATH (standin_config), so
``python -m pip`` runs the stand-in's pip (standin_pip.py), never the real one.
"""

from __future__ import annotations

import logging
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import warnings
from collections.abc import Callable
from subprocess import CalledProcessError, Popen

import standin_config

_NEW_API = standin_config.version_at_least(5, 12)


def startupEnvironment() -> dict[str, str]:
    """util.py startupEnvironment: the environment from before the launcher added Slicer's
    settings (slicer.app.startupEnvironment(), empty keys dropped), as a dict of str."""
    return {key: value for key, value in standin_config.startup_environment().items() if key}


def _popen(args: list[str], useStartupEnvironment: bool, updateEnvironment: dict[str, str] | None,
           cwd: str | None) -> Popen[str]:
    # util.py launchConsoleProcess: startup environment (+ updates), or os.environ + updates, or inherit;
    # stdout piped, stderr merged into it, text mode.
    if useStartupEnvironment:
        env = startupEnvironment()
        if updateEnvironment:
            env.update(updateEnvironment)
    elif updateEnvironment:
        env = {**os.environ, **updateEnvironment}
    else:
        env = None
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, cwd=cwd)


def _launchConsoleProcess510(args, useStartupEnvironment=True, updateEnvironment=None, cwd=None):
    """util.py v5.10.0 launchConsoleProcess: start the process, return the Popen."""
    return _popen(args, useStartupEnvironment, updateEnvironment, cwd)


def _launchConsoleProcess512(
    args: list[str],
    useStartupEnvironment: bool = True,
    updateEnvironment: dict[str, str] | None = None,
    cwd: str | None = None,
    blocking: bool = True,
    logCallback: Callable[[str], None] | None = None,
    completedCallback: Callable[[int], None] | None = None,
) -> Popen[str]:
    """util.py (5.12+) launchConsoleProcess: blocking returns the Popen for logProcessOutput;
    non-blocking also reads its output in a thread, delivered by QTimer polling on the main thread."""
    proc = _popen(args, useStartupEnvironment, updateEnvironment, cwd)
    if not blocking:
        _startAsyncProcessHandling(proc, logCallback, completedCallback)
    return proc


def _startAsyncProcessHandling(proc: Popen[str], logCallback, completedCallback) -> None:
    """util.py _startAsyncProcessHandling: lines without their line ending go to logCallback (else
    print); the return code to completedCallback (else an error is logged when non-zero); polled
    every 100 ms with qt.QTimer.singleShot, so nothing is delivered unless the Qt event loop runs."""
    import qt

    lines: queue.Queue = queue.Queue()

    def read() -> None:
        for line in proc.stdout:
            lines.put(("line", line.rstrip()))
        proc.wait()
        lines.put(("done", proc.returncode))

    def poll() -> None:
        while True:
            try:
                kind, data = lines.get_nowait()
            except queue.Empty:
                break
            if kind == "line":
                (logCallback or print)(data)
                continue
            if completedCallback:
                completedCallback(data)
            elif data != 0:
                logging.error(f"Process failed with return code {data}: {proc.args}")
            return
        qt.QTimer.singleShot(100, poll)

    threading.Thread(target=read, daemon=True).start()
    qt.QTimer.singleShot(0, poll)


def _logProcessOutput510(proc):
    """util.py v5.10.0 logProcessOutput: no logCallback parameter."""
    _logProcessOutput512(proc)


def _logProcessOutput512(proc, logCallback=None):
    """util.py logProcessOutput: print each line (and pass it to logCallback), let the GUI refresh,
    then raise CalledProcessError(returncode, proc.args) if the process failed."""
    try:
        from slicer import app
    except ImportError:
        app = None
    while True:
        try:
            line = proc.stdout.readline()
        except UnicodeDecodeError:
            continue  # util.py discards lines that are not valid in the locale's encoding
        if not line:
            break
        line = line.rstrip()
        print(line)
        if logCallback:
            logCallback(line)
        if app:
            app.processEvents()
    proc.wait()
    if proc.returncode != 0:
        raise CalledProcessError(proc.returncode, proc.args, output=proc.stdout, stderr=proc.stderr)


def _pythonSlicer() -> str:
    """util.py: inside the application PythonSlicer is found on PATH (RuntimeError if not); from a
    plain console, next to sys.executable."""
    try:
        from slicer import app  # noqa: F401
    except ImportError:
        return os.path.dirname(sys.executable) + "/PythonSlicer"
    found = shutil.which("PythonSlicer")
    if not found:
        raise RuntimeError("PythonSlicer executable not found")
    return found


def executePythonModule(
    module: str,
    args: list[str],
    blocking: bool = True,
    logCallback: Callable[[str], None] | None = None,
    completedCallback: Callable[[int], None] | None = None,
) -> None:
    """util.py (5.12+) executePythonModule: ``PythonSlicer -m module *args`` in os.environ (not the
    startup environment); blocking raises CalledProcessError on failure, non-blocking calls back."""
    commandLine = [_pythonSlicer(), "-m", module, *args]
    if blocking:
        _logProcessOutput512(_launchConsoleProcess512(commandLine, useStartupEnvironment=False),
                             logCallback=logCallback)
    else:
        _launchConsoleProcess512(commandLine, useStartupEnvironment=False, blocking=False,
                                 logCallback=logCallback, completedCallback=completedCallback)


def _executePythonModule512(module, args, blocking=True, logCallback=None, completedCallback=None):
    """util.py (5.12+): deprecated since 5.11.0, warns and calls executePythonModule."""
    warnings.warn("_executePythonModule is deprecated, use executePythonModule instead",
                  DeprecationWarning, stacklevel=2)
    return executePythonModule(module, args, blocking, logCallback, completedCallback)


def _executePythonModule510(module, args):
    """util.py v5.10.0 _executePythonModule: blocking ``PythonSlicer -m module *args``."""
    proc = _launchConsoleProcess510([_pythonSlicer(), "-m", module, *args], useStartupEnvironment=False)
    _logProcessOutput510(proc)


def _pipArgs(command: str, requirements) -> list[str]:
    # util.py v5.10.0: a str is split with shlex.split (shell quoting), a list is passed as is,
    # anything else (a tuple too) is a ValueError.
    if type(requirements) is str:
        return [command, *shlex.split(requirements)]
    if type(requirements) is list:
        return [command, *requirements]
    raise ValueError(f"pip_{command} requirement input must be string or list")


def _pip_install510(requirements):
    """util.py v5.10.0 pip_install: ``python -m pip install`` with the requirements; no prompt."""
    _executePythonModule510("pip", _pipArgs("install", requirements))


def _pip_uninstall510(requirements):
    """util.py v5.10.0 pip_uninstall: ``python -m pip uninstall <requirements> --yes``."""
    _executePythonModule510("pip", [*_pipArgs("uninstall", requirements), "--yes"])


def _pip_install512(requirements, **kwargs):
    """util.py (5.12+) pip_install: delegates to slicer.packaging.pip_install (which it imports)."""
    from slicer.packaging import pip_install

    return pip_install(requirements, **kwargs)


def _pip_uninstall512(requirements, **kwargs):
    """util.py (5.12+) pip_uninstall: delegates to slicer.packaging.pip_uninstall."""
    from slicer.packaging import pip_uninstall

    return pip_uninstall(requirements, **kwargs)


if _NEW_API:
    launchConsoleProcess = _launchConsoleProcess512
    logProcessOutput = _logProcessOutput512
    _executePythonModule = _executePythonModule512
    pip_install = _pip_install512
    pip_uninstall = _pip_uninstall512
else:
    launchConsoleProcess = _launchConsoleProcess510
    logProcessOutput = _logProcessOutput510
    _executePythonModule = _executePythonModule510
    pip_install = _pip_install510
    pip_uninstall = _pip_uninstall510
    del executePythonModule  # first appears in 5.11/5.12

__all__ = ["_executePythonModule", "launchConsoleProcess", "logProcessOutput", "pip_install",
           "pip_uninstall", "startupEnvironment", *(["executePythonModule"] if _NEW_API else [])]
