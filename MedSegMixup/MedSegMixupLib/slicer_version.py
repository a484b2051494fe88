"""Which Slicer the module runs in, and whether it is new enough (Slicer 5.10+, Python 3.10+).

Slicer 5.8 and older ship Python 3.9, which MedSegTrain does not support; 5.12 added
``slicer.packaging``. This file is imported before anything else of the module, so it must stay
valid Python 3.9 (no ``match``, no ``X | Y`` outside annotations, no ``zip(strict=)``).
"""

from __future__ import annotations

import sys
from typing import NamedTuple


class SlicerVersion(NamedTuple):
    """``(major, minor, patch)`` of the running Slicer."""

    major: int
    minor: int
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"


MINIMUM = SlicerVersion(5, 10, 0)
PACKAGING_MIN = SlicerVersion(5, 12, 0)  # first release with slicer.packaging.pip_ensure
MIN_PYTHON = (3, 10)


def running_version(app) -> SlicerVersion:
    """The ``major.minor`` of ``slicer.app``: ``majorVersion`` and ``minorVersion`` are Q_PROPERTYs of
    qSlicerCoreApplication (Base/QTCore/qSlicerCoreApplication.h), which PythonQt reads as values;
    there is no patch-version property, so the patch is 0."""
    return SlicerVersion(int(app.majorVersion), int(app.minorVersion), 0)


def unsupported_reason(version: SlicerVersion, python: tuple = tuple(sys.version_info[:2])) -> str:
    """Why this Slicer cannot run the module (for the panel), ``""`` when it can."""
    if version < MINIMUM or tuple(python) < MIN_PYTHON:
        return (f"MedSegMixup needs 3D Slicer {MINIMUM.major}.{MINIMUM.minor} or newer (Python "
                f"{MIN_PYTHON[0]}.{MIN_PYTHON[1]}+); this is Slicer {version} with Python "
                f"{python[0]}.{python[1]}. Please install a current Slicer from download.slicer.org.")
    return ""
