"""`medsegtrain experiment`: run a paper study's grid of trainings (``run``) and report it (``report``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from MedSegTrain.cli.train import add_device_options, quiet_openmp


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `experiment` verb with `run` and `report` (no heavy imports here)."""
    parser = sub.add_parser("experiment", help="run an experiment spec's grid of trials; write its report",
                            description="Experiments regenerate a paper's study: see docs/experiments.md.")
    verbs = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    run_parser = verbs.add_parser(
        "run", help="expand SPEC into trials and run them (resumable)",
        description="Expand SPEC (a shipped spec name or a YAML file) into trials with stable IDs and run "
        "each into OUT/trials/<id>/ behind a done marker; OUT/cases.csv|json, OUT/experiment.json.")
    run_parser.add_argument("spec", metavar="SPEC", help="shipped spec name or YAML file")
    run_parser.add_argument("--data", required=True, type=Path, metavar="DATASET",
                            help="dataset folder or CSV")
    run_parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output folder")
    run_parser.add_argument("--workers", type=int, default=1, metavar="N",
                            help="trials side by side (local executor; the cores are split between them)")
    run_parser.add_argument("--executor", default="local", choices=("local", "slurm"),
                            help="local threads, or SLURM job arrays through submitit (the [cluster] extra)")
    run_parser.add_argument("--resume", action="store_true",
                            help="finish an interrupted run in OUT: finished trials are kept, the rest rerun")
    add_device_options(run_parser)
    run_parser.set_defaults(handler=run)
    report_parser = verbs.add_parser("report", help="write OUT/report.md from a finished run")
    report_parser.add_argument("out", type=Path, metavar="DIR", help="an experiment's output folder")
    report_parser.set_defaults(handler=report)


def run(args: argparse.Namespace) -> int:
    """Run the grid; exit 1 (listing them) when any trial failed, the others finished."""
    quiet_openmp()
    # imported here, not at the top: `medsegtrain --help` must not load torch
    from MedSegTrain.progress import Progress
    from MedSegTrain.workflows.experiments.runner import run_experiment
    from MedSegTrain.workflows.experiments.spec import load_spec

    spec = load_spec(args.spec)
    progress = Progress(args.progress)
    record = run_experiment(spec, args.data, args.out, workers=args.workers, executor=args.executor,
                            resume=args.resume, device=args.device, progress=progress)
    failed = [t for t in record["trials"] if t["status"] != "done"]
    done = len(record["trials"]) - len(failed)
    if args.progress == "json":
        progress.emit("done", outputs={name: str(Path(args.out) / name)
                                       for name in ("experiment.json", "cases.csv", "cases.json")},
                      trials_done=done, trials_failed=len(failed))
    else:
        print(f"{done}/{len(record['trials'])} trials done; results in {args.out}")
    for trial in failed:
        print(f"medsegtrain experiment run: trial {trial['id']} {trial['status']}: {trial['error']}",
              file=sys.stderr)
    return 1 if failed else 0


def report(args: argparse.Namespace) -> int:
    """Write the report of a finished run and print its path."""
    from MedSegTrain.workflows.experiments.report import write_report

    print(write_report(args.out))
    return 0
