"""Fixtures of the experiment tests: the tiny phantom dataset and spec writer of ``tiny.py``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see MedSegTrain/cli/train.py

import pytest


def load_tiny() -> Any:
    here = Path(__file__).resolve().parent / "tiny.py"
    spec = importlib.util.spec_from_file_location("experiments_tiny", here)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def tiny() -> Any:
    return load_tiny()


@pytest.fixture(scope="session")
def phantom_data(tmp_path_factory: pytest.TempPathFactory, tiny: Any) -> Path:
    return tiny.phantoms(tmp_path_factory.mktemp("experiment_phantoms") / "ds")
