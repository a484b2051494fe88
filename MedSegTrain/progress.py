"""Progress reporting shared by every long-running verb.

Three renderings of the same events: a tqdm bar for people (``bar``), JSON lines on stdout for
the Slicer module's background process (``json``), or nothing (``none``). The JSON protocol,
one object per line, is a contract with ``MedSegMixup/MedSegMixupLib``:

* ``{"event": "start", "task": str, "total": int}``
* ``{"event": "progress", "task": str, "done": int, "total": int, "fraction": float, "message": str}``
* ``{"event": "log", "message": str}``
* ``{"event": "done", "outputs": {name: path}}``   (written by the CLI verb at the end)
* ``{"event": "error", "message": str}``            (written by the CLI on failure)
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any, Literal

ProgressMode = Literal["bar", "json", "none"]


class Progress:
    """A progress sink; ``task`` opens a counted stage, ``advance`` moves it, ``log`` adds a line."""

    def __init__(self, mode: ProgressMode = "bar", stream: IO[str] | None = None) -> None:
        self.mode = mode
        self.stream = stream
        self._bar: Any = None
        self._task = ""
        self._done = 0
        self._total = 0

    def _out(self) -> IO[str]:
        return self.stream or (sys.stdout if self.mode == "json" else sys.stderr)

    def emit(self, event: str, **fields: Any) -> None:
        """Write one JSON event (json mode only)."""
        if self.mode == "json":
            out = self._out()
            out.write(json.dumps({"event": event, **fields}, default=str) + "\n")
            out.flush()

    def task(self, name: str, total: int) -> None:
        """Start a stage of ``total`` steps, closing the previous one."""
        self.close()
        self._task, self._done, self._total = name, 0, max(int(total), 0)
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=self._total, desc=name, file=self._out(), leave=True,
                             dynamic_ncols=True)
        self.emit("start", task=name, total=self._total)

    def advance(self, n: int = 1, message: str = "", **postfix: Any) -> None:
        """Advance the current stage by ``n`` steps; ``postfix`` shows e.g. the loss."""
        self._done += n
        if self._bar is not None:
            self._bar.update(n)
            if postfix:
                self._bar.set_postfix({k: _short(v) for k, v in postfix.items()}, refresh=False)
        fraction = self._done / self._total if self._total else 1.0
        self.emit("progress", task=self._task, done=self._done, total=self._total,
                  fraction=round(min(fraction, 1.0), 6), message=message, **postfix)

    def log(self, message: str) -> None:
        """A line of information for the user."""
        if self.mode == "json":
            self.emit("log", message=message)
        elif self.mode == "bar":
            if self._bar is not None:
                self._bar.write(message, file=self._out())
            else:
                print(message, file=self._out(), flush=True)

    def close(self) -> None:
        """Finish the current bar, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _short(value: Any) -> Any:
    return f"{value:.4g}" if isinstance(value, float) else value
