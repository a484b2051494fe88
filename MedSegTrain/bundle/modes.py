"""The one vocabulary of inference modes, and the one place that translates the other spelling.

How a model is run over a volume:

* ``sliding_window``: a 3D network on Gaussian-blended patches of ``inference.patch_size``;
* ``whole``: a 3D network on the whole (padded) volume in one pass;
* ``slices2d``: a 2D network (``spatial_dims: 2``) over every axial slice.

These names are the vocabulary: every ``model.json`` written since format version 1 stores them,
and the inference engine (:func:`MedSegTrain.inference.sliding_window.plan_windows`) takes them.
The training recipe's ``patch.mode`` names the shape of a training patch, ``3d`` or ``2d``; a
recipe is user-facing YAML, so it keeps that spelling, and this module is the only place that
maps it (:func:`inference_mode`, :func:`patch_mode`). ``model.json`` readers accept the recipe
spelling in ``inference.mode`` as well, so a bundle written with either spelling loads.
"""

from __future__ import annotations

from typing import Literal

from MedSegTrain.errors import MedSegError

InferenceMode = Literal["sliding_window", "whole", "slices2d"]
SLIDING_WINDOW: InferenceMode = "sliding_window"
WHOLE: InferenceMode = "whole"
SLICES2D: InferenceMode = "slices2d"
INFERENCE_MODES: tuple[str, ...] = (SLIDING_WINDOW, WHOLE, SLICES2D)

PATCH_MODES: tuple[str, ...] = ("3d", "2d")
"""The training recipe's ``patch.mode`` values."""

_FROM_PATCH_MODE: dict[str, InferenceMode] = {"3d": SLIDING_WINDOW, "2d": SLICES2D}


def is_mode(name: object) -> bool:
    """Whether ``name`` is an inference mode in either spelling."""
    return isinstance(name, str) and (name in INFERENCE_MODES or name in _FROM_PATCH_MODE)


def inference_mode(name: str, where: str = "mode") -> InferenceMode:
    """The inference mode for ``name``: an inference mode itself, or a recipe ``patch.mode``
    (``3d`` -> ``sliding_window``, ``2d`` -> ``slices2d``)."""
    if name in INFERENCE_MODES:
        return name  # type: ignore[return-value]
    if name in _FROM_PATCH_MODE:
        return _FROM_PATCH_MODE[name]
    raise MedSegError(f"{where} must be one of {', '.join(INFERENCE_MODES)} (or a patch mode "
                      f"{'/'.join(PATCH_MODES)}), got {name!r}")


def patch_mode(name: str, where: str = "mode") -> str:
    """The recipe ``patch.mode`` (``2d`` or ``3d``) of an inference mode in either spelling."""
    return "2d" if inference_mode(name, where) == SLICES2D else "3d"


__all__ = ["INFERENCE_MODES", "PATCH_MODES", "SLICES2D", "SLIDING_WINDOW", "WHOLE", "InferenceMode",
           "inference_mode", "is_mode", "patch_mode"]
