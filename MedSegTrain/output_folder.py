"""Output folders that are either new or recognisably ours, and locked while a run writes them.

Two trainings into one ``--out`` used to both succeed and mix (the config of one, the bundle and
log of the other), and ``--out`` equal to ``--data`` wrote the run into the dataset. A folder is
therefore claimed before any work: it must be new, empty, or one this verb wrote before (a
hidden marker file says so; older runs are recognised by their files), it must not be, contain,
or lie inside an input, and an exclusive lock on it is held until the run ends, so a second run
into it stops at once with the first one's process id.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import write_json_atomic

MARKER = ".medsegtrain-output.json"
LOCK = ".medsegtrain.lock"


class OutputClaim:
    """A claimed output folder; the lock is held until :meth:`release` (or the process ends)."""

    def __init__(self, folder: Path, handle: int) -> None:
        self.folder = folder
        self._handle: int | None = handle

    def release(self) -> None:
        """Give the folder up for other runs."""
        if self._handle is not None:
            os.close(self._handle)  # closing the descriptor drops the flock
            self._handle = None

    def __enter__(self) -> OutputClaim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def claim_output_folder(folder: Path, verb: str, option: str = "--out", inputs: Iterable[Path] = (),
                        recognise: Callable[[Path], bool] | None = None) -> OutputClaim:
    """Check, create, mark and lock ``folder`` for ``medsegtrain <verb>``.

    Refused: a file; a folder that is, contains or lies inside one of ``inputs``; a non-empty folder
    that holds neither this verb's marker nor (``recognise``) an earlier run of it; a folder another
    run holds locked.
    """
    folder = Path(folder)
    for source in inputs:
        _refuse_nesting(folder, Path(source), option)
    if folder.exists() and not folder.is_dir():
        raise MedSegError(f"{option} {folder}: exists and is not a folder")
    if folder.is_dir():
        foreign = [p.name for p in sorted(folder.iterdir()) if p.name not in (MARKER, LOCK)]
        if foreign and not _is_ours(folder, verb, recognise):
            shown = ", ".join(foreign[:4]) + (" ..." if len(foreign) > 4 else "")
            raise MedSegError(f"{option} {folder}: the folder exists and holds files that medsegtrain {verb} "
                              f"did not write ({shown}); choose a new or empty folder, so that nothing "
                              "of yours is mixed with or replaced by this run")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise MedSegError(f"{option} {folder}: cannot write there ({exc.strerror or exc})") from None
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(handle, 200, 0).decode("utf-8", "replace").strip() or "another process"
        os.close(handle)
        raise MedSegError(f"{option} {folder}: another medsegtrain run is writing this folder ({holder}); "
                          "wait for it to finish or choose another folder") from None
    os.ftruncate(handle, 0)
    os.pwrite(handle, f"pid {os.getpid()}, medsegtrain {verb}, since {_now()}".encode(), 0)
    if not (folder / MARKER).exists():
        write_json_atomic(folder / MARKER, {"written_by": f"medsegtrain {verb}", "created": _now()})
    return OutputClaim(folder, handle)


def _is_ours(folder: Path, verb: str, recognise: Callable[[Path], bool] | None) -> bool:
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
        if marker.get("written_by") == f"medsegtrain {verb}":
            return True
    except (OSError, ValueError, AttributeError):
        pass
    return recognise is not None and recognise(folder)


def _refuse_nesting(folder: Path, source: Path, option: str) -> None:
    out, src = folder.resolve(), source.resolve()
    if out == src or out in src.parents or src in out.parents:
        relation = "is" if out == src else ("contains" if out in src.parents else "lies inside")
        raise MedSegError(f"{option} {folder}: {relation} the input {source}; the run would be written "
                          "into (or over) its own data: choose a folder outside it")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
