"""Report pictures: slice choice, error colours, overlay and 3D render files, tables."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np

from MedSegTrain.reporting.markdown import markdown_table, text_table
from MedSegTrain.reporting.overlay import (
    FALSE_NEGATIVE_RGBA,
    FALSE_POSITIVE_RGBA,
    OverlayCase,
    best_slice,
    error_rgba,
    save_overlay_figure,
)
from MedSegTrain.reporting.render3d import render_label_surfaces


def _ball(shape: tuple[int, int, int], centre: tuple[float, float, float], radius: float) -> np.ndarray:
    z, y, x = np.indices(shape)
    return ((z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 <= radius**2).astype(np.uint8)


def test_best_slice_is_the_largest_reference_area() -> None:
    ref = np.zeros((5, 8, 8), np.uint8)
    ref[1, :2, :2] = 1  # 4 voxels
    ref[3, :3, :3] = 1  # 9 voxels
    assert best_slice(ref, np.zeros_like(ref)) == 3
    pred = np.zeros_like(ref)
    pred[4, 0, 0] = 1
    assert best_slice(np.zeros_like(ref), pred) == 4  # empty reference: the prediction decides
    assert best_slice(np.zeros_like(ref), np.zeros_like(ref)) == 2


def test_error_colours() -> None:
    ref = np.array([[0, 1, 1, 2]])
    pred = np.array([[1, 1, 0, 1]])
    rgba = error_rgba(ref, pred)
    assert tuple(rgba[0, 0]) == FALSE_POSITIVE_RGBA  # predicted where nothing is
    assert rgba[0, 1, 3] == 0  # correct
    assert tuple(rgba[0, 2]) == FALSE_NEGATIVE_RGBA  # missed
    assert tuple(rgba[0, 3]) == FALSE_POSITIVE_RGBA  # wrong label


def test_overlay_figure_is_written_with_one_row_per_case(tmp_path: Path) -> None:
    ref = _ball((12, 40, 40), (6, 20, 20), 8)
    pred = _ball((12, 40, 40), (6, 21, 22), 8)
    image = ref * 100.0 + np.random.default_rng(0).normal(0, 5, ref.shape)
    cases = [OverlayCase(f"c{i}", image, ref, pred, (3.0, 1.0, 1.0)) for i in range(3)]
    one = save_overlay_figure(cases[:1], tmp_path / "one.png")
    three = save_overlay_figure(cases, tmp_path / "three.png", title="t")
    h1, h3 = mpimg.imread(one).shape[0], mpimg.imread(three).shape[0]
    assert 2.5 < h3 / h1 < 3.5
    assert not list(tmp_path.glob(".*"))  # no temporary leftovers


def test_render_shows_the_surfaces(tmp_path: Path) -> None:
    pred = _ball((20, 40, 40), (10, 20, 20), 9)
    path = render_label_surfaces(pred, (1.0, 1.0, 1.0), tmp_path / "r.png", size=(160, 120))
    pixels = mpimg.imread(path)
    assert pixels.shape[:2] == (120, 160)
    background = pixels[0, 0, :3]
    coloured = np.abs(pixels[..., :3] - background).sum(axis=-1) > 0.1
    assert 0.05 < coloured.mean() < 0.95  # an object fills part of the view


def test_tables_format_inf_nan_and_align() -> None:
    md = markdown_table(["case", "dice"], [["a", 0.91234], ["b", float("nan")]])
    assert md.splitlines()[1] == "| :--- | ---: |"  # text left, numbers (NaN included) right
    assert "| a | 0.912 |" in md and "| b | NaN |" in md
    text = text_table(["case", "hd95"], [["a", float("inf")], ["bb", 1.0]])
    assert text.splitlines()[2].endswith("inf") and text.splitlines()[3].startswith("bb")


def test_heatmap_writes_cells_and_marks_missing_ones(tmp_path: Path) -> None:
    import pytest

    from MedSegTrain.reporting.heatmap import save_heatmap

    def grey_pixels(path: Path) -> int:
        rgb = (mpimg.imread(path)[..., :3] * 255).round().astype(int)
        return int(np.all(rgb == 208, axis=-1).sum())  # the n/a colour #d0d0d0

    rows, cols = ["A", "A->B"], ["site_A", "site_B"]
    full = save_heatmap(tmp_path / "full.png", [[80.0, 70.0], [60.0, 90.0]], rows, cols)
    gap = save_heatmap(tmp_path / "gap.png", [[80.0, np.nan], [60.0, 90.0]], rows, cols)
    assert mpimg.imread(full).shape[:2] == mpimg.imread(gap).shape[:2]
    assert grey_pixels(full) < 50 < 500 < grey_pixels(gap)  # a whole grey cell (text antialiasing aside)
    with pytest.raises(ValueError, match="2 rows x 3 columns"):
        save_heatmap(tmp_path / "bad.png", [[1.0, 2.0]], ["A", "B"], ["x", "y", "z"])
    assert not (tmp_path / "bad.png").exists()


def test_negative_infinity_keeps_its_sign() -> None:
    """Kills ``report-negative-infinity``: -inf (e.g. a log-ratio) must not read as +inf."""
    from MedSegTrain.reporting.markdown import format_number

    assert (format_number(float("-inf")), format_number(float("inf"))) == ("-inf", "inf")
    assert format_number(float("nan")) == "NaN" and format_number(0.12345) == "0.123"
