"""``medsegtrain``: one entry point, one module per verb (``MedSegTrain/cli/<verb>.py``).

Each verb module exposes ``register(subparsers)`` (cheap: no torch import) which adds its
parser and sets ``handler=run``; ``run(args) -> int`` does the work. Errors the user can fix
arrive as :class:`MedSegTrain.errors.MedSegError` and become ``medsegtrain <verb>: error: ...``
with exit status 1; argparse usage errors exit with 2; nothing prints a traceback unless
``--debug`` is given. SIGINT (exit 130) and SIGTERM (exit 143) unwind like an error, so every
temporary file is removed and no final file of the unfinished run is left.
"""

from __future__ import annotations

import argparse
import importlib
import json
import signal
import sys
import threading
from collections.abc import Sequence

from MedSegTrain import __version__
from MedSegTrain.errors import MedSegError
from MedSegTrain.limits import LIMITS, set_limit
from MedSegTrain.limits import reset as reset_limits

VERBS = ("phantoms", "train", "chain", "predict", "evaluate", "demo", "experiment")


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every verb registered."""
    parser = argparse.ArgumentParser(
        prog="medsegtrain",
        description="Train, run and evaluate MedSegMixup segmentation models (CT and MRI).",
    )
    parser.add_argument("--version", action="version", version=f"medsegtrain {__version__}")
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks on errors")
    parser.add_argument("--limit", action="append", default=[], metavar="NAME=N",
                        help="raise (or lower) a size limit checked before allocation: "
                             + ", ".join(f"{name} (default {spec.default:,} {spec.unit})"
                                         for name, spec in LIMITS.items())
                             + "; repeatable; see docs/reliability.md")
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    for verb in VERBS:
        importlib.import_module(f"MedSegTrain.cli.{verb}").register(sub)
    return parser


class Terminated(BaseException):
    """SIGTERM as an exception (like KeyboardInterrupt for SIGINT): the default action kills the
    process on the spot, leaving its temporary folders behind."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``medsegtrain`` with ``argv``; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _run(args)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _run(args: argparse.Namespace) -> int:
    json_progress = getattr(args, "progress", None) == "json"
    try:
        reset_limits()  # main() may run several times in one process (tests, the Slicer module)
        for assignment in args.limit:
            set_limit(assignment)
        return int(args.handler(args) or 0)
    except MedSegError as exc:
        return _fail(args, f"medsegtrain {args.verb}: error: {exc}", json_progress)
    except KeyboardInterrupt:
        return _fail(args, f"medsegtrain {args.verb}: interrupted", json_progress, status=130)
    except Terminated:
        return _fail(args, f"medsegtrain {args.verb}: terminated (SIGTERM)", json_progress, status=143)
    except Exception as exc:  # the last line of defence against tracebacks
        if args.debug:
            raise
        message = (f"medsegtrain {args.verb}: internal error: {type(exc).__name__}: {exc} "
                   "(run with --debug for the traceback and please report it)")
        return _fail(args, message, json_progress)


def _fail(args: argparse.Namespace, message: str, json_progress: bool, status: int = 1) -> int:
    if json_progress:
        print(json.dumps({"event": "error", "message": message}), flush=True)
    print(message, file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
