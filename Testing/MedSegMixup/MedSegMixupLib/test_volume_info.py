"""Volume facts and the modality guess of the load panel."""

from __future__ import annotations

import numpy as np
from MedSegMixupLib.volume_info import guess_modality, summarize

from MedSegTrain.io import Volume


def test_modality_guess():
    assert guess_modality(np.array([-1024, 40, 300])) == "CT"
    assert guess_modality(np.array([0, 350, 1200])) == "MR"
    assert guess_modality(np.array([-2.1, 0.0, 3.5])) == "unknown"  # z-scored: no guess
    assert guess_modality(np.array([])) == "unknown"


def test_summary_ignores_nan_and_reports_itk_order():
    array = np.zeros((2, 3, 4), np.float32)
    array[0, 0, 0] = np.nan
    array[1, 2, 3] = 7.5
    summary = summarize(Volume(array, (0.5, 0.6, 2.0), (1.0, 2.0, 3.0), (1, 0, 0, 0, 1, 0, 0, 0, 1)))
    assert summary.size == (4, 3, 2)
    assert (summary.minimum, summary.maximum) == (0.0, 7.5)
    assert dict(summary.rows())["Spacing (mm)"] == "0.5 × 0.6 × 2"
