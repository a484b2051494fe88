"""Sigmoid region outputs (B4): target encoding, bundle declaration, training and prediction end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from MedSegTrain.errors import MedSegError
from MedSegTrain.training.targets import OutputPlan, dice_of_masks

BRATS_LABELS = {"background": 0, "NCR": 1, "ED": 2, "ET": 3}
BRATS_REGIONS = {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}


def brats_plan() -> OutputPlan:
    section = {"activation": "sigmoid", "regions": "dataset"}
    return OutputPlan.from_config(section, BRATS_LABELS, BRATS_REGIONS)


def test_region_targets_by_hand() -> None:
    labels = torch.tensor([0, 1, 2, 3]).view(1, 1, 4)  # label indices == values here
    target = brats_plan().encode(labels)
    expected = torch.tensor(
        [[0, 1, 1, 1],  # WT = NCR + ED + ET
         [0, 1, 0, 1],  # TC = NCR + ET
         [0, 0, 0, 1]],  # ET
        dtype=torch.float32,
    )
    assert target.shape == (1, 3, 4) and torch.equal(target[0], expected)


def test_region_targets_use_label_indices_not_values() -> None:
    # label values 0, 2, 4 are cached as indices 0, 1, 2 (loader.label_lut)
    plan = OutputPlan.from_config({"activation": "sigmoid", "regions": {"TC": [2, 4], "E": [4]}},
                                  {"background": 0, "N": 2, "E": 4}, None)
    target = plan.encode(torch.tensor([0, 1, 2]).view(1, 1, 3))
    assert torch.equal(target[0], torch.tensor([[0.0, 1, 1], [0, 0, 1]]))


def test_softmax_targets_pass_through_and_background_is_not_scored() -> None:
    plan = OutputPlan.softmax({"background": 0, "a": 1, "b": 2})
    labels = torch.tensor([[[0, 2, 1]]])
    assert plan.encode(labels) is labels
    assert plan.scored_channels == [1, 2] and plan.n_channels == 3
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.1, 0.1, 0.7], [0.1, 0.8, 0.2]])  # argmax 0, 2, 1
    assert plan.predicted_masks(probs).tolist() == [[False, False, True], [False, True, False]]


def test_sigmoid_without_regions_has_one_channel_per_foreground_label() -> None:
    plan = OutputPlan.from_config({"activation": "sigmoid"}, {"background": 0, "a": 1, "b": 2}, None)
    assert plan.channel_names == ["a", "b"] and plan.scored_channels == [0, 1]
    assert plan.encode(torch.tensor([[[0, 1, 2]]]))[0].tolist() == [[0, 1, 0], [0, 0, 1]]


def test_bundle_declaration_rebuilds_the_labels() -> None:
    out = brats_plan().bundle_output()
    assert out["activation"] == "sigmoid" and out["regions"] == BRATS_REGIONS
    # painting order derived from the nesting: WT paints ED, TC paints NCR, ET paints ET
    assert out["region_rebuild"] == [{"region": "WT", "label": 2}, {"region": "TC", "label": 1},
                                     {"region": "ET", "label": 3}]


def test_bad_output_sections() -> None:
    with pytest.raises(MedSegError, match="declares no 'regions'"):
        OutputPlan.from_config({"activation": "sigmoid", "regions": "dataset"}, BRATS_LABELS, None)
    with pytest.raises(MedSegError, match=r"needs output\.activation = sigmoid"):
        OutputPlan.from_config({"activation": "softmax", "regions": "dataset"}, BRATS_LABELS, BRATS_REGIONS)
    with pytest.raises(MedSegError, match="undeclared label values"):
        OutputPlan.from_config({"activation": "sigmoid", "regions": {"X": [7]}}, BRATS_LABELS, None)


def test_dice_of_masks_by_hand() -> None:
    pred = torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
    ref = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 0]], dtype=torch.bool)
    assert dice_of_masks(pred, ref) == [0.5, 1.0]  # 2*1/(2+2); both empty -> 1


def test_sigmoid_regions_overfit_a_case(blob_cases: list, tmp_path: Path, tiny, make_job, tiny_net) -> None:
    """Overlapping regions (``any`` = ball + box, ``ball``) learnt with sigmoid Dice; MONAI re-predicts."""
    from monai.inferers import sliding_window_inference

    from MedSegTrain.networks import get_network
    from MedSegTrain.training.engine import FoldTrainer

    torch.set_num_threads(2)
    regions = {"any": [1, 2], "ball": [1]}
    config = tiny(
        training={"epochs": 7, "iterations_per_epoch": 10, "val_every": 7},
        patch={"foreground_fraction": 0.0, "batch_size": 1},
        optimizer={"lr": 1e-2},
        output={"activation": "sigmoid", "regions": regions},
        loss={"name": "dice_squared", "params": {"smooth": 1.0}},
    )
    plan = OutputPlan.from_config(config["output"], {"background": 0, "ball": 1, "box": 2}, None)
    net = {"name": tiny_net["name"], "args": {**tiny_net["args"], "out_channels": 2}}
    job = make_job(config, blob_cases[:1], blob_cases[:1], tmp_path, output=plan, network=net)
    result = FoldTrainer(job).run()
    assert set(result.metrics["dice_per_label"]) == {"any", "ball"}

    model = get_network(net["name"], **net["args"])
    model.load_state_dict(result.weights)
    model.eval()
    case = blob_cases[0]
    with torch.no_grad():
        image = torch.from_numpy(np.array(case.image, dtype=np.float32))[None]
        logits = sliding_window_inference(image, config["patch"]["size"], 4, model, mode="gaussian")
    prob = torch.sigmoid(logits)[0]
    label = np.asarray(case.label)
    for c, members in enumerate(regions.values()):
        ref = np.isin(label, members)
        pred = prob[c].numpy() >= 0.5
        dice = 2.0 * (pred & ref).sum() / (pred.sum() + ref.sum())
        assert dice > 0.9, f"region {c}: Dice {dice:.3f}"


def test_brats_recipe_trains_regions_and_predicts_labels(tmp_path: Path) -> None:
    """The shipped ``brats`` recipe, shrunk: sigmoid WT/TC/ET channels, bundle declaration, label map back."""
    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.data import load_dataset
    from MedSegTrain.data.phantoms import generate_phantom_dataset
    from MedSegTrain.inference import predict_volume
    from MedSegTrain.io import read_image
    from MedSegTrain.training import train

    torch.set_num_threads(2)
    data = generate_phantom_dataset("brain-mri", 4, tmp_path / "brain", seed=3)
    overrides = {
        "split.n_folds": 2, "split.folds": [0],
        "network.args.base_filters": 4,
        "patch.size": [16, 32, 32], "patch.batch_size": 1,
        "training.epochs": 1, "training.iterations_per_epoch": 2,
        "swa.cycles": 1, "swa.cycle_epochs": 1, "swa.snapshot_every": 1,
        "validation.max_cases": 1,
    }
    bundle_path = train(data, tmp_path / "run", recipe="brats_a", overrides=overrides, device="cpu")[0]
    meta = load_bundle(bundle_path).meta
    assert meta["output"]["activation"] == "sigmoid"
    assert meta["output"]["regions"] == BRATS_REGIONS
    assert meta["network"]["args"]["out_channels"] == 3
    metrics = json.loads((tmp_path / "run" / "fold_0" / "metrics.json").read_text())["validation"]
    assert set(metrics["dice_per_label"]) == {"WT", "TC", "ET"}

    case = load_dataset(data).training[0]
    prediction = predict_volume([bundle_path], [read_image(p) for p in case.images], device="cpu",
                                probabilities=True)
    assert prediction.channel_names == ["WT", "TC", "ET"]
    wt, tc, et = prediction.probabilities >= 0.5
    expected = np.where(et, 3, np.where(tc, 1, np.where(wt, 2, 0)))  # ET over NCR over ED (B8)
    assert np.array_equal(prediction.label.array, expected)


def test_explicit_rebuild_where_the_nesting_leaves_it_open() -> None:
    """BraTS 2015: TC = {1, 3, 4} minus ET = {4} leaves two labels, so the order must be declared."""
    labels = {"background": 0, "necrosis": 1, "oedema": 2, "non_enhancing": 3, "enhancing": 4}
    regions = {"WT": [1, 2, 3, 4], "TC": [1, 3, 4], "ET": [4]}
    with pytest.raises(MedSegError, match=r"declare output\.region_rebuild"):
        OutputPlan.from_config({"activation": "sigmoid", "regions": regions}, labels, None)
    steps = [{"region": "WT", "label": 2}, {"region": "TC", "label": 1}, {"region": "ET", "label": 4}]
    plan = OutputPlan.from_config({"activation": "sigmoid", "regions": regions, "region_rebuild": steps},
                                  labels, None)
    assert plan.bundle_output()["region_rebuild"] == steps
    probs = np.zeros((3, 4), np.float32)
    probs[:, 1] = [0.9, 0.1, 0.1]  # WT only -> oedema
    probs[:, 2] = [0.9, 0.8, 0.2]  # WT + TC -> necrosis
    probs[:, 3] = [0.9, 0.8, 0.7]  # all three -> enhancing
    assert plan.spec.decode(probs).tolist() == [0, 2, 1, 4]
    with pytest.raises(MedSegError, match=r"region_rebuild needs output\.regions"):
        OutputPlan.from_config({"activation": "sigmoid", "region_rebuild": steps}, labels, None)


def test_a_bundle_declaration_reads_back_with_its_rebuild_order() -> None:
    labels = {"background": 0, "necrosis": 1, "oedema": 2, "non_enhancing": 3, "enhancing": 4}
    steps = [{"region": "WT", "label": 2}, {"region": "TC", "label": 1}, {"region": "ET", "label": 4}]
    meta = {"labels": labels, "output": {"activation": "sigmoid", "region_rebuild": steps,
                                         "regions": {"WT": [1, 2, 3, 4], "TC": [1, 3, 4], "ET": [4]}}}
    plan = OutputPlan.from_meta(meta)
    assert plan.channel_names == ["WT", "TC", "ET"] and plan.label_values == (0, 1, 2, 3, 4)
    assert plan.spec.rebuild_order() == (("WT", 2), ("TC", 1), ("ET", 4))
