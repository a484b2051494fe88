"""The training tests' blob datasets, for the workflow tests (the test folders are not packages)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see MedSegTrain/cli/train.py

import pytest


def _training_conftest() -> Any:
    here = Path(__file__).resolve().parents[1] / "training" / "conftest.py"
    spec = importlib.util.spec_from_file_location("training_conftest_for_workflows", here)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def blob_writer() -> Any:
    """The training tests' :func:`write_blob_dataset`, for datasets of the workflow tests' own."""
    return _training_conftest().write_blob_dataset
