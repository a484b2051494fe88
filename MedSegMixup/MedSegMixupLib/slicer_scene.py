"""The workspace interface of :mod:`.workspace` on top of Slicer's MRML scene (Slicer only).

Volumes are scalar volume nodes, segmentations are segmentation nodes (label-map volume nodes are
offered as segmentations too), tables are table nodes. Arrays cross the boundary as SimpleITK
images (``slicer.util.itkImageFromVolume`` / ``addVolumeFromITKImage``), so geometry is exact.
Imported only inside Slicer, by the module's widget and logic.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import slicer
import vtk

from .workspace import Segmentation

VOLUME_CLASS = "vtkMRMLScalarVolumeNode"
LABELMAP_CLASS = "vtkMRMLLabelMapVolumeNode"
SEGMENTATION_CLASS = "vtkMRMLSegmentationNode"


class SlicerWorkspace:
    """Panels' data access backed by the scene; scene changes notify the panels."""

    def __init__(self) -> None:
        self._listeners = []
        self._quiet = 0
        scene = slicer.mrmlScene
        events = (scene.NodeAddedEvent, scene.NodeRemovedEvent, scene.EndImportEvent, scene.EndCloseEvent)
        self._observations = [scene.AddObserver(event, self._scene_changed) for event in events]

    def close(self) -> None:
        """Stop observing the scene (module widget cleanup)."""
        for tag in self._observations:
            slicer.mrmlScene.RemoveObserver(tag)
        self._observations = []

    def subscribe(self, listener) -> None:
        """Call ``listener()`` when nodes are added or removed."""
        self._listeners.append(listener)

    def _scene_changed(self, *_args) -> None:
        if self._quiet == 0 and not slicer.mrmlScene.IsImporting():
            for listener in list(self._listeners):
                listener()

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()

    # --------------------------------------------------------------- volumes
    def _volume_nodes(self) -> list:
        return [node for node in slicer.util.getNodesByClass(VOLUME_CLASS) if not node.IsA(LABELMAP_CLASS)]

    def volume_names(self) -> list[str]:
        """Scalar (not label-map) volume nodes."""
        return [node.GetName() for node in self._volume_nodes()]

    def _volume_node(self, name: str):
        node = slicer.util.getFirstNodeByClassByName(VOLUME_CLASS, name)
        if node is None:
            raise KeyError(name)
        return node

    def volume(self, name: str):
        """The node's voxels and geometry as a ``MedSegTrain.io.Volume``."""
        from MedSegTrain.io import Volume

        return Volume.from_sitk(slicer.util.itkImageFromVolume(self._volume_node(name)), name)

    def volume_file(self, name: str, folder: Path) -> Path:
        """Export the node to an NRRD file for the background process (the node stays as it is)."""
        path = Path(folder) / f"{_safe(name)}.nrrd"
        slicer.util.exportNode(self._volume_node(name), str(path))
        return path

    def add_volume(self, name: str, volume, source_file: str | Path | None = None) -> str:
        """A new scalar volume node; returns its (unique) name."""
        unique = slicer.mrmlScene.GenerateUniqueName(name)
        node = slicer.util.addVolumeFromITKImage(volume.to_sitk(), name=unique)
        slicer.util.setSliceViewerLayers(background=node, fit=True)
        return node.GetName()

    def load_volume_file(self, path: str | Path) -> list[str] | None:
        """Load a single-file volume with Slicer's own reader (keeps its metadata); None to let the
        caller read it (DICOM folders, multi-channel files)."""
        path = Path(path)
        if path.is_dir():
            return None
        node = slicer.util.loadVolume(str(path))
        return [node.GetName()] if node is not None else None

    def set_window(self, name: str, window: float, level: float) -> None:
        """Display the volume with this window/level."""
        node = self._volume_node(name)
        display = node.GetDisplayNode()
        if display is None:
            node.CreateDefaultDisplayNodes()
            display = node.GetDisplayNode()
        display.SetAutoWindowLevel(False)
        display.SetWindowLevel(float(window), float(level))

    def window(self, name: str) -> tuple[float, float] | None:
        """The volume's current window/level."""
        display = self._volume_node(name).GetDisplayNode()
        return (display.GetWindow(), display.GetLevel()) if display is not None else None

    # --------------------------------------------------------------- segmentations
    def segmentation_names(self) -> list[str]:
        """Segmentation nodes, then label-map volume nodes."""
        return [node.GetName() for node in slicer.util.getNodesByClass(SEGMENTATION_CLASS)] + [
            node.GetName() for node in slicer.util.getNodesByClass(LABELMAP_CLASS)]

    def segmentation(self, name: str) -> Segmentation:
        """Segments as a label map on the segmentation's reference grid (value = segment order)."""
        from MedSegTrain.io import Volume

        node = slicer.util.getFirstNodeByClassByName(SEGMENTATION_CLASS, name)
        if node is None:
            labelmap_node = slicer.util.getFirstNodeByClassByName(LABELMAP_CLASS, name)
            if labelmap_node is None:
                raise KeyError(name)
            labelmap = Volume.from_sitk(slicer.util.itkImageFromVolume(labelmap_node), name)
            values = [int(v) for v in np.unique(labelmap.array) if v != 0]
            return Segmentation(labelmap, {str(v): v for v in values})
        reference = node.GetNodeReference(node.GetReferenceImageGeometryReferenceRole())
        if reference is None or not reference.IsA(VOLUME_CLASS):
            return self._exported(node)
        grid = Volume.from_sitk(slicer.util.itkImageFromVolume(reference), reference.GetName())
        labels, colors = {}, {}
        array = np.zeros(grid.array.shape, np.uint16)
        segmentation = node.GetSegmentation()
        for index in range(segmentation.GetNumberOfSegments()):
            segment_id = segmentation.GetNthSegmentID(index)
            segment = segmentation.GetSegment(segment_id)
            mask = slicer.util.arrayFromSegmentBinaryLabelmap(node, segment_id, reference)
            array[mask > 0] = index + 1
            labels[segment.GetName()] = index + 1
            colors[segment.GetName()] = tuple(segment.GetColor())
        return Segmentation(grid.with_array(array), labels, colors)

    def _exported(self, node) -> Segmentation:
        """A segmentation without a reference volume, exported on its own reference geometry
        (segment i gets value i + 1)."""
        from MedSegTrain.io import Volume

        labelmap_node = slicer.mrmlScene.AddNewNodeByClass(LABELMAP_CLASS, "__export__")
        try:
            slicer.modules.segmentations.logic().ExportAllSegmentsToLabelmapNode(
                node, labelmap_node, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY)
            labelmap = Volume.from_sitk(slicer.util.itkImageFromVolume(labelmap_node), node.GetName())
        finally:
            slicer.mrmlScene.RemoveNode(labelmap_node)
        segmentation = node.GetSegmentation()
        segments = [segmentation.GetSegment(segmentation.GetNthSegmentID(i))
                    for i in range(segmentation.GetNumberOfSegments())]
        return Segmentation(labelmap, {s.GetName(): i + 1 for i, s in enumerate(segments)},
                            {s.GetName(): tuple(s.GetColor()) for s in segments})

    def add_segmentation(self, name: str, segmentation: Segmentation,
                         reference_volume: str | None = None) -> str:
        """A segmentation node with one named, coloured segment per label; returns its name."""
        self._quiet += 1
        try:
            unique = slicer.mrmlScene.GenerateUniqueName(name)
            node = slicer.mrmlScene.AddNewNodeByClass(SEGMENTATION_CLASS, unique)
            node.CreateDefaultDisplayNodes()
            grid_node = slicer.util.addVolumeFromITKImage(segmentation.labelmap.to_sitk(), name="__grid__",
                                                          nodeClassName=LABELMAP_CLASS)
            reference = None
            if reference_volume:
                reference = slicer.util.getFirstNodeByClassByName(VOLUME_CLASS, reference_volume)
            node.SetReferenceImageGeometryParameterFromVolumeNode(reference or grid_node)
            array = np.asarray(segmentation.labelmap.array)
            for label, value in segmentation.labels.items():
                color = list(segmentation.colors[label])
                segment_id = node.GetSegmentation().AddEmptySegment(label, label, color)
                slicer.util.updateSegmentBinaryLabelmapFromArray((array == value).astype(np.uint8), node,
                                                                 segment_id, grid_node)
            slicer.mrmlScene.RemoveNode(grid_node)
        finally:
            self._quiet -= 1
        self._notify()
        return node.GetName()

    def remove(self, name: str) -> None:
        """Remove the volume or segmentation node called ``name``."""
        for class_name in (SEGMENTATION_CLASS, VOLUME_CLASS):
            node = slicer.util.getFirstNodeByClassByName(class_name, name)
            if node is not None:
                slicer.mrmlScene.RemoveNode(node)
                return

    # --------------------------------------------------------------- tables
    def add_table(self, name: str, columns: list[str], rows: list[list[str]]) -> str:
        """A table node holding the rows (shown in Slicer's table view and saved with the scene)."""
        unique = slicer.mrmlScene.GenerateUniqueName(name)
        node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", unique)
        table = node.GetTable()
        for column in columns:
            values = vtk.vtkStringArray()
            values.SetName(column)
            table.AddColumn(values)
        table.SetNumberOfRows(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                table.SetValue(r, c, vtk.vtkVariant(str(text)))
        node.Modified()
        return node.GetName()


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name) or "volume"
