"""Dataset validation: every problem in one list, so users fix them all in one pass.

Headers are read without voxels (``read_header``, which also refuses files shorter than their
header); label maps are read in full, to check their values against the declared labels, and so
are floating-point images, whose NaN or infinite voxels would otherwise reach training. Cases
must agree on 2D vs 3D, and voxel spacings must be physically plausible.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from MedSegTrain.data.dataset import Case, Dataset
from MedSegTrain.data.loading import GEOMETRY_TOLERANCE
from MedSegTrain.errors import MedSegError
from MedSegTrain.io import Geometry, ImageHeader, read_channels, read_header, read_image, same_voxel_centres
from MedSegTrain.progress import Progress

SPACING_RANGE_MM = (1e-3, 1e4)


def validate_dataset(dataset: Dataset, check_label_values: bool = True,
                     progress: Progress | None = None) -> list[str]:
    """Every problem found in ``dataset`` as a readable sentence; empty when it is fine.

    Checks: cases present, duplicate case ids, missing or unreadable image/label files, channel
    count, channel grids, image/label grid agreement (the same voxel centres; an axis stored
    flipped or permuted is fine, ``load_case`` reorients it), label values declared in the description.
    """
    problems = list(dataset.load_problems)
    if not dataset.training:
        problems.append(f"{dataset.source or dataset.root}: no training cases")
    counts = Counter(case.case_id for case in dataset.training + dataset.test)
    problems.extend(f"case id '{case_id}' appears {n} times" for case_id, n in counts.items() if n > 1)
    declared = set(dataset.labels.values())
    cases = [(case, True) for case in dataset.training] + [(case, False) for case in dataset.test]
    if progress is not None:
        progress.task("validating", len(cases))
    dims: dict[str, int] = {}
    for case, needs_label in cases:
        problems.extend(_case_problems(case, dataset, needs_label, declared, check_label_values, dims))
        if progress is not None:
            progress.advance(1, message=case.case_id)
    if progress is not None:
        progress.close()
    return problems + _dimension_problems(dims)


def _dimension_problems(dims: dict[str, int]) -> list[str]:
    """Cases whose images are 2D among 3D ones (or the reverse): one model cannot take both."""
    counts = Counter(dims.values())
    if len(counts) < 2:
        return []
    usual = counts.most_common(1)[0][0]
    return [f"case {case_id}: its image is {ndim}D but {counts[usual]} other case(s) are {usual}D; "
            "every case of a dataset needs the same number of dimensions"
            for case_id, ndim in dims.items() if ndim != usual]


def _case_problems(case: Case, dataset: Dataset, needs_label: bool, declared: set[int],
                   check_values: bool, dims: dict[str, int]) -> list[str]:
    problems: list[str] = []
    where = f"case {case.case_id}"
    if not case.images:
        return [f"{where}: no image files"]
    headers: list[ImageHeader] = []
    for path in case.images:
        header, problem = _header(path, where, "image")
        problem = problem or _spacing_problem(header, where) or _voxel_problem(header, where)
        if problem:
            problems.append(problem)
        elif header is not None:
            headers.append(header)
    if headers:
        dims[case.case_id] = headers[0].geometry.ndim
    if len(headers) == len(case.images):
        n_channels = sum(h.n_channels for h in headers)
        if n_channels != dataset.n_channels:
            problems.append(f"{where}: {n_channels} image channels but the dataset declares "
                            f"{dataset.n_channels} ({', '.join(dataset.channel_names)})")
    reference = headers[0].geometry if headers else None
    for header in headers[1:]:
        if reference is not None and not same_voxel_centres(header.geometry, reference, GEOMETRY_TOLERANCE):
            problems.append(f"{where}: channel file {header.path} has another grid than {headers[0].path} "
                            f"({_grid(header.geometry)} vs {_grid(reference)})")
    if case.label is None:
        if needs_label:
            problems.append(f"{where}: no label file given")
        return problems
    label_header, problem = _header(case.label, where, "label")
    if problem:
        return [*problems, problem]
    assert label_header is not None
    if label_header.n_channels != 1 or label_header.file_dimension == 4:
        problems.append(f"{where}: label file {case.label} has {label_header.n_channels} channels; "
                        "a label map is a single scalar image")
        return problems
    if reference is not None and not same_voxel_centres(label_header.geometry, reference, GEOMETRY_TOLERANCE):
        problems.append(f"{where}: label {case.label} grid differs from image {headers[0].path} "
                        f"({_grid(label_header.geometry)} vs {_grid(reference)})")
    if check_values:
        problems.extend(_label_value_problems(case.label, where, declared))
    return problems


def _spacing_problem(header: ImageHeader | None, where: str) -> str | None:
    """Spacings outside 1 µm .. 10 m are a broken header (pixdim 1e30 asks for 1e34 voxels later)."""
    if header is None:
        return None
    spacing = header.geometry.spacing
    if all(SPACING_RANGE_MM[0] <= s <= SPACING_RANGE_MM[1] for s in spacing):
        return None
    return (f"{where}: image file {header.path} has voxel spacing {spacing} mm, outside the plausible "
            f"{SPACING_RANGE_MM[0]:g}..{SPACING_RANGE_MM[1]:g} mm; its header is broken")


def _voxel_problem(header: ImageHeader | None, where: str) -> str | None:
    """Floating-point images are read in full: a NaN or infinite voxel is refused by the reader."""
    if header is None or "float" not in header.pixel_type.lower():
        return None
    try:
        read_channels(header.path)
    except MedSegError as exc:
        return f"{where}: image file is unusable: {exc}"
    return None


def _header(path: Path, where: str, role: str) -> tuple[ImageHeader | None, str | None]:
    if not path.exists():
        return None, f"{where}: {role} file {path} is missing"
    try:
        return read_header(path), None
    except MedSegError as exc:
        return None, f"{where}: {role} file is unreadable: {exc}"


def _label_value_problems(path: Path, where: str, declared: set[int]) -> list[str]:
    try:
        array = read_image(path).array
    except MedSegError as exc:
        return [f"{where}: label file is unreadable: {exc}"]
    if not np.issubdtype(array.dtype, np.integer):
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            return [f"{where}: label {path} holds non-integer values"]
        array = array.astype(np.int64)
    values = _present_values(array)
    undeclared = sorted(set(values) - declared)
    if undeclared:
        return [f"{where}: label {path} holds values {undeclared} not declared in the dataset labels "
                f"{sorted(declared)}"]
    return []


def _present_values(array: np.ndarray) -> list[int]:
    """Distinct values; bincount for the usual small non-negative labels (faster than unique)."""
    flat = array.ravel()
    low, high = int(flat.min()), int(flat.max())
    if low >= 0 and high < 65536:
        counts = np.bincount(flat.astype(np.intp, copy=False), minlength=high + 1)
        return np.flatnonzero(counts).tolist()
    return np.unique(flat).astype(np.int64).tolist()


def _grid(geometry: Geometry) -> str:
    return (f"size {geometry.size}, spacing {tuple(round(s, 5) for s in geometry.spacing)}, "
            f"origin {tuple(round(o, 3) for o in geometry.origin)}")
