"""Datasets: MSD / nnU-Net folders and CSV manifests, validation, case loading, phantoms.

Imports no torch (the Slicer module lists datasets before torch is installed).
"""

from MedSegTrain.data.dataset import Case, Dataset
from MedSegTrain.data.loading import LoadedCase, load_case, load_dataset
from MedSegTrain.data.validate import validate_dataset

__all__ = ["Case", "Dataset", "LoadedCase", "load_case", "load_dataset", "validate_dataset"]
