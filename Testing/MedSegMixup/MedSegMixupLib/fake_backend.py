"""A stand-in backend that speaks the JSON-lines protocol of MedSegTrain/progress.py.

Modes: ``ok`` (start, progress, a plain line, log, done), ``fail`` (error event, exit 1),
``crash`` (traceback on stderr, exit 3), ``hang`` (starts a grandchild, writes its pid to the
file given as the second argument, then reports progress forever), ``stubborn`` (``hang`` that
ignores SIGINT).
"""

import json
import subprocess
import sys
import time


def emit(**event):
    print(json.dumps(event), flush=True)


mode = sys.argv[1]
if mode == "ok":
    emit(event="start", task="predict", total=4)
    for done in range(1, 5):
        emit(event="progress", task="predict", done=done, total=4, fraction=done / 4, message=f"step {done}")
    print("plain text line", flush=True)
    emit(event="log", message="ensemble of 2 models")
    emit(event="done", outputs={"label": "/tmp/out.nii.gz"})
elif mode == "fail":
    emit(event="error", message="medsegtrain predict: error: bundle 'x' has no model.json")
    print("medsegtrain predict: error: bundle 'x' has no model.json", file=sys.stderr, flush=True)
    sys.exit(1)
elif mode == "crash":
    print("Traceback (most recent call last):\nValueError: boom", file=sys.stderr, flush=True)
    sys.exit(3)
elif mode in ("hang", "stubborn"):
    if mode == "stubborn":  # ignores Ctrl-C, like a worker stuck in native code
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(sys.argv[2], "w") as handle:
        handle.write(f"{child.pid}\n")
    emit(event="start", task="predict", total=1000)
    done = 0
    while True:
        done += 1
        emit(event="progress", task="predict", done=done, total=1000, fraction=done / 1000, message="")
        time.sleep(0.05)
