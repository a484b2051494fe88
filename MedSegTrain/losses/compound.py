"""Compound losses: ``combo``, ``mixed_focal`` and ``tanimoto_ce`` (``FORMULAS.md``).

Their terms share one activation of the logits. Voxel-wise terms always run over all classes;
``batch``, ``include_background`` and ``smooth`` apply to the region terms.
Paper IDs: L1 (Combo, Mixed Focal; Yeung et al.), C6 (0.6 Tanimoto + 0.4 CE; Kloenne et al.).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from MedSegTrain.errors import MedSegError
from MedSegTrain.losses.common import (
    DEFAULT_SMOOTH,
    Inputs,
    SegmentationLoss,
    check_class_values,
    check_number,
    check_region_options,
    dice_index,
)
from MedSegTrain.losses.region import DiceLoss, FocalTverskyLoss, TanimotoLoss
from MedSegTrain.losses.voxelwise import check_alpha_length, cross_entropy, focal_term


class ComboLoss(SegmentationLoss):
    """``combo`` (L1, Yeung et al. eq. 18): ce - mean_c DSC_c, with DSC_c the soft Dice index
    (2 sum pg + s) / (sum p + sum g + s). Ranges from -1 upwards; equals MONAI DiceCELoss - 1.

    Soft targets: minimum NOT at p = g (the Dice term is not minimised there).
    """

    name = "combo"

    def __init__(
        self,
        activation: str = "softmax",
        batch: bool = True,
        include_background: bool = True,
        smooth: float = DEFAULT_SMOOTH,
    ) -> None:
        super().__init__(activation)
        check_region_options(self.name, batch, include_background, smooth)
        self.dice = DiceLoss(activation, batch, include_background, smooth)
        self.dice.name = self.name

    def check_inputs(self, inputs: Inputs) -> None:
        self.dice.check_inputs(inputs)

    def compute(self, inputs: Inputs) -> Tensor:
        dsc = dice_index(self.dice.sums(inputs), self.dice.smooth)
        return cross_entropy(inputs) - dsc.mean()


class MixedFocalLoss(SegmentationLoss):
    """``mixed_focal`` (L1, eq. 23): lam * focal(alpha, gamma_focal) + (1 - lam) *
    focal_tversky(delta, gamma_tversky); defaults lam 0.5, alpha 0.25, gamma_focal 2, delta 0.7,
    gamma_tversky 4/3. With lam = 0.5 it is half of the categorical form (eq. 24).

    Soft targets: minimum NOT at p = g.
    """

    name = "mixed_focal"

    def __init__(
        self,
        activation: str = "softmax",
        batch: bool = True,
        include_background: bool = True,
        smooth: float = DEFAULT_SMOOTH,
        lam: float = 0.5,
        alpha: float | list[float] = 0.25,
        gamma_focal: float = 2.0,
        delta: float = 0.7,
        gamma_tversky: float = 4 / 3,
    ) -> None:
        super().__init__(activation)
        self.lam = check_number(self.name, "lam", lam, low=0.0, high=1.0)
        self.alpha = check_class_values(self.name, "alpha", alpha)
        self.gamma_focal = check_number(self.name, "gamma_focal", gamma_focal, low=0.0)
        check_region_options(self.name, batch, include_background, smooth)
        check_number(self.name, "delta", delta, low=0.0, high=1.0)
        check_number(self.name, "gamma_tversky", gamma_tversky, low=0.0, low_open=True)
        self.focal_tversky = FocalTverskyLoss(
            activation, batch, include_background, smooth, delta, gamma_tversky
        )
        self.focal_tversky.name = self.name

    def check_inputs(self, inputs: Inputs) -> None:
        check_alpha_length(self.name, self.alpha, inputs.target.num_classes)
        self.focal_tversky.check_inputs(inputs)

    def compute(self, inputs: Inputs) -> Tensor:
        focal = focal_term(inputs, self.alpha, self.gamma_focal)
        return self.lam * focal + (1 - self.lam) * self.focal_tversky.compute(inputs)


class TanimotoCELoss(SegmentationLoss):
    """``tanimoto_ce`` (C6): weights[0] * tanimoto + weights[1] * ce, ``weights`` (0.6, 0.4).

    Soft targets: minimum at p = g (both terms are minimal there).
    """

    name = "tanimoto_ce"

    def __init__(
        self,
        activation: str = "softmax",
        batch: bool = True,
        include_background: bool = True,
        smooth: float = DEFAULT_SMOOTH,
        weights: Sequence[float] = (0.6, 0.4),
    ) -> None:
        super().__init__(activation)
        checked = check_class_values(self.name, "weights", weights)
        if not isinstance(checked, tuple) or len(checked) != 2:
            raise MedSegError(
                f"loss 'tanimoto_ce': option weights must be two numbers (tanimoto, ce), got {weights!r}"
            )
        self.weights = checked
        check_region_options(self.name, batch, include_background, smooth)
        self.tanimoto = TanimotoLoss(activation, batch, include_background, smooth)
        self.tanimoto.name = self.name

    def check_inputs(self, inputs: Inputs) -> None:
        self.tanimoto.check_inputs(inputs)

    def compute(self, inputs: Inputs) -> Tensor:
        w_tanimoto, w_ce = self.weights
        return w_tanimoto * self.tanimoto.compute(inputs) + w_ce * cross_entropy(inputs)
