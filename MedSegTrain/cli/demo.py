"""``medsegtrain demo``: the whole pipeline on generated phantoms, in a few CPU minutes."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` verb."""
    parser = sub.add_parser(
        "demo", help="phantoms -> train a 2-fold ensemble -> predict -> evaluate -> report",
        description="Generate phantoms, train a small two-fold ensemble, segment held-out phantoms "
                    "with it and write DIR/report.md (metric table, overlays, 3D render).")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument("--kind", default="prostate-mri", choices=("prostate-mri", "kidney-ct", "brain-mri"),
                        help="phantom kind (default: prostate-mri)")
    parser.add_argument("--train-cases", type=int, default=16, metavar="N", help="training phantoms (16)")
    parser.add_argument("--test-cases", type=int, default=4, metavar="N", help="held-out phantoms (4)")
    parser.add_argument("--folds", type=int, default=2, metavar="K", help="ensemble members (2)")
    parser.add_argument("--minutes", type=float, default=3.0, metavar="M",
                        help="training time budget for all folds together (3)")
    parser.add_argument("--tta", type=int, default=4, metavar="N", help="test-time augmentation variants (4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device (auto)")
    parser.add_argument("--progress", default="bar", choices=("bar", "json", "none"),
                        help="progress display (bar)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the summary table."""
    # Idle OpenMP threads sleep instead of spinning (see cli/train.py); must precede torch's import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # imported here, not at the top: `medsegtrain --help` must not load torch
    from MedSegTrain.progress import Progress
    from MedSegTrain.workflows.demo import DemoOptions, run_demo

    progress = Progress(args.progress)
    options = DemoOptions(out=args.out, kind=args.kind, train_cases=args.train_cases,
                          test_cases=args.test_cases, folds=args.folds, minutes=args.minutes,
                          seed=args.seed, device=args.device, tta=args.tta)
    result = run_demo(options, progress)
    progress.close()
    if args.progress == "json":
        progress.emit("done", outputs={"report": str(result.report)})
    else:
        print(result.table)
        print(f"\nreport: {result.report}")
    return 0
