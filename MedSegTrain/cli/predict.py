"""``medsegtrain predict``: segment images with one or more model bundles (ensembles, TTA; B8).

One case: ``--input`` once per channel (or one 4D file, or a DICOM folder) and ``--output FILE``.
A folder of cases (nnU-Net ``CASE_0000.nii.gz`` ... or one file per single-channel case):
``--input DIR --output DIR`` (``--probabilities`` / ``--uncertainty`` then name folders too).
Every bundle is checked against the input before any work; the label map has exactly the
input's geometry; every file is written atomically. With ``--merge-bundle`` a second ensemble
predicts too and the two label maps are merged through a table (B9). ``--progress json`` speaks the line
protocol of :mod:`MedSegTrain.progress` and ends with a ``done`` event naming the outputs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from MedSegTrain.errors import MedSegError

if TYPE_CHECKING:
    from MedSegTrain.predict_options import PredictOptions


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` verb (imports nothing heavy)."""
    parser = sub.add_parser(
        "predict", help="segment images with model bundles (ensembles, TTA, uncertainty)",
        description="Segment CT/MRI images with one or more model bundles: every member of every "
                    "bundle is averaged, optionally over test-time augmentations; the label map "
                    "keeps the input's geometry exactly.")
    parser.add_argument("--bundle", action="append", required=True, metavar="B",
                        help="model bundle folder or .zip (repeat to ensemble several bundles)")
    parser.add_argument("--input", action="append", required=True, metavar="FILE|DIR",
                        help="image file (repeat once per channel, in the bundle's channel order), "
                             "a 4D multi-channel file, a DICOM series folder, or a folder of cases")
    parser.add_argument("--output", required=True, metavar="FILE|DIR",
                        help="label map file (.nii.gz, .nrrd, .mha ...), or a folder for a folder of cases")
    parser.add_argument("--tta", type=int, default=0, metavar="N",
                        help="test-time augmentation variants: 0 = none, up to 16 (flips and in-plane "
                             "rotations, BraTS B8); default 0")
    parser.add_argument("--device", default="auto", help="auto (CUDA when available), cpu or cuda[:N]")
    parser.add_argument("--probabilities", metavar="FILE|DIR",
                        help="also write the averaged probabilities (one component per output channel)")
    parser.add_argument("--uncertainty", metavar="FILE|DIR", help="also write a per-voxel uncertainty map")
    parser.add_argument("--uncertainty-measure", choices=("entropy", "variance"), default="entropy",
                        help="entropy of the averaged probabilities (default) or variance across "
                             "members and TTA variants")
    parser.add_argument("--largest-component", action="store_true",
                        help="keep only the largest connected component of each label")
    parser.add_argument("--overlap", type=float, metavar="F",
                        help="sliding-window overlap in [0, 1) (default: each bundle's own, usually 0.5)")
    parser.add_argument("--batch-size", type=int, default=8, metavar="N",
                        help="windows x variants per forward pass (default 8)")
    parser.add_argument("--precision", choices=("auto", "float32", "float16", "bfloat16"), default="auto",
                        help="auto = float32; float16/bfloat16 autocast on CUDA; bfloat16 also on CPUs "
                             "with native bf16 (AVX512-BF16/AMX), where it is faster but less exact")
    parser.add_argument("--backend", choices=("torch", "openvino"), default="torch",
                        help="where the network runs: torch, or openvino (CPU only, about 2x faster there "
                             "with the same output; needs the openvino package)")
    parser.add_argument("--time-limit", type=float, metavar="SECONDS",
                        help="time one window, then use as many TTA variants (then members) as are "
                             "estimated to fit; the choice is logged and written to LABEL.json")
    parser.add_argument("--max-memory", type=float, metavar="MB",
                        help="memory for the whole-volume accumulators: above it they switch to float16; "
                             "refused when even that does not fit")
    parser.add_argument("--merge-bundle", action="append", metavar="B",
                        help="a second ensemble (repeat for several bundles): its label map is merged "
                             "with the --bundle ensemble's through --merge-table (BraTS B9)")
    parser.add_argument("--merge-table", metavar="brats|FILE",
                        help="how (label of --bundle, label of --merge-bundle) pairs become one label: "
                             "'brats' (Henry et al. Table 1, labels 0/1/2/4; the default with "
                             "--merge-bundle) or a JSON/YAML "
                             "table file (docs/inference.md)")
    parser.add_argument("--window", metavar="WIDTH,LEVEL",
                        help="window every bundle's input with this width and level instead of its own "
                             "preset (the window shown on screen; the Slicer module's 'clip' option)")
    parser.add_argument("--replace-non-finite", type=float, metavar="V",
                        help="replace NaN or infinite input voxels by V (and say how many) instead of "
                             "refusing the image")
    parser.add_argument("--progress", choices=("bar", "json", "none"), default="bar",
                        help="progress display: bar for people, json lines for the Slicer module")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Check everything, then segment each case and write its outputs."""
    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.device import resolve_device
    from MedSegTrain.inference.backends import check_backend
    from MedSegTrain.inference.ensemble import check_ensemble
    from MedSegTrain.inference.inputs import resolve_inputs
    from MedSegTrain.inference.uncertainty import check_measure
    from MedSegTrain.progress import Progress

    options = predict_options(args)
    check_backend(options.backend, resolve_device(options.device),
                  "float32" if options.precision == "auto" else options.precision)
    check_measure(args.uncertainty_measure)
    if args.replace_non_finite is not None and not abs(args.replace_non_finite) < float("inf"):
        raise MedSegError(f"--replace-non-finite must be a finite number, got {args.replace_non_finite}")
    cases, is_folder = resolve_inputs(args.input)
    bundles = [load_bundle(Path(b)) for b in args.bundle]
    if args.window is not None:
        bundles = [bundle.with_window(_window(args.window)) for bundle in bundles]
    merge = _merge_plan(args, bundles)
    for n_channels in sorted({case.n_channels for case in cases}):
        check_ensemble(bundles, n_channels, options.overlap)
        if merge is not None:
            check_ensemble(merge[0], n_channels, options.overlap)
    targets = _targets(args, cases, is_folder)

    progress = Progress(args.progress)
    outputs: dict[str, str] = {}
    if is_folder:
        outputs.update({kind: str(Path(value)) for kind, value in _options(args).items() if value})
    for index, case in enumerate(cases, start=1):
        if len(cases) > 1:
            progress.log(f"case {index}/{len(cases)}: {case.case_id}")
        _predict_case(args, options, bundles, case, targets[case.case_id], progress, merge)
        for kind, path in targets[case.case_id].items():
            outputs[f"{kind}/{case.case_id}" if is_folder else kind] = str(path)
    progress.close()
    progress.log("wrote " + ", ".join(p for k, p in outputs.items() if "/" not in k))
    progress.emit("done", outputs=outputs)
    return 0


def predict_options(args: argparse.Namespace) -> PredictOptions:
    """The run's :class:`PredictOptions` from the flags, checked; a bad value is named by its flag."""
    from MedSegTrain.predict_options import OptionError, PredictOptions

    options = PredictOptions(tta=args.tta, device=args.device, overlap=args.overlap,
                             batch_size=args.batch_size, precision=args.precision,
                             time_limit=args.time_limit, max_memory_mb=args.max_memory,
                             backend=args.backend)
    try:
        return options.validate()
    except OptionError as exc:
        raise exc.for_cli() from None


def _window(text: str):
    """``--window WIDTH,LEVEL`` as a fixed custom preset."""
    from MedSegTrain.preprocessing.windowing import WindowPreset

    parts = text.split(",")
    try:
        width, level = (float(part) for part in parts)
    except ValueError:
        raise MedSegError(f"--window must be WIDTH,LEVEL (two numbers), got {text!r}") from None
    if not (width > 0 and abs(level) < float("inf")):
        raise MedSegError(f"--window width must be a positive number and level finite, got {text!r}")
    return WindowPreset.custom(width, level, name="display")


def _predict_case(args: argparse.Namespace, options: PredictOptions, bundles: list, case,
                  target: dict[str, Path], progress, merge: tuple[list, object] | None = None) -> None:
    from MedSegTrain.fileutil import staged_outputs
    from MedSegTrain.inference.merge import merge_label_maps
    from MedSegTrain.inference.outputs import write_probabilities
    from MedSegTrain.inference.postprocess import keep_largest_component
    from MedSegTrain.inference.predictor import predict_volume
    from MedSegTrain.io import write_image

    channels = case.read(args.replace_non_finite)
    common = {"options": options, "progress": progress}
    prediction = predict_volume(
        bundles, channels, probabilities="probabilities" in target,
        uncertainty=args.uncertainty_measure if "uncertainty" in target else None,
        largest_component=args.largest_component and merge is None, **common)
    label = prediction.label
    if merge is not None:
        other = predict_volume(merge[0], channels, **common)
        merged = merge_label_maps(label.array, other.label.array, merge[1])
        label = label.with_array(keep_largest_component(merged) if args.largest_component else merged)
    with staged_outputs(target) as staged:  # all of a case's outputs, or none of them
        write_image(label, staged["label"])
        if prediction.probabilities is not None:
            write_probabilities(prediction.probabilities, channels[0], staged["probabilities"])
        if prediction.uncertainty is not None:
            write_image(prediction.uncertainty, staged["uncertainty"])
    if prediction.budget is not None:
        from MedSegTrain.fileutil import write_json_atomic

        write_json_atomic(Path(f"{target['label']}.json"), {"budget": prediction.budget.to_dict(),
                                                          "n_predictions": prediction.n_predictions})


def _merge_plan(args: argparse.Namespace, bundles: list) -> tuple[list, object] | None:
    """The second ensemble and the merge table, checked against the first ensemble's labels."""
    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.inference.merge import BRATS_MERGE_TABLE, load_merge_table

    if not args.merge_bundle:
        if args.merge_table is not None:
            raise MedSegError("--merge-table says how two ensembles' label maps are merged; it needs "
                              "--merge-bundle (the second ensemble)")
        return None
    if args.probabilities or args.uncertainty:
        raise MedSegError("--probabilities/--uncertainty describe one ensemble; they cannot be combined "
                          "with --merge-bundle")
    others = [load_bundle(Path(b)) for b in args.merge_bundle]
    labels = bundles[0].labels
    for bundle in others:
        if bundle.labels != labels:
            raise MedSegError(f"--merge-bundle {bundle.path}: labels {bundle.labels} differ from the "
                              f"--bundle ensemble's {labels}")
    if args.merge_table in (None, "brats"):
        unknown = sorted(set(labels.values()) - {0, 1, 2, 4})
        if unknown:
            raise MedSegError(f"--merge-table brats: Henry et al.'s table is for labels 0, 1, 2, 4; "
                              f"these bundles also have {unknown}: give a table file")
        return others, BRATS_MERGE_TABLE
    return others, load_merge_table(args.merge_table)


def _targets(args: argparse.Namespace, cases: list, is_folder: bool) -> dict[str, dict[str, Path]]:
    """Output paths per case, checked before any work (never an input file)."""
    from MedSegTrain.fileutil import refuse_overwriting_inputs
    from MedSegTrain.inference.outputs import check_output_path

    flags = {"label": "--output", "probabilities": "--probabilities", "uncertainty": "--uncertainty"}
    inputs = [p for case in cases for p in case.paths]
    targets: dict[str, dict[str, Path]] = {}
    for case in cases:
        paths: dict[str, Path] = {}
        for kind, value in _options(args).items():
            option = flags[kind]
            if not value:
                continue
            if is_folder:
                folder = Path(value)
                if folder.exists() and not folder.is_dir():
                    raise MedSegError(f"{option} {folder}: --input is a folder of cases, so this must be "
                                      "a folder too, but it is a file")
                suffix = case.suffix if case.suffix not in (".nhdr", ".mhd") else ".nii.gz"
                paths[kind] = folder / f"{case.case_id}{suffix}"
            else:
                paths[kind] = check_output_path(Path(value), option)
        targets[case.case_id] = paths
    named = {(f"{flags[kind]} (case {case_id})" if is_folder else flags[kind]): path
             for case_id, paths in targets.items() for kind, path in paths.items()}
    refuse_overwriting_inputs(named, inputs)  # all cases at once: the inputs are stat-ed once
    return targets


def _options(args: argparse.Namespace) -> dict[str, str | None]:
    """The requested outputs by kind (label, probabilities, uncertainty)."""
    return {"label": args.output, "probabilities": args.probabilities, "uncertainty": args.uncertainty}
