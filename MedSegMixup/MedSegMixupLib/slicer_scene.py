"""The workspace interface of :mod:`.workspace` on Slicer's MRML scene (Slicer only).

Items are nodes, addressed by node ID (names may repeat). Voxels cross the boundary through
Slicer's supported bridges, with exact geometry: scalar volumes through ``sitkUtils``
(Base/Python/sitkUtils.py; Slicer has no ITK-Python, so ``slicer.util.itkImageFromVolume`` cannot
work), segments one binary labelmap at a time through ``slicer.util.arrayFromSegmentBinaryLabelmap``
/ ``updateSegmentBinaryLabelmapFromArray`` on a reference volume, so overlapping segments stay
separate. Results are placed under the input's study in the subject hierarchy, segments carry
standard terminology. Scene notifications are muted while the scene closes, imports or
batch-processes, and while the module is hidden. Imported only inside Slicer.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk
import sitkUtils
import slicer
import vtk

from .terminology import serialized_entry
from .workspace import Segmentation, file_stem

VOLUME_CLASS = "vtkMRMLScalarVolumeNode"
LABELMAP_CLASS = "vtkMRMLLabelMapVolumeNode"
SEGMENTATION_CLASS = "vtkMRMLSegmentationNode"
SOURCE_ROLE = "medSegMixupSourceVolume"  # node reference: the volume a result was computed on
LABEL_VALUE_TAG = "MedSegMixup.LabelValue"  # segment tag: the label value the segment came from
UNCERTAINTY_COLORS = "vtkMRMLColorTableNodeIron"  # vtkMRMLColorLogic: class name + type "Iron"
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


def ijk_to_ras(volume) -> np.ndarray:
    """The 4×4 IJK→RAS matrix of a ``MedSegTrain.io.Volume`` (LPS, ``(x, y, z)`` geometry)."""
    direction = np.asarray(volume.direction, float).reshape(3, 3)
    matrix = np.eye(4)
    matrix[:3, :3] = LPS_TO_RAS @ direction @ np.diag(volume.spacing)
    matrix[:3, 3] = LPS_TO_RAS @ np.asarray(volume.origin, float)
    return matrix


def volume_from_node(node):
    """A node's voxels and geometry as a ``MedSegTrain.io.Volume`` (via ``sitkUtils``)."""
    from MedSegTrain.io import Volume

    return Volume.from_sitk(sitkUtils.PullVolumeFromSlicer(node), node.GetName())


class NodeChooser:
    """The :class:`~.choosers.ItemChooser` interface over a ``qMRMLNodeComboBox``: the user picks a
    node, the panels read its ID."""

    def __init__(self, node_types: list[str], tooltip: str = "", show_child_types: bool = True) -> None:
        combo = slicer.qMRMLNodeComboBox()
        combo.nodeTypes = node_types  # Q_PROPERTYs: PythonQt assigns them as attributes
        combo.showChildNodeTypes = show_child_types
        combo.selectNodeUponCreation = False
        combo.addEnabled = False
        combo.removeEnabled = False
        combo.renameEnabled = False
        combo.noneEnabled = True
        combo.showHidden = False
        combo.setMRMLScene(slicer.mrmlScene)
        combo.setToolTip(tooltip)
        self.widget = combo
        self._changed: list = []
        self._activated: list = []
        combo.connect("currentNodeChanged(vtkMRMLNode*)", lambda *_args: self._fire(self._changed))
        combo.connect("nodeActivated(vtkMRMLNode*)", lambda *_args: self._fire(self._activated))

    def refresh(self) -> None:
        """Nothing to do: the combo box follows the scene itself."""

    def current_id(self) -> str:
        """The chosen node's ID, ``""`` for none."""
        return self.widget.currentNodeID or ""

    def select(self, item_id: str) -> bool:
        """Choose the node with this ID; False when the combo box does not list it."""
        self.widget.setCurrentNodeID(item_id)
        return self.current_id() == item_id


    def on_changed(self, callback) -> None:
        """Call ``callback()`` when the chosen node changes."""
        self._changed.append(callback)

    def on_activated(self, callback) -> None:
        """Call ``callback()`` when the user picks a node."""
        self._activated.append(callback)

    @staticmethod
    def _fire(callbacks) -> None:
        for callback in list(callbacks):
            callback()


class SlicerWorkspace:
    """Panels' data access backed by the scene; scene changes notify the panels."""

    def __init__(self) -> None:
        self._listeners = []
        self._quiet = 0
        self._pending = False
        self.active = True  # the module widget clears it while the module is hidden
        scene = slicer.mrmlScene
        self._observations = [
            scene.AddObserver(scene.NodeAddedEvent, self._node_event),
            scene.AddObserver(scene.NodeRemovedEvent, self._node_event),
            *(scene.AddObserver(event, self._phase_ended)
              for event in (scene.EndCloseEvent, scene.EndImportEvent, scene.EndBatchProcessEvent)),
        ]

    def close(self) -> None:
        """Stop observing the scene (module widget cleanup)."""
        for tag in self._observations:
            slicer.mrmlScene.RemoveObserver(tag)
        self._observations = []
        self._listeners = []

    def subscribe(self, listener) -> None:
        """Call ``listener()`` when nodes are added or removed."""
        self._listeners.append(listener)

    def _busy(self) -> bool:
        scene = slicer.mrmlScene
        return bool(self._quiet or scene.IsClosing() or scene.IsImporting() or scene.IsBatchProcessing())

    def _node_event(self, *_args) -> None:
        if self._busy() or not self.active:
            self._pending = True
            return
        self._notify()

    def _phase_ended(self, *_args) -> None:
        if not self._busy() and self.active:
            self._notify()

    def set_active(self, active: bool) -> None:
        """Follow the module's visibility; changes missed while hidden are announced on return."""
        self.active = active
        if active and self._pending:
            self._notify()

    def _notify(self) -> None:
        self._pending = False
        for listener in list(self._listeners):
            listener()

    def _node(self, item_id: str):
        node = slicer.mrmlScene.GetNodeByID(item_id) if item_id else None
        if node is None:
            raise KeyError(item_id)
        return node

    def chooser(self, kind: str, tooltip: str = "") -> NodeChooser:
        """A node combo box of scalar volumes (label maps excluded) or of segmentations and label maps."""
        if kind == "volume":
            return NodeChooser([VOLUME_CLASS], tooltip, show_child_types=False)
        return NodeChooser([SEGMENTATION_CLASS, LABELMAP_CLASS], tooltip)

    def display_name(self, item_id: str) -> str:
        """The node's name (names may repeat; IDs do not)."""
        return self._node(item_id).GetName()

    # --------------------------------------------------------------- volumes
    def volume_ids(self) -> list[str]:
        """Scalar (not label-map) volume nodes."""
        return [node.GetID() for node in slicer.util.getNodesByClass(VOLUME_CLASS)
                if not node.IsA(LABELMAP_CLASS)]

    def volume(self, item_id: str):
        """The node's voxels and geometry as a ``MedSegTrain.io.Volume``."""
        return volume_from_node(self._node(item_id))

    def volume_file(self, item_id: str, folder: Path) -> Path:
        """Write the node to an NRRD file for the background process (the node stays as it is)."""
        node = self._node(item_id)
        path = Path(folder) / f"{file_stem(node.GetName())}_{file_stem(item_id)}.nrrd"
        sitk.WriteImage(sitkUtils.PullVolumeFromSlicer(node), str(path), True)
        return path

    def modality(self, item_id: str) -> str | None:
        """``CT``/``MR`` as DICOM import recorded it on the series item, None when not recorded."""
        shn = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        item = shn.GetItemByDataNode(self._node(item_id))
        value = shn.GetItemAttribute(item, "DICOM.Modality") if item else ""
        return value if value in ("CT", "MR") else None

    def add_volume(self, name: str, volume, source_file: str | Path | None = None,
                   derived_from: str | None = None) -> str:
        """A new scalar volume node (shown in the slice views); returns its ID."""
        self._quiet += 1
        try:
            node = sitkUtils.PushVolumeToSlicer(volume.to_sitk(), name=name, className=VOLUME_CLASS)
            if derived_from:
                self._place_under(node, derived_from)
        finally:
            self._quiet -= 1
        slicer.util.setSliceViewerLayers(background=node, fit=True)
        self._notify()
        return node.GetID()

    def add_overlay(self, name: str, volume, over: str) -> str:
        """A volume shown as the foreground layer over ``over`` (which stays the background), with a
        heat colour map; returns its ID."""
        self._quiet += 1
        try:
            node = sitkUtils.PushVolumeToSlicer(volume.to_sitk(), name=name, className=VOLUME_CLASS)
            node.CreateDefaultDisplayNodes()
            display = node.GetDisplayNode()
            display.SetAndObserveColorNodeID(UNCERTAINTY_COLORS)
            node.SetNodeReferenceID(SOURCE_ROLE, over)
            self._place_under(node, over)
        finally:
            self._quiet -= 1
        slicer.util.setSliceViewerLayers(foreground=node, foregroundOpacity=0.4)
        self._notify()
        return node.GetID()

    def load_volume_file(self, path: str | Path) -> list[str] | None:
        """Load a single-file volume with Slicer's own reader (keeps its metadata); None to let the
        caller read it (DICOM folders, multi-channel files)."""
        path = Path(path)
        if path.is_dir():
            return None
        node = slicer.util.loadVolume(str(path))
        return [node.GetID()] if node is not None else None

    def set_window(self, item_id: str, window: float, level: float) -> None:
        """Display the volume with this window/level."""
        node = self._node(item_id)
        if node.GetDisplayNode() is None:
            node.CreateDefaultDisplayNodes()
        display = node.GetDisplayNode()
        display.SetAutoWindowLevel(False)
        display.SetWindowLevel(float(window), float(level))

    def window(self, item_id: str) -> tuple[float, float] | None:
        """The volume's current window/level."""
        display = self._node(item_id).GetDisplayNode()
        return (display.GetWindow(), display.GetLevel()) if display is not None else None

    # --------------------------------------------------------------- segmentations
    def segmentation_ids(self) -> list[str]:
        """Segmentation nodes, then label-map volume nodes."""
        return [node.GetID() for node in slicer.util.getNodesByClass(SEGMENTATION_CLASS)] + [
            node.GetID() for node in slicer.util.getNodesByClass(LABELMAP_CLASS)]

    def source_volume(self, item_id: str) -> str | None:
        """The volume a result was computed on, else a segmentation's reference geometry volume."""
        node = self._node(item_id)
        source = node.GetNodeReference(SOURCE_ROLE)
        if source is None and node.IsA(SEGMENTATION_CLASS):
            role = slicer.vtkMRMLSegmentationNode.GetReferenceImageGeometryReferenceRole()
            source = node.GetNodeReference(role)
        return source.GetID() if source is not None and not source.IsA(LABELMAP_CLASS) else None

    def segmentation(self, item_id: str, grid_volume: str | None = None) -> Segmentation:
        """Each segment's own binary labelmap on ``grid_volume`` (default: the segmentation's
        reference volume); a label-map node becomes one segment per value."""
        node = self._node(item_id)
        if node.IsA(LABELMAP_CLASS):
            labelmap = volume_from_node(node)
            values = [int(v) for v in np.unique(labelmap.array) if v != 0]
            return Segmentation(labelmap, {str(v): v for v in values})
        reference = self._node(grid_volume) if grid_volume else node.GetNodeReference(
            slicer.vtkMRMLSegmentationNode.GetReferenceImageGeometryReferenceRole())
        if reference is None:
            raise ValueError(f"segmentation '{node.GetName()}' has no reference volume: choose its source "
                             "volume in the Segment Editor, or compare it with a segmentation that has one")
        grid = volume_from_node(reference)
        segmentation = node.GetSegmentation()
        masks, values, colors = {}, {}, {}
        self._quiet += 1  # arrayFromSegmentBinaryLabelmap adds and removes a __temp__ node per call
        try:
            for index in range(segmentation.GetNumberOfSegments()):
                segment_id = segmentation.GetNthSegmentID(index)
                segment = segmentation.GetSegment(segment_id)
                name = segment.GetName()
                masks[name] = slicer.util.arrayFromSegmentBinaryLabelmap(node, segment_id, reference) > 0
                value = segment.GetTag(LABEL_VALUE_TAG) if segment.HasTag(LABEL_VALUE_TAG) else ""
                values[name] = int(value) if str(value).isdigit() else index + 1
                colors[name] = tuple(segment.GetColor())
        finally:
            self._quiet -= 1
        return Segmentation.from_masks(grid, masks, values, colors)

    def add_segmentation(self, name: str, segmentation: Segmentation, reference_volume: str | None = None,
                         show_3d: bool = False) -> str:
        """A segmentation node with one named, coloured, coded segment per mask, under the reference
        volume's study; returns its ID."""
        self._quiet += 1
        scene = slicer.mrmlScene
        temporary = None
        try:
            reference = self._node(reference_volume) if reference_volume else None
            grid = segmentation.grid
            if reference is None or not volume_from_node(reference).geometry.same_as(grid.geometry):
                temporary = slicer.util.addVolumeFromArray(np.zeros(np.asarray(grid.array).shape, np.uint8),
                                                           ijkToRAS=ijk_to_ras(grid), name="__temp__",
                                                           nodeClassName=LABELMAP_CLASS)
            geometry_node = temporary or reference
            node = scene.AddNewNodeByClass(SEGMENTATION_CLASS, name)
            node.CreateDefaultDisplayNodes()
            node.SetReferenceImageGeometryParameterFromVolumeNode(geometry_node)
            for segment_name, mask in segmentation.masks.items():
                segment_id = node.GetSegmentation().AddEmptySegment("", segment_name,
                                                                    list(segmentation.colors[segment_name]))
                segment = node.GetSegmentation().GetSegment(segment_id)
                segment.SetTag(LABEL_VALUE_TAG, str(segmentation.values[segment_name]))
                entry = serialized_entry(segment_name)
                if entry is not None:
                    segment.SetTerminology(entry)
                slicer.util.updateSegmentBinaryLabelmapFromArray(mask.astype(np.uint8), node, segment_id,
                                                                 geometry_node)
            if reference is not None:
                node.SetNodeReferenceID(SOURCE_ROLE, reference.GetID())
                if temporary is not None:
                    node.SetReferenceImageGeometryParameterFromVolumeNode(reference)
                self._place_under(node, reference.GetID())
            if show_3d:
                node.CreateClosedSurfaceRepresentation()
                node.GetDisplayNode().SetVisibility3D(True)
        finally:
            if temporary is not None:
                scene.RemoveNode(temporary)
            self._quiet -= 1
        self._notify()
        return node.GetID()

    def remove(self, item_id: str) -> None:
        """Remove the node with this ID."""
        node = slicer.mrmlScene.GetNodeByID(item_id)
        if node is not None:
            slicer.mrmlScene.RemoveNode(node)

    def _place_under(self, node, volume_id: str) -> None:
        """Put ``node`` beside the volume in the subject hierarchy (the volume's study or folder)."""
        shn = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(slicer.mrmlScene)
        parent = shn.GetItemParent(shn.GetItemByDataNode(self._node(volume_id)))
        item = shn.GetItemByDataNode(node)
        if parent and item:
            shn.SetItemParent(item, parent)

    # --------------------------------------------------------------- tables
    def add_table(self, name: str, columns: list[str], rows: list[list[str]]) -> str:
        """A table node holding the rows (shown in Slicer's table view and saved with the scene)."""
        node = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", name)
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
        return node.GetID()
