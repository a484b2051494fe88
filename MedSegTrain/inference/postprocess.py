"""Optional post-processing: keep the largest connected component of each label.

Connectivity is face-connectivity (6 neighbours in 3D) by default, as in MONAI's
``KeepLargestConnectedComponent(connectivity=1)``; ``connectivity=3`` also joins edges and
corners (26 neighbours). Ties keep the component found first in raster order.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from scipy import ndimage


def keep_largest_component(labels: np.ndarray, values: Iterable[int] | None = None,
                           connectivity: int = 1) -> np.ndarray:
    """A copy of ``labels`` where each label value keeps only its largest connected component.

    ``values``: the labels to clean (default: every non-zero value present). Removed voxels
    become background (0). The input is not modified.
    """
    labels = np.asarray(labels)
    out = labels.copy()
    structure = ndimage.generate_binary_structure(labels.ndim, connectivity)
    todo = [v for v in np.unique(labels) if v != 0] if values is None else list(values)
    for value in todo:
        mask = labels == value
        components, count = ndimage.label(mask, structure=structure)
        if count <= 1:
            continue
        sizes = np.bincount(components.ravel())
        sizes[0] = 0
        out[mask & (components != int(np.argmax(sizes)))] = 0
    return out
