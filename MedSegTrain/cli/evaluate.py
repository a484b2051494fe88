"""``medsegtrain evaluate``: compare predicted label maps with references (X10, B10, L2).

One pair of files, or two folders whose files are matched by case id (the file name without its
format suffix and without an nnU-Net ``_0000`` channel suffix; unmatched files are reported).
Per case and per label/region it computes the FORMULAS.md metrics, then mean, sd, median and the
95 % CI over cases. A prediction on another grid that overlaps the reference in physical space is
resampled onto the reference grid (nearest neighbour, background outside) with a note; grids
that do not overlap are refused with both geometries in the message.

This module only parses the options and prints or writes the results: matching, scoring and
summaries are :mod:`MedSegTrain.metrics.evaluate`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from MedSegTrain.errors import MedSegError

# MedSegTrain.metrics.METRIC_NAMES, spelled out so that `medsegtrain --help` imports no numpy/scipy
# (Testing/MedSegTrain/cli/test_evaluate.py holds the two equal)
ALL_METRICS = ("dice", "iou", "precision", "recall", "specificity", "arvd", "hd", "hd95", "msd")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` verb (imports nothing heavy)."""
    parser = sub.add_parser(
        "evaluate", help="metrics of predicted label maps against references (file pair or folders)",
        description="Dice, IoU, precision, recall, specificity, aRVD, HD, HD95 and mean surface distance "
                    "(mm, FORMULAS.md; identical to MONAI), with --nsd-tolerance the normalised surface "
                    "distance, per case and label/region, with mean, sd, "
                    "median and 95%% CI over cases. Notes and warnings go to stderr.")
    parser.add_argument("--pred", required=True, type=Path, metavar="PATH",
                        help="predicted label map, or a folder of them")
    parser.add_argument("--ref", required=True, type=Path, metavar="PATH",
                        help="reference label map, or a folder of them (matched by case id)")
    parser.add_argument("--labels", metavar="LIST",
                        help="labels to evaluate: '1,2' or 'kidney=1,tumour=2' "
                             "(default: every non-zero value present)")
    parser.add_argument("--regions", metavar="LIST",
                        help="label unions, e.g. BraTS 'WT=1+2+3,TC=1+3,ET=3' (may overlap)")
    parser.add_argument("--metrics", metavar="LIST", default=",".join(ALL_METRICS),
                        help=f"metrics to report (default: all of {','.join(ALL_METRICS)})")
    parser.add_argument("--msd-2d", action="store_true",
                        help="also report the mixup paper's in-slice MSD (8-neighbour, pixels)")
    parser.add_argument("--nsd-tolerance", type=float, metavar="MM",
                        help="also report the normalised surface distance: the fraction of both surfaces "
                             "within MM of the other one (Metrics Reloaded's boundary metric)")
    parser.add_argument("--inf-value", type=float, metavar="MM",
                        help="replace inf distances (one mask empty) by this value when aggregating "
                             "(default: leave them out and count them)")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write the results as JSON to FILE (or to stdout without FILE)")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="write per-case rows and summary rows as CSV")
    parser.add_argument("--progress", choices=("bar", "json", "none"), default="bar",
                        help="progress display for folders (json: line protocol for the Slicer module)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate, print the table (unless JSON goes to stdout) and write the requested files."""
    # imported here, not at the top: `medsegtrain --help` must stay light
    from MedSegTrain.fileutil import (
        refuse_overwriting_inputs,
        strict_json,
        write_json_atomic,
        write_text_atomic,
    )
    from MedSegTrain.metrics.aggregate import format_table, records_to_csv, records_to_json
    from MedSegTrain.metrics.evaluate import evaluate_cases, match_cases
    from MedSegTrain.metrics.labels import parse_labels, parse_regions
    from MedSegTrain.progress import Progress

    if args.inf_value is not None and not (0 <= args.inf_value < float("inf")):
        raise MedSegError(f"--inf-value is a distance in mm that replaces infinite ones: it must be a finite "
                          f"number >= 0, got {args.inf_value}")
    metrics = _parse_metrics(args.metrics)
    if args.nsd_tolerance is not None and not (0 <= args.nsd_tolerance < float("inf")):
        raise MedSegError(f"--nsd-tolerance is a distance in mm: it must be a finite number >= 0, "
                          f"got {args.nsd_tolerance}")
    labels = parse_labels(args.labels) if args.labels else None
    regions = parse_regions(args.regions) if args.regions else None
    json_to_stdout = args.json == "-"
    if json_to_stdout and args.progress == "json":
        raise MedSegError("--json without FILE writes to stdout, which --progress json uses; "
                          "give --json FILE")
    pairs, unmatched = match_cases(args.pred, args.ref)
    refuse_overwriting_inputs(
        {"--json": None if json_to_stdout else args.json, "--csv": args.csv},
        [args.pred, args.ref, *(path for _case, pred, ref in pairs for path in (pred, ref))])
    progress = Progress(args.progress if len(pairs) > 1 else "none")
    result = evaluate_cases(pairs, unmatched, labels, regions, metrics, args.msd_2d, args.inf_value, progress,
                            args.nsd_tolerance)
    records, summaries, notes = result.records, result.summaries, result.notes
    for note in notes:
        if args.progress == "json":
            progress.log(note)
        else:
            print(f"note: {note}", file=sys.stderr)
    outputs: dict[str, str] = {}
    document = records_to_json(records, summaries, inf_value=args.inf_value)
    document.update(unmatched=unmatched, notes=notes)
    if args.csv is not None:
        write_text_atomic(args.csv, records_to_csv(records, summaries, result.columns))
        outputs["csv"] = str(args.csv)
    if args.json is not None and not json_to_stdout:
        write_json_atomic(Path(args.json), document)
        outputs["json"] = str(args.json)
    if json_to_stdout:
        print(strict_json(document))
    elif args.progress == "json":
        progress.emit("done", outputs=outputs)
    else:
        # one case: its rows say everything, a summary of one value would only add noise
        shown = [*metrics, *(["nsd"] if args.nsd_tolerance is not None else []),
                 *(["msd_2d"] if args.msd_2d else [])]
        print(format_table(records, summaries if len(pairs) > 1 else {}, shown))
    return 0


def _parse_metrics(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALL_METRICS]
    if not names or unknown:
        raise MedSegError(f"--metrics: unknown {unknown or 'empty list'}; "
                          f"choose from {', '.join(ALL_METRICS)}")
    return list(dict.fromkeys(names))
