"""MedSegTrain: the headless backend of the MedSegMixup 3D Slicer extension.

Kept import-light on purpose: importing the package (or ``MedSegTrain.preprocessing.windowing``)
must not import torch, so the Slicer module can load before torch is installed.
"""

__version__ = "0.1.0"
