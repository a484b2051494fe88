"""Atomic file output: write to a temporary name in the target folder, then rename.

A crash or Ctrl-C never leaves a half-written result under the final name. The private folders
carry the writer's process id (``.<name>.pid<N>.<random>.tmp``): one left behind by a process that
was killed outright (SIGKILL, power loss), which no handler can clean, is removed by the next write
to the same name once that process is gone.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any


def full_suffix(path: Path) -> str:
    """The compound suffix that selects a file format, e.g. ``.nii.gz`` or ``.nrrd``."""
    name = path.name.lower()
    for compound in (".nii.gz", ".tar.gz"):
        if name.endswith(compound):
            return path.name[-len(compound):]
    return path.suffix


def private_folder(final: Path) -> Path:
    """A new private folder beside ``final`` for writing it, after removing the folders that dead
    processes left for the same name."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_folders(final)
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.pid{os.getpid()}.", suffix=".tmp", dir=final.parent))


def _remove_stale_folders(final: Path) -> None:
    pattern = re.compile(re.escape(f".{final.name}.pid") + r"(\d+)\.[^/]*\.tmp")
    try:
        siblings = list(final.parent.iterdir())
    except OSError:
        return
    for sibling in siblings:
        match = pattern.fullmatch(sibling.name)
        if match and sibling.is_dir() and not _alive(int(match.group(1))):
            shutil.rmtree(sibling, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


@contextlib.contextmanager
def atomic_output_dir(final_dir: Path) -> Iterator[Path]:
    """Yield a fresh temporary folder beside ``final_dir``; on success it replaces ``final_dir``."""
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = private_folder(final_dir)
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
    from MedSegTrain.errors import MedSegError

    final_path = Path(final_path)
    tmp_dir = None
    try:
        tmp_dir = private_folder(final_path)
        yield tmp_dir / final_path.name
        for produced in tmp_dir.iterdir():
            os.replace(produced, final_path.parent / produced.name)
    except OSError as exc:  # a full disk, a read-only folder: the run fails, naming the file
        raise MedSegError(f"{final_path}: cannot be written ({exc.strerror or exc}; is the disk full or "
                          "read-only?); nothing was written under this name") from None
    finally:
        if tmp_dir is not None:
            shutil.rmtree(tmp_dir, ignore_errors=True)


def _identity(path: Path) -> tuple:
    """What makes two paths the same place: the file's device and inode when it exists (links and
    ``..`` resolved by the system), else its resolved name."""
    try:
        info = os.stat(path)
        return ("inode", info.st_dev, info.st_ino)
    except OSError:
        return ("name", str(Path(path).resolve()))


def refuse_overwriting_inputs(outputs: dict[str, Path | None], inputs: Iterable[Path]) -> None:
    """Raise when an output (``{option: path}``) is, or resolves to, an input file or folder, or when
    two outputs name one file: checked before any work, so an input is never replaced by a report."""
    from MedSegTrain.errors import MedSegError

    sources = {}
    for source in inputs:
        sources.setdefault(_identity(Path(source)), Path(source))
    seen: dict[tuple, str] = {}
    for option, path in outputs.items():
        if path is None:
            continue
        identity = _identity(Path(path))
        if identity in sources:
            raise MedSegError(f"{option} {path}: would overwrite an input image or folder "
                              f"({sources[identity]} is an input); choose another file name")
        if identity in seen:
            raise MedSegError(f"{seen[identity]} and {option}: both name {path}; give each its own file")
        seen[identity] = option


@contextlib.contextmanager
def staged_outputs(finals: dict[str, Path]) -> Iterator[dict[str, Path]]:
    """Temporary paths (same file names, private folders beside each final path) for outputs that
    belong together: they get their final names only when every one was written, so a run that
    fails half-way (a full disk at the second file) leaves none of them."""
    from MedSegTrain.errors import MedSegError

    folders: list[Path] = []
    staged: dict[str, Path] = {}
    try:
        for key, final in finals.items():
            final = Path(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            folder = private_folder(final)
            folders.append(folder)
            staged[key] = folder / final.name
        try:
            yield staged
        except MedSegError as exc:  # name the file the user asked for, not its staging place
            message = str(exc)
            for key, path in staged.items():
                message = message.replace(str(path), str(finals[key]))
            raise MedSegError(message) from None
        for key, final in finals.items():
            for produced in staged[key].parent.iterdir():  # side files too (.mhd + .raw)
                os.replace(produced, Path(final).parent / produced.name)
    finally:
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_output_file(Path(path)) as tmp:
        tmp.write_text(text, encoding="utf-8")


NON_FINITE_REASONS = {"nan": "undefined (e.g. the sd or CI of fewer than two values)",
                      "inf": "infinite (e.g. a surface distance to an empty mask)",
                      "-inf": "minus infinity"}


def strict_json_value(obj: Any) -> Any:
    """``obj`` with every NaN/±inf float replaced by ``None`` (JSON has no such tokens, and strict
    parsers such as jq or JavaScript refuse them); in a mapping, ``"<key>_reason"`` says why."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            out[key] = strict_json_value(value)
            if isinstance(value, float) and not math.isfinite(value):
                out[f"{key}_reason"] = NON_FINITE_REASONS[repr(value).lower()]
        return out
    if isinstance(obj, (list, tuple)):
        return [strict_json_value(value) for value in obj]
    return obj


def strict_json(obj: Any, indent: int | None = 2) -> str:
    """Strict JSON text of ``obj`` (see :func:`strict_json_value`)."""
    return json.dumps(strict_json_value(obj), indent=indent, sort_keys=False, allow_nan=False)


def read_config_text(path: Path, what: str) -> str:
    """The UTF-8 text of a JSON/YAML file, refused above the ``json_bytes`` limit before reading."""
    from MedSegTrain import limits
    from MedSegTrain.errors import MedSegError

    try:
        limits.check("json_bytes", Path(path).stat().st_size, f"{what} {path}")
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MedSegError(f"{what} {path}: cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise MedSegError(f"{what} {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def parse_json(text: str | bytes, where: str) -> Any:
    """Parse JSON ``text`` with the size limit, and a message (not a ``RecursionError``) for
    nesting deeper than Python's parser goes."""
    from MedSegTrain import limits
    from MedSegTrain.errors import MedSegError

    limits.check("json_bytes", len(text), where)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise MedSegError(f"{where}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise MedSegError(f"{where}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise MedSegError(f"{where}: nested too deeply to be read (thousands of levels); "
                          "this is not a file the tool wrote") from None


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented, strict JSON to ``path`` atomically."""
    write_text_atomic(Path(path), strict_json(obj) + "\n")
