"""MedSegTrain.io: round trips per format with an oblique direction and anisotropic spacing,
DICOM series (real and synthetic), 2D/4D/multi-component handling, clear errors."""

from __future__ import annotations

import gzip
import math
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.dicom import list_dicom_series
from MedSegTrain.errors import MedSegError
from MedSegTrain.io import (
    Geometry,
    Volume,
    read_channels,
    read_header,
    read_image,
    write_image,
)

THETA = 0.3
OBLIQUE = (math.cos(THETA), -math.sin(THETA), 0.0,
           math.sin(THETA), math.cos(THETA), 0.0,
           0.0, 0.0, 1.0)
SPACING = (0.8, 0.9, 3.1)
ORIGIN = (10.5, -20.25, 33.125)


def _volume(dtype: type = np.int16) -> Volume:
    rng = np.random.default_rng(0)
    array = rng.integers(-1000, 1000, size=(4, 5, 6)).astype(dtype)
    return Volume(array, SPACING, ORIGIN, OBLIQUE)


# NIfTI stores spacing/origin/quaternion as float32: exact to float32 precision only.
FORMAT_TOLERANCE = {".nii.gz": 1e-6, ".nii": 1e-6, ".nrrd": 1e-12, ".nhdr": 1e-12,
                    ".mha": 1e-12, ".mhd": 1e-12}


@pytest.mark.parametrize("suffix", list(FORMAT_TOLERANCE))
@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.uint8])
def test_round_trip_keeps_voxels_dtype_and_geometry(tmp_path: Path, suffix: str, dtype: type) -> None:
    volume = _volume(dtype)
    before = volume.array.copy()
    path = write_image(volume, tmp_path / f"image{suffix}")
    back = read_image(path)
    assert back.array.dtype == dtype
    np.testing.assert_array_equal(back.array, before)
    np.testing.assert_array_equal(volume.array, before)  # input untouched
    tol = FORMAT_TOLERANCE[suffix]
    np.testing.assert_allclose(back.spacing, SPACING, rtol=tol, atol=0)
    np.testing.assert_allclose(back.origin, ORIGIN, rtol=tol, atol=0)
    np.testing.assert_allclose(back.direction, OBLIQUE, atol=tol * 10)
    # an independent reader sees the same header
    direct = sitk.ReadImage(str(path))
    assert direct.GetSize() == (6, 5, 4)
    np.testing.assert_allclose(direct.GetSpacing(), SPACING, rtol=tol)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(direct), before)


def test_mhd_writes_header_and_data_together_and_nothing_else(tmp_path: Path) -> None:
    write_image(_volume(), tmp_path / "scan.mhd")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names[0] == "scan.mhd" and len(names) == 2 and names[1].startswith("scan.")
    assert "ElementDataFile = " + names[1] in (tmp_path / "scan.mhd").read_text()


def test_sitk_written_file_reads_with_array_in_zyx_order(tmp_path: Path) -> None:
    array = np.zeros((3, 4, 5), dtype=np.uint8)  # z=3, y=4, x=5
    array[2, 1, 4] = 7
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.5, 0.6, 2.5))
    sitk.WriteImage(image, str(tmp_path / "a.nrrd"))
    volume = read_image(tmp_path / "a.nrrd")
    assert volume.array.shape == (3, 4, 5)
    assert volume.geometry.size == (5, 4, 3)
    assert volume.spacing_zyx == (2.5, 0.6, 0.5)
    assert volume.array[2, 1, 4] == 7
    assert image.GetPixel(4, 1, 2) == 7  # ITK index is (x, y, z)


def test_geometry_physical_bounds_hand_computed() -> None:
    geometry = Geometry((10, 20, 5), (1.0, 0.5, 3.0), (100.0, -50.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    lower, upper = geometry.physical_bounds()
    assert lower == pytest.approx((99.5, -50.25, -1.5))
    assert upper == pytest.approx((109.5, -40.25, 13.5))
    flipped = Geometry((10, 20, 5), (1.0, 0.5, 3.0), (0.0, 0.0, 0.0), (-1, 0, 0, 0, -1, 0, 0, 0, 1))
    lower, upper = flipped.physical_bounds()
    assert lower == pytest.approx((-9.5, -9.75, -1.5))
    assert upper == pytest.approx((0.5, 0.25, 13.5))


def test_index_to_physical_matches_sitk() -> None:
    volume = _volume()
    image = volume.to_sitk()
    index = (3, 1, 2)
    expected = image.TransformIndexToPhysicalPoint(index)
    np.testing.assert_allclose(volume.geometry.index_to_physical(np.array(index)), expected, atol=1e-12)


def test_geometry_same_as_and_dict_round_trip() -> None:
    geometry = _volume().geometry
    assert Geometry.from_dict(geometry.to_dict()) == geometry
    nudged = Geometry(geometry.size, (0.8 + 1e-7, 0.9, 3.1), geometry.origin, geometry.direction)
    moved = Geometry(geometry.size, geometry.spacing, (10.6, -20.25, 33.125), geometry.direction)
    bigger = Geometry((7, 5, 4), geometry.spacing, geometry.origin, geometry.direction)
    assert geometry.same_as(nudged)
    assert not geometry.same_as(moved)
    assert not geometry.same_as(bigger)
    with pytest.raises(MedSegError, match="geometry"):
        Geometry.from_dict({"size": [1, 2, 3]})


def test_with_array_keeps_geometry_and_checks_shape() -> None:
    volume = _volume()
    labels = volume.with_array(np.ones((4, 5, 6), dtype=np.uint8))
    assert labels.geometry == volume.geometry and labels.array.dtype == np.uint8
    with pytest.raises(MedSegError, match="shape"):
        volume.with_array(np.ones((4, 5, 7)))


def test_bad_volume_arguments_are_refused() -> None:
    with pytest.raises(MedSegError, match="spacing"):
        Volume(np.zeros((2, 2, 2)), (1.0, 0.0, 1.0), (0, 0, 0), OBLIQUE)
    with pytest.raises(MedSegError, match="direction"):
        Volume(np.zeros((2, 2, 2)), (1, 1, 1), (0, 0, 0), (1, 0, 0, 1))
    with pytest.raises(MedSegError, match="2D or 3D"):
        Volume(np.zeros((2, 2, 2, 2)), (1, 1, 1), (0, 0, 0), OBLIQUE)


def test_bool_arrays_are_written_as_uint8(tmp_path: Path) -> None:
    mask = np.zeros((2, 3, 4), dtype=bool)
    mask[1, 2, 3] = True
    back = read_image(write_image(Volume(mask, (1, 1, 1), (0, 0, 0), np.eye(3).ravel()), tmp_path / "m.nrrd"))
    assert back.array.dtype == np.uint8 and back.array.sum() == 1 and back.array[1, 2, 3] == 1


def test_two_dimensional_images_stay_two_dimensional(tmp_path: Path) -> None:
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    image = Volume(array, (0.7, 1.3), (5.0, -2.0), (0.0, 1.0, 1.0, 0.0))
    back = read_image(write_image(image, tmp_path / "slice.nrrd"))
    assert back.array.shape == (3, 4) and back.ndim == 2
    assert back.spacing == (0.7, 1.3) and back.origin == (5.0, -2.0) and back.direction == (0, 1, 1, 0)
    np.testing.assert_array_equal(back.array, array)


def _four_d(tmp_path: Path) -> tuple[Path, list[np.ndarray]]:
    rng = np.random.default_rng(1)
    channels = [rng.normal(size=(3, 4, 5)).astype(np.float32) for _ in range(4)]
    frames = []
    for array in channels:
        frame = sitk.GetImageFromArray(array)
        frame.SetSpacing((1.0, 1.5, 2.0))
        frame.SetOrigin((3.0, 4.0, 5.0))
        frames.append(frame)
    image = sitk.JoinSeries(frames)
    path = tmp_path / "brats_4d.nii.gz"
    sitk.WriteImage(image, str(path))
    return path, channels


def test_4d_file_is_refused_by_read_image_and_split_by_read_channels(tmp_path: Path) -> None:
    path, channels = _four_d(tmp_path)
    with pytest.raises(MedSegError, match=r"brats_4d\.nii\.gz.*4D.*read_channels"):
        read_image(path)
    volumes = read_channels(path)
    assert len(volumes) == 4
    for volume, array in zip(volumes, channels, strict=True):
        np.testing.assert_array_equal(volume.array, array)
        assert volume.spacing == pytest.approx((1.0, 1.5, 2.0))
        assert volume.origin == pytest.approx((3.0, 4.0, 5.0))
    header = read_header(path)
    assert header.n_channels == 4 and header.geometry.size == (5, 4, 3) and header.file_dimension == 4


def test_multi_component_file_is_refused_and_split(tmp_path: Path) -> None:
    rgb = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    image = sitk.GetImageFromArray(rgb, isVector=True)
    path = tmp_path / "vector.mha"
    sitk.WriteImage(image, str(path))
    with pytest.raises(MedSegError, match=r"vector\.mha.*3-component"):
        read_image(path)
    volumes = read_channels(path)
    assert len(volumes) == 3
    for c, volume in enumerate(volumes):
        np.testing.assert_array_equal(volume.array, rgb[..., c])
    assert read_header(path).n_channels == 3


def test_scalar_file_gives_one_channel(tmp_path: Path) -> None:
    path = write_image(_volume(), tmp_path / "one.nii.gz")
    (only,) = read_channels(path)
    np.testing.assert_array_equal(only.array, _volume().array)


def test_missing_and_corrupt_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(MedSegError, match=r"nothere\.nii\.gz: file not found"):
        read_image(tmp_path / "nothere.nii.gz")
    corrupt = tmp_path / "corrupt.nii.gz"
    corrupt.write_bytes(b"this is not an image at all" * 10)
    with pytest.raises(MedSegError, match=r"corrupt\.nii\.gz"):
        read_image(corrupt)
    with pytest.raises(MedSegError, match=r"corrupt\.nii\.gz"):
        read_header(corrupt)
    truncated = tmp_path / "truncated.nrrd"
    write_image(_volume(), truncated, compress=False)
    truncated.write_bytes(truncated.read_bytes()[:-50])
    with pytest.raises(MedSegError, match=r"truncated\.nrrd"):
        read_image(truncated)


def test_unsupported_output_suffix_is_refused_without_writing(tmp_path: Path) -> None:
    with pytest.raises(MedSegError, match=r"out\.png.*\.nii\.gz"):
        write_image(_volume(), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


def test_header_only_read_matches_full_read(tmp_path: Path) -> None:
    path = write_image(_volume(), tmp_path / "h.nrrd")
    header = read_header(path)
    assert header.geometry.same_as(read_image(path).geometry, tol=1e-12)
    assert header.n_channels == 1 and header.pixel_type == "16-bit signed integer"


# ---------------------------------------------------------------- DICOM

def _write_dicom_series(folder: Path, uid: str, n_slices: int, value: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(n_slices):
        slice_ = sitk.GetImageFromArray(np.full((1, 8, 10), value + k, dtype=np.int16))
        slice_.SetSpacing((0.7, 0.7, 2.5))
        slice_.SetOrigin((-10.0, 20.0, 2.5 * k))
        for tag, tag_value in (("0020|000e", uid), ("0020|000d", uid + ".0"),
                               ("0008|0018", f"{uid}.{k + 1}"), ("0008|0060", "CT"),
                               ("0020|0013", str(k + 1)), ("0028|0030", "0.7\\0.7"),
                               ("0018|0050", "2.5"), ("0020|0037", "1\\0\\0\\0\\1\\0"),
                               ("0020|0032", f"-10\\20\\{2.5 * k}")):
            slice_.SetMetaData(tag, tag_value)
        writer.SetFileName(str(folder / f"{uid}_{k:03d}.dcm"))
        writer.Execute(slice_)


def test_synthetic_dicom_series_reads_with_geometry(tmp_path: Path) -> None:
    _write_dicom_series(tmp_path / "dcm", "1.2.826.0.1.3680043.2.1125.1", 6, 100)
    volume = read_image(tmp_path / "dcm")
    assert volume.array.shape == (6, 8, 10)
    assert volume.spacing == pytest.approx((0.7, 0.7, 2.5))
    assert volume.origin == pytest.approx((-10.0, 20.0, 0.0))
    np.testing.assert_array_equal(volume.array[:, 0, 0], np.arange(100, 106))


def test_folder_with_two_series_takes_the_largest_or_the_named_one(tmp_path: Path) -> None:
    big, small = "1.2.826.0.1.3680043.2.1125.7", "1.2.826.0.1.3680043.2.1125.8"
    _write_dicom_series(tmp_path, big, 5, 0)
    _write_dicom_series(tmp_path, small, 3, 500)
    assert {uid: len(files) for uid, files in list_dicom_series(tmp_path).items()} == {big: 5, small: 3}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        volume = read_image(tmp_path)
    assert volume.array.shape[0] == 5
    assert any(big in str(w.message) and "2 DICOM series" in str(w.message) for w in caught)
    chosen = read_image(tmp_path, series_uid=small)
    assert chosen.array.shape[0] == 3 and chosen.array.min() == 500
    with pytest.raises(MedSegError, match=r"no DICOM series with UID 9\.9"):
        read_image(tmp_path, series_uid="9.9")


def test_folder_without_dicom_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("nothing here")
    with pytest.raises(MedSegError, match="no DICOM series"):
        read_image(tmp_path)


@pytest.mark.realdata
def test_real_ct_dicom_series(shared_data: Path) -> None:
    folder = shared_data / "totalseg-example-ct" / "dicom"
    volume = read_image(folder)
    # facts from the folder's PROVENANCE.md: 20 slices of 512 x 512, 0.977 x 0.977 x 2 mm, HU -1024..1839
    assert volume.array.shape == (20, 512, 512)
    assert volume.spacing == pytest.approx((0.9765625, 0.9765625, 2.0), abs=1e-4)
    assert int(volume.array.min()) == -1024 and int(volume.array.max()) == 1839
    # the independent reference: SimpleITK's series reader used directly
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    direct = reader.Execute()
    assert volume.origin == pytest.approx(direct.GetOrigin())
    np.testing.assert_array_equal(volume.array, sitk.GetArrayFromImage(direct))


@pytest.mark.realdata
def test_real_nifti_header_geometry(shared_data: Path) -> None:
    path = shared_data / "totalseg-example-ct" / "example_ct_sm.nii.gz"
    volume = read_image(path)
    # PROVENANCE.md: 122 x 101 x 30 at 3 mm, direction diag(-1,-1,1)
    assert volume.geometry.size == (122, 101, 30)
    assert volume.spacing == pytest.approx((3.0, 3.0, 3.0), abs=1e-4)
    assert volume.direction == pytest.approx((-1, 0, 0, 0, -1, 0, 0, 0, 1))
    # dtype as the raw NIfTI header declares it (datatype code at byte 70; 4 = int16), slope 1
    with gzip.open(path) as stream:
        header = stream.read(348)
    assert struct.unpack("<h", header[70:72])[0] == 4 and volume.array.dtype == np.int16


# ---------------------------------------------------------------- reorientation

def _resampled_by_sitk(volume: Volume, target: Volume) -> np.ndarray:
    """The independent reference: SimpleITK nearest-neighbour resampling onto the target grid."""
    image = sitk.Resample(volume.to_sitk(), target.to_sitk(), sitk.Transform(), sitk.sitkNearestNeighbor, -1)
    return sitk.GetArrayFromImage(image)


@pytest.mark.parametrize("direction", [
    (1, 0, 0, 0, -1, 0, 0, 0, 1),      # y flipped
    (-1, 0, 0, 0, -1, 0, 0, 0, -1),    # all flipped
    (0, 1, 0, 1, 0, 0, 0, 0, 1),       # x and y swapped
    (0, 0, 1, -1, 0, 0, 0, -1, 0),     # a full signed permutation
])
def test_reorient_like_matches_sitk_nearest_neighbour(direction: tuple[int, ...]) -> None:
    from MedSegTrain.io import reorient_like

    target = Volume(np.zeros((4, 5, 6), np.int16), (0.8, 0.9, 3.0), (10.0, -5.0, 2.0), np.eye(3).ravel())
    d = np.asarray(direction, float).reshape(3, 3)  # column s: physical direction of source axis s
    axis_of = [int(np.flatnonzero(d[:, s])[0]) for s in range(3)]
    size = tuple(target.geometry.size[a] for a in axis_of)
    spacing = tuple(target.spacing[a] for a in axis_of)
    origin = list(target.origin)  # source index 0 sits at the far end of every reversed axis
    for s, a in enumerate(axis_of):
        if d[a, s] < 0:
            origin[a] += (size[s] - 1) * spacing[s]
    array = np.random.default_rng(5).integers(0, 9, size=size[::-1]).astype(np.int16)
    source = Volume(array, spacing, origin, direction)
    aligned = reorient_like(source, target.geometry)
    assert aligned is not None and aligned.geometry == target.geometry
    expected = _resampled_by_sitk(source, target)
    assert (expected >= 0).all()  # the grids cover each other: no fill value
    np.testing.assert_array_equal(aligned.array, expected)


def test_reorient_like_refuses_grids_that_need_resampling() -> None:
    from MedSegTrain.io import reorient_like, same_voxel_centres

    target = Volume(np.zeros((4, 5, 6)), (1.0, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3).ravel())
    half_shift = Volume(np.zeros((4, 5, 6)), (1.0, 1.0, 2.0), (0.5, 0.0, 0.0), np.eye(3).ravel())
    finer = Volume(np.zeros((4, 5, 6)), (0.5, 1.0, 2.0), (0.0, 0.0, 0.0), np.eye(3).ravel())
    rotated = _volume()
    for other in (half_shift, finer):
        assert reorient_like(other, target.geometry) is None
        assert not same_voxel_centres(other.geometry, target.geometry)
    assert reorient_like(rotated, rotated.geometry).array is rotated.array  # same grid: no copy


@pytest.mark.realdata
def test_real_label_stored_with_a_flipped_axis(shared_data: Path) -> None:
    from MedSegTrain.io import reorient_like

    folder = shared_data / "totalseg-example-ct"
    ct = read_image(folder / "dicom")
    label = read_image(folder / "example_seg_dicom.nii.gz")
    # PROVENANCE.md: same physical space, y axis flipped (direction diag(1,-1,1))
    assert label.direction == pytest.approx((1, 0, 0, 0, -1, 0, 0, 0, 1))
    aligned = reorient_like(label, ct.geometry)
    assert aligned is not None
    np.testing.assert_array_equal(aligned.array, _resampled_by_sitk(label, ct))
    np.testing.assert_array_equal(aligned.array, label.array[:, ::-1, :])


@pytest.mark.parametrize("name", ["x.nii.gz", "x.nii", "x.nrrd", "x.mha"])
def test_a_full_disk_leaves_nothing_under_the_final_name(full_disk, name):
    # 160 KiB of noise cannot fit in 16 KiB; the NIfTI writer only prints its short write to stderr
    noise = np.random.default_rng(0).integers(0, 255, (40, 64, 64)).astype(np.uint8)
    with pytest.raises(MedSegError, match=r"x\.\w+.*(could not be written completely|cannot write)"):
        write_image(Volume(noise, SPACING, ORIGIN, OBLIQUE), full_disk / name)
    assert list(full_disk.iterdir()) == []  # no broken file, no temporary folder


def test_writes_are_read_back_voxel_for_voxel(tmp_path, monkeypatch):
    import MedSegTrain.io as io

    real_write = sitk.WriteImage

    def truncating_write(image, path, compress):  # a writer that says nothing about a short write
        real_write(image, path, compress)
        Path(path).write_bytes(Path(path).read_bytes()[:-64])

    monkeypatch.setattr(io.sitk, "WriteImage", truncating_write)
    with pytest.raises(MedSegError, match="could not be written completely"):
        write_image(_volume(), tmp_path / "cut.nii")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("suffix", [".nrrd", ".mha"])  # ITK's NIfTI IO already reads NaN as 0
def test_non_finite_voxels_are_refused_with_the_file_and_count(tmp_path, bad, suffix):
    array = np.zeros((4, 5, 6), np.float32)
    array[1, 2, 3] = bad
    array[2, 2, 2] = bad
    path = tmp_path / f"scan{suffix}"
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    with pytest.raises(MedSegError, match=rf"scan{re.escape(suffix)}: 2 voxel\(s\) are NaN or infinite"):
        read_image(path)
    with pytest.raises(MedSegError, match="NaN or infinite"):
        read_channels(path)


def test_4d_and_vector_channels_keep_an_oblique_direction(tmp_path: Path) -> None:
    """The channels of an oblique 4D file and of an oblique vector file sit where SimpleITK's own
    3D extraction puts them. With an identity direction a reversed or transposed sub-direction went
    unnoticed; the rotation here is not symmetric, so both mutations give other physical points
    (``io-4d-direction-reversed``, ``io-4d-direction-transposed``)."""
    rng = np.random.default_rng(4)
    frames = [rng.normal(size=(3, 4, 5)).astype(np.float32) for _ in range(2)]
    image4 = sitk.JoinSeries([sitk.GetImageFromArray(f) for f in frames])
    d4 = np.eye(4)
    d4[:3, :3] = np.asarray(OBLIQUE).reshape(3, 3)
    image4.SetDirection(tuple(d4.ravel()))
    image4.SetSpacing((*SPACING, 1.0))
    image4.SetOrigin((*ORIGIN, 0.0))
    path4 = tmp_path / "oblique_4d.nii.gz"
    sitk.WriteImage(image4, str(path4))
    vector = sitk.GetImageFromArray(np.stack(frames, axis=-1), isVector=True)
    vector.SetDirection(OBLIQUE)
    vector.SetSpacing(SPACING)
    vector.SetOrigin(ORIGIN)
    path_v = tmp_path / "oblique_vector.mha"
    sitk.WriteImage(vector, str(path_v))

    stored = sitk.ReadImage(str(path4))  # NIfTI keeps the direction to float32 precision
    indices = np.array([[0, 0, 0], [4, 0, 0], [0, 3, 0], [0, 0, 2], [4, 3, 2]], dtype=float)
    for path, ref3d in ((path4, sitk.Extract(stored, (*stored.GetSize()[:3], 0), (0, 0, 0, 1))),
                        (path_v, sitk.VectorIndexSelectionCast(vector, 1))):
        channel = read_channels(path)[1]
        np.testing.assert_array_equal(channel.array, frames[1])
        expected = [ref3d.TransformContinuousIndexToPhysicalPoint(tuple(i)) for i in indices]
        np.testing.assert_allclose(channel.geometry.index_to_physical(indices), expected, atol=1e-4)
    header = read_header(path4).geometry
    np.testing.assert_allclose(header.direction, OBLIQUE, atol=1e-6)


@pytest.mark.parametrize(("name", "options", "expected"), [
    ("case.nii.gz", {}, "case"),
    ("Case.NII.GZ", {}, "Case"),
    ("scan.nhdr", {}, "scan"),
    ("case_0000.nii.gz", {}, "case_0000"),
    ("case_0000.nii.gz", {"channel_suffix": True}, "case"),
    ("case_01.nii.gz", {"channel_suffix": True}, "case_01"),  # not an nnU-Net channel number
    ("_0000.nii.gz", {"channel_suffix": True}, "_0000"),  # nothing would be left of the id
    ("1.2.840.10008", {}, "1.2.840.10008"),  # a DICOM folder keeps its whole name
    ("slice_0001.png", {"channel_suffix": True, "any_suffix": True}, "slice"),
    ("readme", {"any_suffix": True}, "readme"),
])
def test_case_id_of_a_file_name(name: str, options: dict, expected: str) -> None:
    from MedSegTrain.io import case_id

    assert case_id(Path("some/folder") / name, **options) == expected
    assert case_id(name, **options) == expected
