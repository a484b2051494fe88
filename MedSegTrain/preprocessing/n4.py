"""N4 bias-field correction of MR images through SimpleITK (T2).

The field is estimated on a copy shrunk by ``shrink_factor`` (the usual way to make N4 fast)
and then evaluated on the full grid with ``GetLogBiasFieldAsImage``, so the corrected image
keeps the input's resolution: ``corrected = image / exp(log_bias)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk

from MedSegTrain.errors import MedSegError

MASK_MODES = ("otsu", "nonzero", "none")
DEFAULTS: dict[str, Any] = {
    "shrink_factor": 4,
    "iterations": [50, 50, 50, 50],
    "convergence_threshold": 1e-3,
    "mask": "otsu",
}


def n4_correct(
    array: np.ndarray,
    spacing_zyx: Sequence[float] = (1.0, 1.0, 1.0),
    mask: np.ndarray | str = "otsu",
    shrink_factor: int = 4,
    iterations: Sequence[int] = (50, 50, 50, 50),
    convergence_threshold: float = 1e-3,
) -> np.ndarray:
    """Bias-corrected float32 copy of ``array`` (``(z, y, x)``, values >= 0 expected).

    ``mask`` is a boolean array, ``"otsu"`` (foreground by an Otsu threshold of
    ``log(1 + intensity)``), ``"nonzero"`` or ``"none"`` (whole image). ``iterations`` lists the maximum
    iterations per fitting level.
    """
    data = np.asarray(array, dtype=np.float32)
    check_n4_params(
        {
            "shrink_factor": shrink_factor,
            "iterations": list(iterations),
            "convergence_threshold": convergence_threshold,
            "mask": mask if isinstance(mask, str) else "none",
        }
    )
    image = sitk.GetImageFromArray(data)
    image.SetSpacing(tuple(float(s) for s in reversed(tuple(spacing_zyx))))
    mask_image = _mask_image(data, image, mask)
    if mask_image is not None and not sitk.GetArrayViewFromImage(mask_image).any():
        return data.copy()
    small = image
    small_mask = mask_image
    if shrink_factor > 1:
        factors = [shrink_factor] * image.GetDimension()
        small = sitk.Shrink(image, factors)
        small_mask = sitk.Shrink(mask_image, factors) if mask_image is not None else None
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations([int(i) for i in iterations])
    corrector.SetConvergenceThreshold(float(convergence_threshold))
    if small_mask is not None:
        corrector.Execute(small, small_mask)
    else:
        corrector.Execute(small)
    log_bias = sitk.GetArrayFromImage(corrector.GetLogBiasFieldAsImage(image))
    return (data / np.exp(log_bias)).astype(np.float32)


def check_n4_params(params: Mapping[str, Any], where: str = "n4_params") -> dict[str, Any]:
    """The N4 options with defaults filled in; invalid ones raise :class:`MedSegError` naming them."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise MedSegError(f"{where}: unknown option(s) {', '.join(unknown)} (allowed: {', '.join(DEFAULTS)})")
    merged = {**DEFAULTS, **params}
    shrink = merged["shrink_factor"]
    if isinstance(shrink, bool) or not isinstance(shrink, int) or shrink < 1:
        raise MedSegError(f"{where}.shrink_factor: expected an integer >= 1, got {shrink!r}")
    its = merged["iterations"]
    if (
        not isinstance(its, (list, tuple))
        or not its
        or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 1 for i in its)
    ):
        raise MedSegError(f"{where}.iterations: expected a non-empty list of positive integers, got {its!r}")
    thr = merged["convergence_threshold"]
    if isinstance(thr, bool) or not isinstance(thr, (int, float)) or not thr >= 0:
        raise MedSegError(f"{where}.convergence_threshold: expected a number >= 0, got {thr!r}")
    if merged["mask"] not in MASK_MODES:
        raise MedSegError(f"{where}.mask: {merged['mask']!r} is not one of {', '.join(MASK_MODES)}")
    merged["iterations"] = list(its)
    return merged


def _mask_image(data: np.ndarray, image: sitk.Image, mask: np.ndarray | str) -> sitk.Image | None:
    if isinstance(mask, str):
        if mask == "none":
            return None
        if mask == "nonzero":
            array = (data != 0).astype(np.uint8)
        else:
            return _otsu_log_mask(data, image)
    else:
        array = np.asarray(mask)
        if array.shape != data.shape:
            raise MedSegError(f"n4 mask: shape {array.shape} does not match the image {data.shape}")
        array = (array != 0).astype(np.uint8)
    out = sitk.GetImageFromArray(array)
    out.CopyInformation(image)
    return out


def _otsu_log_mask(data: np.ndarray, image: sitk.Image) -> sitk.Image:
    """Otsu foreground on log intensities.

    Plain Otsu (SimpleITK's N4 example) splits MR at its bright outliers: on PROMISE12 Case00
    it keeps 4.5 % of the voxels and only 20 % of the prostate, and N4 then stops after two
    iterations without correcting anything. On log(1 + x) the mask holds the whole prostate.
    """
    logged = sitk.GetImageFromArray(np.log1p(np.maximum(data, 0.0)).astype(np.float32))
    logged.CopyInformation(image)
    return sitk.OtsuThreshold(logged, 0, 1, 200)
