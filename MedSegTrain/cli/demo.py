"""`medsegtrain demo` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from MedSegTrain.errors import MedSegError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` verb."""
    parser = sub.add_parser("demo", help="demo (not yet available)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Not yet available."""
    raise MedSegError("'demo' is not available in this build yet")
