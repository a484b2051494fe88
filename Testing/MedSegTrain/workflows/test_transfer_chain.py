"""T5 fine-tuning chains: stage initialisation, a frozen encoder, the merged baseline, the result grid.

One tiny chain over three blob "sites" (different seeds, intensity offsets) is trained once per
module; the tests check it against expectations computed independently of ``transfer_chain.py``: the
weights each stage starts from (captured inside the trainer), the bundles' tensors, the sites'
own case lists and one grid cell recomputed with ``predict_volume`` + ``compute_metrics``.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from MedSegTrain.bundle import load_bundle
from MedSegTrain.errors import MedSegError
from MedSegTrain.workflows.transfer_chain import (
    grid_csv,
    grid_markdown,
    merged_manifest,
    run_chain,
)

STAGES = ["A", "A->B", "A->B->C", "All_Data"]
SITES = ["site_A", "site_B", "site_C"]
# The `unet` (DynUNet) encoder: the input block and the strided blocks; the rest is decoder/head.
ENCODER = ("net.input_block.", "net.downsamples.")
FAST = {  # nested, as the CLI's --set parser makes it: stages must not share (and mutate) it
    "training": {"epochs": 2, "iterations_per_epoch": 3},
    "patch": {"batch_size": 2},
    "network": {"args": {"base_filters": 4}},
    "validation": {"max_cases": 1},
    "split": {"n_folds": 2},
    "optimizer": {"lr": 1e-2},
    "transfer": {"freeze_encoder": True},
}


def _state(bundle: Path) -> dict[str, torch.Tensor]:
    return load_bundle(bundle).build_member(0, device="cpu").state_dict()


def _same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], keys: Any = None) -> bool:
    keys = list(a) if keys is None else list(keys)
    return all(torch.equal(a[k], b[k]) for k in keys)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory, blob_writer: Any) -> list[Path]:
    root = tmp_path_factory.mktemp("sites")
    return [blob_writer(root / f"site{k}", n_cases=6, seed=20 + k, offset=25.0 * k) for k in range(3)]


@pytest.fixture(scope="module")
def chain(sites: list[Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The chain's output folder, grid, and the weights each training run started from (by folder)."""
    from MedSegTrain.training.engine import FoldTrainer

    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("chain")
    starts: dict[str, dict[str, torch.Tensor]] = {}
    original = FoldTrainer.__init__

    def spy(self: Any, job: Any) -> None:
        original(self, job)
        state = self.model.state_dict()
        starts[Path(job.out_dir).parent.name] = {k: v.detach().clone() for k, v in state.items()}

    import MedSegTrain.data
    import MedSegTrain.workflows.transfer_chain as chain_module

    loads: Counter[str] = Counter()
    load = MedSegTrain.data.load_dataset

    def counting_load(path: Any) -> Any:
        loads[Path(path).name] += 1
        return load(path)

    overrides = json.loads(json.dumps(FAST))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(FoldTrainer, "__init__", spy)
        mp.setattr(MedSegTrain.data, "load_dataset", counting_load)
        mp.setattr(chain_module, "load_dataset", counting_load)
        grid = run_chain(sites, out, recipe="auto", overrides=overrides, device="cpu")
    assert overrides == FAST  # the caller's overrides are left alone
    bundles = {name: Path(p) for name, p in json.loads((out / "chain.json").read_text())["stages"].items()}
    return {"out": out, "grid": grid, "starts": starts, "bundles": bundles, "loads": loads}


def test_each_site_dataset_is_loaded_once(chain: dict[str, Any], sites: list[Path]) -> None:
    """The chain checks, trains, merges and scores each site from one loaded dataset."""
    assert chain["loads"] == Counter({**{s.name: 1 for s in sites}, "merged_manifest.csv": 1})


def test_each_stage_starts_from_the_previous_stage_bundle(chain: dict[str, Any]) -> None:
    out, starts, bundles = chain["out"], chain["starts"], chain["bundles"]
    assert bundles == {
        "A": out / "stage_0" / "fold_0" / "bundle",
        "A->B": out / "stage_1" / "fold_0" / "bundle",
        "A->B->C": out / "stage_2" / "fold_0" / "bundle",
        "All_Data": out / "merged" / "fold_0" / "bundle",
    }
    trained = {name: _state(path) for name, path in bundles.items()}
    assert _same(starts["stage_1"], trained["A"])
    assert _same(starts["stage_2"], trained["A->B"])
    # Stage A and the merged baseline start from scratch, from none of the chain's bundles.
    for fresh in ("stage_0", "merged"):
        for name in ("A", "A->B", "A->B->C"):
            assert not _same(starts[fresh], trained[name]), (fresh, name)
    recipe = {n: load_bundle(p).meta["training"]["recipe"]["transfer"] for n, p in bundles.items()}
    assert recipe["A->B"]["init_bundle"] == str(bundles["A"])
    assert recipe["A->B->C"]["init_bundle"] == str(bundles["A->B"])
    assert not recipe["A"]["init_bundle"] and not recipe["All_Data"]["init_bundle"]


def test_frozen_encoder_is_bit_identical_while_the_decoder_trains(chain: dict[str, Any]) -> None:
    starts, trained = chain["starts"], {n: _state(p) for n, p in chain["bundles"].items()}
    encoder = [k for k in trained["A"] if k.startswith(ENCODER)]
    decoder = [k for k in trained["A"] if not k.startswith(ENCODER)]
    assert len(encoder) >= 6 and len(decoder) >= 6
    for before, after in (("A", "A->B"), ("A->B", "A->B->C")):
        assert _same(trained[before], trained[after], encoder), after
        assert not _same(trained[before], trained[after], decoder), after
    # Without a bundle to start from there is nothing to freeze: stage A trains its encoder.
    assert not _same(starts["stage_0"], trained["A"], encoder)


def test_merged_manifest_lists_every_non_test_case_once(chain: dict[str, Any], sites: list[Path]) -> None:
    from MedSegTrain.data import load_dataset

    out = chain["out"]
    merged = load_dataset(out / "merged_manifest.csv")
    counts = Counter(c.case_id for c in merged.training)
    expected, tests = set(), set()
    for k, site in enumerate(sites):
        test = json.loads((out / f"stage_{k}" / "split.json").read_text())["test"]
        assert len(test) == 1  # 20 % of 6 cases
        letter = "ABC"[k]
        for case in load_dataset(site).training:
            (tests if case.case_id in test else expected).add(f"site_{letter}_{case.case_id}")
    assert set(counts) == expected and len(expected) == 15 and set(counts.values()) == {1}
    assert not tests & set(counts)  # the grid's test cases never train the baseline
    first = load_dataset(sites[0])
    assert merged.labels == first.labels == {"background": 0, "ball": 1, "box": 2}
    assert merged.modality == first.modality and merged.channel_names == first.channel_names
    assert json.loads((out / "merged" / "split.json").read_text())["test"] == []


def test_grid_has_a_row_per_model_and_a_column_per_site(chain: dict[str, Any]) -> None:
    out, grid = chain["out"], chain["grid"]
    assert list(grid) == STAGES
    for row in grid.values():
        assert sorted(row) == SITES
        for cell in row.values():
            assert 0.0 <= cell["iou_pct"] <= cell["dice_pct"] <= 100.0 and cell["n_cases"] == 1
    assert json.loads((out / "transfer_grid.json").read_text()) == grid
    assert (out / "transfer_grid.csv").read_text() == grid_csv(grid)
    markdown = (out / "transfer_grid.md").read_text()
    assert markdown.splitlines()[0] == (
        "| model | site_A Dice % | site_A IoU % | site_B Dice % | site_B IoU % "
        "| site_C Dice % | site_C IoU % |"
    )
    for stage in STAGES:
        assert f"| {stage} | {grid[stage]['site_A']['dice_pct']:.2f} |" in markdown
    png = (out / "transfer_grid.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_grid_diagonal_matches_each_stage_held_out_score(chain: dict[str, Any]) -> None:
    """Stage k on site k is the model and the test cases that stage's own summary.json scored."""
    out, grid = chain["out"], chain["grid"]
    for k, stage in enumerate(STAGES[:3]):
        summary = json.loads((out / f"stage_{k}" / "summary.json").read_text())["test"]
        assert grid[stage][SITES[k]]["dice_pct"] == pytest.approx(100 * summary["dice"], abs=1e-9)
        assert grid[stage][SITES[k]]["iou_pct"] == pytest.approx(100 * summary["iou"], abs=1e-9)


def test_chain_of_sigmoid_region_models(sites: list[Path], tmp_path: Path) -> None:
    """Bundles with sigmoid region outputs (B4) are scored per region, as their own training did."""
    regions = {"output": {"activation": "sigmoid", "regions": {"object": [1, 2], "ball": [1]}}}
    overrides = {k: v for k, v in FAST.items() if k != "transfer"} | regions
    grid = run_chain(sites[:2], tmp_path, recipe="auto", overrides=overrides, device="cpu",
                     merged_baseline=False)
    assert list(grid) == ["A", "A->B"]
    assert load_bundle(tmp_path / "stage_1" / "fold_0" / "bundle").meta["output"]["activation"] == "sigmoid"
    for k, stage in enumerate(grid):
        summary = json.loads((tmp_path / f"stage_{k}" / "summary.json").read_text())["test"]
        assert sorted(summary["dice_per_label"]) == ["ball", "object"]
        assert grid[stage][SITES[k]]["dice_pct"] == pytest.approx(100 * summary["dice"], abs=1e-9)


@pytest.mark.parametrize(("stage", "k"), [("A->B", 2), ("All_Data", 0)])
def test_a_grid_cell_recomputed_with_predict_volume(
    chain: dict[str, Any], sites: list[Path], stage: str, k: int
) -> None:
    from MedSegTrain.data import load_case, load_dataset
    from MedSegTrain.inference import predict_volume
    from MedSegTrain.metrics import compute_metrics

    out = chain["out"]
    (case_id,) = json.loads((out / f"stage_{k}" / "split.json").read_text())["test"]
    loaded = load_case(load_dataset(sites[k]).case(case_id))
    pred = np.asarray(predict_volume([chain["bundles"][stage]], loaded.channels, device="cpu").label.array)
    ref = np.asarray(loaded.label)
    scores = [compute_metrics(pred == v, ref == v) for v in (1, 2)]
    for s in scores:  # one case: IoU = D / (2 - D) per label
        assert s["iou"] == pytest.approx(s["dice"] / (2 - s["dice"]))
    cell = chain["grid"][stage][f"site_{'ABC'[k]}"]
    assert cell["dice_pct"] == pytest.approx(100 * np.mean([s["dice"] for s in scores]), abs=1e-6)
    assert cell["iou_pct"] == pytest.approx(100 * np.mean([s["iou"] for s in scores]), abs=1e-6)


def test_grid_csv_and_markdown_by_hand() -> None:
    grid = {
        "A": {
            "site_B": {"dice_pct": 50.0, "iou_pct": 100 / 3},
            "site_A": {"dice_pct": 80.0, "iou_pct": 66.666},
        },
        "All_Data": {
            "site_A": {"dice_pct": 90.126, "iou_pct": 82.0, "n_cases": 3},
            "site_B": {"dice_pct": 0, "iou_pct": 0},
        },
    }
    assert grid_csv(grid) == (
        "model,site_A_dice_pct,site_A_iou_pct,site_B_dice_pct,site_B_iou_pct\n"
        "A,80.00,66.67,50.00,33.33\n"
        "All_Data,90.13,82.00,0.00,0.00\n"
    )
    assert grid_markdown(grid, [Path("/d/one"), Path("/d/two")]) == (
        "| model | site_A Dice % | site_A IoU % | site_B Dice % | site_B IoU % |\n"
        "| :--- | ---: | ---: | ---: | ---: |\n"
        "| A | 80.00 | 66.67 | 50.00 | 33.33 |\n"
        "| All_Data | 90.13 | 82.00 | 0.00 | 0.00 |\n"
        "\n"
        "site_A: `/d/one`; site_B: `/d/two`\n"
    )
    assert math.isclose(80.0 / (200 - 80.0) * 100, 66.666, rel_tol=1e-4)  # IoU = D / (2 - D) in %


def test_bad_chains_fail_before_any_training(sites: list[Path], tmp_path: Path, blob_writer: Any) -> None:
    out = tmp_path / "out"
    with pytest.raises(MedSegError, match=r"--site: a transfer chain needs at least two sites .*got 1"):
        run_chain(sites[:1], out, recipe="auto", device="cpu")
    with pytest.raises(MedSegError, match=r"--site .*site0: given twice \(site A and site B\)"):
        run_chain([sites[0], sites[0]], out, recipe="auto", device="cpu")
    other = blob_writer(tmp_path / "other", n_cases=4, seed=5)
    meta = json.loads((other / "dataset.json").read_text())
    meta["labels"] = {"0": "background", "1": "sphere", "2": "box"}
    (other / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(MedSegError, match=r"--site .*other: site B has labels .*'sphere'.* but site A"):
        run_chain([sites[0], other], out, recipe="auto", device="cpu")
    with pytest.raises(MedSegError, match=r"site A's split holds out no test cases"):
        run_chain(sites[:2], out, recipe="auto", overrides={"split.test_fraction": 0}, device="cpu")
    with pytest.raises(MedSegError, match=r"--fold 5: out of range"):
        run_chain(sites[:2], out, recipe="auto", fold=5, device="cpu")
    with pytest.raises(MedSegError, match=r"unknown config key 'optimizer.lrr'"):
        run_chain(sites[:2], out, recipe="auto", overrides={"optimizer.lrr": 1}, device="cpu")
    with pytest.raises(MedSegError, match=r"site B has labels"):
        merged_manifest([sites[0], other], tmp_path / "m.csv")
    assert not out.exists() and not (tmp_path / "m.csv").exists()
