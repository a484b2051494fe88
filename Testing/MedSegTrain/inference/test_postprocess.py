"""Largest connected component per label: hand-made maps, and a plain breadth-first flood fill
as the independent reference on random maps (MONAI's transform needs scikit-image, absent here)."""

from __future__ import annotations

from collections import deque

import numpy as np

from MedSegTrain.inference.postprocess import keep_largest_component


def test_hand_made_map():
    labels = np.array([[1, 1, 0, 1, 2],
                       [1, 0, 0, 0, 2],
                       [0, 0, 2, 0, 0]])
    expected = np.array([[1, 1, 0, 0, 2],
                         [1, 0, 0, 0, 2],
                         [0, 0, 0, 0, 0]])
    before = labels.copy()
    np.testing.assert_array_equal(keep_largest_component(labels), expected)
    np.testing.assert_array_equal(labels, before)


def test_diagonal_neighbours_join_only_with_full_connectivity():
    labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]])
    assert keep_largest_component(labels, connectivity=1).sum() == 1
    np.testing.assert_array_equal(keep_largest_component(labels, connectivity=2), labels)


def _flood_fill_reference(labels: np.ndarray) -> np.ndarray:
    """Keep each label's largest 6-connected component, by breadth-first search."""
    out = np.zeros_like(labels)
    seen = np.zeros(labels.shape, bool)
    best: dict[int, list] = {}
    for start in zip(*np.nonzero(labels), strict=True):
        if seen[start]:
            continue
        value, component, queue = labels[start], [], deque([start])
        seen[start] = True
        while queue:
            voxel = queue.popleft()
            component.append(voxel)
            for axis in range(labels.ndim):
                for step in (-1, 1):
                    nb = list(voxel)
                    nb[axis] += step
                    nb = tuple(nb)
                    if 0 <= nb[axis] < labels.shape[axis] and not seen[nb] and labels[nb] == value:
                        seen[nb] = True
                        queue.append(nb)
        if len(component) > len(best.get(value, [])):
            best[value] = component
    for value, component in best.items():
        for voxel in component:
            out[voxel] = value
    return out


def test_agrees_with_a_flood_fill_on_a_random_3d_map():
    rng = np.random.default_rng(0)
    labels = rng.choice([0, 1, 2], size=(8, 9, 7), p=[0.45, 0.35, 0.2])
    np.testing.assert_array_equal(keep_largest_component(labels), _flood_fill_reference(labels))
