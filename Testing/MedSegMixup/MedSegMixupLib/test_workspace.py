"""The in-memory workspace: unique names, notifications, files for the background process."""

from __future__ import annotations

import numpy as np
from MedSegMixupLib.workspace import PALETTE, MemoryWorkspace, Segmentation

from MedSegTrain.io import Volume, read_image


def volume(value=0):
    return Volume(np.full((2, 3, 4), value, np.int16), (1.0, 1.0, 2.0), (5.0, 0.0, 0.0),
                  (1, 0, 0, 0, 1, 0, 0, 0, 1))


def test_names_are_unique_and_listeners_hear_changes():
    workspace = MemoryWorkspace()
    calls = []
    workspace.subscribe(lambda: calls.append(1))
    assert workspace.add_volume("ct", volume()) == "ct"
    assert workspace.add_volume("ct", volume()) == "ct_1"
    assert workspace.add_segmentation("ct", Segmentation(volume(), {"a": 1})) == "ct_2"
    workspace.remove("ct_1")
    assert workspace.volume_ids() == ["ct"] and workspace.segmentation_ids() == ["ct_2"]
    assert len(calls) == 4


def test_volume_file_reuses_the_source_or_writes_exact_geometry(tmp_path):
    workspace = MemoryWorkspace()
    source = tmp_path / "source.nrrd"
    source.write_bytes(b"x")
    workspace.add_volume("loaded", volume(), source_file=source)
    assert workspace.volume_file("loaded", tmp_path) == source
    workspace.add_volume("made here", volume(7))
    written = workspace.volume_file("made here", tmp_path)
    assert written.name == "made_here.nrrd"
    back = read_image(written)
    assert np.array_equal(back.array, volume(7).array) and back.geometry.same_as(volume().geometry)


def test_segmentation_drops_background_and_gets_colours():
    segmentation = Segmentation(volume(), {"background": 0, "kidney": 1, "tumour": 2},
                                colors={"tumour": (1.0, 0.0, 0.0)})
    assert segmentation.labels == {"kidney": 1, "tumour": 2}
    assert segmentation.colors == {"kidney": PALETTE[0], "tumour": (1.0, 0.0, 0.0)}


def test_overlaps_only_when_a_voxel_is_in_two_segments():
    """Disjoint segments do not overlap; WT ⊃ TC does. Kills ``slicer-workspace-overlaps`` (> 0 for > 1)."""
    grid = volume()
    a, b = np.zeros(grid.array.shape, bool), np.zeros(grid.array.shape, bool)
    a.flat[:3] = True
    b.flat[3:5] = True
    assert not Segmentation.from_masks(grid, {"a": a, "b": b}, {"a": 1, "b": 2}).overlaps()
    b.flat[2] = True
    assert Segmentation.from_masks(grid, {"a": a, "b": b}, {"a": 1, "b": 2}).overlaps()
