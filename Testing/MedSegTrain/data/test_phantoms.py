"""Phantoms: reproducible for a seed, intended shapes and intensities, a valid nnU-Net v2 dataset."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

import MedSegTrain.data.phantoms as phantoms
from MedSegTrain.data import load_case, load_dataset, validate_dataset
from MedSegTrain.data.phantoms import case_rng, generate_phantom_dataset, make_phantom_case
from MedSegTrain.errors import MedSegError

KINDS = ("prostate-mri", "kidney-ct", "brain-mri")


def _digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("kind", KINDS)
def test_same_seed_same_case_and_different_seed_differs(kind: str) -> None:
    channels, label = make_phantom_case(kind, case_rng(7, 0))
    again, label_again = make_phantom_case(kind, case_rng(7, 0))
    other, label_other = make_phantom_case(kind, case_rng(8, 0))
    for a, b in zip(channels, again, strict=True):
        np.testing.assert_array_equal(a.array, b.array)
        assert a.geometry == b.geometry
    np.testing.assert_array_equal(label.array, label_again.array)
    assert label.array.shape != label_other.array.shape or not np.array_equal(label.array, label_other.array)
    assert not np.array_equal(channels[0].array[:4], other[0].array[:4])


@pytest.mark.parametrize("kind", KINDS)
def test_grids_are_small_anisotropic_and_vary(kind: str) -> None:
    cases = [make_phantom_case(kind, case_rng(0, i)) for i in range(6)]
    slices = {label.array.shape[0] for _, label in cases}
    assert len(slices) > 1 and all(16 <= n <= 32 for n in slices)
    for channels, label in cases:
        assert label.array.shape[1:] == (80, 80) and label.array.dtype == np.uint8
        assert label.spacing[2] / label.spacing[0] >= 1.5
        assert all(c.geometry == label.geometry for c in channels)
        assert all(c.array.dtype == np.int16 for c in channels)


@pytest.mark.parametrize("kind", KINDS)
def test_a_case_takes_well_under_a_second(kind: str) -> None:
    make_phantom_case(kind, case_rng(0, 0))
    start = time.perf_counter()
    make_phantom_case(kind, case_rng(0, 1))
    assert time.perf_counter() - start < 1.0  # about 0.05 s on an idle core


def _volume_ml(mask: np.ndarray, spacing: tuple[float, ...]) -> float:
    return float(mask.sum()) * float(np.prod(spacing)) / 1000.0


def test_prostate_zones() -> None:
    for index in range(4):
        (t2,), label = make_phantom_case("prostate-mri", case_rng(1, index))
        central, peripheral = label.array == 1, label.array == 2
        assert set(np.unique(label.array)) == {0, 1, 2}
        assert 10 <= _volume_ml(central | peripheral, label.spacing) <= 60  # adult prostate 20-40 mL
        # the peripheral zone is posterior (+y here) of the central gland and brighter on T2
        assert ndimage.center_of_mass(peripheral)[1] > ndimage.center_of_mass(central)[1]
        assert t2.array[peripheral].mean() > 1.5 * t2.array[central].mean()
        assert t2.array.min() >= 0  # magnitude MR
        # the zones touch: merging them gives one connected prostate
        assert ndimage.label(central | peripheral)[1] == 1


def test_kidney_ct_hounsfield_units() -> None:
    for index in range(4):
        (ct,), label = make_phantom_case("kidney-ct", case_rng(2, index))
        hu = ct.array.astype(np.float32)
        kidney, tumour = label.array == 1, label.array == 2
        assert kidney.any() and tumour.any()
        assert 1 <= _volume_ml(tumour, label.spacing) <= 25
        assert 30 <= float(np.median(hu[kidney])) <= 200  # enhanced parenchyma
        assert 10 <= float(np.median(hu[tumour])) <= 120 < float(np.median(hu[kidney])) + 80
        assert float(np.median(hu[tumour])) < float(np.median(hu[kidney]))
        assert float(np.median(hu[:, -3:, -3:])) < -950  # air in the corner outside the body
        body_fat = (hu > -150) & (hu < -50)
        assert body_fat.mean() > 0.1  # fat fills much of the abdomen
        assert (hu > 400).sum() > 50 and hu.max() <= 1100  # cortical bone of the vertebra
        assert hu.min() >= -1024


def test_brain_regions_are_nested_and_the_contrasts_right() -> None:
    for index in range(4):
        channels, label = make_phantom_case("brain-mri", case_rng(3, index))
        t1, t1ce, t2, flair = (c.array.astype(np.float32) for c in channels)
        ncr, ed, et = (label.array == v for v in (1, 2, 3))
        assert ncr.any() and ed.any() and et.any()
        whole, core = ncr | ed | et, ncr | et
        assert 15 <= _volume_ml(whole, label.spacing) <= 200
        assert core.sum() < whole.sum() and et.sum() < core.sum()
        # the enhancing tumour is a rim: necrosis is enclosed by it, it does not border oedema
        necrosis_rim = ndimage.binary_dilation(ncr, np.ones((1, 3, 3), bool)) & ~ncr
        assert (necrosis_rim & ed).sum() <= 0.1 * necrosis_rim.sum()
        assert t1ce[et].mean() > 1.4 * t1ce[ncr].mean() and t1ce[et].mean() > 1.4 * t1ce[ed].mean()
        assert flair[ed].mean() > 1.5 * flair[~whole & (flair > 0)].mean()
        assert t2[ed].mean() > t1[ed].mean()
        outside = flair == 0
        assert outside.mean() > 0.2 and not label.array[outside].any()  # skull-stripped


def test_dataset_folder_is_a_valid_nnunet_v2_dataset(tmp_path: Path) -> None:
    out = generate_phantom_dataset("brain-mri", 3, tmp_path / "brain", seed=5, n_test=1)
    description = json.loads((out / "dataset.json").read_text())
    assert description["channel_names"] == {"0": "T1", "1": "T1ce", "2": "T2", "3": "FLAIR"}
    assert description["labels"] == {"background": 0, "NCR": 1, "ED": 2, "ET": 3}
    assert description["regions"] == {"WT": [1, 2, 3], "TC": [1, 3], "ET": [3]}
    assert description["numTraining"] == 3 and description["file_ending"] == ".nii.gz"
    assert sorted(p.name for p in (out / "imagesTr").iterdir())[:4] == [
        f"brain_000_{c:04d}.nii.gz" for c in range(4)]
    dataset = load_dataset(out)
    assert dataset.layout == "nnunet-v2" and dataset.modality == "MR"
    assert [c.case_id for c in dataset.test] == ["brain_003"] and dataset.test[0].label is not None
    assert validate_dataset(dataset) == []
    loaded = load_case(dataset.test[0], n_channels=4)
    channels, label = make_phantom_case("brain-mri", case_rng(5, 3))
    np.testing.assert_array_equal(loaded.label, label.array)
    np.testing.assert_array_equal(loaded.image[3], channels[3].array.astype(np.float32))
    assert loaded.reference.geometry.same_as(label.geometry)
    assert [p.name for p in tmp_path.iterdir()] == ["brain"]  # no temporary leftovers


def test_dataset_bytes_are_reproducible_and_cases_independent_of_count(tmp_path: Path) -> None:
    first = generate_phantom_dataset("kidney-ct", 2, tmp_path / "a", seed=11)
    second = generate_phantom_dataset("kidney-ct", 2, tmp_path / "b", seed=11)
    assert _digest(first) == _digest(second)
    bigger = _digest(generate_phantom_dataset("kidney-ct", 3, tmp_path / "c", seed=11))
    assert bigger["imagesTr/kidney_001_0000.nii.gz"] == _digest(first)["imagesTr/kidney_001_0000.nii.gz"]
    other = _digest(generate_phantom_dataset("kidney-ct", 2, tmp_path / "d", seed=12))
    assert other["imagesTr/kidney_000_0000.nii.gz"] != _digest(first)["imagesTr/kidney_000_0000.nii.gz"]


def test_prostate_and_kidney_descriptions(tmp_path: Path) -> None:
    prostate = json.loads((generate_phantom_dataset("prostate-mri", 1, tmp_path / "p") / "dataset.json")
                          .read_text())
    assert prostate["labels"] == {"background": 0, "central_gland": 1, "peripheral_zone": 2}
    assert prostate["channel_names"] == {"0": "T2"} and "regions" not in prostate
    kidney = load_dataset(generate_phantom_dataset("kidney-ct", 1, tmp_path / "k"))
    assert kidney.labels == {"background": 0, "kidney": 1, "tumour": 2} and kidney.modality == "CT"


def test_bad_arguments_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(MedSegError, match="unknown phantom kind 'liver'"):
        generate_phantom_dataset("liver", 1, tmp_path / "x")
    with pytest.raises(MedSegError, match="--cases"):
        generate_phantom_dataset("kidney-ct", 0, tmp_path / "x")
    with pytest.raises(MedSegError, match="--test-cases"):
        generate_phantom_dataset("kidney-ct", 1, tmp_path / "x", n_test=-1)
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("do not delete")
    with pytest.raises(MedSegError, match="not empty"):
        generate_phantom_dataset("kidney-ct", 1, precious)
    assert (precious / "thesis.tex").read_text() == "do not delete"
    (tmp_path / "file").write_text("x")
    with pytest.raises(MedSegError, match="is a file, not a folder"):
        generate_phantom_dataset("kidney-ct", 1, tmp_path / "file" / "sub")
    assert not (tmp_path / "x").exists()


def test_an_earlier_phantom_dataset_is_replaced(tmp_path: Path) -> None:
    out = generate_phantom_dataset("kidney-ct", 3, tmp_path / "ds")
    generate_phantom_dataset("kidney-ct", 1, out)
    assert sorted(p.name for p in (out / "labelsTr").iterdir()) == ["kidney_000.nii.gz"]


def test_a_failure_midway_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    original = phantoms.KINDS["kidney-ct"]["make"]

    def flaky(rng: np.random.Generator):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk on fire")
        return original(rng)

    monkeypatch.setitem(phantoms.KINDS["kidney-ct"], "make", flaky)
    with pytest.raises(RuntimeError):
        generate_phantom_dataset("kidney-ct", 3, tmp_path / "ds")
    assert list(tmp_path.iterdir()) == []
