"""Atomic file output: write to a temporary name in the target folder, then rename.

A crash or Ctrl-C never leaves a half-written result under the final name.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def full_suffix(path: Path) -> str:
    """The compound suffix that selects a file format, e.g. ``.nii.gz`` or ``.nrrd``."""
    name = path.name.lower()
    for compound in (".nii.gz", ".tar.gz"):
        if name.endswith(compound):
            return path.name[-len(compound):]
    return path.suffix


@contextlib.contextmanager
def atomic_output_dir(final_dir: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``final_dir``; on success it replaces ``final_dir``."""
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final_dir.name}.", suffix=".tmp", dir=final_dir.parent))
    try:
        yield tmp
        if final_dir.exists():
            backup = final_dir.with_name(f".{final_dir.name}.old-{os.getpid()}")
            os.replace(final_dir, backup)
            os.replace(tmp, final_dir)
            shutil.rmtree(backup, ignore_errors=True)
        else:
            os.replace(tmp, final_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_output_file(final_path: Path) -> Iterator[Path]:
    """Yield a temporary path with the same name in a private folder beside ``final_path``.

    Writers that pick the format from the suffix (SimpleITK) or write side files named after
    the header (MetaImage ``.mhd`` + ``.raw``) see the real file name; every file written into
    the private folder is renamed into place together on success.
    """
    final_path = Path(final_path)
    final_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_dir = Path(tempfile.mkdtemp(prefix=f".{final_path.name}.", suffix=".tmp", dir=final_path.parent))
    try:
        yield tmp_dir / final_path.name
        for produced in tmp_dir.iterdir():
            os.replace(produced, final_path.parent / produced.name)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_output_file(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text_atomic(Path(path), json.dumps(obj, indent=2, sort_keys=False, allow_nan=True) + "\n")
