"""Run a backend command in its own process group and follow its JSON-lines output with a QTimer.

Why this shape: PythonQt cannot declare signals and must not run Python in QThreads, and a GUI
must not block. So the child writes stdout/stderr into private files, a QTimer tails them, and
plain callbacks deliver each event. Cancel ends the whole process tree: inside Slicer the
``PythonSlicer`` launcher starts the real interpreter as a child, so ending the direct child alone
would leave the worker running. POSIX: a new session, then ``os.killpg`` (SIGINT first so the
worker can clean up, SIGKILL after a grace period); Windows: ``taskkill /T /F``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .qt_shim import process_events, qt

Event = dict
EventCallback = Callable[[Event], None]


@dataclass
class RunResult:
    """How a run ended: exit status, whether the user cancelled, the outputs it announced."""

    returncode: int | None
    cancelled: bool
    outputs: dict[str, str] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        """Finished by itself with status 0."""
        return not self.cancelled and self.returncode == 0


def parse_line(line: str, stream: str = "stdout") -> Event | None:
    """One output line as a protocol event; other text becomes a ``log`` event, blank lines None."""
    text = line.rstrip("\r\n")
    if not text.strip():
        return None
    if stream == "stdout" and text.lstrip().startswith("{"):
        try:
            event = json.loads(text)
        except json.JSONDecodeError:
            event = None
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            return event
    return {"event": "log", "message": text, "stream": stream}


class _Tail:
    """Complete lines appended to a file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._pending = b""

    def read_lines(self, final: bool = False) -> list[str]:
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return []
        self._offset += len(chunk)
        data = self._pending + chunk
        lines = data.split(b"\n")
        self._pending = b"" if final else lines.pop()
        return [raw.decode("utf-8", errors="replace") for raw in lines if raw or final]


class ProcessRunner:
    """Start one command at a time, deliver its events, end it (and its children) on request."""

    def __init__(self, on_event: EventCallback, on_finished: Callable[[RunResult], None],
                 poll_interval_ms: int = 100, cancel_grace_s: float = 3.0) -> None:
        self.on_event = on_event
        self.on_finished = on_finished
        self.poll_interval_ms = poll_interval_ms
        self.cancel_grace_s = cancel_grace_s
        self._process: subprocess.Popen | None = None
        self._timer = None
        self._log_dir: Path | None = None
        self._tails: dict[str, _Tail] = {}
        self._cancelled = False
        self._kill_deadline: float | None = None
        self._outputs: dict[str, str] = {}
        self._error = ""
        self._stderr_tail: list[str] = []
        self.result: RunResult | None = None

    @property
    def running(self) -> bool:
        """A started process has not been reported finished yet."""
        return self._process is not None

    @property
    def pid(self) -> int | None:
        """Process id of the direct child while running."""
        return self._process.pid if self._process is not None else None

    def start(self, command: Sequence[str], env: dict[str, str] | None = None,
              cwd: str | os.PathLike | None = None) -> None:
        """Start ``command``; events arrive through ``on_event`` from the Qt event loop."""
        if self.running:
            raise RuntimeError("a process is already running; cancel it first")
        self._log_dir = Path(tempfile.mkdtemp(prefix="medsegmixup-run-"))
        paths = {name: self._log_dir / f"{name}.txt" for name in ("stdout", "stderr")}
        self._tails = {name: _Tail(path) for name, path in paths.items()}
        self._cancelled, self._kill_deadline, self.result = False, None, None
        self._outputs, self._error, self._stderr_tail = {}, "", []
        with open(paths["stdout"], "wb") as out, open(paths["stderr"], "wb") as err:
            try:
                self._process = subprocess.Popen(
                    list(command), stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env,
                    cwd=cwd, **_new_process_group_options())
            except OSError as exc:
                shutil.rmtree(self._log_dir, ignore_errors=True)
                raise RuntimeError(f"cannot start {command[0]!r}: {exc}") from exc
        self._timer = qt.QTimer()
        self._timer.timeout.connect(self.poll)
        self._timer.start(self.poll_interval_ms)

    def cancel(self) -> None:
        """Ask the process tree to stop; it is killed outright after ``cancel_grace_s``."""
        if self._process is None or self._cancelled:
            return
        self._cancelled = True
        self._kill_deadline = time.monotonic() + self.cancel_grace_s
        if sys.platform == "win32":
            self._kill_tree()
        else:
            _signal_group(self._process.pid, signal.SIGINT)

    def poll(self) -> None:
        """Deliver new output; finish up when the process has ended (the QTimer calls this)."""
        process = self._process
        if process is None:
            return
        self._deliver(final=False)
        if process.poll() is None:
            if self._kill_deadline is not None and time.monotonic() > self._kill_deadline:
                self._kill_tree()
            return
        self._kill_tree()  # the direct child is gone: make sure no grandchild outlives it
        self._deliver(final=True)
        self._finish(process.returncode)

    def wait(self, timeout_s: float) -> RunResult | None:
        """Block (processing Qt events) until the run ends or ``timeout_s`` passes."""
        deadline = time.monotonic() + timeout_s
        while self.running and time.monotonic() < deadline:
            self.poll()
            process_events()
            time.sleep(0.02)
        return self.result

    def _deliver(self, final: bool) -> None:
        for stream, tail in self._tails.items():
            for line in tail.read_lines(final=final):
                event = parse_line(line, stream)
                if event is None:
                    continue
                if event["event"] == "done":
                    self._outputs = {str(k): str(v) for k, v in (event.get("outputs") or {}).items()}
                elif event["event"] == "error":
                    self._error = str(event.get("message", ""))
                elif stream == "stderr":
                    self._stderr_tail = [*self._stderr_tail[-19:], event["message"]]
                self.on_event(event)

    def _kill_tree(self) -> None:
        if self._process is None:
            return
        if sys.platform == "win32":
            subprocess.run(["taskkill", "/F", "/T", "/PID", str(self._process.pid)],
                           capture_output=True, check=False)
        else:
            _signal_group(self._process.pid, signal.SIGKILL)

    def _finish(self, returncode: int) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        error = self._error
        if not error and returncode != 0 and not self._cancelled:
            error = "\n".join(self._stderr_tail[-5:]) or f"the process exited with status {returncode}"
        self.result = RunResult(returncode, self._cancelled, dict(self._outputs), error)
        self._process = None
        if self._log_dir is not None:
            shutil.rmtree(self._log_dir, ignore_errors=True)
            self._log_dir = None
        self.on_finished(self.result)


def _new_process_group_options() -> dict:
    """Popen options that make the child the leader of its own process group."""
    if sys.platform == "win32":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | getattr(subprocess, "CREATE_NO_WINDOW", 0)
        return {"creationflags": flags}
    return {"start_new_session": True}


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)
