"""Preprocessing: windowing presets, normalisation, N4, resampling, crops/pads, slices, patches.

Kept light: importing this package imports neither torch nor SimpleITK (the Slicer module
uses the windowing presets before its backend dependencies are installed). Import the
submodules (``windowing``, ``normalization``, ``pipeline`` ...) for the functions.
"""

from MedSegTrain.preprocessing.windowing import WindowPreset, get_preset, list_presets

__all__ = ["WindowPreset", "get_preset", "list_presets"]
