"""``medsegtrain phantoms``: write a synthetic dataset (the project's embedded demo data)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

KINDS = ("prostate-mri", "kidney-ct", "brain-mri")


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` accepting whole numbers ``>= minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    return parse


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``phantoms`` verb (imports nothing heavy)."""
    parser = sub.add_parser(
        "phantoms", help="write a synthetic CT/MR segmentation dataset (nnU-Net v2 layout)",
        description="Write a synthetic dataset: imagesTr/<case>_0000.nii.gz, labelsTr/<case>.nii.gz, "
                    "dataset.json (and imagesTs/labelsTs with --test-cases). Deterministic for a seed.")
    parser.add_argument("--kind", required=True, choices=KINDS,
                        help="prostate-mri (CG 1, PZ 2), kidney-ct (kidney 1, tumour 2) or "
                             "brain-mri (4 channels; NCR 1, ED 2, ET 3)")
    parser.add_argument("--cases", required=True, type=_count(1), metavar="N", help="training cases")
    parser.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="output folder (new, empty, or an earlier phantom dataset to replace)")
    parser.add_argument("--seed", type=_count(0), default=0,
                        help="random seed, a whole number >= 0 (default 0)")
    parser.add_argument("--test-cases", type=_count(0), default=0, metavar="N",
                        help="held-out cases in imagesTs/labelsTs (default 0)")
    parser.add_argument("--progress", choices=("bar", "json", "none"), default="bar",
                        help="progress display (json: line protocol for the Slicer module)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Generate the dataset and report where it is."""
    from MedSegTrain.data.phantoms import generate_phantom_dataset
    from MedSegTrain.progress import Progress

    progress = Progress(args.progress)
    out = generate_phantom_dataset(args.kind, args.cases, args.out, seed=args.seed,
                                   n_test=args.test_cases, progress=progress)
    if args.progress == "json":
        progress.emit("done", outputs={"dataset": str(out)})
    elif args.progress == "bar":
        held_out = f" + {args.test_cases} held-out" if args.test_cases else ""
        print(f"wrote {args.cases}{held_out} {args.kind} phantom cases (seed {args.seed}) to {out}")
    return 0
