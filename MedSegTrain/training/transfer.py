"""Fine-tuning chains (Touijer et al., T5): A -> B -> C from bundles, encoder freezing, merged baseline.

* ``transfer.init_bundle`` starts a training run from a bundle's weights (tensors whose names and
  shapes match; a head for a different label set starts fresh);
* ``transfer.freeze_encoder`` freezes the encoder part of the networks that have one;
* :func:`run_chain` trains site A, fine-tunes on B from A's bundle, then on C from B's, trains the
  merged-data baseline (all sites in one manifest), and scores every model on every site's
  held-out test cases: the grid of the paper's Table III (Dice and IoU in %).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.fileutil import write_json_atomic, write_text_atomic

ENCODER_PREFIXES = ("encoder.", "net.encoder.", "net.input_block.", "net.downsamples.")


def initial_weights(bundle_path: Path) -> dict[str, torch.Tensor]:
    """The first member's weights of a bundle (safetensors; nothing executable is loaded)."""
    from MedSegTrain.bundle import load_bundle

    bundle = load_bundle(Path(bundle_path))
    return {k: v.detach().clone() for k, v in bundle.build_member(0, device="cpu").state_dict().items()}


def encoder_freezer(prefixes: Sequence[str] = ENCODER_PREFIXES) -> Callable[[torch.nn.Module], None]:
    """A function that stops gradients to the encoder's parameters of a model."""

    def freeze(model: torch.nn.Module) -> None:
        hits = 0
        for name, param in model.named_parameters():
            if name.startswith(tuple(prefixes)):
                param.requires_grad_(False)
                hits += 1
        if not hits:
            raise MedSegError(
                f"transfer.freeze_encoder: {type(model).__name__} has no recognised encoder "
                f"(parameter names starting with {', '.join(prefixes)})"
            )

    return freeze


def merged_manifest(sites: Sequence[Path], out_path: Path) -> Path:
    """A CSV manifest holding every training case of every site (the All_Data baseline, T5)."""
    from MedSegTrain.data import load_dataset

    datasets = [load_dataset(Path(s)) for s in sites]
    labels = datasets[0].labels
    for site, ds in zip(sites, datasets, strict=True):
        if ds.labels != labels:
            raise MedSegError(f"transfer: site {site} has labels {ds.labels}, the first site {labels}")
        if ds.n_channels != datasets[0].n_channels:
            raise MedSegError(
                f"transfer: site {site} has {ds.n_channels} channels, the first site {datasets[0].n_channels}"
            )
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    images = max(len(c.images) for ds in datasets for c in ds.training)
    writer.writerow(["case_id", *[f"image{i}" if i else "image" for i in range(images)], "label"])
    for k, ds in enumerate(datasets):
        for case in ds.training:
            writer.writerow([f"site{k}_{case.case_id}", *map(str, case.images), str(case.label)])
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

    ``time_budget_minutes`` applies to each training stage. Each stage writes a normal training
    folder ``out_dir/<stage>``; the grid goes to ``out_dir/transfer_grid.{json,csv}``.
    """
    from MedSegTrain.training.api import train

    if len(sites) < 2:
        raise MedSegError("transfer chain: give at least two sites (A -> B)")
    out_dir = Path(out_dir)
    stages: dict[str, Path] = {}
    previous: Path | None = None
    for k, site in enumerate(sites):
        name = "->".join(chr(65 + i) for i in range(k + 1))
        extra = dict(overrides or {})
        if previous is not None:
            extra["transfer.init_bundle"] = str(previous)
        bundle = train(
            Path(site),
            out_dir / f"stage_{k}",
            recipe=recipe,
            folds=[fold],
            time_budget_minutes=time_budget_minutes,
            overrides=extra,
            device=device,
            progress=progress,
        )[0]
        stages[name], previous = bundle, bundle
    if merged_baseline:
        manifest = merged_manifest(sites, out_dir / "merged" / "manifest.csv")
        stages["All_Data"] = train(
            manifest,
            out_dir / "merged",
            recipe=recipe,
            folds=[fold],
            time_budget_minutes=time_budget_minutes,
            overrides=dict(overrides or {}),
            device=device,
            progress=progress,
        )[0]
    grid = score_grid(stages, sites, out_dir, device)
    write_json_atomic(out_dir / "transfer_grid.json", grid)
    write_text_atomic(out_dir / "transfer_grid.csv", grid_csv(grid))
    return grid


def score_grid(
    stages: Mapping[str, Path], sites: Sequence[Path], out_dir: Path, device: str
) -> dict[str, Any]:
    """Dice and IoU (%) of each stage's model on each site's held-out test cases."""
    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.data import load_dataset
    from MedSegTrain.preprocessing.pipeline import PreprocessingSpec
    from MedSegTrain.training.api import resolve_device
    from MedSegTrain.training.heldout import evaluate_ensemble
    from MedSegTrain.training.splits import Split

    dev = resolve_device(device)
    grid: dict[str, Any] = {}
    for stage, bundle_path in stages.items():
        bundle = load_bundle(bundle_path)
        model = bundle.build_member(0, device=str(dev))
        spec = PreprocessingSpec.from_dict(bundle.meta["preprocessing"])
        patch = bundle.meta["inference"]["patch_size"]
        mode = "2d" if bundle.meta["inference"]["mode"] == "slices2d" else "3d"
        grid[stage] = {}
        for k, site in enumerate(sites):
            ds = load_dataset(Path(site))
            split = Split.from_dict(_read_json(out_dir / f"stage_{k}" / "split.json"))
            cases = [ds.case(c) for c in split.test] or list(ds.training)
            values = {int(v): n for n, v in ds.labels.items()}
            scores = evaluate_ensemble(
                [model],
                spec,
                cases,
                ds.label_values,
                values,
                patch[-2:] if mode == "2d" else patch,
                mode,
                dev,
            )
            grid[stage][f"site_{chr(65 + k)}"] = {
                "dice_pct": 100 * scores["dice"],
                "iou_pct": 100 * scores["iou"],
            }
    return grid


def grid_csv(grid: Mapping[str, Any]) -> str:
    """The grid as CSV: one row per trained model, Dice/IoU columns per test site."""
    sites = sorted({s for row in grid.values() for s in row})
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", *[f"{s}_{m}" for s in sites for m in ("dice_pct", "iou_pct")]])
    for stage, row in grid.items():
        writer.writerow([stage, *[f"{row[s][m]:.2f}" for s in sites for m in ("dice_pct", "iou_pct")]])
    return buffer.getvalue()


def _read_json(path: Path) -> Any:
    import json

    return json.loads(Path(path).read_text())
