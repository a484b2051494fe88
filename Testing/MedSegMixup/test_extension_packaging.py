"""The extension's packaging: the ExtensionsIndex entry, CMake metadata, bundled backend, licence.

Facts from Slicer's source: the catalog entry schema (Schemas/slicer-extension-catalog-entry-schema-
v1.0.2.json: required ``$schema``, ``category``, ``scm_url``; ``scm_type`` git|local; ``tier`` 1-5;
``build_dependencies`` a list of extension names) and slicerMacroBuildScriptedModule (CMake/
SlicerMacroBuildScriptedModule.cmake: SCRIPTS relative to the CMake folder, ``WITH_SUBDIR`` installs
them in a package folder, as Slicer's DICOMLib).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
SCHEMA_TYPES = {"$schema": str, "category": str, "scm_url": str, "scm_revision": str, "scm_type": str,
                "build_dependencies": list, "dicom_support_rule": str, "build_subdirectory": str,
                "enabled": bool, "tier": int}


def cmake_variable(text: str, name: str) -> str:
    match = re.search(rf'set\({name} "([^"]*)"\)', text)
    assert match, name
    return match.group(1)


def cmake_list(text: str, name: str) -> list[str]:
    match = re.search(rf"set\({name}\n(.*?)\n  \)", text, re.S)
    assert match, name
    return [line.strip() for line in match.group(1).splitlines() if line.strip()]


def test_extensions_index_entry_follows_the_catalog_schema():
    entry = json.loads((PROJECT / "MedSegMixup.json").read_text())
    assert {"$schema", "category", "scm_url"} <= set(entry)
    assert set(entry) <= set(SCHEMA_TYPES)
    assert all(isinstance(value, SCHEMA_TYPES[key]) for key, value in entry.items())
    assert entry["$schema"].endswith("slicer-extension-catalog-entry-schema-v1.0.2.json#")
    assert entry["scm_type"] == "git" and 1 <= entry["tier"] <= 5 and entry["scm_revision"]
    cmake = (PROJECT / "CMakeLists.txt").read_text()
    assert entry["category"] == cmake_variable(cmake, "EXTENSION_CATEGORY")
    assert entry["build_dependencies"] == cmake_variable(cmake, "EXTENSION_DEPENDS").split()
    assert "PyTorch" in entry["build_dependencies"]
    repository = entry["scm_url"].removesuffix(".git")
    assert cmake_variable(cmake, "EXTENSION_HOMEPAGE").startswith(repository + "/")


def test_every_module_file_is_built_and_the_backend_ships_as_module_scripts():
    cmake = (PROJECT / "MedSegMixup" / "CMakeLists.txt").read_text()
    listed = {entry.replace("${MODULE_NAME}", "MedSegMixup")
              for entry in cmake_list(cmake, "MODULE_PYTHON_SCRIPTS")}
    lib = PROJECT / "MedSegMixup" / "MedSegMixupLib"
    on_disk = {"MedSegMixup.py"} | {f"MedSegMixupLib/{p.name}" for p in lib.glob("*.py")}
    assert listed == on_disk
    assert "MedSegTrainBackend" not in cmake and "pyproject" not in cmake  # no pip build of our own code
    backend = (PROJECT / "MedSegTrain" / "CMakeLists.txt").read_text()
    assert "slicerMacroBuildScriptedModule(" in backend and "WITH_SUBDIR" in backend
    assert "add_subdirectory(MedSegTrain)" in (PROJECT / "CMakeLists.txt").read_text()


def test_licence_matches_the_package_metadata():
    text = (PROJECT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS" in text
    assert 'license = "Apache-2.0"' in (PROJECT / "pyproject.toml").read_text()
