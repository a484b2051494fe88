"""``medsegtrain evaluate``: compare predicted label maps with references (X10, B10, L2).

One pair of files, or two folders whose files are matched by case id (the file name without its
format suffix and without an nnU-Net ``_0000`` channel suffix; unmatched files are reported).
Per case and per label/region it computes the FORMULAS.md metrics, then mean, sd, median and the
95 % CI over cases. A prediction on another grid that overlaps the reference in physical space is
resampled onto the reference grid (nearest neighbour, background outside) with a note; grids
that do not overlap are refused with both geometries in the message.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from MedSegTrain.errors import MedSegError

if TYPE_CHECKING:
    import numpy as np

    from MedSegTrain.io import Volume

IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
ALL_METRICS = ("dice", "iou", "precision", "recall", "specificity", "arvd", "hd", "hd95", "msd")
VOLUME_COLUMNS = ("volume_pred_ml", "volume_ref_ml")
_CHANNEL_SUFFIX = re.compile(r"_0000$")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``evaluate`` verb (imports nothing heavy)."""
    parser = sub.add_parser(
        "evaluate", help="metrics of predicted label maps against references (file pair or folders)",
        description="Dice, IoU, precision, recall, specificity, aRVD, HD, HD95 and mean surface distance "
                    "(mm, FORMULAS.md; identical to MONAI) per case and label/region, with mean, sd, "
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
    from MedSegTrain.fileutil import (
        refuse_overwriting_inputs,
        strict_json,
        write_json_atomic,
        write_text_atomic,
    )
    from MedSegTrain.metrics.aggregate import (
        format_table,
        records_to_csv,
        records_to_json,
        summarize_records,
    )
    from MedSegTrain.metrics.labels import parse_labels, parse_regions
    from MedSegTrain.progress import Progress

    if args.inf_value is not None and not (0 <= args.inf_value < float("inf")):
        raise MedSegError(f"--inf-value is a distance in mm that replaces infinite ones: it must be a finite "
                          f"number >= 0, got {args.inf_value}")
    metrics = _parse_metrics(args.metrics) + (["msd_2d"] if args.msd_2d else [])
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
    notes: list[str] = []
    for side, other, ids in (("prediction", "reference", unmatched["predictions"]),
                             ("reference", "prediction", unmatched["references"])):
        if ids:
            notes.append(f"not evaluated: {len(ids)} {side}(s) without a {other}: {', '.join(ids)}")
    progress.task("evaluate", len(pairs))
    records: list[dict[str, Any]] = []
    for case_id, pred_path, ref_path in pairs:
        case_records, case_notes = evaluate_pair(case_id, pred_path, ref_path, labels, regions, args.msd_2d)
        records += case_records
        notes += case_notes
        progress.advance(1, message=case_id)
    progress.close()
    if not records:
        notes.append("no non-zero label in any prediction or reference: nothing to report "
                      "(give --labels to report absent labels)")
    records = _fill_absent_labels(records)
    columns = metrics + list(VOLUME_COLUMNS)
    records = [{"case": r["case"], "target": r["target"], **{c: r[c] for c in columns}} for r in records]
    summaries = summarize_records(records, columns, inf_value=args.inf_value)
    for note in notes:
        if args.progress == "json":
            progress.log(note)
        else:
            print(f"note: {note}", file=sys.stderr)
    outputs: dict[str, str] = {}
    document = records_to_json(records, summaries, inf_value=args.inf_value)
    document.update(unmatched=unmatched, notes=notes)
    if args.csv is not None:
        write_text_atomic(args.csv, records_to_csv(records, summaries, columns))
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
        print(format_table(records, summaries if len(pairs) > 1 else {}, metrics))
    return 0


def _parse_metrics(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALL_METRICS]
    if not names or unknown:
        raise MedSegError(f"--metrics: unknown {unknown or 'empty list'}; "
                          f"choose from {', '.join(ALL_METRICS)}")
    return list(dict.fromkeys(names))


def case_id(path: Path) -> str:
    """The file name without its format suffix (``case.nii.gz`` -> ``case``)."""
    name = path.name
    for suffix in IMAGE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def match_cases(pred: Path, ref: Path) -> tuple[list[tuple[str, Path, Path]], dict[str, list[str]]]:
    """``[(case_id, pred_file, ref_file)]`` and the unmatched ids per side.

    Two files form one pair; two folders are matched by case id, the nnU-Net channel suffix
    ``_0000`` ignored on either side unless that would merge two files of one folder.
    """
    for path, option in ((pred, "--pred"), (ref, "--ref")):
        if not path.exists():
            raise MedSegError(f"{option} {path}: no such file or folder")
    if pred.is_dir() != ref.is_dir():
        raise MedSegError(f"--pred {pred} and --ref {ref} must both be files or both be folders")
    if not pred.is_dir():
        return [(case_id(ref), pred, ref)], {"predictions": [], "references": []}
    pred_files, ref_files = _case_files(pred, "--pred"), _case_files(ref, "--ref")
    common = sorted(set(pred_files) & set(ref_files))
    if not common:
        raise MedSegError(f"no case ids in common between --pred {pred} ({len(pred_files)} images) and "
                          f"--ref {ref} ({len(ref_files)} images)")
    unmatched = {"predictions": sorted(set(pred_files) - set(ref_files)),
                 "references": sorted(set(ref_files) - set(pred_files))}
    return [(cid, pred_files[cid], ref_files[cid]) for cid in common], unmatched


def _case_files(folder: Path, option: str) -> dict[str, Path]:
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and not p.name.startswith(".") and case_id(p) != p.name)
    ids = [case_id(p) for p in files]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise MedSegError(f"{option} {folder}: several files for case(s) {', '.join(duplicates)}")
    stripped = [_CHANNEL_SUFFIX.sub("", i) for i in ids]
    keys = stripped if len(set(stripped)) == len(stripped) else ids
    return dict(zip(keys, files, strict=True))


def evaluate_pair(
    case: str,
    pred_path: Path,
    ref_path: Path,
    labels: dict[str, int] | None,
    regions: dict[str, list[int]] | None,
    with_msd_2d: bool,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Records (one per label/region) of one case, and notes about what was done to the inputs."""
    from MedSegTrain.metrics.labels import as_label_map, compute_label_metrics
    from MedSegTrain.metrics.slice2d import msd_2d

    pred_volume, ref_volume = _read(pred_path), _read(ref_path)
    notes: list[str] = []
    if not pred_volume.geometry.same_as(ref_volume.geometry):
        pred_volume = _onto_reference(pred_volume, ref_volume, pred_path, ref_path)
        notes.append(f"case {case}: the prediction's grid differs from the reference's; resampled "
                     "onto the reference grid (nearest neighbour)")
    pred = as_label_map(pred_volume.array, f"prediction {pred_path}")
    ref = as_label_map(ref_volume.array, f"reference {ref_path}")
    results = compute_label_metrics(pred, ref, labels, regions, spacing=ref_volume.spacing_zyx)
    records = []
    for target, values in results.items():
        record: dict[str, Any] = {"case": case, "target": target, **values}
        if with_msd_2d:
            members = _members(target, labels, regions)
            record["msd_2d"] = msd_2d(_isin(pred, members), _isin(ref, members))
        records.append(record)
    return records, notes


def _members(target: str, labels: dict[str, int] | None, regions: dict[str, list[int]] | None) -> list[int]:
    if regions and target in regions:
        return regions[target]
    return [labels[target]] if labels else [int(target)]


def _isin(array: np.ndarray, values: list[int]) -> np.ndarray:
    import numpy as np

    return np.isin(array, values)


def _read(path: Path) -> Volume:
    from MedSegTrain.io import read_image

    return read_image(path)


def _onto_reference(pred: Volume, ref: Volume, pred_path: Path, ref_path: Path) -> Volume:
    """``pred`` resampled onto ``ref``'s grid, or MedSegError when they do not overlap physically."""
    import SimpleITK as sitk

    from MedSegTrain.io import Volume

    if pred.ndim != ref.ndim:
        raise MedSegError(f"prediction {pred_path} is {pred.ndim}D but reference {ref_path} is {ref.ndim}D")
    (p_low, p_high), (r_low, r_high) = pred.geometry.physical_bounds(), ref.geometry.physical_bounds()
    if any(ph <= rl or rh <= pl for pl, ph, rl, rh in zip(p_low, p_high, r_low, r_high, strict=True)):
        raise MedSegError(
            f"prediction {pred_path} and reference {ref_path} do not overlap in physical space; "
            f"prediction geometry {pred.geometry.to_dict()}, reference geometry {ref.geometry.to_dict()}"
        )
    image = pred.to_sitk()
    resampled = sitk.Resample(image, ref.to_sitk(), sitk.Transform(), sitk.sitkNearestNeighbor, 0,
                              image.GetPixelID())
    return Volume.from_sitk(resampled, str(pred_path))


def _fill_absent_labels(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With default labels, a value absent from both maps of a case still gets its row there.

    Its metrics are those of two empty masks (dice 1, distances 0, FORMULAS.md), whatever the size.
    """
    import numpy as np

    from MedSegTrain.metrics.labels import compute_label_metrics

    targets = list(dict.fromkeys(r["target"] for r in records))
    cases = list(dict.fromkeys(r["case"] for r in records))
    present = {(r["case"], r["target"]) for r in records}
    if not records or len(present) == len(cases) * len(targets):
        return records
    numbered = sorted((t for t in targets if t.isdigit()), key=int)
    targets = numbered + [t for t in targets if not t.isdigit()]
    empty = np.zeros((1, 1), np.uint8)
    filled = []
    by_key = {(r["case"], r["target"]): r for r in records}
    template = next(iter(records))
    for case in cases:
        for target in targets:
            if (case, target) in by_key:
                filled.append(by_key[(case, target)])
                continue
            values = compute_label_metrics(empty, empty, {target: int(target)})[target]
            row = {"case": case, "target": target, **values}
            if "msd_2d" in template:
                row["msd_2d"] = 0.0
            filled.append(row)
    return filled
