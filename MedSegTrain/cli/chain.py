"""`medsegtrain chain`: fine-tuning chain A -> A->B -> A->B->C plus the All_Data baseline (T5)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from MedSegTrain.cli.train import (
    add_budget_option,
    add_device_options,
    add_print_config_option,
    add_recipe_option,
    add_set_option,
    check_time_budget,
    parse_folds,
    print_json,
    quiet_openmp,
)
from MedSegTrain.errors import MedSegError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `chain` verb (no heavy imports here)."""
    parser = sub.add_parser(
        "chain",
        help="transfer chain over sites: train on A, fine-tune on B, then C; merged baseline; result grid",
        description="Train fold K on site A, fine-tune it on site B, then on C, ... (each stage starts "
        "from the previous stage's bundle), train the All_Data baseline on every site's non-test cases, "
        "and score every model on every site's held-out test cases (Dice and IoU in %, like Table III "
        "of Touijer et al.). Output: OUT/stage_<k>/ and OUT/merged/ (normal training folders), "
        "OUT/transfer_grid.{json,csv,md,png}, OUT/chain.json (see docs/training.md).",
    )
    parser.add_argument(
        "--site",
        action="append",
        required=True,
        type=Path,
        metavar="DATASET_DIR",
        dest="sites",
        help="a site's dataset folder (dataset.json) or .csv manifest; give it once per site, in chain "
        "order (A, B, C, ...); at least two",
    )
    parser.add_argument("--out", required=True, type=Path, metavar="OUT_DIR", help="output folder")
    add_recipe_option(parser, "transfer")
    parser.add_argument(
        "--fold", default="0", metavar="K", help="the cross-validation fold every stage trains (default: 0)"
    )
    add_budget_option(parser, "time budget of each training stage in minutes (each stops cleanly, keeping "
                      "its best model so far)")
    parser.add_argument(
        "--no-merged",
        action="store_false",
        dest="merged",
        help="skip the All_Data baseline trained on all sites merged",
    )
    add_set_option(parser)
    add_print_config_option(parser)
    add_device_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the chain, then print the grid as a Markdown table (JSON 'done' event in --progress json)."""
    check_time_budget(args.time_budget)
    folds = parse_folds(args.fold)
    if folds == "all":
        raise MedSegError("--fold all: a chain trains one fold per stage; give a fold number")
    quiet_openmp()
    # imported here, not at the top: `medsegtrain --help` must not load torch
    from MedSegTrain.progress import Progress
    from MedSegTrain.training.config import parse_overrides
    from MedSegTrain.workflows.transfer_chain import chain_configs, grid_markdown, run_chain

    overrides = parse_overrides(args.overrides)
    if args.print_config:
        print_json(chain_configs(args.sites, args.recipe, folds[0], args.time_budget, overrides, args.device))
        return 0
    progress = Progress(args.progress)
    grid = run_chain(
        args.sites,
        args.out,
        recipe=args.recipe,
        fold=folds[0],
        time_budget_minutes=args.time_budget,
        overrides=overrides,
        device=args.device,
        progress=progress,
        merged_baseline=args.merged,
    )
    progress.close()
    chain = json.loads((Path(args.out) / "chain.json").read_text())
    if args.progress == "json":
        outputs = {f"bundle_{name}": path for name, path in chain["stages"].items()}
        outputs |= {Path(p).name.replace(".", "_"): p for p in chain["grid"]}
        progress.emit("done", outputs=outputs)
    else:
        print(grid_markdown(grid, args.sites), end="")
        for path in chain["grid"]:
            print(path)
    return 0
