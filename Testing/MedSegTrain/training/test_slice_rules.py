"""Slice rules of the sampler (T1, C3), fold statistics in the bundle (T6, C2), in-plane size (C3)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.training.loader import CachedCase, PatchSampler


def _case(fg_pixels: list[int]) -> CachedCase:
    """A (z, 20, 20) case whose slice k has ``fg_pixels[k]`` foreground pixels; image = slice index."""
    z = len(fg_pixels)
    label = np.zeros((z, 20, 20), np.uint8)
    for k, n in enumerate(fg_pixels):
        label[k].reshape(-1)[:n] = 1
    image = np.broadcast_to(np.arange(z, dtype=np.float32)[:, None, None], (z, 20, 20))[None].copy()
    return CachedCase("c", image, label, {}, (1.0, 1.0, 1.0))


def test_t1_draws_only_slices_above_200_pixels() -> None:
    case = _case([0, 200, 201, 50, 400, 0])  # slices 2 and 4 have more than 200 pixels
    sampler = PatchSampler([case], [20, 20], "2d", min_slice_foreground=200)
    drawn = {int(sampler.sample(np.random.default_rng(i))[0][0, 0, 0]) for i in range(200)}
    assert drawn == {2, 4}


def test_c3_stacks_random_foreground_slices_in_order() -> None:
    case = _case([0, 5, 0, 7, 9, 0, 3, 0])  # foreground on slices 1, 3, 4, 6
    sampler = PatchSampler([case], [3, 20, 20], "3d", n_slices=3, exclude_background=True)
    stacks = [sampler.sample(np.random.default_rng(i))[0][0, :, 0, 0].tolist() for i in range(100)]
    assert all(set(s) <= {1, 3, 4, 6} and s == sorted(s) and len(set(s)) == 3 for s in stacks)
    assert len({tuple(s) for s in stacks}) > 1  # drawn anew each time
    with_background = PatchSampler([case], [3, 20, 20], "3d", n_slices=3, exclude_background=False)
    seen = {v for i in range(100) for v in with_background.sample(np.random.default_rng(i))[0][0, :, 0, 0]}
    assert seen == set(range(8))


def test_inplane_size_downsamples_and_restores() -> None:
    from MedSegTrain.io import Volume
    from MedSegTrain.preprocessing.pipeline import PreprocessingSpec

    volume = Volume(np.ones((5, 64, 64), np.float32), (0.8, 0.8, 3.0), (0.0, 0.0, 0.0),
                    (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    spec = PreprocessingSpec.from_dict({"normalization": "none", "inplane_size": [16, 16]})
    prepared = spec.prepare_image([volume])
    assert prepared.array.shape == (1, 5, 16, 16)  # C3: slices kept, in-plane 64 -> 16
    assert prepared.geometry.spacing == pytest.approx((3.2, 3.2, 3.0))
    assert spec.restore(prepared.array, prepared).shape == (1, 5, 64, 64)


def test_training_set_statistics_come_from_the_fold_training_cases(blob_writer, tmp_path: Path) -> None:
    """T6: mean and sd pooled over the fold's training images only, stored in the bundle."""
    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.training import train

    data = blob_writer(tmp_path / "blobs", n_cases=4, seed=3)
    overrides = {"statistics.source": "training_set", "split.n_folds": 2, "split.test_fraction": 0.0,
                 "split.folds": [0], "training.epochs": 1, "training.iterations_per_epoch": 1,
                 "network.args.base_filters": 4, "validation.max_cases": 1}
    bundle = train(data, tmp_path / "run", overrides=overrides, device="cpu")[0]
    params = load_bundle(bundle).meta["preprocessing"]["norm_params"]
    train_ids = json.loads((tmp_path / "run" / "split.json").read_text())["folds"][0]["train"]
    pooled = np.concatenate([
        sitk.GetArrayFromImage(sitk.ReadImage(str(data / "imagesTr" / f"{case}.nii.gz"))).ravel()
        for case in train_ids
    ]).astype(np.float64)
    assert params["mean"] == pytest.approx([pooled.mean()], rel=1e-5)
    assert params["std"] == pytest.approx([pooled.std()], rel=1e-5)
    assert "2 training cases" in params["source"] or "all training cases of 2" in params["source"]


@pytest.mark.parametrize("network", ["encoder_unet", "encoder_manet", "encoder_deeplabv3"])
def test_t3_encoder_weights_from_a_local_file_initialise_the_encoder(blob_writer, tmp_path: Path,
                                                                     network: str) -> None:
    """T3: network.args.encoder_weights loads the file into the encoder; lr 0 keeps it there. The file
    is made from encoder_unet's encoder: every T3 network shares its keys."""
    import torch
    from safetensors.torch import save_file

    from MedSegTrain.bundle import load_bundle
    from MedSegTrain.networks import get_network
    from MedSegTrain.training import train

    data = blob_writer(tmp_path / "blobs", n_cases=4, seed=4)
    torch.manual_seed(123)
    source = get_network("encoder_unet", spatial_dims=2, in_channels=1, out_channels=3, encoder="resnet18")
    file = tmp_path / "imagenet.safetensors"
    save_file({k: v.contiguous() for k, v in source.encoder.state_dict().items()}, str(file))
    overrides = {"network.name": network, "network.args.encoder": "resnet18",
                 "network.args.encoder_weights": str(file), "patch.mode": "2d", "patch.size": [32, 32],
                 "optimizer.lr": 0.0, "split.n_folds": 2, "split.test_fraction": 0.0, "split.folds": [0],
                 "training.epochs": 1, "training.iterations_per_epoch": 1, "validation.max_cases": 1}
    bundle = train(data, tmp_path / "run", overrides=overrides, device="cpu")[0]
    meta = load_bundle(bundle).meta
    assert "encoder_weights" not in meta["network"]["args"]  # inference never needs the file
    from safetensors.torch import load_file

    trained = load_file(str(bundle / "fold0.safetensors"))
    conv = {k: v for k, v in source.encoder.state_dict().items() if v.ndim == 4}
    assert conv and all(torch.equal(trained[f"encoder.{k}"], v) for k, v in conv.items())


def test_missing_encoder_weights_file_is_named_before_anything_is_written(blob_writer,
                                                                          tmp_path: Path) -> None:
    from MedSegTrain.errors import MedSegError
    from MedSegTrain.training import train

    data = blob_writer(tmp_path / "blobs", n_cases=4, seed=4)
    overrides = {"network.name": "encoder_unet", "network.args.encoder": "resnet18", "patch.mode": "2d",
                 "network.args.encoder_weights": str(tmp_path / "absent.pt"), "split.n_folds": 2,
                 "split.test_fraction": 0.0}
    with pytest.raises(MedSegError, match=r"network\.encoder_weights .*absent\.pt: no such file"):
        train(data, tmp_path / "run", overrides=overrides, device="cpu")
    assert not (tmp_path / "run").exists()


def test_t3_patch_not_divisible_by_32_is_refused_before_anything_is_written(blob_writer,
                                                                            tmp_path: Path) -> None:
    from MedSegTrain.errors import MedSegError
    from MedSegTrain.training import train

    data = blob_writer(tmp_path / "blobs", n_cases=4, seed=4)
    overrides = {"network.name": "encoder_manet", "patch.mode": "2d", "patch.size": [48, 64],
                 "split.n_folds": 2, "split.test_fraction": 0.0}
    with pytest.raises(MedSegError, match=r"patch.size \[48, 64\] must be divisible by 32 for network "
                                          r"'encoder_manet' \(e.g. --set patch.size=\[64,64\]\)"):
        train(data, tmp_path / "run", overrides=overrides, device="cpu")
    assert not (tmp_path / "run").exists()


def test_t1_merge_plan() -> None:
    from MedSegTrain.errors import MedSegError
    from MedSegTrain.training.labelmerge import merge_plan

    labels = {"background": 0, "CG": 1, "PZ": 2, "lesion": 3}
    assert merge_plan(labels, "all") == ({"background": 0, "CG+PZ+lesion": 1}, {1: 1, 2: 1, 3: 1})
    assert merge_plan(labels, {"prostate": [2, 1]}) == (
        {"background": 0, "prostate": 1, "lesion": 3}, {2: 1, 1: 1})
    with pytest.raises(MedSegError, match=r"data\.merge_labels 'x': value\(s\) \[7\]"):
        merge_plan(labels, {"x": [7]})
