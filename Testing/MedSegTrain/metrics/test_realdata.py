"""Metrics on real label maps (TotalSegmentator example CT, ../shared/data): MONAI agreement per
organ, and ``evaluate`` handling two files with equal physical geometry but flipped index order."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.cli import main
from MedSegTrain.metrics import compute_label_metrics

pytestmark = pytest.mark.realdata

ORGANS = {"spleen": 1, "kidney_right": 2, "kidney_left": 3, "liver": 5}


def test_organs_agree_with_monai(shared_data):
    import torch
    from monai.metrics import compute_average_surface_distance, compute_hausdorff_distance

    image = sitk.ReadImage(str(shared_data / "totalseg-example-ct" / "example_seg.nii.gz"))
    ref = sitk.GetArrayFromImage(image)
    pred = np.roll(ref, 2, axis=2)  # a prediction two voxels off in x
    pred[:, :, :2] = 0
    spacing = tuple(reversed(image.GetSpacing()))
    results = compute_label_metrics(pred, ref, ORGANS, spacing=spacing)
    for name, value in ORGANS.items():
        p = torch.from_numpy(pred == value)[None, None]
        r = torch.from_numpy(ref == value)[None, None]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hd95 = float(compute_hausdorff_distance(p, r, include_background=True, percentile=95,
                                                    spacing=spacing))
            msd = float(compute_average_surface_distance(p, r, include_background=True, symmetric=True,
                                                         spacing=spacing))
        assert results[name]["hd95"] == pytest.approx(hd95, abs=1e-3), name
        assert results[name]["msd"] == pytest.approx(msd, abs=1e-3), name


def test_flipped_index_order_is_resampled_by_geometry(shared_data, tmp_path, capsys):
    # example_seg_dicom is stored with a flipped y axis; DICOMOrient rewrites it with an identity
    # direction over the same physical space. Compared by geometry, every organ matches exactly;
    # compared by array index, they would not.
    source = shared_data / "totalseg-example-ct" / "example_seg_dicom.nii.gz"
    reoriented = sitk.DICOMOrient(sitk.ReadImage(str(source)), "LPS")
    ref_path = tmp_path / "ref.nii.gz"
    sitk.WriteImage(reoriented, str(ref_path))
    original = sitk.GetArrayFromImage(sitk.ReadImage(str(source)))
    assert not np.array_equal(sitk.GetArrayFromImage(reoriented), original)
    status = main(["evaluate", "--pred", str(source), "--ref", str(ref_path), "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert "resampled onto the reference grid" in err
    rows = json.loads(out)["cases"]
    assert len(rows) == 31  # 31 organs besides background
    assert all(row["dice"] == 1.0 and row["hd"] == 0.0 for row in rows)
