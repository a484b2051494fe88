"""`medsegtrain predict`: label maps with exactly the input's geometry, the JSON progress
protocol, folders of nnU-Net-style cases, and bad input refused before any work (exit 1)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import torch

from MedSegTrain.bundle import save_bundle
from MedSegTrain.cli import main
from MedSegTrain.networks import get_network

SPACING = (0.7, 1.3, 3.1)
ORIGIN = (-12.5, 40.25, 7.0)


def _direction() -> tuple[float, ...]:
    a = math.radians(25)
    r = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    return tuple(r.ravel())


def _image(path: Path, seed: int = 0, shape=(6, 10, 9)) -> Path:
    image = sitk.GetImageFromArray(np.random.default_rng(seed).normal(100, 20, size=shape).astype(np.float32))
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN)
    image.SetDirection(_direction())
    sitk.WriteImage(image, str(path))
    return path


def _bundle(path: Path, channels=("image",), members: int = 2) -> Path:
    args = {"spatial_dims": 3, "in_channels": len(channels), "out_channels": 3, "depth": 2, "width": 2,
            "max_dilation": 2}
    meta = {
        "name": "msd-test", "network": {"name": "msd_net", "args": args},
        "input": {"channels": list(channels), "modality": "MR"},
        "labels": {"background": 0, "gland": 1, "zone": 2},
        "output": {"activation": "softmax", "regions": None, "region_rebuild": None},
        "preprocessing": {"normalization": "zscore", "target_spacing": [1.0, 1.0, 2.0]},
        "inference": {"mode": "sliding_window", "patch_size": [4, 8, 8], "overlap": 0.5},
        "training": {"recipe": {}, "validation_metrics": {}},
    }
    states = []
    for i in range(members):
        torch.manual_seed(i)
        states.append(get_network("msd_net", **args).state_dict())
    return save_bundle(path, meta, states)


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_outputs_keep_the_oblique_anisotropic_geometry(tmp_path: Path) -> None:
    image = _image(tmp_path / "case.nii.gz")
    bundle = _bundle(tmp_path / "bundle")
    out, prob, unc = tmp_path / "out" / "label.nii.gz", tmp_path / "p.nrrd", tmp_path / "u.mha"
    assert main(["predict", "--bundle", str(bundle), "--input", str(image), "--output", str(out),
                 "--tta", "4", "--probabilities", str(prob), "--uncertainty", str(unc),
                 "--progress", "none"]) == 0
    reference = sitk.ReadImage(str(image))
    for path in (out, prob, unc):
        written = sitk.ReadImage(str(path))
        assert written.GetSize() == reference.GetSize()
        assert written.GetSpacing() == pytest.approx(SPACING, abs=1e-6)
        assert written.GetOrigin() == pytest.approx(ORIGIN, abs=1e-6)
        assert written.GetDirection() == pytest.approx(_direction(), abs=1e-6)
    label = sitk.ReadImage(str(out))
    assert label.GetPixelID() == sitk.sitkUInt8
    assert set(np.unique(sitk.GetArrayFromImage(label))) <= {0, 1, 2}
    probs = sitk.GetArrayFromImage(sitk.ReadImage(str(prob)))
    assert probs.shape == (6, 10, 9, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.argmax(probs, -1), sitk.GetArrayFromImage(label))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["label.nii.gz"]


def test_json_progress_protocol_in_a_real_process(tmp_path: Path) -> None:
    image = _image(tmp_path / "case.nrrd")
    bundle = _bundle(tmp_path / "bundle", members=1)
    out = tmp_path / "label.nrrd"
    proc = subprocess.run([sys.executable, "-m", "MedSegTrain", "predict", "--bundle", str(bundle),
                           "--input", str(image), "--output", str(out), "--progress", "json"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[0]["event"] == "start" and events[0]["task"] == "predict"
    progress = [e for e in events if e["event"] == "progress"]
    assert len(progress) == events[0]["total"] and progress[-1]["fraction"] == 1.0
    assert events[-1] == {"event": "done", "outputs": {"label": str(out)}}
    assert "Traceback" not in proc.stderr
    assert out.is_file()


def test_folder_of_nnunet_cases(tmp_path: Path) -> None:
    folder = tmp_path / "imagesTs"
    folder.mkdir()
    for case in ("a_001", "b_002"):
        for channel in range(2):
            _image(folder / f"{case}_{channel:04d}.nii.gz", seed=channel)
    bundle = _bundle(tmp_path / "bundle", channels=("t1", "t2"), members=1)
    out = tmp_path / "pred"
    assert main(["predict", "--bundle", str(bundle), "--input", str(folder), "--output", str(out),
                 "--progress", "none"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a_001.nii.gz", "b_002.nii.gz"]


def _fails(args: list[str], capsys) -> str:
    assert main(["predict", *args, "--progress", "none"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_bundle_that_does_not_fit_is_refused_before_any_work(tmp_path: Path, capsys) -> None:
    image = _image(tmp_path / "case.nii.gz")
    bundle = _bundle(tmp_path / "bundle", channels=("t1", "t2"))
    out = tmp_path / "out" / "label.nii.gz"
    err = _fails(["--bundle", str(bundle), "--input", str(image), "--output", str(out)], capsys)
    assert "takes 2 channel(s) (t1, t2) but 1 were given" in err
    assert not (tmp_path / "out").exists()


def test_openvino_backend_writes_the_torch_label_map(tmp_path: Path) -> None:
    pytest.importorskip("openvino", reason="the openvino extra is part of the dev install")
    image = _image(tmp_path / "case.nii.gz")
    bundle = str(_bundle(tmp_path / "bundle"))
    labels = {}
    for backend in ("torch", "openvino"):
        out, prob = tmp_path / f"{backend}.nii.gz", tmp_path / f"{backend}_p.nii.gz"
        assert main(["predict", "--bundle", bundle, "--input", str(image), "--output", str(out), "--tta", "2",
                     "--probabilities", str(prob), "--backend", backend, "--progress", "none"]) == 0
        labels[backend] = (sitk.GetArrayFromImage(sitk.ReadImage(str(out))),
                           sitk.GetArrayFromImage(sitk.ReadImage(str(prob))))
    np.testing.assert_array_equal(labels["openvino"][0], labels["torch"][0])
    np.testing.assert_allclose(labels["openvino"][1], labels["torch"][1], atol=1e-5)
    assert len(np.unique(labels["torch"][0])) > 1  # a label map with content, not all background


@pytest.mark.parametrize(("extra", "message"), [
    (["--tta", "17"], "--tta must be a whole number from 0 to 16"),
    (["--overlap", "1"], "--overlap must be in [0, 1)"),
    (["--backend", "openvino", "--precision", "float16"], "--backend openvino offers --precision float32"),
])
def test_bad_options(tmp_path: Path, capsys, extra, message) -> None:
    image = _image(tmp_path / "case.nii.gz")
    err = _fails(["--bundle", str(_bundle(tmp_path / "b")), "--input", str(image),
                  "--output", str(tmp_path / "o.nii.gz"), *extra], capsys)
    assert message in err


def test_bad_paths(tmp_path: Path, capsys) -> None:
    image = _image(tmp_path / "case.nii.gz")
    bundle = str(_bundle(tmp_path / "b"))
    err = _fails(["--bundle", bundle, "--input", str(tmp_path / "missing.nii.gz"), "--output",
                  str(tmp_path / "o.nii.gz")], capsys)
    assert "missing.nii.gz: no such file or folder" in err
    err = _fails(["--bundle", bundle, "--input", str(image), "--output", str(tmp_path / "o.png")], capsys)
    assert "--output" in err and ".nii.gz" in err
    err = _fails(["--bundle", bundle, "--input", str(image), "--output", str(image)], capsys)
    assert "would overwrite an input image" in err
    err = _fails(["--bundle", str(tmp_path / "nobundle"), "--input", str(image), "--output",
                  str(tmp_path / "o.nii.gz")], capsys)
    assert "nobundle" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "case.nii.gz"]


@pytest.mark.realdata
def test_real_ct_keeps_its_geometry(shared_data: Path, tmp_path: Path) -> None:
    """A real CT (TotalSegmentator example, 3 mm, flipped axes) windowed and resampled by the bundle."""
    from MedSegTrain.preprocessing.windowing import get_preset

    image = shared_data / "totalseg-example-ct" / "example_ct_sm.nii.gz"
    if not image.is_file():
        pytest.skip(f"{image} is missing")
    bundle = _bundle(tmp_path / "bundle", members=1)
    meta_path = bundle / "model.json"
    meta = json.loads(meta_path.read_text())
    meta["preprocessing"] = {"window": get_preset("ct-abdomen").to_dict(), "normalization": "zscore",
                             "target_spacing": [4.0, 4.0, 5.0]}
    meta_path.write_text(json.dumps(meta))
    out = tmp_path / "seg.nii.gz"
    assert main(["predict", "--bundle", str(bundle), "--input", str(image), "--output", str(out),
                 "--progress", "none"]) == 0
    reference, written = sitk.ReadImage(str(image)), sitk.ReadImage(str(out))
    assert written.GetSize() == reference.GetSize()
    assert written.GetSpacing() == reference.GetSpacing()
    assert written.GetOrigin() == reference.GetOrigin()
    assert written.GetDirection() == reference.GetDirection()


def _labelled_bundle(path: Path, seed: int, labels: dict[str, int]) -> Path:
    """A one-member bundle whose softmax channels mean ``labels`` (e.g. BraTS 0/1/2/4)."""
    args = {"spatial_dims": 3, "in_channels": 1, "out_channels": len(labels), "depth": 2, "width": 2,
            "max_dilation": 2}
    meta = {
        "name": f"merge-{seed}", "network": {"name": "msd_net", "args": args},
        "input": {"channels": ["image"], "modality": "MR"}, "labels": labels,
        "output": {"activation": "softmax", "regions": None, "region_rebuild": None},
        "preprocessing": {"normalization": "zscore"},
        "inference": {"mode": "sliding_window", "patch_size": [4, 8, 8], "overlap": 0.5},
        "training": {"recipe": {}, "validation_metrics": {}},
    }
    torch.manual_seed(seed)
    net = get_network("msd_net", **args)
    with torch.no_grad():  # spread the logits so every label wins somewhere
        for param in net.parameters():
            param.mul_(8.0)
    return save_bundle(path, meta, [net.state_dict()])


def test_merging_two_ensembles_follows_the_table(tmp_path: Path) -> None:
    """B9: the merged map equals the paper's table applied (here by hand) to the two separate maps."""
    brats = {"background": 0, "NET": 1, "ED": 2, "ET": 4}
    a, b = _labelled_bundle(tmp_path / "a", 1, brats), _labelled_bundle(tmp_path / "b", 2, brats)
    image = _image(tmp_path / "in.nii.gz", shape=(8, 16, 16))
    for name, bundle in (("a", a), ("b", b)):
        assert main(["predict", "--bundle", str(bundle), "--input", str(image),
                     "--output", str(tmp_path / f"{name}.nii.gz"), "--progress", "none"]) == 0
    assert main(["predict", "--bundle", str(a), "--merge-bundle", str(b), "--input", str(image),
                 "--output", str(tmp_path / "merged.nii.gz"), "--progress", "none"]) == 0
    label_a = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "a.nii.gz")))
    label_b = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "b.nii.gz")))
    merged = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "merged.nii.gz")))
    # Henry et al. Table 1: A's NET and ET stand; where A says 0 or ED, B decides 0 vs ED
    expected = np.where(np.isin(label_a, [1, 4]), label_a, np.where(label_b == 2, 2, np.where(
        (label_a == 2) & (label_b != 0), 2, 0)))
    assert len(np.unique(label_a)) > 1 and not np.array_equal(label_a, label_b)
    assert np.array_equal(merged, expected) and not np.array_equal(merged, label_a)  # B changed voxels


def test_merge_refuses_what_it_cannot_merge(tmp_path: Path, capsys) -> None:
    image = _image(tmp_path / "in.nii.gz")
    phantom = _bundle(tmp_path / "phantom", members=1)  # labels 0, 1, 2
    brats = _labelled_bundle(tmp_path / "brats", 1, {"background": 0, "NET": 1, "ED": 2, "ET": 4})
    out = str(tmp_path / "o.nii.gz")
    base = ["predict", "--input", str(image), "--output", out, "--progress", "none"]
    assert main([*base, "--bundle", str(phantom), "--merge-bundle", str(brats)]) == 1
    assert "labels" in capsys.readouterr().err
    assert main([*base, "--bundle", str(brats), "--merge-bundle", str(brats),
                 "--probabilities", str(tmp_path / "p.nii.gz")]) == 1
    assert "cannot be combined with --merge-bundle" in capsys.readouterr().err
    assert main([*base, "--bundle", str(brats), "--merge-bundle", str(brats),
                 "--merge-table", str(tmp_path / "missing.json")]) == 1
    assert "missing.json" in capsys.readouterr().err
    assert not Path(out).exists()


def test_window_option_replaces_the_bundles_window_exactly_once(tmp_path: Path) -> None:
    raw = _image(tmp_path / "raw.nii.gz")
    image = sitk.ReadImage(str(raw))
    clipped = sitk.Clamp(image, sitk.sitkFloat32, 80.0, 120.0)  # width 40 at level 100: [80, 120]
    sitk.WriteImage(clipped, str(tmp_path / "clipped.nii.gz"))
    bundle = str(_bundle(tmp_path / "b"))  # its own window is "none"

    def probabilities(name: str, source: str, *extra: str) -> np.ndarray:
        out = tmp_path / f"{name}.nii.gz"
        assert main(["predict", "--bundle", bundle, "--input", str(tmp_path / source), "--output",
                     str(tmp_path / f"{name}_label.nii.gz"), "--probabilities", str(out),
                     "--progress", "none", *extra]) == 0
        return sitk.GetArrayFromImage(sitk.ReadImage(str(out)))

    windowed = probabilities("windowed", "raw.nii.gz", "--window", "40,100")
    pre_clipped = probabilities("pre_clipped", "clipped.nii.gz")
    plain = probabilities("plain", "raw.nii.gz")
    np.testing.assert_allclose(windowed, pre_clipped, atol=1e-6)
    assert np.abs(windowed - plain).max() > 1e-3  # the option changed what the models saw


@pytest.mark.parametrize("value", ["40", "0,100", "-5,10", "nan,1", "a,b"])
def test_bad_window_values_are_refused(tmp_path: Path, capsys, value) -> None:
    image = _image(tmp_path / "case.nii.gz")
    err = _fails(["--bundle", str(_bundle(tmp_path / "b")), "--input", str(image),
                  "--output", str(tmp_path / "o.nii.gz"), f"--window={value}"], capsys)
    assert "--window" in err and not (tmp_path / "o.nii.gz").exists()


def test_a_full_disk_fails_the_run_and_leaves_no_output(tmp_path: Path, full_disk: Path, capsys) -> None:
    image = _image(tmp_path / "case.nii.gz", shape=(12, 40, 40))
    err = _fails(["--bundle", str(_bundle(tmp_path / "b")), "--input", str(image),
                  "--output", str(full_disk / "label.nii.gz"),
                  "--probabilities", str(full_disk / "probabilities.nii.gz")], capsys)
    assert "could not be written completely" in err or "cannot write" in err
    assert list(full_disk.iterdir()) == []


def test_one_non_finite_voxel_fails_the_run_instead_of_a_blank_label_map(tmp_path: Path, capsys) -> None:
    image = sitk.ReadImage(str(_image(tmp_path / "case.nii.gz")))
    array = sitk.GetArrayFromImage(image)
    array[2, 3, 4] = np.nan
    bad = sitk.GetImageFromArray(array)
    bad.CopyInformation(image)
    sitk.WriteImage(bad, str(tmp_path / "nan.nrrd"))
    err = _fails(["--bundle", str(_bundle(tmp_path / "b")), "--input", str(tmp_path / "nan.nrrd"),
                  "--output", str(tmp_path / "label.nii.gz")], capsys)
    assert "nan.nrrd: 1 voxel(s) are NaN or infinite" in err and not (tmp_path / "label.nii.gz").exists()
