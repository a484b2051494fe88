"""`medsegtrain predict` (placeholder until its issue lands)."""

from __future__ import annotations

import argparse

from MedSegTrain.errors import MedSegError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` verb."""
    parser = sub.add_parser("predict", help="predict (not yet available)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Not yet available."""
    raise MedSegError("'predict' is not available in this build yet")
