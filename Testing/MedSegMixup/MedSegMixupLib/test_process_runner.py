"""The process runner: JSON-lines events through a QTimer, errors, and cancel of the whole tree."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import psutil
import pytest
from MedSegMixupLib.process_runner import ProcessRunner, parse_line

FAKE = Path(__file__).with_name("fake_backend.py")


def make_runner(**kwargs):
    events, finished = [], []
    runner = ProcessRunner(events.append, finished.append, poll_interval_ms=20, **kwargs)
    return runner, events, finished


def test_parse_line_protocol_and_plain_text():
    assert parse_line('{"event": "progress", "done": 1}\n') == {"event": "progress", "done": 1}
    assert parse_line("hello\n") == {"event": "log", "message": "hello", "stream": "stdout"}
    assert parse_line('{"no_event_key": 1}')["event"] == "log"
    assert parse_line("{broken json")["message"] == "{broken json"
    assert parse_line("oops", "stderr") == {"event": "log", "message": "oops", "stream": "stderr"}
    assert parse_line("   \n") is None


@pytest.mark.gui
def test_events_arrive_in_order_and_outputs_are_collected(qapp):
    runner, events, finished = make_runner()
    runner.start([sys.executable, str(FAKE), "ok"])
    assert runner.running
    result = runner.wait(20)
    assert result is not None and result.ok
    assert finished == [result]
    kinds = [e["event"] for e in events]
    assert kinds == ["start", "progress", "progress", "progress", "progress", "log", "log", "done"]
    assert [e["done"] for e in events if e["event"] == "progress"] == [1, 2, 3, 4]
    assert events[5] == {"event": "log", "message": "plain text line", "stream": "stdout"}
    assert result.outputs == {"label": "/tmp/out.nii.gz"}
    assert not runner.running


@pytest.mark.gui
def test_error_event_becomes_the_result_error(qapp):
    runner, _events, _finished = make_runner()
    runner.start([sys.executable, str(FAKE), "fail"])
    result = runner.wait(20)
    assert result.returncode == 1 and not result.ok and not result.cancelled
    assert result.error == "medsegtrain predict: error: bundle 'x' has no model.json"


@pytest.mark.gui
def test_crash_without_error_event_reports_stderr(qapp):
    runner, _events, _finished = make_runner()
    runner.start([sys.executable, str(FAKE), "crash"])
    result = runner.wait(20)
    assert result.returncode == 3
    assert "ValueError: boom" in result.error


@pytest.mark.gui
def test_missing_program_is_a_clear_error(qapp, tmp_path):
    runner, _events, _finished = make_runner()
    with pytest.raises(RuntimeError, match="cannot start"):
        runner.start([str(tmp_path / "no-such-program")])
    assert not runner.running


@pytest.mark.gui
@pytest.mark.skipif(sys.platform == "win32", reason="POSIX process groups")
@pytest.mark.parametrize("mode", ["hang", "stubborn"])
def test_cancel_ends_child_and_grandchild(qapp, tmp_path, mode):
    pid_file = tmp_path / "pids.txt"
    runner, events, finished = make_runner(cancel_grace_s=0.5)
    runner.start([sys.executable, str(FAKE), mode, str(pid_file)])
    child = psutil.Process(runner.pid)
    deadline = time.monotonic() + 20
    while not any(e["event"] == "progress" for e in events) and time.monotonic() < deadline:
        runner.wait(0.1)
    grandchild = psutil.Process(int(pid_file.read_text()))
    assert grandchild.is_running()
    with pytest.raises(RuntimeError, match="already running"):
        runner.start([sys.executable, "-c", "pass"])
    started = time.monotonic()
    runner.cancel()
    result = runner.wait(10)
    if mode == "stubborn":  # SIGINT was ignored: killed after the grace period
        assert time.monotonic() - started >= 0.5
    assert result is not None and result.cancelled and not result.ok
    for process in (child, grandchild):
        gone = not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
        assert gone, f"process {process.pid} survived cancel"
    assert finished == [result]
