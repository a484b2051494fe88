"""``medsegtrain evaluate`` end to end on tiny NIfTI files (X10, B10): values, matching, geometry, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from MedSegTrain.cli import main

SPACING_XYZ = (0.5, 0.5, 2.0)


def _write(path: Path, array: np.ndarray, spacing=SPACING_XYZ, origin=(0.0, 0.0, 0.0)) -> Path:
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    path.parent.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(image, str(path))
    return path


def _cube_pair() -> tuple[np.ndarray, np.ndarray]:
    # ref: a 4x4x4 cube of label 1 (64 voxels); pred: the same cube without its top z slice
    # (48 voxels). dice = 2*48 / (48 + 64) = 6/7. The top slice of ref is 2 mm (z spacing) from
    # pred's new top, so hd = 2 mm.
    ref = np.zeros((8, 8, 8), np.uint8)
    ref[2:6, 2:6, 2:6] = 1
    pred = ref.copy()
    pred[5] = 0
    return pred, ref


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["evaluate", *argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def test_single_pair_json_to_stdout(tmp_path, capsys):
    pred, ref = _cube_pair()
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    status, out, _ = _run(capsys, "--pred", str(p), "--ref", str(r), "--labels", "organ=1", "--json")
    assert status == 0
    document = json.loads(out)
    (row,) = document["cases"]
    assert row["case"] == "r" and row["target"] == "organ"
    assert row["dice"] == pytest.approx(6 / 7)
    assert row["hd"] == pytest.approx(2.0)
    assert row["volume_ref_ml"] == pytest.approx(64 * 0.5 * 0.5 * 2.0 / 1000)
    assert document["summary"]["organ"]["dice"]["n"] == 1


def test_table_is_the_default_output(tmp_path, capsys):
    pred, ref = _cube_pair()
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    status, out, _ = _run(capsys, "--pred", str(p), "--ref", str(r), "--metrics", "dice,hd")
    assert status == 0
    header, _, row = out.splitlines()[:3]
    assert header.split() == ["case", "target", "dice", "hd"]
    assert row.split() == ["r", "1", f"{6 / 7:.4f}", "2.00"]
    assert "mean" not in out  # no summary block for a single case


def test_folders_matched_by_case_id_with_unmatched_reported(tmp_path, capsys):
    pred, ref = _cube_pair()
    _write(tmp_path / "pred" / "a.nii.gz", pred)
    _write(tmp_path / "pred" / "b_0000.nii.gz", ref)  # nnU-Net channel suffix ignored
    _write(tmp_path / "pred" / "orphan.nii.gz", ref)
    _write(tmp_path / "ref" / "a.nii.gz", ref)
    _write(tmp_path / "ref" / "b.nii.gz", ref)
    _write(tmp_path / "ref" / "lonely.nrrd", ref)
    (tmp_path / "ref" / "dataset.json").write_text("{}")
    csv_path = tmp_path / "out" / "metrics.csv"
    status, out, err = _run(capsys, "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref"),
                            "--csv", str(csv_path), "--progress", "none")
    assert status == 0
    assert "orphan" in err and "lonely" in err
    rows = list(csv.DictReader(csv_path.open()))
    cases = {r["case"]: r for r in rows if r["case"] in ("a", "b")}
    assert float(cases["a"]["dice"]) == pytest.approx(6 / 7)
    assert float(cases["b"]["dice"]) == 1.0
    mean = next(r for r in rows if r["case"] == "mean")
    assert float(mean["dice"]) == pytest.approx((6 / 7 + 1) / 2)
    assert "mean" in out


def test_default_labels_give_absent_labels_the_both_empty_row(tmp_path, capsys):
    pred, ref = _cube_pair()
    two = ref.copy()
    two[0, 0, 0] = 2  # label 2 only in case "b"
    _write(tmp_path / "pred" / "a.nii.gz", pred)
    _write(tmp_path / "pred" / "b.nii.gz", two)
    _write(tmp_path / "ref" / "a.nii.gz", ref)
    _write(tmp_path / "ref" / "b.nii.gz", two)
    out_json = tmp_path / "res.json"
    status, _, _ = _run(capsys, "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref"),
                        "--json", str(out_json), "--progress", "none")
    assert status == 0
    rows = {(r["case"], r["target"]): r for r in json.loads(out_json.read_text())["cases"]}
    assert set(rows) == {("a", "1"), ("a", "2"), ("b", "1"), ("b", "2")}
    assert rows[("a", "2")]["dice"] == 1.0 and rows[("a", "2")]["hd95"] == 0.0


def test_regions_and_msd_2d(tmp_path, capsys):
    ref = np.zeros((6, 8, 8), np.uint8)
    ref[1:5, 2:6, 2:6] = 2
    ref[2:4, 3:5, 3:5] = 1
    pred = ref.copy()
    pred[pred == 1] = 2  # the core predicted as its surrounding label
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    status, out, _ = _run(capsys, "--pred", str(p), "--ref", str(r), "--labels", "1,2",
                          "--regions", "whole=1+2", "--msd-2d", "--json")
    assert status == 0
    rows = {row["target"]: row for row in json.loads(out)["cases"]}
    assert rows["whole"]["dice"] == 1.0 and rows["whole"]["msd_2d"] == 0.0
    assert rows["1"]["dice"] == 0.0 and rows["1"]["msd_2d"] is None  # strict JSON: inf -> null
    assert "infinite" in rows["1"]["msd_2d_reason"]


def test_overlapping_grids_are_resampled_with_a_note(tmp_path, capsys):
    # The reference cube again, on a grid twice as coarse in z (4 mm, origin z = 1 mm): coarse
    # slice k has its centre at 1 + 4k mm; fine slice j (centre 2j mm) takes the nearest coarse
    # slice round((2j - 1) / 4): fine 2, 3 -> coarse 1 and fine 4, 5 -> coarse 2 (foreground),
    # fine 1 -> 0 and fine 6 -> 3 (background): exactly the reference.
    _, ref = _cube_pair()
    coarse = np.zeros((4, 8, 8), np.uint8)
    coarse[1:3, 2:6, 2:6] = 1
    p = _write(tmp_path / "p.nii.gz", coarse, spacing=(0.5, 0.5, 4.0), origin=(0.0, 0.0, 1.0))
    r = _write(tmp_path / "r.nii.gz", ref)
    status, out, err = _run(capsys, "--pred", str(p), "--ref", str(r), "--json")
    assert status == 0
    assert "resampled onto the reference grid" in err
    assert json.loads(out)["cases"][0]["dice"] == 1.0


def test_grids_without_overlap_are_refused_with_both_geometries(tmp_path, capsys):
    pred, ref = _cube_pair()
    p = _write(tmp_path / "p.nii.gz", pred, origin=(500.0, 0.0, 0.0))
    r = _write(tmp_path / "r.nii.gz", ref)
    status, _, err = _run(capsys, "--pred", str(p), "--ref", str(r))
    assert status == 1
    assert "do not overlap" in err and "500.0" in err and "'origin': [0.0, 0.0, 0.0]" in err


def test_json_progress_speaks_the_line_protocol(tmp_path, capsys):
    pred, ref = _cube_pair()
    for name in ("a", "b"):
        _write(tmp_path / "pred" / f"{name}.nii.gz", pred)
        _write(tmp_path / "ref" / f"{name}.nii.gz", ref)
    out_json = tmp_path / "r.json"
    status, out, _ = _run(capsys, "--pred", str(tmp_path / "pred"), "--ref", str(tmp_path / "ref"),
                          "--progress", "json", "--json", str(out_json))
    assert status == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert events[0] == {"event": "start", "task": "evaluate", "total": 2}
    assert events[-1] == {"event": "done", "outputs": {"json": str(out_json)}}


def test_background_only_maps_give_a_note_not_an_error(tmp_path, capsys):
    empty = np.zeros((4, 4, 4), np.uint8)
    p, r = _write(tmp_path / "p.nii.gz", empty), _write(tmp_path / "r.nii.gz", empty)
    status, _, err = _run(capsys, "--pred", str(p), "--ref", str(r))
    assert status == 0
    assert "no non-zero label" in err


def test_inputs_are_not_modified(tmp_path, capsys):
    pred, ref = _cube_pair()
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    before = p.read_bytes(), r.read_bytes()
    _run(capsys, "--pred", str(p), "--ref", str(r))
    assert (p.read_bytes(), r.read_bytes()) == before


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("missing", "no such file"),
        ("corrupt", "cannot read"),
        ("float_pred", "not a label map"),
        ("file_and_folder", "both be files or both be folders"),
        ("bad_metric", "--metrics"),
        ("bad_labels", "labels"),
        ("no_common_cases", "no case ids in common"),
    ],
)
def test_bad_input_exits_1_with_a_clear_message(tmp_path, capsys, setup, message):
    pred, ref = _cube_pair()
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    extra: list[str] = []
    if setup == "missing":
        p = tmp_path / "nothing.nii.gz"
    elif setup == "corrupt":
        p = tmp_path / "broken.nii.gz"
        p.write_bytes(b"this is not an image")
    elif setup == "float_pred":
        p = _write(tmp_path / "soft.nii.gz", pred.astype(np.float32) * 0.7)
    elif setup == "file_and_folder":
        p = tmp_path
    elif setup == "bad_metric":
        extra = ["--metrics", "dice,volume"]
    elif setup == "bad_labels":
        extra = ["--labels", "kidney=one"]
    elif setup == "no_common_cases":
        _write(tmp_path / "pf" / "x.nii.gz", pred)
        _write(tmp_path / "rf" / "y.nii.gz", ref)
        p, r = tmp_path / "pf", tmp_path / "rf"
    status, _, err = _run(capsys, "--pred", str(p), "--ref", str(r), *extra)
    assert status == 1
    assert message in err
    if setup in ("missing", "corrupt", "float_pred"):
        assert str(p) in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["evaluate", "--pred", "x"])
    assert excinfo.value.code == 2
    assert "--ref" in capsys.readouterr().err


def _strict_loads(text: str):
    """json.loads that refuses NaN/Infinity tokens, as jq and JavaScript do."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("option, victim", [("--json", "ref"), ("--csv", "pred"), ("--json", "pred")])
def test_a_report_never_replaces_an_input(tmp_path, capsys, option, victim):
    pred, ref = _cube_pair()
    paths = {"pred": _write(tmp_path / "p.nii.gz", pred), "ref": _write(tmp_path / "r.nii.gz", ref)}
    before = {name: path.read_bytes() for name, path in paths.items()}
    status, _out, err = _run(capsys, "--pred", str(paths["pred"]), "--ref", str(paths["ref"]),
                             option, str(tmp_path / "." / paths[victim].name))
    assert status == 1 and f"{option} " in err and "is an input" in err
    assert {name: path.read_bytes() for name, path in paths.items()} == before


def test_json_and_csv_to_one_file_are_refused(tmp_path, capsys):
    pred, ref = _cube_pair()
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    status, _out, err = _run(capsys, "--pred", str(p), "--ref", str(r), "--json", str(tmp_path / "out"),
                             "--csv", str(tmp_path / "out"))
    assert status == 1 and "both name" in err and not (tmp_path / "out").exists()


def test_json_is_strict_with_the_reason_beside_each_null(tmp_path, capsys):
    pred, ref = _cube_pair()
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    empty = _write(tmp_path / "e.nii.gz", np.zeros_like(pred))  # every distance to it is infinite
    status, out, _ = _run(capsys, "--pred", str(p), "--ref", str(r), "--labels", "organ=1", "--json")
    assert status == 0
    summary = _strict_loads(out)["summary"]["organ"]["dice"]
    assert summary["sd"] is None and "fewer than two" in summary["sd_reason"]  # one case: no sd
    report = tmp_path / "report.json"
    assert main(["evaluate", "--pred", str(empty), "--ref", str(r), "--labels", "organ=1", "--json",
                 str(report)]) == 0
    (row,) = _strict_loads(report.read_text())["cases"]
    assert row["hd"] is None and "infinite" in row["hd_reason"]


def test_the_help_text_metric_names_are_the_metrics_module_names():
    from MedSegTrain.cli.evaluate import ALL_METRICS
    from MedSegTrain.metrics import METRIC_NAMES

    assert ALL_METRICS == METRIC_NAMES


@pytest.mark.parametrize(("tolerance", "expected"), [("0.4", 0.80), ("1", 0.84), ("2", 1.0)])
def test_nsd_tolerance_adds_the_normalised_surface_distance(tmp_path, capsys, tolerance, expected):
    # pred surface: 44 voxels, 4 of them (the top's interior) 0.5 mm from ref's surface ring; ref
    # surface: 56 voxels, its 16 top voxels 2 mm from pred. nsd = within / 100.
    pred, ref = _cube_pair()
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    status, out, _ = _run(capsys, "--pred", str(p), "--ref", str(r), "--nsd-tolerance", tolerance, "--json")
    assert status == 0
    (row,) = json.loads(out)["cases"]
    assert row["nsd"] == pytest.approx(expected)


def test_negative_nsd_tolerance_is_refused(tmp_path, capsys):
    pred, ref = _cube_pair()
    p, r = _write(tmp_path / "p.nii.gz", pred), _write(tmp_path / "r.nii.gz", ref)
    assert main(["evaluate", "--pred", str(p), "--ref", str(r), "--nsd-tolerance", "-1"]) != 0
    assert "--nsd-tolerance" in capsys.readouterr().err
