"""``python -m pip`` and ``python -m light_the_torch`` inside the stand-in's ``PythonSlicer``.

Slicer installs packages by running ``PythonSlicer -m pip ...`` in a child process
(Base/Python/slicer/util.py executePythonModule); the stand-in does the same, but this pip never
touches the network or the virtual environment. Its "package index" is the real environment: each
distribution at its installed version (plus ``VIRTUAL_INDEX``). "Installing" a hidden distribution
makes it visible again (standin_config state), with its dependencies as pip would (unless
``--no-deps``); anything the index cannot satisfy, or anything at all while offline, fails with
pip's own messages and exit status 1.
"""

from __future__ import annotations

import importlib.machinery
import importlib.metadata
import os
import sys
from pathlib import Path

import standin_config
import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

MODULES = ("pip", "light_the_torch")
# Packages SlicerPyTorch's installer needs that have no code here: light-the-torch (PyTorchUtils
# installs it with pip first) and torchvision (always installed beside torch). Names -> versions.
VIRTUAL_INDEX = {"light-the-torch": ("light-the-torch", "0.8.0"), "torchvision": ("torchvision", "0.28.0")}
_VALUE_OPTIONS = {"-c", "--constraint", "-r", "--requirement", "-i", "--index-url", "--extra-index-url",
                  "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--src", "--progress-bar"}


def main(module: str, args: list[str]) -> int:
    """Run the fake module with its command-line arguments, record the run, return the exit status."""
    if module == "light_the_torch":
        returncode = _light_the_torch(args)
    elif args[:1] == ["install"]:
        returncode = _install(args[1:])
    elif args[:1] == ["uninstall"]:
        returncode = _uninstall(args[1:])
    else:
        print(f"ERROR: the stand-in's pip supports only install and uninstall, got {args[:1]}",
              file=sys.stderr)
        returncode = 1
    standin_config.record_call(module, args, returncode)
    return returncode


def _light_the_torch(args: list[str]) -> int:
    # SlicerPyTorch runs `python -m light_the_torch install torch torchvision [--pytorch-...=...]`.
    if "light-the-torch" not in standin_config.installed_virtual():
        print(f"{sys.executable}: No module named light_the_torch", file=sys.stderr)
        return 1
    if args[:1] != ["install"]:
        print(f"ltt: the stand-in supports only 'install', got {args[:1]}", file=sys.stderr)
        return 2
    return _install([a for a in args[1:] if not a.startswith("--pytorch-")])


def _index() -> dict[str, tuple[str, str, list[str], str]]:
    """canonical name -> (name, version, Requires-Dist, location) of every real distribution."""
    index = {}
    context = importlib.metadata.DistributionFinder.Context()
    for dist in importlib.machinery.PathFinder.find_distributions(context):
        name = dist.metadata["Name"]
        location = str(Path(str(dist.locate_file(""))))
        index.setdefault(canonicalize_name(name), (name, dist.version, dist.requires or [], location))
    return index


def _parse(args: list[str]) -> tuple[list[str], set[str], list[str]]:
    """(requirement / path arguments, flags, constraint files) of ``pip install``."""
    sources, flags, constraints = [], set(), []
    items = iter(args)
    for item in items:
        option, has_value, inline = item.partition("=")
        if not item.startswith("-"):
            sources.append(item)
            continue
        if not (option in _VALUE_OPTIONS or option in ("-e", "--editable")):
            flags.add(item)
            continue
        value = inline if (item.startswith("--") and has_value) else next(items, "")
        if option in ("-r", "--requirement"):
            text = Path(value).read_text(encoding="utf-8")
            lines = [line.split(" #")[0].strip() for line in text.splitlines()]
            sources += [line for line in lines if line and line[0] not in "#-"]
        elif option in ("-c", "--constraint"):
            constraints.append(value)
        elif option in ("-e", "--editable"):
            sources.append(value)
    return sources, flags, constraints


def _local_project(text: str) -> tuple[str, str, list[str], str, str] | str | None:
    """A folder argument: (name, version, dependencies, folder, first build requirement), a pip
    error message, or None when ``text`` is not a path."""
    if not (os.sep in text or text.startswith(".") or os.path.exists(text)):
        return None
    pyproject = Path(text) / "pyproject.toml"
    if not pyproject.is_file():
        return f"ERROR: Directory '{text}' is not installable. Neither 'setup.py' nor 'pyproject.toml' found."
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data.get("project", {})
    build = data.get("build-system", {}).get("requires") or ["setuptools>=40.8.0"]
    return project["name"], project.get("version", "0"), list(project.get("dependencies", [])), text, build[0]


def _dependencies(requires: list[str], extras: set[str]) -> list[Requirement]:
    """Requires-Dist entries that apply here, for the requested extras (pip's marker evaluation)."""
    wanted = []
    for text in requires:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (extras or {""})):
            req.marker = None
            wanted.append(req)
    return wanted


def _install(args: list[str]) -> int:
    sources, flags, constraint_files = _parse(args)
    if not sources:
        print("ERROR: You must give at least one requirement to install (see \"pip help install\")",
              file=sys.stderr)
        return 1
    index, hidden = _index(), standin_config.hidden_distributions()
    virtual, offline = standin_config.installed_virtual(), standin_config.pip_offline()
    constraints = {}
    for path in constraint_files:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if line.split("#")[0].strip():
                req = Requirement(line.split("#")[0].strip())
                constraints[canonicalize_name(req.name)] = req.specifier
    queue: list[tuple[Requirement, tuple | None]] = []
    for text in sources:
        local = _local_project(text)
        if isinstance(local, str):
            print(local, file=sys.stderr)
            return 1
        try:
            queue.append((Requirement(local[0]) if local else Requirement(text), local))
        except InvalidRequirement:
            print(f"ERROR: Invalid requirement: '{text}'", file=sys.stderr)
            return 1
    plan, seen = {}, set()
    while queue:
        req, local = queue.pop(0)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            print(f"Ignoring {req.name}: markers '{req.marker}' don't match your environment")
            continue
        key = canonicalize_name(req.name)
        if key in seen:
            continue
        seen.add(key)
        spec = req.specifier & constraints.get(key, req.specifier)
        entry = index.get(key)
        if local is not None:
            if offline:  # pip's build isolation fetches the build requirements from the index first
                return _not_found(local[4], "none")
            print(f"Processing {local[3]}")
            name, version, requires = local[:3]
        elif key in VIRTUAL_INDEX:
            (name, version), requires = VIRTUAL_INDEX[key], []
            if key in virtual:
                print(f"Requirement already satisfied: {req}")
                continue
            if offline or not spec.contains(version, prereleases=True):
                return _not_found(str(req), "none" if offline else version)
        elif entry is not None and key not in hidden and spec.contains(entry[1], prereleases=True):
            print(f"Requirement already satisfied: {req} in {entry[3]} ({entry[1]})")
            name, version, requires = entry[:3]
            key = None  # nothing to install, but its dependencies are checked too
        elif offline or entry is None or not spec.contains(entry[1], prereleases=True):
            if offline:
                print("WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, "
                      "status=None)) after connection broken by 'NewConnectionError': Failed to "
                      "establish a new connection: [Errno -3] Temporary failure in name resolution")
            return _not_found(str(req), "none" if offline or entry is None else entry[1])
        else:
            print(f"Collecting {req}")
            name, version, requires = entry[:3]
        if key is not None:
            plan[key] = f"{name}-{version}"
        if "--no-deps" not in flags:
            queue += [(dep, None) for dep in _dependencies(requires, set(req.extras))]
    if plan:
        standin_config.mark_installed([k for k in plan if k in index], [k for k in plan if k not in index])
        print("Successfully installed " + " ".join(plan.values()))
    return 0


def _uninstall(args: list[str]) -> int:
    index, hidden = _index(), standin_config.hidden_distributions()
    virtual = standin_config.installed_virtual()
    removed = []
    for text in (a for a in args if not a.startswith("-")):
        key = canonicalize_name(Requirement(text).name)
        present = key in virtual or (key in index and key not in hidden)
        if not present:
            print(f"WARNING: Skipping {text} as it is not installed.")
            continue
        name, version = VIRTUAL_INDEX[key] if key in virtual else index[key][:2]
        print(f"Found existing installation: {name} {version}\nUninstalling {name}-{version}:\n"
              f"  Successfully uninstalled {name}-{version}")
        removed.append(key)
    standin_config.mark_uninstalled(removed)
    return 0


def _not_found(requirement: str, versions: str) -> int:
    # pip's resolver messages (pip/_internal/resolution/resolvelib/factory.py).
    print(f"ERROR: Could not find a version that satisfies the requirement {requirement} "
          f"(from versions: {versions})", file=sys.stderr)
    print(f"ERROR: No matching distribution found for {requirement}", file=sys.stderr)
    return 1
