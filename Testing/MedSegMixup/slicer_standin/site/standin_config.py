"""Switches of the Slicer stand-in, read once from the environment, and the "fresh Slicer" model.

How to start a stand-in process (helper B's ``slicer/__init__.py``): call ``standin_config.apply()``
once, as the very first thing, before anything imports torch, MedSegTrain or other packages; it is
idempotent and raises RuntimeError if a package it must hide was already imported.

Environment variables:

* ``MEDSEG_STANDIN_SLICER_VERSION`` -- emulated Slicer release, default ``5.12.3``.
* ``MEDSEG_STANDIN_FRESH=1`` -- a freshly installed Slicer: only what Slicer's SuperBuild ships stays
  importable (see ``SLICER_SHIPPED``), plus the stand-in's own harness; MedSegTrain is hidden too
  (an extension install without its bundled backend).
* ``MEDSEG_STANDIN_MISSING=torch,monai,...`` -- overrides that list: exactly these import or
  distribution names are missing (in any mode), e.g. "extension installed, third-party missing".
* ``MEDSEG_STANDIN_PIP_OFFLINE=1`` -- the stand-in's pip cannot reach an index (also ``set_pip_offline``).

What is missing is shared with child processes through a state file (like Slicer's on-disk
site-packages): the stand-in's ``pip`` (``standin_pip.py``, run in a child as Slicer does) edits it,
and every process re-reads it when it changes, so an install lifts the block everywhere.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import importlib.machinery
import importlib.metadata
import json
import os
import runpy
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.utils import canonicalize_name

SITE_DIR = Path(__file__).resolve().parent
STATE_ENV = "MEDSEG_STANDIN_STATE"

SLICER_VERSION = os.environ.get("MEDSEG_STANDIN_SLICER_VERSION", "5.12.3")
VERSION = tuple(int(part) for part in [*SLICER_VERSION.split("."), "0", "0"][:3])
MAJOR, MINOR, PATCH = VERSION
FRESH = os.environ.get("MEDSEG_STANDIN_FRESH") == "1"
MISSING = [n.strip() for n in os.environ.get("MEDSEG_STANDIN_MISSING", "").split(",") if n.strip()]

# Distributions a Slicer 5.10 .. 5.13 install ships (canonical names): the requirement files written by
# SuperBuild/External_python-{pip,setuptools,wheel,numpy,scipy,SimpleITK,requests-requirements,
# pythonqt-requirements,dicom-requirements,extension-manager-requirements,
# extension-manager-ssl-requirements}.cmake at v5.10.0 and HEAD, plus VTK (External_VTK.cmake writes a
# vtk dist-info) and SimpleITK (External_SimpleITK.cmake pip-installs it at 5.10).
SLICER_SHIPPED = frozenset({
    "pip", "setuptools", "wheel", "packaging", "pyparsing", "six", "numpy", "scipy", "simpleitk", "vtk",
    "certifi", "idna", "charset-normalizer", "urllib3", "requests", "pydicom", "pillow", "retrying",
    "dicomweb-client", "highdicom", "pyjpegls", "dcmqi", "chardet", "couchdb", "gitdb", "smmap",
    "gitpython", "cryptography", "cffi", "pycparser", "pygithub", "pyjwt", "pynacl", "deprecated",
    "wrapt", "typing-extensions", "python-dateutil",
})
# The stand-in itself: PySide6 stands in for PythonQt, pytest runs the tests. Never hidden.
HARNESS = frozenset({
    "pyside6", "pyside6-essentials", "pyside6-addons", "shiboken6", "types-pyside6", "pytest", "pluggy",
    "iniconfig", "pygments", "pytest-qt", "pytest-timeout", "ruff",
})
_BACKEND = "MedSegTrain"

_state_path: Path | None = None
_state: dict = {}
_state_key: tuple[int, int, int] = (-1, -1, -1)
_dist_imports: dict[str, set[str]] = {}


def version_at_least(major: int, minor: int = 0, patch: int = 0) -> bool:
    """Whether the emulated Slicer is at least ``major.minor.patch``."""
    return (major, minor, patch) <= VERSION


def apply() -> None:
    """Set up this process as a stand-in Slicer process (idempotent); see the module docstring."""
    global _state_path
    if _state_path is not None:
        return
    _index_distributions()
    existing = os.environ.get(STATE_ENV)  # set: a child of a stand-in process, share its state
    _state_path = Path(existing) if existing and Path(existing).is_file() else _create_root_state()
    _reload()
    leaked = sorted(n for n in _state["blocked"] if n in sys.modules)
    if leaked:
        raise RuntimeError(f"standin_config.apply() came too late: {leaked} already imported")
    for index, finder in enumerate(sys.meta_path):  # the path finder and setuptools' editable finders
        owner = finder if isinstance(finder, type) else type(finder)
        if finder is importlib.machinery.PathFinder or owner.__module__.startswith("__editable__"):
            sys.meta_path[index] = _Gate(finder)
    importlib.invalidate_caches()


def blocked_modules() -> frozenset[str]:
    """Top-level import names that are currently not importable."""
    _reload()
    return frozenset(_state["blocked"])


def hidden_distributions() -> frozenset[str]:
    """Canonical distribution names whose metadata is currently hidden (not "installed")."""
    _reload()
    return frozenset(_state["hidden"])


def distribution_imports() -> dict[str, set[str]]:
    """Canonical distribution name -> top-level import names, read from the real environment."""
    return _dist_imports


def pip_calls() -> list[dict]:
    """Every pip / light-the-torch run so far: ``{"module", "args", "returncode"}``, oldest first."""
    _reload()
    return list(_state["calls"])


def installed_virtual() -> frozenset[str]:
    """Packages "installed" that have no code in this environment (e.g. light-the-torch)."""
    _reload()
    return frozenset(_state["virtual"])


def pip_offline() -> bool:
    """Whether the stand-in's pip behaves as if no package index is reachable."""
    _reload()
    return bool(_state["offline"])


def set_pip_offline(offline: bool) -> None:
    """Script pip failures: when offline, anything not already installed fails to install."""
    _update(offline=bool(offline))


def reset() -> None:
    """Back to the start-up state: initial missing packages, no recorded calls, online."""
    _reload()
    _update(blocked=_state["initial_blocked"], hidden=_state["initial_hidden"], virtual=[], calls=[],
            offline=os.environ.get("MEDSEG_STANDIN_PIP_OFFLINE") == "1")


def startup_environment() -> dict[str, str]:
    """The environment before the "launcher" (the stand-in's runner) added Slicer's settings."""
    _reload()
    return dict(_state["startup_env"])


def mark_installed(distributions: list[str], virtual: list[str]) -> None:
    """pip installed these canonical distributions (and these code-less ones): lift their blocks."""
    _reload()
    names = set().union(*(_dist_imports.get(d, set()) for d in distributions))
    _update(blocked=sorted(set(_state["blocked"]) - names),
            hidden=sorted(set(_state["hidden"]) - set(distributions)),
            virtual=sorted(set(_state["virtual"]) | set(virtual)))


def mark_uninstalled(distributions: list[str]) -> None:
    """pip uninstalled these canonical distributions: hide them and block their imports again."""
    _reload()
    names = set().union(*(_dist_imports.get(d, set()) for d in distributions))
    _update(blocked=sorted(set(_state["blocked"]) | names),
            hidden=sorted(set(_state["hidden"]) | set(distributions)),
            virtual=sorted(set(_state["virtual"]) - set(distributions)))


def record_call(module: str, args: list[str], returncode: int) -> None:
    """Append one pip / light-the-torch run to the record."""
    _reload()
    _update(calls=[*_state["calls"], {"module": module, "args": list(args), "returncode": returncode}])


def launch_python_real(argv: list[str]) -> int:
    """The ``PythonSlicer`` launcher: re-add Slicer's settings, run python-real as a child, wait.

    Like CTKAppLauncher, the launcher is a separate parent process; ending it does not end the child.
    """
    apply()
    env = {**os.environ, **_state["launcher_env"]}
    code = "import standin_config; standin_config.python_real_main()"
    return subprocess.call([sys.executable, "-c", code, *argv], env=env)


def python_real_main() -> None:
    """python-real behind ``PythonSlicer``: ``-m module``, ``-c code`` or a script, in a stand-in process."""
    apply()
    argv = sys.argv[1:]
    if argv[:1] == ["-m"] and len(argv) > 1:
        import standin_pip

        if argv[1] in standin_pip.MODULES:
            sys.exit(standin_pip.main(argv[1], argv[2:]))
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    elif argv[:1] == ["-c"] and len(argv) > 1:
        sys.argv = ["-c", *argv[2:]]
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})
    elif argv and not argv[0].startswith("-"):
        sys.argv = list(argv)
        sys.path[0] = str(Path(argv[0]).resolve().parent)
        runpy.run_path(argv[0], run_name="__main__")
    else:
        sys.exit(f"PythonSlicer (stand-in): unsupported arguments {argv!r}; use -m, -c or a script")


class _Gate:
    """Wraps a meta-path finder: blocked modules are not found and their distributions not listed."""

    def __init__(self, inner) -> None:
        self._inner = inner

    def find_spec(self, fullname: str, path=None, target=None):
        if _is_blocked(fullname):
            return None
        return self._inner.find_spec(fullname, path, target)

    def find_distributions(self, context=None):
        find = getattr(self._inner, "find_distributions", None)
        if find is None:
            return iter(())
        hidden = hidden_distributions()
        found = find(context or importlib.metadata.DistributionFinder.Context())
        return (d for d in found if canonicalize_name(d.metadata["Name"] or "") not in hidden)

    def invalidate_caches(self) -> None:
        invalidate = getattr(self._inner, "invalidate_caches", None)
        if invalidate is not None:
            invalidate()


def _is_blocked(fullname: str) -> bool:
    # Base/Python/slicer/packaging.py first appears in v5.12.0: absent before, find_spec gives None.
    if (fullname == "slicer.packaging" or fullname.startswith("slicer.packaging.")) \
            and not version_at_least(5, 12):
        return True
    return fullname.partition(".")[0] in blocked_modules()


def _index_distributions() -> None:
    """Map every real distribution to its top-level import names (before anything is hidden)."""
    for name, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            _dist_imports.setdefault(canonicalize_name(dist), set()).add(name)


def _initial_missing() -> tuple[set[str], set[str]]:
    """(blocked import names, hidden canonical distributions) at start-up, from the switches."""
    if MISSING:
        wanted = set(MISSING)
    elif FRESH:
        wanted = {d for d in _dist_imports if d not in SLICER_SHIPPED | HARNESS} | {_BACKEND}
    else:
        return set(), set()
    hidden = {canonicalize_name(n) for n in wanted if canonicalize_name(n) in _dist_imports}
    hidden |= {d for d, names in _dist_imports.items() if names & wanted}
    kept = set().union(*(names for d, names in _dist_imports.items() if d not in hidden))
    blocked = set().union(*(_dist_imports[d] for d in hidden)) - kept
    blocked |= {n for n in wanted if canonicalize_name(n) not in _dist_imports}
    # a distribution named like a standard-library module (the PyPI "argparse" backport) cannot
    # hide that module: Slicer's Python has it from its standard library
    blocked -= set(sys.stdlib_module_names)
    return blocked, hidden


def _create_root_state() -> Path:
    """First stand-in process: write the state file and the ``PythonSlicer`` launcher, as Slicer's
    launcher would set up PATH (bin dir first) and PYTHONPATH for everything started inside."""
    own = ("MEDSEG_SLICER_", "MEDSEG_STANDIN_")
    launcher_keys = {"PYTHONPATH"} | {k for k in os.environ if k.startswith(own)}
    startup_env = {k: v for k, v in os.environ.items() if k not in launcher_keys}
    folder = Path(tempfile.mkdtemp(prefix="medseg-standin-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    state_path = folder / "state.json"
    launcher = bin_dir / "PythonSlicer"
    launcher.write_text(f"#!{sys.executable}\nimport os, sys\n"
                        f"os.environ[{STATE_ENV!r}] = {str(state_path)!r}\n"
                        f"sys.path.insert(0, {str(SITE_DIR)!r})\nimport standin_config\n"
                        "sys.exit(standin_config.launch_python_real(sys.argv[1:]))\n")
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    os.environ["PATH"] = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    os.environ[STATE_ENV] = str(state_path)
    launcher_env = {k: os.environ[k] for k in (*launcher_keys, "PATH", STATE_ENV) if k in os.environ}
    blocked, hidden = _initial_missing()
    state = {"initial_blocked": sorted(blocked), "initial_hidden": sorted(hidden), "blocked": sorted(blocked),
             "hidden": sorted(hidden), "virtual": [], "calls": [],
             "offline": os.environ.get("MEDSEG_STANDIN_PIP_OFFLINE") == "1",
             "startup_env": startup_env, "launcher_env": launcher_env}
    _write(state_path, state)
    return state_path


def _reload() -> None:
    global _state, _state_key
    if _state_path is None:
        raise RuntimeError("standin_config.apply() has not been called in this process")
    info = _state_path.stat()
    key = (info.st_ino, info.st_mtime_ns, info.st_size)  # each write is a new file (os.replace)
    if key != _state_key:
        _state = json.loads(_state_path.read_text(encoding="utf-8"))
        _state_key = key


def _update(**changes) -> None:
    _write(_state_path, {**_state, **changes})
    _reload()


def _write(path: Path, state: dict) -> None:
    """Atomic replace, so a reader in another process never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with contextlib.closing(os.fdopen(fd, "w", encoding="utf-8")) as handle:
        json.dump(state, handle)
    os.replace(tmp, path)
