"""Slice pictures: the PNG encoder checked with Qt's decoder, windowing, blending, outlines."""

from __future__ import annotations

import numpy as np
import pytest
from MedSegMixupLib.imaging import blend, busiest_slice, encode_png, outline, windowed_grey


@pytest.mark.gui
def test_png_decodes_to_the_same_pixels(qapp):
    from MedSegMixupLib.qt_shim import pixmap_from_png

    rgb = np.random.default_rng(0).integers(0, 256, (7, 11, 3), dtype=np.uint8)
    image = pixmap_from_png(encode_png(rgb)).toImage()
    assert (image.width(), image.height()) == (11, 7)
    decoded = np.array([[image.pixelColor(x, y).getRgb()[:3] for x in range(11)] for y in range(7)])
    assert np.array_equal(decoded, rgb)


def test_png_rejects_non_rgb():
    with pytest.raises(ValueError, match="H, W, 3"):
        encode_png(np.zeros((4, 4)))


def test_window_maps_linearly_and_clips():
    grey = windowed_grey(np.array([[-200.0, 0.0, 100.0, 300.0]]), 0.0, 200.0)
    assert grey[0, :, 0].tolist() == [0, 0, 128, 255]
    assert windowed_grey(np.array([[np.nan]]), 0, 1)[0, 0, 0] == 0


def test_blend_and_outline():
    rgb = np.zeros((3, 3, 3), np.uint8)
    mask = np.zeros((3, 3), bool)
    mask[1, 1] = True
    out = blend(rgb, mask, (1.0, 0.0, 0.0), 0.5)
    assert out[1, 1].tolist() == [128, 0, 0] and out[0, 0].tolist() == [0, 0, 0]
    square = np.zeros((5, 5), bool)
    square[1:4, 1:4] = True
    edge = outline(square)
    assert edge.sum() == 8 and not edge[2, 2]


def test_busiest_slice():
    mask = np.zeros((4, 3, 3), bool)
    mask[2, :2, :2] = True
    mask[1, 0, 0] = True
    assert busiest_slice(mask) == 2
    assert busiest_slice(np.zeros((5, 2, 2), bool)) == 2
