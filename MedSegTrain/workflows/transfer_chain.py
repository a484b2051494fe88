"""Multi-site fine-tuning chains (Touijer et al., T5): A -> A->B -> A->B->C, merged baseline, grid.

:func:`run_chain` trains site A, fine-tunes on B from A's bundle, then on C from B's, trains the
  merged-data baseline (every site's non-test cases in one manifest), and scores every model on
  every site's held-out test cases: the grid of the paper's Table III (Dice and IoU in %), written
  as ``transfer_grid.{json,csv,md,png}`` (see docs/training.md).

Each stage is one :func:`MedSegTrain.training.api.train` call whose config sets
``transfer.init_bundle`` (and the recipe's ``transfer.freeze_encoder``); the fine-tuning itself
is :mod:`MedSegTrain.training.transfer`. Each site's dataset is loaded once, in
:func:`check_sites`, and handed to every step that needs it.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from MedSegTrain.bundle import load_bundle
from MedSegTrain.data import Dataset, load_dataset
from MedSegTrain.device import resolve_device
from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import write_json_atomic, write_text_atomic
from MedSegTrain.preprocessing.pipeline import PreprocessingSpec
from MedSegTrain.reporting.heatmap import save_heatmap
from MedSegTrain.reporting.markdown import markdown_table
from MedSegTrain.training import config as cfgmod
from MedSegTrain.training.api import nested_overrides, train
from MedSegTrain.training.heldout import evaluate_ensemble
from MedSegTrain.training.resolve import build_config, make_split, resolve_run
from MedSegTrain.training.splits import Split, select_folds
from MedSegTrain.training.targets import OutputPlan

MERGED = "All_Data"
GRID_FILES = ("transfer_grid.json", "transfer_grid.csv", "transfer_grid.md", "transfer_grid.png")


def site_letter(index: int) -> str:
    """``A`` for the first site, ``B`` for the second, ... (the paper's site names)."""
    return chr(65 + index)


def stage_name(index: int) -> str:
    """The chain stage that ends on site ``index``: ``A``, ``A->B``, ``A->B->C``, ..."""
    return "->".join(site_letter(i) for i in range(index + 1))


def check_sites(sites: Sequence[Path]) -> list[Dataset]:
    """The sites' datasets, checked for a chain: at least two, distinct, one label set and channel count."""
    if len(sites) < 2:
        raise MedSegError(f"--site: a transfer chain needs at least two sites (A -> B), got {len(sites)}")
    if len(sites) > 26:
        raise MedSegError(f"--site: at most 26 sites (A..Z), got {len(sites)}")
    seen: dict[Path, int] = {}
    for k, site in enumerate(sites):
        key = Path(site).resolve()
        if key in seen:
            raise MedSegError(
                f"--site {site}: given twice (site {site_letter(seen[key])} and site {site_letter(k)})"
            )
        seen[key] = k
    datasets = [load_dataset(Path(s)) for s in sites]
    first = datasets[0]
    for k, (site, ds) in enumerate(zip(sites, datasets, strict=True)):
        if not ds.training:
            raise MedSegError(f"--site {site}: the dataset lists no training cases")
        if ds.labels != first.labels:
            raise MedSegError(
                f"--site {site}: site {site_letter(k)} has labels {ds.labels} but site A ({sites[0]}) "
                f"has {first.labels}; every site of a chain must use the same label names and values"
            )
        if ds.n_channels != first.n_channels:
            raise MedSegError(
                f"--site {site}: site {site_letter(k)} has {ds.n_channels} input channel(s) but site A "
                f"({sites[0]}) has {first.n_channels}"
            )
    return datasets


def merged_manifest(
    sites: Sequence[Path],
    out_path: Path,
    exclude: Sequence[Collection[str]] | None = None,
    datasets: Sequence[Dataset] | None = None,
) -> Path:
    """A CSV manifest holding the training cases of every site (the All_Data baseline, T5).

    Case ids become ``site_<letter>_<case id>``. ``exclude[k]`` names case ids of site ``k`` to
    leave out: :func:`run_chain` passes each site's held-out test cases, which the grid scores
    every model on, so the baseline never trains on them. The manifest declares the first site's
    labels, channel names and modality, so the baseline is planned and labelled like the sites.
    ``datasets`` are the sites' datasets from :func:`check_sites` (loaded here when not given).
    """
    datasets = check_sites(sites) if datasets is None else datasets
    first = datasets[0]
    names = [n for n, v in first.labels.items() if v != 0] + list(first.channel_names)
    awkward = [n for n in names if any(ch in n for ch in ",=\n")]
    if awkward:
        raise MedSegError(f"transfer: label or channel name {awkward[0]!r} cannot go into a CSV manifest")
    n_images = {len(c.images) for ds in datasets for c in ds.training}
    if len(n_images) != 1:
        raise MedSegError(
            f"--site: the sites' cases have different numbers of image files ({sorted(n_images)}); "
            "the merged baseline needs the same layout at every site"
        )
    images = n_images.pop()
    buffer = io.StringIO()
    buffer.write(f"# name: {MERGED}\n# modality: {first.modality}\n")
    buffer.write("# labels: " + ", ".join(f"{n}={v}" for n, v in first.labels.items() if v != 0) + "\n")
    if images == first.n_channels:
        buffer.write("# channels: " + ", ".join(first.channel_names) + "\n")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["case_id", *[f"image{i}" if i else "image" for i in range(images)], "label"])
    for k, ds in enumerate(datasets):
        skip = set(exclude[k]) if exclude is not None else set()
        for case in ds.training:
            if case.case_id not in skip:
                writer.writerow(
                    [
                        f"site_{site_letter(k)}_{case.case_id}",
                        *(str(Path(p).resolve()) for p in case.images),
                        str(Path(case.label).resolve()),
                    ]
                )
    write_text_atomic(out_path, buffer.getvalue())
    return out_path


def run_chain(
    sites: Sequence[Path],
    out_dir: Path,
    recipe: Any = "transfer",
    fold: int = 0,
    time_budget_minutes: float | None = None,
    overrides: Mapping[str, Any] | None = None,
    device: str = "auto",
    progress: Any = None,
    merged_baseline: bool = True,
) -> dict[str, Any]:
    """Train the chain sites[0] -> sites[1] -> ..., optionally the merged baseline; returns the grid.

    Stage ``k`` trains fold ``fold`` on site ``k`` starting from stage ``k-1``'s bundle
    (``transfer.init_bundle``); the first stage and the ``All_Data`` baseline start from
    ``overrides``' own ``transfer.init_bundle`` if any, else from scratch. ``time_budget_minutes``
    applies to each stage. Each stage writes a normal training folder ``out_dir/stage_<k>``
    (baseline: ``out_dir/merged``). Everything that can be checked before training (sites, recipe,
    overrides, splits with held-out test cases) is checked first. Output: the grid as
    ``out_dir/transfer_grid.{json,csv,md,png}`` and ``out_dir/chain.json`` (sites and bundles).
    """
    sites = [Path(s) for s in sites]
    datasets = check_sites(sites)
    base = nested_overrides(overrides)
    _check_plans(sites, datasets, recipe, base, device, time_budget_minutes, fold)
    out_dir = Path(out_dir)
    stages: dict[str, Path] = {}
    held_out: list[tuple[str, ...]] = []
    previous: Path | None = None
    for k, site in enumerate(sites):
        extra = copy.deepcopy(base)
        if previous is not None:
            cfgmod.set_path(extra, "transfer.init_bundle", str(previous))
        _log(progress, f"transfer chain: stage {stage_name(k)} trains on {site}"
             + (f", starting from {previous}" if previous is not None else ""))
        bundle = train(
            site,
            out_dir / f"stage_{k}",
            dataset=datasets[k],
            recipe=recipe,
            folds=[fold],
            time_budget_minutes=time_budget_minutes,
            overrides=extra,
            device=device,
            progress=progress,
        )[0]
        stages[stage_name(k)] = previous = bundle
        held_out.append(Split.from_dict(_read_json(out_dir / f"stage_{k}" / "split.json")).test)
    if merged_baseline:
        manifest = merged_manifest(sites, out_dir / "merged_manifest.csv", exclude=held_out,
                                   datasets=datasets)
        extra = copy.deepcopy(base)
        cfgmod.set_path(extra, "split.test_fraction", 0.0)  # the sites' test cases are already out
        _log(progress, f"transfer chain: {MERGED} baseline trains on {manifest}")
        stages[MERGED] = train(
            manifest,
            out_dir / "merged",
            recipe=recipe,
            folds=[fold],
            time_budget_minutes=time_budget_minutes,
            overrides=extra,
            device=device,
            progress=progress,
        )[0]
    grid = score_grid(stages, sites, out_dir, device, datasets=datasets)
    write_grid(grid, out_dir, sites)
    write_json_atomic(
        out_dir / "chain.json",
        {
            "sites": {f"site_{site_letter(k)}": str(s) for k, s in enumerate(sites)},
            "fold": fold,
            "stages": {name: str(path) for name, path in stages.items()},
            "grid": [str(out_dir / name) for name in GRID_FILES],
        },
    )
    return grid


def _check_plans(
    sites: Sequence[Path],
    datasets: Sequence[Any],
    recipe: Any,
    overrides: Mapping[str, Any],
    device: str,
    time_budget_minutes: float | None,
    fold: int,
) -> None:
    """Fail before any training: bad recipe or overrides, fold out of range, no held-out test cases."""
    device_type = resolve_device(device, local_rank=0).type
    if time_budget_minutes is not None and time_budget_minutes <= 0:
        raise MedSegError(f"--time-budget {time_budget_minutes:g}: must be a positive number of minutes")
    for k, (site, ds) in enumerate(zip(sites, datasets, strict=True)):
        given = copy.deepcopy(dict(overrides))
        config = build_config(ds, recipe, given, device_type, time_budget_minutes, [fold])
        split = make_split(ds, config)
        select_folds(split, [fold])
        if not split.test:
            raise MedSegError(
                f"--site {site}: site {site_letter(k)}'s split holds out no test cases (split.kind "
                f"{config['split']['kind']}, split.test_fraction {config['split']['test_fraction']:g}); "
                "the grid scores every model on each site's held-out test cases: use a k-fold "
                "split with split.test_fraction > 0"
            )


def chain_configs(
    sites: Sequence[Path],
    recipe: Any,
    fold: int,
    time_budget_minutes: float | None,
    overrides: Mapping[str, Any] | None,
    device: str,
) -> dict[str, Any]:
    """``chain --print-config``: every stage's resolved, checked config, by stage name; writes nothing.

    Stage k > 0 starts from stage k-1's bundle (``transfer.init_bundle``, shown as the path it will
    have); the All_Data baseline is trained like the first stage on the merged manifest.
    """
    datasets = check_sites([Path(s) for s in sites])
    _check_plans([Path(s) for s in sites], datasets, recipe, nested_overrides(overrides), device,
                 time_budget_minutes, fold)
    dev = resolve_device(device, local_rank=0)
    out: dict[str, Any] = {}
    for k, ds in enumerate(datasets):
        given = nested_overrides(overrides)
        config = resolve_run(ds, recipe, given, dev, time_budget_minutes, [fold]).config
        if k > 0:
            config["transfer"]["init_bundle"] = f"OUT/stage_{k - 1}/fold_{fold}/bundle"
        out[stage_name(k)] = config
    return out


def _log(progress: Any, message: str) -> None:
    if progress is not None:
        progress.log(message)


def score_grid(
    stages: Mapping[str, Path],
    sites: Sequence[Path],
    out_dir: Path,
    device: str,
    datasets: Sequence[Dataset] | None = None,
) -> dict[str, Any]:
    """Dice and IoU (%) of each stage's model on each site's held-out test cases.

    Site ``k``'s test cases are those of ``out_dir/stage_<k>/split.json``; each cell is
    ``{"dice_pct", "iou_pct", "n_cases"}``: the mean over test cases of the mean over foreground
    labels (over regions, e.g. WT/TC/ET, for a sigmoid-region bundle), scored on each case's
    original grid (:func:`MedSegTrain.training.heldout.evaluate_ensemble`). ``datasets``: the
    sites' datasets from :func:`check_sites` (loaded here when not given).
    """
    dev = resolve_device(device, local_rank=0)
    tests = []
    for k, site in enumerate(sites):
        ds = load_dataset(Path(site)) if datasets is None else datasets[k]
        split_path = Path(out_dir) / f"stage_{k}" / "split.json"
        test = Split.from_dict(_read_json(split_path)).test
        if not test:
            raise MedSegError(f"{split_path}: site {site_letter(k)} has no held-out test cases to score")
        tests.append((ds, [ds.case(c) for c in test]))
    grid: dict[str, Any] = {}
    for stage, bundle_path in stages.items():
        bundle = load_bundle(bundle_path)
        model = bundle.build_member(0, device=str(dev))
        spec = PreprocessingSpec.from_dict(bundle.meta["preprocessing"])
        inference = bundle.meta["inference"]
        mode = bundle.info.inference.patch_mode
        patch = inference["patch_size"][-2:] if mode == "2d" else inference["patch_size"]
        output = OutputPlan.from_meta(bundle.meta, str(bundle_path))
        grid[stage] = {}
        for k, (ds, cases) in enumerate(tests):
            scores = evaluate_ensemble(
                [model],
                spec,
                cases,
                ds.label_values,
                {int(v): n for n, v in ds.labels.items()},
                patch,
                mode,
                dev,
                float(inference.get("overlap", 0.5)),
                output=output,
            )
            grid[stage][f"site_{site_letter(k)}"] = {
                "dice_pct": 100 * scores["dice"],
                "iou_pct": 100 * scores["iou"],
                "n_cases": len(cases),
            }
    return grid


def _grid_sites(grid: Mapping[str, Any]) -> list[str]:
    return sorted({s for row in grid.values() for s in row})


def grid_csv(grid: Mapping[str, Any]) -> str:
    """The grid as CSV: one row per trained model, Dice/IoU columns per test site."""
    sites = _grid_sites(grid)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", *[f"{s}_{m}" for s in sites for m in ("dice_pct", "iou_pct")]])
    for stage, row in grid.items():
        writer.writerow([stage, *[f"{row[s][m]:.2f}" for s in sites for m in ("dice_pct", "iou_pct")]])
    return buffer.getvalue()


def grid_markdown(grid: Mapping[str, Any], sites: Sequence[Path] | None = None) -> str:
    """The grid as a Markdown table like the paper's Table III (Dice and IoU in %, 2 decimals).

    With ``sites``, a line under the table says which folder each site letter stands for.
    """
    columns = _grid_sites(grid)
    header = ["model", *[f"{s} {m}" for s in columns for m in ("Dice %", "IoU %")]]
    rows = [
        [stage, *[float(row[s][m]) for s in columns for m in ("dice_pct", "iou_pct")]]
        for stage, row in grid.items()
    ]
    text = markdown_table(header, rows, digits=2) + "\n"
    if sites:
        text += "\n" + "; ".join(f"site_{site_letter(k)}: `{s}`" for k, s in enumerate(sites)) + "\n"
    return text


def save_grid_png(grid: Mapping[str, Any], path: Path, sites: Sequence[Path] | None = None) -> Path:
    """A heatmap of Dice %: rows are the trained models, columns the test sites, values in the cells."""
    columns = _grid_sites(grid)
    names = {f"site_{site_letter(k)}": Path(s).name for k, s in enumerate(sites or [])}
    values = [[float(row.get(s, {}).get("dice_pct", math.nan)) for s in columns] for row in grid.values()]
    return save_heatmap(
        path,
        values,
        list(grid),
        [f"{s}\n{names[s]}" if s in names else s for s in columns],
        title="Dice % on each site's held-out test cases",
        value_label="Dice %",
        x_label="test site",
        y_label="trained model",
        vmin=0.0,
        vmax=100.0,
        digits=1,
    )


def write_grid(grid: Mapping[str, Any], out_dir: Path, sites: Sequence[Path] | None = None) -> list[Path]:
    """``transfer_grid.{json,csv,md,png}`` in ``out_dir``, each written atomically."""
    out_dir = Path(out_dir)
    paths = [out_dir / name for name in GRID_FILES]
    write_json_atomic(paths[0], dict(grid))
    write_text_atomic(paths[1], grid_csv(grid))
    write_text_atomic(paths[2], grid_markdown(grid, sites))
    save_grid_png(grid, paths[3], sites)
    return paths


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise MedSegError(f"{path}: cannot be read ({exc})") from None
