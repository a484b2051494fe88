"""Region (overlap) losses: ``dice``, ``dice_squared``, ``tversky``, ``focal_tversky``,
``cosine_tversky`` and ``tanimoto`` — exactly as ``FORMULAS.md``.

Region sums run over batch and spatial axes (``batch=True``, default) or per sample; the loss is
the mean over the included classes (and samples). ``smooth`` s (default 1e-5) is added to the
numerator and the denominator of every index. Paper IDs: L1 (Dice, Tversky, focal and cosine
Tversky; Yeung et al.), B4 (squared-denominator Dice; Henry et al.), C6 (Tanimoto; Kloenne et al.).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from MedSegTrain.losses.common import (
    DEFAULT_SMOOTH,
    Inputs,
    RegionSums,
    SegmentationLoss,
    check_number,
    check_region_channels,
    check_region_options,
    dice_index,
    tversky_index,
)
from MedSegTrain.losses.region_sums import region_sums


class RegionLoss(SegmentationLoss):
    """Shared options and flow: region sums -> per-class index -> per-class loss -> mean."""

    squares = False

    def __init__(
        self,
        activation: str = "softmax",
        batch: bool = True,
        include_background: bool = True,
        smooth: float = DEFAULT_SMOOTH,
    ) -> None:
        super().__init__(activation)
        check_region_options(self.name, batch, include_background, smooth)
        self.batch = batch
        self.include_background = include_background
        self.smooth = float(smooth)

    def check_inputs(self, inputs: Inputs) -> None:
        check_region_channels(self.name, inputs, self.include_background)

    def sums(self, inputs: Inputs) -> RegionSums:
        """The region sums this loss needs."""
        target = inputs.target
        return region_sums(
            inputs.act.logits,
            target.labels,
            target.soft,
            inputs.act.activation,
            self.batch,
            self.include_background,
            squares=self.squares,
        )

    def per_class(self, sums: RegionSums) -> Tensor:
        """The loss of every class (and sample when ``batch`` is False)."""
        raise NotImplementedError

    def compute(self, inputs: Inputs) -> Tensor:
        return self.per_class(self.sums(inputs)).mean()


class DiceLoss(RegionLoss):
    """``dice`` (L1, B4): 1 - mean_c (2 sum pg + s) / (sum p + sum g + s); equals MONAI DiceLoss.

    Soft targets: minimum NOT at p = g — for soft g it is reached by pushing p to 0/1
    (Isaksson et al.'s caution about soft Dice and mixup).
    """

    name = "dice"

    def per_class(self, sums: RegionSums) -> Tensor:
        return 1 - dice_index(sums, self.smooth)


class DiceSquaredLoss(RegionLoss):
    """``dice_squared`` (B4, V-Net): 1 - mean_c (2 sum pg + s) / (sum p^2 + sum g^2 + s).

    Equals MONAI DiceLoss(squared_pred=True). Soft targets: minimum at p = g
    (sum p^2 + sum g^2 >= 2 sum pg with equality only there).
    """

    name = "dice_squared"
    squares = True

    def per_class(self, sums: RegionSums) -> Tensor:
        assert sums.p2 is not None and sums.g2 is not None
        return 1 - (2 * sums.pg + self.smooth) / (sums.p2 + sums.g2 + self.smooth)


class TanimotoLoss(RegionLoss):
    """``tanimoto`` (C6): 1 - mean_c (sum pg + s) / (sum p^2 + sum g^2 - sum pg + s).

    Equals MONAI DiceLoss(squared_pred=True, jaccard=True, smooth_nr=2s, smooth_dr=2s) (MONAI
    doubles numerator and denominator). Soft targets: minimum at p = g.
    """

    name = "tanimoto"
    squares = True

    def per_class(self, sums: RegionSums) -> Tensor:
        assert sums.p2 is not None and sums.g2 is not None
        return 1 - (sums.pg + self.smooth) / (sums.p2 + sums.g2 - sums.pg + self.smooth)


class TverskyLoss(RegionLoss):
    """``tversky`` (L1): 1 - mean_c TI_c, with
    TI_c = (sum pg + s) / (sum pg + delta sum (1-p)g + (1-delta) sum p(1-g) + s), ``delta`` 0.7.

    delta weights FALSE NEGATIVES (favours recall), as the authors' code and Salehi et al.;
    equals MONAI TverskyLoss(alpha=1-delta, beta=delta). Soft targets: minimum NOT at p = g.
    """

    name = "tversky"

    def __init__(
        self,
        activation: str = "softmax",
        batch: bool = True,
        include_background: bool = True,
        smooth: float = DEFAULT_SMOOTH,
        delta: float = 0.7,
    ) -> None:
        super().__init__(activation, batch, include_background, smooth)
        self.delta = check_number(self.name, "delta", delta, low=0.0, high=1.0)

    def per_class(self, sums: RegionSums) -> Tensor:
        return 1 - tversky_index(sums, self.delta, self.smooth)


def focal_tversky_per_class(tversky: Tensor, gamma: float) -> Tensor:
    """(1 - TI)^(1/gamma); the base is clamped at the smallest normal number so the gradient at
    a perfect overlap stays finite (the value changes by less than 1e-28)."""
    base = (1 - tversky).clamp_min(torch.finfo(tversky.dtype).tiny)
    return base.pow(1 / gamma)


class FocalTverskyLoss(TverskyLoss):
    """``focal_tversky`` (L1): mean_c (1 - TI_c)^(1/gamma), ``gamma`` 4/3, ``delta`` 0.7.

    The exponent is 1/gamma as in the paper (gamma > 1 focuses on hard, low-TI classes);
    gamma = 1 is ``tversky``. Soft targets: minimum NOT at p = g (a monotone function of TI).
    """

    name = "focal_tversky"

    def __init__(
        self,
        activation: str = "softmax",
        batch: bool = True,
        include_background: bool = True,
        smooth: float = DEFAULT_SMOOTH,
        delta: float = 0.7,
        gamma: float = 4 / 3,
    ) -> None:
        super().__init__(activation, batch, include_background, smooth, delta)
        self.gamma = check_number(self.name, "gamma", gamma, low=0.0, low_open=True)

    def per_class(self, sums: RegionSums) -> Tensor:
        return focal_tversky_per_class(tversky_index(sums, self.delta, self.smooth), self.gamma)


class CosineTverskyLoss(TverskyLoss):
    """``cosine_tversky`` (L1): mean_c cos(pi/2 * TI_c)^gamma, ``gamma`` 1, ``delta`` 0.7.

    1 at TI = 0 and 0 at TI = 1, so minimising it maximises overlap (the authors' published code
    has the opposite sign and drives overlap to zero). Soft targets: minimum NOT at p = g.
    """

    name = "cosine_tversky"

    def __init__(
        self,
        activation: str = "softmax",
        batch: bool = True,
        include_background: bool = True,
        smooth: float = DEFAULT_SMOOTH,
        delta: float = 0.7,
        gamma: float = 1.0,
    ) -> None:
        super().__init__(activation, batch, include_background, smooth, delta)
        self.gamma = check_number(self.name, "gamma", gamma, low=0.0, low_open=True)

    def per_class(self, sums: RegionSums) -> Tensor:
        # cos(pi/2 TI) written as sin(pi/2 (1 - TI)): exactly 0 at TI = 1, accurate near it.
        cosine = torch.sin((math.pi / 2) * (1 - tversky_index(sums, self.delta, self.smooth)))
        if self.gamma == 1:
            return cosine
        return cosine.clamp_min(torch.finfo(cosine.dtype).tiny).pow(self.gamma)
