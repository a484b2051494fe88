"""MRML stand-in: scene, nodes, segmentation, subject hierarchy, tables (Python subclasses of VTK).

Every class derives from a real VTK class (``vtk.vtkObject`` or ``vtk.vtkImageData``), so
AddObserver/RemoveObserver/InvokeEvent/Modified behave exactly as in Slicer's wrapped C++ classes.
Sources (Slicer git, tag v5.12 / HEAD 583e9b37): Libs/MRML/Core/vtkMRMLScene.{h,cxx},
vtkMRMLNode.h, vtkMRMLVolumeNode.cxx, vtkMRMLScalarVolumeDisplayNode.cxx, vtkMRMLSegmentationNode.cxx,
vtkMRMLSubjectHierarchyNode.{h,cxx}, Libs/MRML/Logic/vtkMRMLColorLogic.cxx,
Libs/vtkSegmentationCore/vtkSegmentation.cxx, vtkSegment.cxx, vtkSegmentationConverter.cxx,
Modules/Loadable/Segmentations/Logic/vtkSlicerSegmentationsModuleLogic.cxx,
Modules/Loadable/Volumes/Logic/vtkSlicerVolumesLogic.cxx.
"""

from __future__ import annotations

import uuid
from typing import ClassVar

import numpy as np
import vtk
from vtk.util import numpy_support

__all__ = [
    "add_default_nodes",
    "vtkMRMLColorLogic",
    "vtkMRMLColorNode",
    "vtkMRMLColorTableNode",
    "vtkMRMLDisplayNode",
    "vtkMRMLDisplayableNode",
    "vtkMRMLGlyphableVolumeDisplayNode",
    "vtkMRMLLabelMapVolumeDisplayNode",
    "vtkMRMLLabelMapVolumeNode",
    "vtkMRMLNode",
    "vtkMRMLProceduralColorNode",
    "vtkMRMLScalarVolumeDisplayNode",
    "vtkMRMLScalarVolumeNode",
    "vtkMRMLScene",
    "vtkMRMLScriptedModuleNode",
    "vtkMRMLSegmentationDisplayNode",
    "vtkMRMLSegmentationNode",
    "vtkMRMLSegmentationStorageNode",
    "vtkMRMLSliceCompositeNode",
    "vtkMRMLStorableNode",
    "vtkMRMLStorageNode",
    "vtkMRMLSubjectHierarchyConstants",
    "vtkMRMLSubjectHierarchyNode",
    "vtkMRMLTableNode",
    "vtkMRMLTableStorageNode",
    "vtkMRMLTensorVolumeNode",
    "vtkMRMLTransformableNode",
    "vtkMRMLVectorVolumeDisplayNode",
    "vtkMRMLVectorVolumeNode",
    "vtkMRMLVolumeArchetypeStorageNode",
    "vtkMRMLVolumeDisplayNode",
    "vtkMRMLVolumeNode",
    "vtkOrientedImageData",
    "vtkSegment",
    "vtkSegmentation",
    "vtkSegmentationConverter",
    "vtkSlicerSegmentationsModuleLogic",
    "vtkSlicerVolumesLogic",
]


def _matrix_to_array(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _array_to_matrix(array, matrix: vtk.vtkMatrix4x4 | None = None) -> vtk.vtkMatrix4x4:
    matrix = matrix if matrix is not None else vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(array[r][c]))
    return matrix


# ----------------------------------------------------------------------------------------------- nodes
class vtkMRMLNode(vtk.vtkObject):
    """vtkMRMLNode.h: ID, name, attributes, singleton tag, node references, StartModify/EndModify."""

    NodeTagName = "Node"
    # vtkMRMLNode.h enum
    HierarchyModifiedEvent = 16000
    IDChangedEvent = 16001
    ReferenceAddedEvent = 16002
    ReferenceModifiedEvent = 16003
    ReferenceRemovedEvent = 16004
    ReferencedNodeModifiedEvent = 16005
    _hide_default = 0

    def __init__(self) -> None:
        super().__init__()
        self._id: str | None = None
        self._name: str | None = None
        self._scene = None
        self._attributes: dict[str, str] = {}
        self._references: dict[str, list[str]] = {}
        self._hide = self._hide_default
        self._selectable = 1
        self._singleton: str | None = None
        self._save_with_scene = 1
        self._description: str | None = None
        self._disable_modified = 0
        self._modified_pending = 0
        self._name_prefix = ""

    # vtkTypeMacro: class name and IsA follow the MRML class hierarchy (Python MRO here)
    def GetClassName(self) -> str:
        return type(self).__name__

    def IsA(self, name: str) -> int:
        return int(any(cls.__name__ == name for cls in type(self).__mro__) or super().IsA(name))

    def GetNodeTagName(self) -> str:
        return self.NodeTagName

    def GetDefaultNodeNamePrefix(self) -> str:
        # vtkMRMLNode.cxx: the tag name unless a prefix was set
        return self._name_prefix or self.GetNodeTagName()

    def SetDefaultNodeNamePrefix(self, prefix: str) -> None:
        self._name_prefix = prefix

    def CreateNodeInstance(self) -> vtkMRMLNode:
        return type(self)()

    # modified-event compression (vtkMRMLNode.h StartModify/EndModify/InvokePendingModifiedEvent)
    def Modified(self) -> None:
        if self._disable_modified:
            self._modified_pending += 1
        else:
            super().Modified()

    def StartModify(self) -> int:
        previous = self._disable_modified
        self._disable_modified = 1
        return previous

    def EndModify(self, previous: int) -> int:
        self._disable_modified = previous
        if not previous:
            return self.InvokePendingModifiedEvent()
        return self._modified_pending

    def InvokePendingModifiedEvent(self) -> int:
        pending = self._modified_pending
        if pending:
            self._modified_pending = 0
            super().Modified()
        return pending

    def GetDisableModifiedEvent(self) -> int:
        return self._disable_modified

    def SetDisableModifiedEvent(self, value: int) -> None:
        self._disable_modified = value

    # identity
    def GetID(self) -> str | None:
        return self._id

    def SetID(self, node_id: str) -> None:
        self._id = node_id

    def GetName(self) -> str | None:
        return self._name

    def SetName(self, name: str | None) -> None:
        if name != self._name:
            self._name = name
            self.Modified()

    def GetDescription(self) -> str | None:
        return self._description

    def SetDescription(self, text: str | None) -> None:
        if text != self._description:
            self._description = text
            self.Modified()

    def GetScene(self):
        return self._scene

    def SetScene(self, scene) -> None:
        self._scene = scene

    def GetSingletonTag(self) -> str | None:
        return self._singleton

    def SetSingletonTag(self, tag: str | None) -> None:
        self._singleton = tag

    def SetSingletonOn(self) -> None:
        self._singleton = "Singleton"

    def SetSingletonOff(self) -> None:
        self._singleton = None

    def IsSingleton(self) -> bool:
        return self._singleton is not None

    def GetHideFromEditors(self) -> int:
        return self._hide

    def SetHideFromEditors(self, value: int) -> None:
        if int(value) != self._hide:
            self._hide = int(value)
            self.Modified()

    def HideFromEditorsOn(self) -> None:
        self.SetHideFromEditors(1)

    def HideFromEditorsOff(self) -> None:
        self.SetHideFromEditors(0)

    def GetSelectable(self) -> int:
        return self._selectable

    def SetSelectable(self, value: int) -> None:
        self._selectable = int(value)

    def GetSaveWithScene(self) -> int:
        return self._save_with_scene

    def SetSaveWithScene(self, value: int) -> None:
        self._save_with_scene = int(value)

    def SaveWithSceneOff(self) -> None:
        self._save_with_scene = 0

    def SaveWithSceneOn(self) -> None:
        self._save_with_scene = 1

    def GetAddToScene(self) -> int:
        return 1

    # attributes: GetAttribute returns None when missing (const char* nullptr)
    def SetAttribute(self, name: str, value: str | None) -> None:
        if value is None:
            self.RemoveAttribute(name)
        elif self._attributes.get(name) != str(value):
            self._attributes[name] = str(value)
            self.Modified()

    def GetAttribute(self, name: str) -> str | None:
        return self._attributes.get(name)

    def RemoveAttribute(self, name: str) -> None:
        if self._attributes.pop(name, None) is not None:
            self.Modified()

    def GetAttributeNames(self) -> tuple[str, ...]:
        return tuple(self._attributes)

    # node references (vtkMRMLNode.h); referenced node is looked up in the scene by ID
    def _set_nth_reference(self, role: str, n: int, node_id: str | None):
        ids = self._references.setdefault(role, [])
        if not node_id:
            if n < len(ids):
                del ids[n]
                self.InvokeEvent(self.ReferenceRemovedEvent)
                self.Modified()
            return None
        if n < len(ids):
            if ids[n] != node_id:
                ids[n] = node_id
                self.InvokeEvent(self.ReferenceModifiedEvent)
                self.Modified()
        else:
            ids.append(node_id)
            self.InvokeEvent(self.ReferenceAddedEvent)
            self.Modified()
        return self.GetNthNodeReference(role, min(n, len(ids) - 1))

    def SetNodeReferenceID(self, role: str, node_id: str | None):
        return self._set_nth_reference(role, 0, node_id)

    def SetAndObserveNodeReferenceID(self, role: str, node_id: str | None, events=None, observe=None):
        return self._set_nth_reference(role, 0, node_id)

    def SetNthNodeReferenceID(self, role: str, n: int, node_id: str | None):
        return self._set_nth_reference(role, n, node_id)

    def SetAndObserveNthNodeReferenceID(
        self, role: str, n: int, node_id: str | None, events=None, observe=None
    ):
        return self._set_nth_reference(role, n, node_id)

    def AddNodeReferenceID(self, role: str, node_id: str):
        return self._set_nth_reference(role, len(self._references.get(role, [])), node_id)

    def AddAndObserveNodeReferenceID(self, role: str, node_id: str, events=None, observe=None):
        return self.AddNodeReferenceID(role, node_id)

    def RemoveNthNodeReferenceID(self, role: str, n: int) -> None:
        self._set_nth_reference(role, n, None)

    def RemoveNodeReferenceIDs(self, role: str | None) -> None:
        roles = list(self._references) if role is None else [role]
        for each in roles:
            while self._references.get(each):
                self._set_nth_reference(each, 0, None)

    def HasNodeReferenceID(self, role: str, node_id: str) -> bool:
        return node_id in self._references.get(role, [])

    def GetNumberOfNodeReferences(self, role: str) -> int:
        return len(self._references.get(role, []))

    def GetNthNodeReferenceID(self, role: str, n: int) -> str | None:
        ids = self._references.get(role, [])
        return ids[n] if 0 <= n < len(ids) else None

    def GetNodeReferenceID(self, role: str) -> str | None:
        return self.GetNthNodeReferenceID(role, 0)

    def GetNthNodeReference(self, role: str, n: int):
        node_id = self.GetNthNodeReferenceID(role, n)
        return self._scene.GetNodeByID(node_id) if (node_id and self._scene is not None) else None

    def GetNodeReference(self, role: str):
        return self.GetNthNodeReference(role, 0)

    def GetNodeReferenceRoles(self) -> list[str]:
        return [role for role, ids in self._references.items() if ids]

    def _drop_references_to(self, node_id: str) -> None:
        """vtkMRMLScene::RemoveNode -> UpdateReferences: references to a removed node are dropped."""
        for role, ids in self._references.items():
            while node_id in ids:
                self._set_nth_reference(role, ids.index(node_id), None)

    def UpdateNodeReferences(self) -> None:
        """Nothing to resolve: references are looked up by ID on access."""

    def Copy(self, node: vtkMRMLNode) -> None:
        """Copies attributes (a light vtkMRMLNode::Copy; ID, scene, name, singleton tag are kept)."""
        self._attributes = dict(node._attributes)
        self.Modified()


class vtkMRMLStorageNode(vtkMRMLNode):
    """vtkMRMLStorageNode: FileName (reading/writing is done by slicer.util with SimpleITK)."""

    _hide_default = 1

    def __init__(self) -> None:
        super().__init__()
        self._file_name: str | None = None

    def GetFileName(self) -> str | None:
        return self._file_name

    def SetFileName(self, name: str | None) -> None:
        self._file_name = name
        self.Modified()


class vtkMRMLVolumeArchetypeStorageNode(vtkMRMLStorageNode):
    NodeTagName = "VolumeArchetypeStorage"


class vtkMRMLSegmentationStorageNode(vtkMRMLStorageNode):
    NodeTagName = "SegmentationStorage"


class vtkMRMLTableStorageNode(vtkMRMLStorageNode):
    NodeTagName = "TableStorage"


class vtkMRMLStorableNode(vtkMRMLNode):
    """vtkMRMLStorableNode: storage node references (role "storage")."""

    _storage_class: type | None = None

    def SetAndObserveStorageNodeID(self, node_id: str | None) -> None:
        self.SetNodeReferenceID("storage", node_id)

    def AddAndObserveStorageNodeID(self, node_id: str) -> None:
        self.AddNodeReferenceID("storage", node_id)

    def GetStorageNodeID(self) -> str | None:
        return self.GetNodeReferenceID("storage")

    def GetStorageNode(self):
        return self.GetNodeReference("storage")

    def GetNumberOfStorageNodes(self) -> int:
        return self.GetNumberOfNodeReferences("storage")

    def CreateDefaultStorageNode(self):
        """A new storage node that is not added to the scene (as in C++)."""
        return self._storage_class() if self._storage_class else None

    def AddDefaultStorageNode(self, fileName: str | None = None) -> bool:
        if self.GetStorageNode() is not None:
            return True
        storage = self.CreateDefaultStorageNode()
        if storage is None or self._scene is None:
            return False
        if fileName:
            storage.SetFileName(fileName)
        self._scene.AddNode(storage)
        self.SetAndObserveStorageNodeID(storage.GetID())
        return True

    def StorableModified(self) -> None:
        """Marks the data as modified since read (no-op bookkeeping here)."""


class vtkMRMLTransformableNode(vtkMRMLStorableNode):
    """vtkMRMLTransformableNode: parent transform reference (role "transform"); None unless set."""

    TransformModifiedEvent = 15000

    def SetAndObserveTransformNodeID(self, node_id: str | None) -> bool:
        self.SetNodeReferenceID("transform", node_id or None)
        return True

    def GetTransformNodeID(self) -> str | None:
        return self.GetNodeReferenceID("transform")

    def GetParentTransformNode(self):
        return self.GetNodeReference("transform")


class vtkMRMLDisplayableNode(vtkMRMLTransformableNode):
    """vtkMRMLDisplayableNode: display node references (role "display")."""

    DisplayModifiedEvent = 17000

    def SetAndObserveDisplayNodeID(self, node_id: str | None) -> None:
        self.SetNodeReferenceID("display", node_id)

    def AddAndObserveDisplayNodeID(self, node_id: str) -> None:
        self.AddNodeReferenceID("display", node_id)

    def SetAndObserveNthDisplayNodeID(self, n: int, node_id: str | None) -> None:
        self.SetNthNodeReferenceID("display", n, node_id)

    def RemoveAllDisplayNodeIDs(self) -> None:
        self.RemoveNodeReferenceIDs("display")

    def GetDisplayNodeID(self) -> str | None:
        return self.GetNodeReferenceID("display")

    def GetNthDisplayNodeID(self, n: int) -> str | None:
        return self.GetNthNodeReferenceID("display", n)

    def GetNumberOfDisplayNodes(self) -> int:
        return self.GetNumberOfNodeReferences("display")

    def GetDisplayNode(self):
        return self.GetNodeReference("display")

    def GetNthDisplayNode(self, n: int):
        return self.GetNthNodeReference("display", n)

    def CreateDefaultDisplayNodes(self) -> None:
        """Overridden by subclasses that have a default display node."""

    def GetDisplayVisibility(self) -> int:
        display = self.GetDisplayNode()
        return display.GetVisibility() if display is not None else 0

    def SetDisplayVisibility(self, visible: int) -> None:
        for n in range(self.GetNumberOfDisplayNodes()):
            display = self.GetNthDisplayNode(n)
            if display is not None:
                display.SetVisibility(visible)


# ----------------------------------------------------------------------------------------------- color
class vtkMRMLColorNode(vtkMRMLStorableNode):
    """vtkMRMLColorNode: HideFromEditors on by default; a vtkLookupTable."""

    NodeTagName = "Color"
    _hide_default = 1
    User = 13
    File = 14

    def __init__(self) -> None:
        super().__init__()
        self._type = -1
        self._lookup_table = vtk.vtkLookupTable()

    def GetType(self) -> int:
        return self._type

    def GetLookupTable(self) -> vtk.vtkLookupTable:
        return self._lookup_table

    def GetNumberOfColors(self) -> int:
        return self._lookup_table.GetNumberOfTableValues()


class vtkMRMLColorTableNode(vtkMRMLColorNode):
    """vtkMRMLColorTableNode with the type enum of vtkMRMLColorTableNode.h."""

    NodeTagName = "ColorTable"
    _TYPE_NAMES: ClassVar[dict[int, str]] = {
        0: "FullRainbow",
        1: "Grey",
        2: "Iron",
        3: "Rainbow",
        4: "Ocean",
        5: "Desert",
        6: "InvertedGrey",
        7: "ReverseRainbow",
        8: "fMRI",
        9: "fMRIPA",
        10: "Labels",
        12: "Random",
        13: "User",
        14: "File",
        15: "Red",
        16: "Green",
        17: "Blue",
        18: "Yellow",
        19: "Cyan",
        20: "Magenta",
        21: "Warm1",
        22: "Warm2",
        23: "Warm3",
        24: "Cool1",
        25: "Cool2",
        26: "Cool3",
        27: "WarmShade1",
        28: "WarmShade2",
        29: "WarmShade3",
        30: "CoolShade1",
        31: "CoolShade2",
        32: "CoolShade3",
        33: "WarmTint1",
        34: "WarmTint2",
        35: "WarmTint3",
        36: "CoolTint1",
        37: "CoolTint2",
        38: "CoolTint3",
    }
    FullRainbow, Grey, Iron, Rainbow, Ocean, Desert, InvGrey, ReverseRainbow, FMRI, FMRIPA, Labels = range(11)
    Obsolete, Random = 11, 12

    def SetType(self, type_id: int) -> None:
        self._type = int(type_id)
        table = self._lookup_table
        if self._type == self.Grey:
            table.SetNumberOfTableValues(256)
            table.SetTableRange(0, 255)
            table.SetHueRange(0, 0)
            table.SetSaturationRange(0, 0)
            table.SetValueRange(0, 1)
            table.Build()
        self.Modified()

    def SetTypeToLabels(self) -> None:
        self.SetType(self.Labels)

    def SetTypeToGrey(self) -> None:
        self.SetType(self.Grey)

    def SetTypeToUser(self) -> None:
        self.SetType(self.User)

    def GetTypeAsString(self) -> str:
        return self._TYPE_NAMES.get(self._type, "(unknown)")

    def SetNumberOfColors(self, n: int) -> None:
        self._lookup_table.SetNumberOfTableValues(n)

    def SetColor(self, entry: int, name_or_r, *rgba) -> int:
        """SetColor(entry, r, g, b[, a]) or SetColor(entry, name, r, g, b[, a])."""
        values = list(rgba) if isinstance(name_or_r, str) else [name_or_r, *rgba]
        if entry >= self._lookup_table.GetNumberOfTableValues():
            self._lookup_table.SetNumberOfTableValues(entry + 1)
        self._lookup_table.SetTableValue(entry, *([*values, 1.0])[:4])
        return 1


class vtkMRMLProceduralColorNode(vtkMRMLColorNode):
    NodeTagName = "ProceduralColor"

    def GetTypeAsString(self) -> str:
        return self.GetName() or "(unknown)"


class vtkMRMLColorLogic:
    """Libs/MRML/Logic/vtkMRMLColorLogic.cxx: default color node IDs and the startup color nodes."""

    @staticmethod
    def GetColorTableNodeID(type_id: int) -> str:
        return "vtkMRMLColorTableNode" + vtkMRMLColorTableNode._TYPE_NAMES[type_id]

    @staticmethod
    def GetProceduralColorNodeID(name: str) -> str:
        return "vtkMRMLProceduralColorNode" + name

    @staticmethod
    def GetDefaultVolumeColorNodeID() -> str:
        return vtkMRMLColorLogic.GetColorTableNodeID(vtkMRMLColorTableNode.Grey)

    @staticmethod
    def GetDefaultLabelMapColorNodeID() -> str:
        return vtkMRMLColorLogic.GetProceduralColorNodeID("RandomIntegers")

    @staticmethod
    def AddDefaultColorNodes(scene: vtkMRMLScene) -> None:
        """Labels first, then every table type except Labels/Obsolete/User/File, then the procedural
        RandomIntegers and RedGreenBlue nodes; all singletons named and tagged by their type."""
        scene.StartState(scene.BatchProcessState)
        types = [vtkMRMLColorTableNode.Labels] + [
            t for t in vtkMRMLColorTableNode._TYPE_NAMES if t not in (10, 11, 13, 14)
        ]
        for type_id in types:
            node = vtkMRMLColorTableNode()
            node.SetType(type_id)
            node.SetAttribute("Category", "Discrete")
            node.SaveWithSceneOff()
            node.SetName(node.GetTypeAsString())
            node.SetSingletonTag(node.GetTypeAsString())
            scene.AddNode(node)
        for name in ("RandomIntegers", "RedGreenBlue"):
            node = vtkMRMLProceduralColorNode()
            node.SetName(name)
            node.SetSingletonTag(name)
            node.SaveWithSceneOff()
            scene.AddNode(node)
        scene.EndState(scene.BatchProcessState)


# ----------------------------------------------------------------------------------------------- display
class vtkMRMLDisplayNode(vtkMRMLNode):
    """vtkMRMLDisplayNode: visibility, opacity, color node reference (role "colorNodeID")."""

    _hide_default = 1

    def __init__(self) -> None:
        super().__init__()
        self._visibility, self._visibility2d, self._visibility3d = 1, 1, 1
        self._opacity = 1.0
        self._color = (0.5, 0.5, 0.5)

    def GetVisibility(self) -> int:
        return self._visibility

    def SetVisibility(self, value: int) -> None:
        if int(value) != self._visibility:
            self._visibility = int(value)
            self.Modified()

    def VisibilityOn(self) -> None:
        self.SetVisibility(1)

    def VisibilityOff(self) -> None:
        self.SetVisibility(0)

    def GetVisibility2D(self) -> int:
        return self._visibility2d

    def SetVisibility2D(self, value: int) -> None:
        self._visibility2d = int(value)
        self.Modified()

    def GetVisibility3D(self) -> int:
        return self._visibility3d

    def SetVisibility3D(self, value: int) -> None:
        self._visibility3d = int(value)
        self.Modified()

    def GetOpacity(self) -> float:
        return self._opacity

    def SetOpacity(self, value: float) -> None:
        self._opacity = float(value)
        self.Modified()

    def GetColor(self) -> tuple[float, float, float]:
        return self._color

    def SetColor(self, r, g=None, b=None) -> None:
        self._color = tuple(float(v) for v in (r if g is None else (r, g, b)))
        self.Modified()

    def SetAndObserveColorNodeID(self, node_id: str | None) -> None:
        self.SetNodeReferenceID("colorNodeID", node_id)

    def GetColorNodeID(self) -> str | None:
        return self.GetNodeReferenceID("colorNodeID")

    def GetColorNode(self):
        return self.GetNodeReference("colorNodeID")

    def GetDisplayableNode(self):
        """The node in the scene that references this display node."""
        if self._scene is None:
            return None
        for node in self._scene._nodes:
            if isinstance(node, vtkMRMLDisplayableNode) and node.HasNodeReferenceID("display", self._id):
                return node
        return None

    def SetDefaultColorMap(self) -> None:
        """Overridden by volume display nodes."""


class vtkMRMLVolumeDisplayNode(vtkMRMLDisplayNode):
    def SetDefaultColorMap(self) -> None:
        # vtkMRMLVolumeDisplayNode.cxx
        self.SetAndObserveColorNodeID("vtkMRMLColorTableNodeGrey")

    def GetVolumeNode(self):
        return self.GetDisplayableNode()


class vtkMRMLScalarVolumeDisplayNode(vtkMRMLVolumeDisplayNode):
    """Window/level as vtkMRMLScalarVolumeDisplayNode.cxx: initial window 256 / level 128, AutoWindowLevel
    on; while it is on, every Modified of the node (and every image change) recomputes window/level from
    the 0.1-99.9 % intensity range (vtkImageHistogramStatistics), so SetWindowLevel only sticks after
    SetAutoWindowLevel(0)."""

    NodeTagName = "VolumeDisplay"

    def __init__(self) -> None:
        super().__init__()
        self._auto_window_level = 1
        self._window, self._level = 256.0, 128.0
        self._in_auto = False
        self._interpolate = 1
        self.AddObserver(vtk.vtkCommand.ModifiedEvent, self._on_self_modified)

    def _on_self_modified(self, _caller, _event) -> None:
        if not self._in_auto:
            was = self._disable_modified
            self._disable_modified = 1
            self.CalculateAutoLevels()
            self._disable_modified = was

    def CalculateAutoLevels(self) -> None:
        if not self._auto_window_level:
            return
        volume = self.GetVolumeNode()
        image = volume.GetImageData() if volume is not None else None
        if image is None or image.GetPointData().GetScalars() is None:
            return
        statistics = vtk.vtkImageHistogramStatistics()
        statistics.SetAutoRangePercentiles(0.1, 99.9)
        statistics.SetAutoRangeExpansionFactors(0.0, 0.0)
        statistics.SetInputData(image)
        statistics.Update()
        low, high = statistics.GetAutoRange()
        self._in_auto = True
        was = self.StartModify()
        self.SetWindowLevelMinMax(low, high)
        self.EndModify(was)
        self._in_auto = False

    def GetAutoWindowLevel(self) -> int:
        return self._auto_window_level

    def SetAutoWindowLevel(self, value: int) -> None:
        if int(value) != self._auto_window_level:
            self._auto_window_level = int(value)
            self.Modified()

    def AutoWindowLevelOn(self) -> None:
        self.SetAutoWindowLevel(1)

    def AutoWindowLevelOff(self) -> None:
        self.SetAutoWindowLevel(0)

    def GetWindow(self) -> float:
        return self._window

    def GetLevel(self) -> float:
        return self._level

    def SetWindow(self, window: float) -> None:
        if self._window != window:
            self._window = float(window)
            self.Modified()

    def SetLevel(self, level: float) -> None:
        if self._level != level:
            self._level = float(level)
            self.Modified()

    def SetWindowLevel(self, window: float, level: float) -> None:
        if self._window == window and self._level == level:
            return
        self._window, self._level = float(window), float(level)
        self.Modified()

    def SetWindowLevelMinMax(self, low: float, high: float) -> None:
        self.SetWindowLevel(high - low, 0.5 * (low + high))

    def GetWindowLevelMin(self) -> float:
        return self._level - 0.5 * self._window

    def GetWindowLevelMax(self) -> float:
        return self._level + 0.5 * self._window

    def GetInterpolate(self) -> int:
        return self._interpolate

    def SetInterpolate(self, value: int) -> None:
        self._interpolate = int(value)
        self.Modified()

    def SetDefaultColorMap(self) -> None:
        self.SetAndObserveColorNodeID("vtkMRMLColorTableNodeGrey")


class vtkMRMLLabelMapVolumeDisplayNode(vtkMRMLVolumeDisplayNode):
    """Derives from vtkMRMLVolumeDisplayNode (no window/level); default colors "Labels"."""

    NodeTagName = "LabelMapVolumeDisplay"

    def SetDefaultColorMap(self) -> None:
        self.SetAndObserveColorNodeID("vtkMRMLColorTableNodeLabels")


class vtkMRMLGlyphableVolumeDisplayNode(vtkMRMLScalarVolumeDisplayNode):
    NodeTagName = "GlyphableVolumeDisplay"


class vtkMRMLVectorVolumeDisplayNode(vtkMRMLGlyphableVolumeDisplayNode):
    NodeTagName = "VectorVolumeDisplay"


class vtkMRMLSegmentationDisplayNode(vtkMRMLDisplayNode):
    """vtkMRMLSegmentationDisplayNode: 2D fill/outline, opacities, per-segment visibility."""

    NodeTagName = "SegmentationDisplay"

    def __init__(self) -> None:
        super().__init__()
        self._fill, self._outline = True, True
        self._opacity3d, self._opacity2d_fill, self._opacity2d_outline = 1.0, 0.5, 1.0
        self._segment_visibility: dict[str, bool] = {}
        self._segment_opacity: dict[str, float] = {}

    def GetVisibility2DFill(self) -> bool:
        return self._fill

    def SetVisibility2DFill(self, value: bool) -> None:
        self._fill = bool(value)
        self.Modified()

    def GetVisibility2DOutline(self) -> bool:
        return self._outline

    def SetVisibility2DOutline(self, value: bool) -> None:
        self._outline = bool(value)
        self.Modified()

    def GetOpacity3D(self) -> float:
        return self._opacity3d

    def SetOpacity3D(self, value: float) -> None:
        self._opacity3d = float(value)
        self.Modified()

    def GetOpacity2DFill(self) -> float:
        return self._opacity2d_fill

    def SetOpacity2DFill(self, value: float) -> None:
        self._opacity2d_fill = float(value)
        self.Modified()

    def GetOpacity2DOutline(self) -> float:
        return self._opacity2d_outline

    def SetOpacity2DOutline(self, value: float) -> None:
        self._opacity2d_outline = float(value)
        self.Modified()

    def GetSegmentVisibility(self, segment_id: str) -> bool:
        return self._segment_visibility.get(segment_id, True)

    def SetSegmentVisibility(self, segment_id: str, visible: bool) -> None:
        self._segment_visibility[segment_id] = bool(visible)
        self.Modified()

    def SetAllSegmentsVisibility(self, visible: bool) -> None:
        segmentation_node = self.GetDisplayableNode()
        for segment_id in segmentation_node.GetSegmentation().GetSegmentIDs() if segmentation_node else []:
            self._segment_visibility[segment_id] = bool(visible)
        self.Modified()

    def GetSegmentOpacity3D(self, segment_id: str) -> float:
        return self._segment_opacity.get(segment_id, 1.0)

    def SetSegmentOpacity3D(self, segment_id: str, opacity: float) -> None:
        self._segment_opacity[segment_id] = float(opacity)
        self.Modified()

    def SetSegmentOpacity(self, segment_id: str, opacity: float) -> None:
        self.SetSegmentOpacity3D(segment_id, opacity)

    def GetVisibleSegmentIDs(self, segment_ids=None):
        segmentation_node = self.GetDisplayableNode()
        ids = segmentation_node.GetSegmentation().GetSegmentIDs() if segmentation_node else ()
        visible = [s for s in ids if self.GetSegmentVisibility(s)]
        if segment_ids is None:
            return tuple(visible)
        for segment_id in visible:
            segment_ids.InsertNextValue(segment_id)
        return None


# ----------------------------------------------------------------------------------------------- volumes
class vtkMRMLVolumeNode(vtkMRMLDisplayableNode):
    """vtkMRMLVolumeNode.cxx: image data (origin 0, spacing 1, identity direction) + spacing, origin,
    IJKToRASDirections[row][col] (column c is the direction of axis c)."""

    ImageDataModifiedEvent = 18001
    _display_class: type | None = None
    _storage_class = vtkMRMLVolumeArchetypeStorageNode

    def __init__(self) -> None:
        super().__init__()
        self._spacing = (1.0, 1.0, 1.0)
        self._origin = (0.0, 0.0, 0.0)
        self._directions = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
        self._image_data: vtk.vtkImageData | None = None
        self._image_observer: int | None = None

    def GetSpacing(self) -> tuple[float, float, float]:
        return self._spacing

    def SetSpacing(self, *args) -> None:
        spacing = tuple(float(v) for v in (args[0] if len(args) == 1 else args))
        if spacing != self._spacing:
            self._spacing = spacing
            self.Modified()

    def GetOrigin(self) -> tuple[float, float, float]:
        return self._origin

    def SetOrigin(self, *args) -> None:
        origin = tuple(float(v) for v in (args[0] if len(args) == 1 else args))
        if origin != self._origin:
            self._origin = origin
            self.Modified()

    def GetMinSpacing(self) -> float:
        return min(self._spacing)

    def GetMaxSpacing(self) -> float:
        return max(self._spacing)

    def SetIJKToRASDirections(self, *args) -> None:
        """SetIJKToRASDirections(dirs[3][3]) or (ir, jr, kr, ia, ja, ka, is, js, ks) (row by row)."""
        flat = [float(v) for v in (np.asarray(args[0], float).ravel() if len(args) == 1 else args)]
        dirs = [flat[0:3], flat[3:6], flat[6:9]]
        if dirs != self._directions:
            self._directions = dirs
            self.Modified()

    def GetIJKToRASDirections(self, dirs=None):
        """Fills a 3x3 nested list in place (as VTK's wrapping does) and also returns the rows."""
        if dirs is not None:
            for r in range(3):
                for c in range(3):
                    dirs[r][c] = self._directions[r][c]
        return tuple(tuple(row) for row in self._directions)

    def SetIToRASDirection(self, r, a, s) -> None:
        self._set_axis_direction(0, (r, a, s))

    def SetJToRASDirection(self, r, a, s) -> None:
        self._set_axis_direction(1, (r, a, s))

    def SetKToRASDirection(self, r, a, s) -> None:
        self._set_axis_direction(2, (r, a, s))

    def _set_axis_direction(self, axis: int, values) -> None:
        dirs = [list(row) for row in self._directions]
        for r in range(3):
            dirs[r][axis] = float(values[r])
        self.SetIJKToRASDirections(dirs)

    def _axis_direction(self, axis: int, out=None):
        values = [self._directions[r][axis] for r in range(3)]
        if out is not None:
            out[:] = values
        return tuple(values)

    def GetIToRASDirection(self, out=None):
        return self._axis_direction(0, out)

    def GetJToRASDirection(self, out=None):
        return self._axis_direction(1, out)

    def GetKToRASDirection(self, out=None):
        return self._axis_direction(2, out)

    def GetIJKToRASDirectionMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        # only the upper 3x3 is written, the rest of the caller's matrix is kept
        for r in range(3):
            for c in range(3):
                matrix.SetElement(r, c, self._directions[r][c])

    def SetIJKToRASDirectionMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        self.SetIJKToRASDirections([[matrix.GetElement(r, c) for c in range(3)] for r in range(3)])

    def GetIJKToRASMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        matrix.Identity()
        for r in range(3):
            for c in range(3):
                matrix.SetElement(r, c, self._spacing[c] * self._directions[r][c])
            matrix.SetElement(r, 3, self._origin[r])

    def GetRASToIJKMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        self.GetIJKToRASMatrix(matrix)
        matrix.Invert()

    def SetIJKToRASMatrix(self, matrix: vtk.vtkMatrix4x4 | None) -> None:
        """Columns are normalised: their norms become the spacing, column 3 the origin."""
        if matrix is None:
            return
        m = _matrix_to_array(matrix)
        spacing = [float(np.sqrt(sum(m[r, c] * m[r, c] for r in range(3)))) for c in range(3)]
        dirs = [[m[r, c] / spacing[c] for c in range(3)] for r in range(3)]
        was = self.StartModify()
        self.SetSpacing(spacing)
        self.SetIJKToRASDirections(dirs)
        self.SetOrigin(m[0, 3], m[1, 3], m[2, 3])
        self.EndModify(was)

    def SetRASToIJKMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        inverse = vtk.vtkMatrix4x4()
        vtk.vtkMatrix4x4.Invert(matrix, inverse)
        self.SetIJKToRASMatrix(inverse)

    def CopyOrientation(self, node: vtkMRMLVolumeNode) -> None:
        was = self.StartModify()
        self.SetIJKToRASDirections(node._directions)
        self.SetOrigin(node.GetOrigin())
        self.SetSpacing(node.GetSpacing())
        self.EndModify(was)

    # image data
    def SetAndObserveImageData(self, image: vtk.vtkImageData | None) -> None:
        if image is self._image_data:
            return
        if self._image_data is not None and self._image_observer is not None:
            self._image_data.RemoveObserver(self._image_observer)
            self._image_observer = None
        self._image_data = image
        if image is not None:
            self._image_observer = image.AddObserver(vtk.vtkCommand.ModifiedEvent, self._on_image_modified)
        self.StorableModified()
        self.Modified()
        self.InvokeEvent(self.ImageDataModifiedEvent, self)

    def _on_image_modified(self, _caller, _event) -> None:
        self.InvokeEvent(self.ImageDataModifiedEvent, self)

    def _update_display_auto_levels(self) -> None:
        for n in range(self.GetNumberOfDisplayNodes()):
            display = self.GetNthDisplayNode(n)
            if isinstance(display, vtkMRMLScalarVolumeDisplayNode):
                display.CalculateAutoLevels()

    def InvokeEvent(self, event, *call_data):
        """ImageDataModifiedEvent also reaches the display nodes (their auto window/level)."""
        result = super().InvokeEvent(event, *call_data)
        if event == self.ImageDataModifiedEvent:
            self._update_display_auto_levels()
        return result

    def GetImageData(self) -> vtk.vtkImageData | None:
        return self._image_data

    def GetVolumeDisplayNode(self):
        display = self.GetDisplayNode()
        return display if isinstance(display, vtkMRMLVolumeDisplayNode) else None

    def CreateDefaultDisplayNodes(self) -> None:
        """vtkMRML*VolumeNode::CreateDefaultDisplayNodes: add the class's display node, default colors."""
        display_class = self._display_class
        if display_class is None or isinstance(self.GetDisplayNode(), display_class):
            return
        if self._scene is None:
            vtk.vtkOutputWindow.GetInstance().DisplayErrorText(
                f"{self.GetClassName()}::CreateDefaultDisplayNodes failed: scene is invalid"
            )
            return
        display = self._scene.AddNewNodeByClass(display_class.__name__)
        if not display.GetColorNodeID():
            display.SetDefaultColorMap()
        self.SetAndObserveDisplayNodeID(display.GetID())
        if isinstance(display, vtkMRMLScalarVolumeDisplayNode):
            display.CalculateAutoLevels()


class vtkMRMLScalarVolumeNode(vtkMRMLVolumeNode):
    NodeTagName = "Volume"
    _display_class = vtkMRMLScalarVolumeDisplayNode


class vtkMRMLLabelMapVolumeNode(vtkMRMLScalarVolumeNode):
    NodeTagName = "LabelMapVolume"
    _display_class = vtkMRMLLabelMapVolumeDisplayNode


class vtkMRMLTensorVolumeNode(vtkMRMLScalarVolumeNode):
    NodeTagName = "TensorVolume"


class vtkMRMLVectorVolumeNode(vtkMRMLTensorVolumeNode):
    """Derives from vtkMRMLTensorVolumeNode -> vtkMRMLScalarVolumeNode (so IsA('vtkMRMLScalarVolumeNode'))."""

    NodeTagName = "VectorVolume"
    _display_class = vtkMRMLVectorVolumeDisplayNode


# ----------------------------------------------------------------------------------------------- misc nodes
class vtkMRMLScriptedModuleNode(vtkMRMLNode):
    """vtkMRMLScriptedModuleNode: string parameters; GetParameter returns "" when unset."""

    NodeTagName = "ScriptedModule"
    _hide_default = 1

    def __init__(self) -> None:
        super().__init__()
        self._parameters: dict[str, str] = {}
        self._module_name: str | None = None

    def GetModuleName(self) -> str | None:
        return self._module_name

    def SetModuleName(self, name: str | None) -> None:
        self._module_name = name
        self.Modified()

    def HasParameter(self, name: str) -> bool:
        return name in self._parameters

    def SetParameter(self, name: str, value: str) -> None:
        value = str(value)
        if self._parameters.get(name) != value:
            self._parameters[name] = value
            self.Modified()

    def GetParameter(self, name: str) -> str:
        return self._parameters.get(name, "")

    def UnsetParameter(self, name: str) -> None:
        if self._parameters.pop(name, None) is not None:
            self.Modified()

    def UnsetAllParameters(self) -> None:
        if self._parameters:
            self._parameters.clear()
            self.Modified()

    def GetParameterCount(self) -> int:
        return len(self._parameters)

    def GetParameterNames(self) -> tuple[str, ...]:
        return tuple(self._parameters)


class vtkMRMLTableNode(vtkMRMLStorableNode):
    """vtkMRMLTableNode: a real vtkTable; AddColumn(None) adds a vtkStringArray filled with empty rows."""

    NodeTagName = "Table"
    _storage_class = vtkMRMLTableStorageNode

    def __init__(self) -> None:
        super().__init__()
        self._table = vtk.vtkTable()

    def GetTable(self) -> vtk.vtkTable:
        return self._table

    def SetAndObserveTable(self, table: vtk.vtkTable) -> None:
        self._table = table
        self.Modified()

    def AddColumn(self, column=None):
        if column is None:
            column = vtk.vtkStringArray()
            column.SetNumberOfTuples(self._table.GetNumberOfRows())
        elif (
            self._table.GetNumberOfColumns() > 0
            and column.GetNumberOfTuples() != self._table.GetNumberOfRows()
        ):
            column.SetNumberOfTuples(max(column.GetNumberOfTuples(), self._table.GetNumberOfRows()))
        self._table.AddColumn(column)
        self.Modified()
        return column

    def RemoveAllColumns(self) -> bool:
        while self._table.GetNumberOfColumns():
            self._table.RemoveColumn(0)
        self.Modified()
        return True

    def RemoveColumn(self, index: int) -> bool:
        self._table.RemoveColumn(index)
        self.Modified()
        return True

    def GetNumberOfColumns(self) -> int:
        return self._table.GetNumberOfColumns()

    def GetNumberOfRows(self) -> int:
        return self._table.GetNumberOfRows()

    def GetColumnName(self, index: int) -> str:
        return self._table.GetColumnName(index) or ""

    def AddEmptyRow(self) -> int:
        self._table.InsertNextBlankRow()
        self.Modified()
        return self._table.GetNumberOfRows() - 1

    def GetCellText(self, row: int, column: int) -> str:
        return self._table.GetValue(row, column).ToString()

    def SetCellText(self, row: int, column: int, text: str) -> bool:
        self._table.SetValue(row, column, vtk.vtkVariant(text))
        self.Modified()
        return True


class vtkMRMLSliceCompositeNode(vtkMRMLNode):
    """vtkMRMLSliceCompositeNode: the layers of one slice view (Red/Yellow/Green singletons)."""

    NodeTagName = "SliceComposite"
    _hide_default = 1

    def __init__(self) -> None:
        super().__init__()
        self._layers = {"background": None, "foreground": None, "label": None}
        self._foreground_opacity, self._label_opacity = 0.0, 1.0

    def _set_layer(self, layer: str, node_id: str | None) -> None:
        if self._layers[layer] != node_id:
            self._layers[layer] = node_id
            self.Modified()

    def SetBackgroundVolumeID(self, node_id: str | None) -> None:
        self._set_layer("background", node_id)

    def GetBackgroundVolumeID(self) -> str | None:
        return self._layers["background"]

    def SetForegroundVolumeID(self, node_id: str | None) -> None:
        self._set_layer("foreground", node_id)

    def GetForegroundVolumeID(self) -> str | None:
        return self._layers["foreground"]

    def SetLabelVolumeID(self, node_id: str | None) -> None:
        self._set_layer("label", node_id)

    def GetLabelVolumeID(self) -> str | None:
        return self._layers["label"]

    def SetForegroundOpacity(self, value: float) -> None:
        self._foreground_opacity = float(value)
        self.Modified()

    def GetForegroundOpacity(self) -> float:
        return self._foreground_opacity

    def SetLabelOpacity(self, value: float) -> None:
        self._label_opacity = float(value)
        self.Modified()

    def GetLabelOpacity(self) -> float:
        return self._label_opacity

    def GetLayoutName(self) -> str | None:
        return self._singleton


# ----------------------------------------------------------------------------------------------- segmentation
class vtkOrientedImageData(vtk.vtkImageData):
    """Libs/vtkSegmentationCore/vtkOrientedImageData: vtkImageData + 3x3 directions; image-to-world
    matrix = directions * spacing, origin."""

    def __init__(self) -> None:
        super().__init__()
        self._dirs = np.eye(3)

    def GetClassName(self) -> str:
        return "vtkOrientedImageData"

    def SetDirections(self, dirs) -> None:
        self._dirs = np.array(dirs, float).reshape(3, 3)

    def GetDirections(self, dirs=None):
        if dirs is not None:
            for r in range(3):
                for c in range(3):
                    dirs[r][c] = self._dirs[r, c]
        return tuple(tuple(row) for row in self._dirs)

    def GetImageToWorldMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        spacing, origin = self.GetSpacing(), self.GetOrigin()
        m = np.eye(4)
        m[:3, :3] = self._dirs * np.array(spacing)[None, :]
        m[:3, 3] = origin
        _array_to_matrix(m, matrix)

    def SetImageToWorldMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        self.SetGeometryFromImageToWorldMatrix(matrix)

    def SetGeometryFromImageToWorldMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        m = _matrix_to_array(matrix)
        spacing = np.sqrt((m[:3, :3] ** 2).sum(axis=0))
        self._dirs = m[:3, :3] / spacing[None, :]
        self.SetSpacing(*spacing)
        self.SetOrigin(*m[:3, 3])

    def GetWorldToImageMatrix(self, matrix: vtk.vtkMatrix4x4) -> None:
        self.GetImageToWorldMatrix(matrix)
        matrix.Invert()

    def DeepCopy(self, source) -> None:
        super().DeepCopy(source)
        if isinstance(source, vtkOrientedImageData):
            self._dirs = source._dirs.copy()

    def ShallowCopy(self, source) -> None:
        super().ShallowCopy(source)
        if isinstance(source, vtkOrientedImageData):
            self._dirs = source._dirs.copy()

    def IsEmpty(self) -> bool:
        extent = self.GetExtent()
        return (
            any(extent[2 * i] > extent[2 * i + 1] for i in range(3))
            or self.GetPointData().GetScalars() is None
        )


def _image_to_world(image: vtkOrientedImageData) -> np.ndarray:
    matrix = vtk.vtkMatrix4x4()
    image.GetImageToWorldMatrix(matrix)
    return _matrix_to_array(matrix)


def _image_array(image: vtk.vtkImageData) -> np.ndarray:
    """Voxels in (k, j, i) order (a view on the VTK memory)."""
    dims = image.GetDimensions()
    return numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[::-1])


def _make_oriented(array: np.ndarray, image_to_world: np.ndarray, extent_start=(0, 0, 0), vtk_type=None):
    image = vtkOrientedImageData()
    k, j, i = array.shape
    image.SetExtent(
        extent_start[0],
        extent_start[0] + i - 1,
        extent_start[1],
        extent_start[1] + j - 1,
        extent_start[2],
        extent_start[2] + k - 1,
    )
    image.AllocateScalars(vtk_type or numpy_support.get_vtk_array_type(array.dtype), 1)
    _image_array(image)[:] = array
    image.SetGeometryFromImageToWorldMatrix(_array_to_matrix(image_to_world))
    return image


def _resample_nearest(source: vtkOrientedImageData, target_to_world: np.ndarray, target_extent, dtype):
    """Nearest-neighbour resampling of ``source`` onto a target grid (vtkOrientedImageDataResample uses
    vtkImageReslice with nearest interpolation; voxel centres round with floor(x + 0.5))."""
    shape = (
        target_extent[5] - target_extent[4] + 1,
        target_extent[3] - target_extent[2] + 1,
        target_extent[1] - target_extent[0] + 1,
    )
    out = np.zeros(shape, dtype)
    if source.IsEmpty():
        return out
    src = _image_array(source)
    src_extent = source.GetExtent()
    source_to_world = _image_to_world(source)
    if np.array_equal(source_to_world, target_to_world) and tuple(src_extent) == tuple(target_extent):
        return src.astype(dtype)
    world_to_source = np.linalg.inv(source_to_world)
    kk, jj, ii = np.meshgrid(
        *(np.arange(target_extent[2 * a], target_extent[2 * a + 1] + 1) for a in (2, 1, 0)), indexing="ij"
    )
    points = np.stack([ii.ravel(), jj.ravel(), kk.ravel(), np.ones(ii.size)])
    ijk = (world_to_source @ target_to_world @ points)[:3]
    ijk = np.floor(ijk + 0.5 + 1e-9).astype(np.int64)
    inside = np.ones(ijk.shape[1], bool)
    for axis in range(3):
        inside &= (ijk[axis] >= src_extent[2 * axis]) & (ijk[axis] <= src_extent[2 * axis + 1])
    values = np.zeros(ijk.shape[1], src.dtype)
    values[inside] = src[
        ijk[2, inside] - src_extent[4], ijk[1, inside] - src_extent[2], ijk[0, inside] - src_extent[0]
    ]
    return values.reshape(shape).astype(dtype)


class vtkSegmentationConverter:
    """Representation and parameter names of vtkSegmentationConverter.h, image-geometry (de)serialisation
    of vtkSegmentationConverter.cxx (16 matrix elements then 6 extent values, each followed by ";")."""

    @staticmethod
    def GetSegmentationBinaryLabelmapRepresentationName() -> str:
        return "Binary labelmap"

    @staticmethod
    def GetSegmentationClosedSurfaceRepresentationName() -> str:
        return "Closed surface"

    @staticmethod
    def GetSegmentationFractionalLabelmapRepresentationName() -> str:
        return "Fractional labelmap"

    @staticmethod
    def GetSegmentationPlanarContourRepresentationName() -> str:
        return "Planar contour"

    GetBinaryLabelmapRepresentationName = GetSegmentationBinaryLabelmapRepresentationName
    GetClosedSurfaceRepresentationName = GetSegmentationClosedSurfaceRepresentationName

    @staticmethod
    def GetReferenceImageGeometryParameterName() -> str:
        return "Reference image geometry"

    @staticmethod
    def SerializeImageGeometry(matrix: vtk.vtkMatrix4x4, image_or_extent) -> str:
        extent = image_or_extent.GetExtent() if hasattr(image_or_extent, "GetExtent") else image_or_extent
        values = [repr(matrix.GetElement(r, c)) for r in range(4) for c in range(4)]
        return "".join(f"{v};" for v in values + [str(int(e)) for e in extent])

    @staticmethod
    def DeserializeImageGeometry(text: str) -> tuple[np.ndarray, tuple[int, ...]]:
        parts = [p for p in text.split(";") if p != ""]
        return np.array([float(p) for p in parts[:16]]).reshape(4, 4), tuple(int(p) for p in parts[16:22])


_BINARY = vtkSegmentationConverter.GetSegmentationBinaryLabelmapRepresentationName()
_SURFACE = vtkSegmentationConverter.GetSegmentationClosedSurfaceRepresentationName()


class vtkSegment(vtk.vtkObject):
    """Libs/vtkSegmentationCore/vtkSegment: name, color (invalid = 0.5 grey), tags, representations."""

    SEGMENT_COLOR_INVALID = (0.5, 0.5, 0.5)

    def __init__(self) -> None:
        super().__init__()
        self._name: str | None = None
        self._color = self.SEGMENT_COLOR_INVALID
        self._tags: dict[str, str] = {}
        self._representations: dict[str, vtk.vtkDataObject] = {}
        self._label_value = 1
        self._name_auto, self._color_auto = True, True

    def GetClassName(self) -> str:
        return "vtkSegment"

    @staticmethod
    def GetTerminologyEntryTagName() -> str:
        return "TerminologyEntry"

    def GetName(self) -> str | None:
        return self._name

    def SetName(self, name: str) -> None:
        if name != self._name:
            self._name = name
            self.Modified()

    def GetColor(self) -> tuple[float, float, float]:
        return self._color

    def SetColor(self, r, g=None, b=None) -> None:
        color = tuple(float(v) for v in (r if g is None else (r, g, b)))
        if color != self._color:
            self._color = color
            self.Modified()

    def GetNameAutoGenerated(self) -> bool:
        return self._name_auto

    def SetNameAutoGenerated(self, value: bool) -> None:
        self._name_auto = bool(value)

    def GetColorAutoGenerated(self) -> bool:
        return self._color_auto

    def SetColorAutoGenerated(self, value: bool) -> None:
        self._color_auto = bool(value)

    def GetLabelValue(self) -> int:
        return self._label_value

    def SetLabelValue(self, value: int) -> None:
        self._label_value = int(value)

    def SetTag(self, tag: str, value) -> None:
        value = str(value)
        if self._tags.get(tag) != value:
            self._tags[tag] = value
            self.Modified()

    def GetTag(self, tag: str, value=None):
        """Python: returns the value (or None); VTK's out-parameter form is not emulated."""
        return self._tags.get(tag)

    def HasTag(self, tag: str) -> bool:
        return tag in self._tags

    def RemoveTag(self, tag: str) -> None:
        if self._tags.pop(tag, None) is not None:
            self.Modified()

    def GetTags(self) -> dict[str, str]:
        return dict(self._tags)

    def SetTerminology(self, entry: str) -> None:
        self.SetTag(self.GetTerminologyEntryTagName(), entry)

    def GetTerminology(self) -> str:
        return self._tags.get(self.GetTerminologyEntryTagName(), "")

    def HasTerminology(self) -> bool:
        return self.HasTag(self.GetTerminologyEntryTagName())

    def GetRepresentation(self, name: str):
        return self._representations.get(name)

    def AddRepresentation(self, name: str, data) -> bool:
        self._representations[name] = data
        self.Modified()
        return True

    def RemoveRepresentation(self, name: str) -> bool:
        removed = self._representations.pop(name, None) is not None
        if removed:
            self.Modified()
        return removed

    def RemoveAllRepresentations(self, keep: str = "") -> None:
        self._representations = {k: v for k, v in self._representations.items() if k == keep}
        self.Modified()

    def GetContainedRepresentationNames(self) -> tuple[str, ...]:
        return tuple(self._representations)


class vtkSegmentation(vtk.vtkObject):
    """Libs/vtkSegmentationCore/vtkSegmentation. Each segment keeps its own binary labelmap (label 1 on
    its own geometry), so overlapping segments never interfere; Slicer may share layers instead, but
    what a segment reads back is the same: exactly its own mask."""

    SourceRepresentationModified = 62100
    RepresentationModified = 62101
    SegmentAdded = 62102
    SegmentRemoved = 62103
    SegmentModified = 62104
    ContainedRepresentationNamesModified = 62105
    SegmentsOrderModified = 62106
    (
        EXTENT_REFERENCE_GEOMETRY,
        EXTENT_UNION_OF_SEGMENTS,
        EXTENT_UNION_OF_SEGMENTS_PADDED,
        EXTENT_UNION_OF_EFFECTIVE_SEGMENTS,
        EXTENT_UNION_OF_EFFECTIVE_SEGMENTS_PADDED,
        EXTENT_UNION_OF_EFFECTIVE_SEGMENTS_AND_REFERENCE_GEOMETRY,
    ) = range(6)

    def __init__(self) -> None:
        super().__init__()
        self._segments: dict[str, vtkSegment] = {}
        self._order: list[str] = []
        self._source = _BINARY
        self._parameters: dict[str, str] = {}
        self._id_index = 0

    def GetClassName(self) -> str:
        return "vtkSegmentation"

    # source representation
    def GetSourceRepresentationName(self) -> str:
        return self._source

    def SetSourceRepresentationName(self, name: str) -> None:
        self._source = name
        self.Modified()

    GetMasterRepresentationName = GetSourceRepresentationName
    SetMasterRepresentationName = SetSourceRepresentationName

    def SetConversionParameter(self, name: str, value: str) -> None:
        self._parameters[name] = value

    def GetConversionParameter(self, name: str) -> str:
        return self._parameters.get(name, "")

    # segments
    def GenerateUniqueSegmentID(self, segment_id: str = "") -> str:
        """Empty id: a UUID-derived UID "2.25.<decimal>" (vtkSegmentationCore_USE_UUID is ON in Slicer)."""
        if segment_id and segment_id not in self._segments:
            return segment_id
        if not segment_id:
            new_id = ""
            while not new_id or new_id in self._segments:
                new_id = f"2.25.{uuid.uuid4().int}"
            return new_id
        while True:
            self._id_index += 1
            candidate = f"{segment_id}_{self._id_index}"
            if candidate not in self._segments:
                return candidate

    def _unique_segment_name(self, base: str = "Segment") -> str:
        names = {segment.GetName() for segment in self._segments.values()}
        index = 1
        while f"{base}_{index}" in names:
            index += 1
        return f"{base}_{index}"

    def AddSegment(self, segment: vtkSegment, segment_id: str = "", insert_before: str = "") -> bool:
        if segment is None:
            return False
        segment_id = self.GenerateUniqueSegmentID(segment_id)
        if not segment.GetContainedRepresentationNames():
            segment.AddRepresentation(
                self._source, vtkOrientedImageData() if self._source == _BINARY else vtk.vtkPolyData()
            )
        elif segment.GetRepresentation(self._source) is None and self._source == _BINARY:
            return False
        self._segments[segment_id] = segment
        if insert_before in self._order:
            self._order.insert(self._order.index(insert_before), segment_id)
        else:
            self._order.append(segment_id)
        for name in self._first_representation_names():
            if segment.GetRepresentation(name) is None and name == _SURFACE:
                segment.AddRepresentation(_SURFACE, _labelmap_to_surface(segment.GetRepresentation(_BINARY)))
        self.InvokeEvent(self.SegmentAdded)
        self.Modified()
        return True

    def _first_representation_names(self) -> tuple[str, ...]:
        return self._segments[self._order[0]].GetContainedRepresentationNames() if self._order else ()

    def AddEmptySegment(self, segment_id: str = "", segment_name: str = "", color=None) -> str:
        segment = vtkSegment()
        segment.SetColor(color if color is not None else vtkSegment.SEGMENT_COLOR_INVALID)
        segment.SetName(segment_name if segment_name else self._unique_segment_name("Segment"))
        segment_id = self.GenerateUniqueSegmentID(segment_id)
        if not self.AddSegment(segment, segment_id):
            return ""
        return segment_id

    def RemoveSegment(self, segment) -> None:
        segment_id = segment if isinstance(segment, str) else self.GetSegmentIdBySegment(segment)
        if segment_id in self._segments:
            del self._segments[segment_id]
            self._order.remove(segment_id)
            self.InvokeEvent(self.SegmentRemoved)
            self.Modified()

    def RemoveAllSegments(self) -> None:
        for segment_id in list(self._order):
            self.RemoveSegment(segment_id)

    def GetSegment(self, segment_id: str):
        return self._segments.get(segment_id)

    def GetNumberOfSegments(self) -> int:
        return len(self._order)

    def GetNthSegment(self, index: int):
        return self._segments[self._order[index]] if 0 <= index < len(self._order) else None

    def GetNthSegmentID(self, index: int) -> str:
        return self._order[index] if 0 <= index < len(self._order) else ""

    def GetSegmentIDs(self, out=None):
        if out is None:
            return tuple(self._order)
        for segment_id in self._order:
            if hasattr(out, "InsertNextValue"):
                out.InsertNextValue(segment_id)
            else:
                out.append(segment_id)
        return None

    def GetSegmentIndex(self, segment_id: str) -> int:
        return self._order.index(segment_id) if segment_id in self._order else -1

    def SetSegmentIndex(self, segment_id: str, index: int) -> bool:
        if segment_id not in self._order:
            return False
        self._order.remove(segment_id)
        self._order.insert(index, segment_id)
        self.InvokeEvent(self.SegmentsOrderModified)
        return True

    def GetSegmentIdBySegment(self, segment: vtkSegment) -> str:
        return next((k for k, v in self._segments.items() if v is segment), "")

    def GetSegmentIdBySegmentName(self, name: str) -> str:
        """Case-insensitive, as vtkSegmentation.cxx."""
        for segment_id in self._order:
            if (self._segments[segment_id].GetName() or "").lower() == name.lower():
                return segment_id
        return ""

    def GetSegmentRepresentation(self, segment_id: str, name: str):
        segment = self.GetSegment(segment_id)
        return segment.GetRepresentation(name) if segment else None

    def ClearSegment(self, segment_id: str) -> None:
        segment = self.GetSegment(segment_id)
        if segment is not None:
            segment.AddRepresentation(_BINARY, vtkOrientedImageData())

    # representations
    def ContainsRepresentation(self, name: str) -> bool:
        if not self._order:
            return False
        return all(self._segments[s].GetRepresentation(name) is not None for s in self._order)

    def GetContainedRepresentationNames(self) -> tuple[str, ...]:
        return self._first_representation_names()

    def IsSourceRepresentationImageData(self) -> bool:
        return self._source == _BINARY

    def IsSourceRepresentationPolyData(self) -> bool:
        return self._source == _SURFACE

    def CreateRepresentation(self, name: str, always_convert: bool = False) -> bool:
        """Binary labelmap -> closed surface (discrete flying edges in world coordinates)."""
        if not always_convert and self.ContainsRepresentation(name):
            return True
        if name == self._source:
            return True
        if name != _SURFACE or self._source != _BINARY:
            return False
        for segment_id in self._order:
            segment = self._segments[segment_id]
            segment.AddRepresentation(_SURFACE, _labelmap_to_surface(segment.GetRepresentation(_BINARY)))
        self.InvokeEvent(self.ContainedRepresentationNamesModified)
        return True

    def RemoveRepresentation(self, name: str) -> None:
        if name == self._source:
            return
        for segment in self._segments.values():
            segment.RemoveRepresentation(name)
        self.InvokeEvent(self.ContainedRepresentationNamesModified)

    def _common_geometry(self, mode: int, segment_ids) -> tuple[np.ndarray, tuple[int, ...]] | None:
        """DetermineCommonLabelmapGeometry: the reference image geometry (else the first non-empty
        segment's), with extent = reference extent or the union of effective segment extents."""
        reference = self.GetConversionParameter(
            vtkSegmentationConverter.GetReferenceImageGeometryParameterName()
        )
        if reference:
            to_world, extent = vtkSegmentationConverter.DeserializeImageGeometry(reference)
        else:
            first = next(
                (
                    self._segments[s].GetRepresentation(_BINARY)
                    for s in segment_ids
                    if not self._segments[s].GetRepresentation(_BINARY).IsEmpty()
                ),
                None,
            )
            if first is None:
                return None
            to_world, extent = _image_to_world(first), tuple(first.GetExtent())
        if mode == self.EXTENT_REFERENCE_GEOMETRY:
            return to_world, extent
        union = None
        for segment_id in segment_ids:
            mask = _resample_nearest(
                self._segments[segment_id].GetRepresentation(_BINARY), to_world, extent, np.uint8
            )
            nonzero = np.nonzero(mask)
            if nonzero[0].size == 0:
                continue
            box = [
                extent[0] + nonzero[2].min(),
                extent[0] + nonzero[2].max(),
                extent[2] + nonzero[1].min(),
                extent[2] + nonzero[1].max(),
                extent[4] + nonzero[0].min(),
                extent[4] + nonzero[0].max(),
            ]
            union = (
                box
                if union is None
                else [min(union[i], box[i]) if i % 2 == 0 else max(union[i], box[i]) for i in range(6)]
            )
        if union is None:
            return None
        if mode in (self.EXTENT_UNION_OF_SEGMENTS_PADDED, self.EXTENT_UNION_OF_EFFECTIVE_SEGMENTS_PADDED):
            union = [v - 1 if i % 2 == 0 else v + 1 for i, v in enumerate(union)]
        if mode == self.EXTENT_UNION_OF_EFFECTIVE_SEGMENTS_AND_REFERENCE_GEOMETRY:
            union = [min(union[i], extent[i]) if i % 2 == 0 else max(union[i], extent[i]) for i in range(6)]
        return to_world, tuple(int(v) for v in union)

    def GenerateMergedLabelmap(self, mode: int, geometry=None, segment_ids=(), label_values=None):
        """vtkSegmentation::GenerateMergedLabelmap -> vtkOrientedImageData (VTK_SHORT), later segments
        painted over earlier ones, value = position in ``segment_ids`` + 1 (or ``label_values``)."""
        segment_ids = list(segment_ids) or list(self._order)
        common = geometry if geometry is not None else self._common_geometry(mode, segment_ids)
        if common is None:
            return vtkOrientedImageData()
        to_world, extent = common
        shape = (extent[5] - extent[4] + 1, extent[3] - extent[2] + 1, extent[1] - extent[0] + 1)
        merged = np.zeros(shape, np.int16)
        for index, segment_id in enumerate(segment_ids):
            mask = _resample_nearest(
                self._segments[segment_id].GetRepresentation(_BINARY), to_world, extent, np.int16
            )
            value = label_values[index] if label_values is not None else index + 1
            merged[mask == self._segments[segment_id].GetLabelValue()] = value
        return _make_oriented(merged, to_world, (extent[0], extent[2], extent[4]), vtk.VTK_SHORT)


def _labelmap_to_surface(labelmap: vtkOrientedImageData) -> vtk.vtkPolyData:
    """Binary labelmap -> closed surface as vtkBinaryLabelmapToClosedSurfaceConversionRule: pad by one
    voxel, vtkDiscreteFlyingEdges3D at the label value, then image-to-world transform (no decimation or
    smoothing here)."""
    surface = vtk.vtkPolyData()
    if labelmap is None or labelmap.IsEmpty():
        return surface
    extent = labelmap.GetExtent()
    padder = vtk.vtkImageConstantPad()
    padder.SetInputData(labelmap)
    padder.SetOutputWholeExtent(
        extent[0] - 1, extent[1] + 1, extent[2] - 1, extent[3] + 1, extent[4] - 1, extent[5] + 1
    )
    plain = vtk.vtkImageChangeInformation()  # grid in IJK (spacing 1, origin 0): world mapping done below
    plain.SetInputConnection(padder.GetOutputPort())
    plain.SetOutputSpacing(1, 1, 1)
    plain.SetOutputOrigin(0, 0, 0)
    flying = vtk.vtkDiscreteFlyingEdges3D()
    flying.SetInputConnection(plain.GetOutputPort())
    flying.SetValue(0, 1)
    flying.ComputeNormalsOff()
    transform = vtk.vtkTransform()
    transform.SetMatrix(_array_to_matrix(_image_to_world(labelmap)))
    to_world = vtk.vtkTransformFilter()
    to_world.SetInputConnection(flying.GetOutputPort())
    to_world.SetTransform(transform)
    to_world.Update()
    surface.DeepCopy(to_world.GetOutput())
    return surface


class vtkMRMLSegmentationNode(vtkMRMLDisplayableNode):
    """Libs/MRML/Core/vtkMRMLSegmentationNode.cxx."""

    NodeTagName = "Segmentation"
    _storage_class = vtkMRMLSegmentationStorageNode

    def __init__(self) -> None:
        super().__init__()
        self._segmentation = vtkSegmentation()

    @staticmethod
    def GetReferenceImageGeometryReferenceRole() -> str:
        return "referenceImageGeometryRef"

    @staticmethod
    def GetSegmentIDAttributeName() -> str:
        return "segmentID"

    def GetSegmentation(self) -> vtkSegmentation:
        return self._segmentation

    def SetAndObserveSegmentation(self, segmentation: vtkSegmentation) -> None:
        self._segmentation = segmentation
        self.Modified()

    def CreateDefaultDisplayNodes(self) -> None:
        if isinstance(self.GetDisplayNode(), vtkMRMLSegmentationDisplayNode):
            return
        if self._scene is None:
            vtk.vtkOutputWindow.GetInstance().DisplayErrorText(
                "vtkMRMLSegmentationNode::CreateDefaultDisplayNodes failed: Scene is invalid"
            )
            return
        display = self._scene.AddNewNodeByClass("vtkMRMLSegmentationDisplayNode")
        self.SetAndObserveDisplayNodeID(display.GetID())

    def SetReferenceImageGeometryParameterFromVolumeNode(self, volume) -> None:
        """Silently does nothing for a volume without image data (as the C++ code)."""
        if volume is None or volume.GetImageData() is None:
            return
        matrix = vtk.vtkMatrix4x4()
        volume.GetIJKToRASMatrix(matrix)
        self._segmentation.SetConversionParameter(
            vtkSegmentationConverter.GetReferenceImageGeometryParameterName(),
            vtkSegmentationConverter.SerializeImageGeometry(matrix, volume.GetImageData()),
        )
        self.SetNodeReferenceID(self.GetReferenceImageGeometryReferenceRole(), volume.GetID())

    def SetSourceRepresentationToBinaryLabelmap(self) -> bool:
        self._segmentation.SetSourceRepresentationName(_BINARY)
        return True

    SetMasterRepresentationToBinaryLabelmap = SetSourceRepresentationToBinaryLabelmap

    def CreateBinaryLabelmapRepresentation(self) -> bool:
        return self._segmentation.CreateRepresentation(_BINARY)

    def CreateClosedSurfaceRepresentation(self) -> bool:
        return self._segmentation.CreateRepresentation(_SURFACE)

    def RemoveClosedSurfaceRepresentation(self) -> None:
        self._segmentation.RemoveRepresentation(_SURFACE)

    def GetBinaryLabelmapInternalRepresentation(self, segment_id: str):
        return self._segmentation.GetSegmentRepresentation(segment_id, _BINARY)

    def GetBinaryLabelmapRepresentation(self, segment_id: str, output: vtkOrientedImageData) -> bool:
        internal = self.GetBinaryLabelmapInternalRepresentation(segment_id)
        if internal is None:
            return False
        output.DeepCopy(internal)
        return True

    def GetClosedSurfaceInternalRepresentation(self, segment_id: str):
        return self._segmentation.GetSegmentRepresentation(segment_id, _SURFACE)

    def GetClosedSurfaceRepresentation(self, segment_id: str, output: vtk.vtkPolyData) -> bool:
        internal = self.GetClosedSurfaceInternalRepresentation(segment_id)
        if internal is None:
            return False
        output.DeepCopy(internal)
        return True

    def AddSegmentFromBinaryLabelmapRepresentation(
        self, image: vtkOrientedImageData, name: str = "", color=None, segment_id: str = ""
    ) -> str:
        segment = vtkSegment()
        segment.SetName(name or self._segmentation._unique_segment_name())
        if color is not None:
            segment.SetColor(color)
        copy = vtkOrientedImageData()
        copy.DeepCopy(image)
        segment.AddRepresentation(_BINARY, copy)
        segment_id = self._segmentation.GenerateUniqueSegmentID(segment_id)
        return segment_id if self._segmentation.AddSegment(segment, segment_id) else ""

    def RemoveSegment(self, segment_id: str) -> None:
        self._segmentation.RemoveSegment(segment_id)

    def GenerateMergedLabelmapForAllSegments(
        self,
        output: vtkOrientedImageData,
        mode: int,
        geometry: vtkOrientedImageData | None = None,
        segment_ids=None,
        label_values=None,
    ) -> bool:
        ids = [segment_ids.GetValue(i) for i in range(segment_ids.GetNumberOfValues())] if segment_ids else []
        values = (
            [label_values.GetValue(i) for i in range(label_values.GetNumberOfValues())]
            if label_values
            else None
        )
        common = (_image_to_world(geometry), tuple(geometry.GetExtent())) if geometry is not None else None
        output.DeepCopy(self._segmentation.GenerateMergedLabelmap(mode, common, ids, values))
        return True


# ------------------------------------------------------------------------------------- subject hierarchy
class vtkMRMLSubjectHierarchyConstants:
    @staticmethod
    def GetDICOMLevelPatient() -> str:
        return "Patient"

    @staticmethod
    def GetDICOMLevelStudy() -> str:
        return "Study"

    @staticmethod
    def GetSubjectHierarchyLevelFolder() -> str:
        return "Folder"


class vtkMRMLSubjectHierarchyNode(vtkMRMLNode):
    """vtkMRMLSubjectHierarchyNode: item tree; IDs count up from 1 (INVALID_ITEM_ID = 0), the scene
    item is created first; data-node items take their name from the node."""

    NodeTagName = "SubjectHierarchy"
    INVALID_ITEM_ID = 0
    SubjectHierarchyItemAddedEvent = 62000
    SubjectHierarchyItemAboutToBeRemovedEvent = 62001
    SubjectHierarchyItemRemovedEvent = 62002
    SubjectHierarchyItemModifiedEvent = 62003
    SubjectHierarchyItemReparentedEvent = 62006
    _next_item_id = 1  # vtkSubjectHierarchyItem::NextSubjectHierarchyItemID is process-wide

    def __init__(self) -> None:
        super().__init__()
        self._items: dict[int, dict] = {}
        self._scene_item = self._new_item(None, "Scene", "Scene", None)

    def _new_item(self, parent: int | None, name: str, level: str, node) -> int:
        item_id = vtkMRMLSubjectHierarchyNode._next_item_id
        vtkMRMLSubjectHierarchyNode._next_item_id += 1
        self._items[item_id] = {
            "parent": parent,
            "name": name,
            "level": level,
            "node": node,
            "children": [],
            "attributes": {},
            "uids": {},
        }
        if parent is not None:
            self._items[parent]["children"].append(item_id)
            self.InvokeEvent(self.SubjectHierarchyItemAddedEvent)
        return item_id

    @staticmethod
    def GetSubjectHierarchyNode(scene):
        return scene.GetSubjectHierarchyNode() if scene is not None else None

    @staticmethod
    def GetInvalidItemID() -> int:
        return 0

    def GetSceneItemID(self) -> int:
        return self._scene_item

    def GetNumberOfItems(self) -> int:
        return len(self._items)

    def _item(self, item_id: int, method: str):
        item = self._items.get(item_id)
        if item is None:
            vtk.vtkOutputWindow.GetInstance().DisplayErrorText(
                f"{method}: Failed to find subject hierarchy item by ID {item_id}"
            )
        return item

    def CreateItem(self, parent_id: int, node, owner_plugin_name=None) -> int:
        if self._item(parent_id, "CreateItem") is None or node is None:
            return 0
        existing = self.GetItemByDataNode(node)
        if existing:
            self.SetItemParent(existing, parent_id)
            return existing
        return self._new_item(parent_id, "", "", node)

    def CreateHierarchyItem(self, parent_id: int, name: str, level: str, position: int = -1) -> int:
        if self._item(parent_id, "CreateHierarchyItem") is None:
            return 0
        return self._new_item(parent_id, name, level, None)

    def CreateSubjectItem(self, parent_id: int, name: str) -> int:
        return self.CreateHierarchyItem(parent_id, name, "Patient")

    def CreateStudyItem(self, parent_id: int, name: str) -> int:
        return self.CreateHierarchyItem(parent_id, name, "Study")

    def CreateFolderItem(self, parent_id: int, name: str) -> int:
        return self.CreateHierarchyItem(parent_id, name, "Folder")

    def GetItemByDataNode(self, node) -> int:
        return (
            next((i for i, item in self._items.items() if item["node"] is node), 0) if node is not None else 0
        )

    def GetItemDataNode(self, item_id: int):
        item = self._items.get(item_id)
        return item["node"] if item else None

    def GetItemByName(self, name: str) -> int:
        return next((i for i in self._items if i != self._scene_item and self.GetItemName(i) == name), 0)

    def GetItemName(self, item_id: int) -> str:
        item = self._item(item_id, "GetItemName")
        if item is None:
            return ""
        return (item["node"].GetName() or "") if item["node"] is not None else item["name"]

    def SetItemName(self, item_id: int, name: str) -> None:
        item = self._item(item_id, "SetItemName")
        if item is None:
            return
        if item["node"] is not None:
            item["node"].SetName(name)
        else:
            item["name"] = name
        self.InvokeEvent(self.SubjectHierarchyItemModifiedEvent)

    def GetItemLevel(self, item_id: int) -> str:
        item = self._item(item_id, "GetItemLevel")
        return item["level"] if item else ""

    def SetItemLevel(self, item_id: int, level: str) -> None:
        item = self._item(item_id, "SetItemLevel")
        if item:
            item["level"] = level

    def IsItemLevel(self, item_id: int, level: str) -> bool:
        return self.GetItemLevel(item_id) == level

    def GetItemParent(self, item_id: int) -> int:
        item = self._items.get(item_id)
        return (item["parent"] or 0) if item else 0

    def SetItemParent(self, item_id: int, parent_id: int, enable_circular_check: bool = True) -> None:
        item, parent = self._item(item_id, "SetItemParent"), self._item(parent_id, "SetItemParent")
        if item is None or parent is None or item["parent"] == parent_id:
            return
        ancestor = parent_id
        while ancestor:
            if ancestor == item_id:
                return  # circular
            ancestor = self._items[ancestor]["parent"]
        self._items[item["parent"]]["children"].remove(item_id)
        parent["children"].append(item_id)
        item["parent"] = parent_id
        self.InvokeEvent(self.SubjectHierarchyItemReparentedEvent)

    def GetItemChildren(self, item_id: int, children=None, recursive: bool = False):
        found: list[int] = []

        def collect(parent: int) -> None:
            for child in self._items[parent]["children"]:
                found.append(child)
                if recursive:
                    collect(child)

        if self._item(item_id, "GetItemChildren") is not None:
            collect(item_id)
        if children is None:
            return found
        if hasattr(children, "Reset"):
            children.Reset()
            for child in found:
                children.InsertNextId(child)
        else:
            children[:] = found
        return None

    def GetNumberOfItemChildren(self, item_id: int, recursive: bool = False) -> int:
        return len(self.GetItemChildren(item_id, None, recursive))

    def SetItemAttribute(self, item_id: int, name: str, value: str) -> None:
        item = self._item(item_id, "SetItemAttribute")
        if item:
            item["attributes"][name] = str(value)

    def GetItemAttribute(self, item_id: int, name: str) -> str:
        item = self._items.get(item_id)
        return item["attributes"].get(name, "") if item else ""

    def HasItemAttribute(self, item_id: int, name: str) -> bool:
        item = self._items.get(item_id)
        return bool(item) and name in item["attributes"]

    def RemoveItemAttribute(self, item_id: int, name: str) -> bool:
        item = self._items.get(item_id)
        return bool(item) and item["attributes"].pop(name, None) is not None

    def GetItemAttributeNames(self, item_id: int) -> tuple[str, ...]:
        item = self._items.get(item_id)
        return tuple(item["attributes"]) if item else ()

    def SetItemUID(self, item_id: int, name: str, value: str) -> None:
        self._items[item_id]["uids"][name] = value

    def GetItemUID(self, item_id: int, name: str) -> str:
        item = self._items.get(item_id)
        return item["uids"].get(name, "") if item else ""

    def RemoveItem(self, item_id: int, remove_data_node: bool = True, recursive: bool = True) -> bool:
        item = self._item(item_id, "RemoveItem")
        if item is None or item_id == self._scene_item:
            return False
        if recursive:
            for child in list(item["children"]):
                self.RemoveItem(child, remove_data_node, True)
        else:
            for child in list(item["children"]):
                self.SetItemParent(child, item["parent"])
        if item_id not in self._items:
            return True
        node = item["node"]
        self._forget_item(item_id)
        if remove_data_node and node is not None and node.GetScene() is not None:
            node.GetScene().RemoveNode(node)
        return True

    def RemoveItemChildren(
        self, item_id: int, remove_data_nodes: bool = True, recursive: bool = True
    ) -> bool:
        for child in list(self._items[item_id]["children"]):
            self.RemoveItem(child, remove_data_nodes, recursive)
        return True

    def _forget_item(self, item_id: int) -> None:
        item = self._items.get(item_id)
        if item is None:
            return
        self.InvokeEvent(self.SubjectHierarchyItemAboutToBeRemovedEvent)
        for child in list(item["children"]):
            self.SetItemParent(child, item["parent"])
        self._items[item["parent"]]["children"].remove(item_id)
        del self._items[item_id]
        self.InvokeEvent(self.SubjectHierarchyItemRemovedEvent)


def _gets_sh_item(node: vtkMRMLNode) -> bool:
    """qSlicerSubjectHierarchyPluginLogic::onNodeAdded: nodes a plugin can own and not hidden from editors."""
    return isinstance(node, (vtkMRMLDisplayableNode, vtkMRMLTableNode)) and not node.GetHideFromEditors()


# ----------------------------------------------------------------------------------------------- scene
class vtkMRMLScene(vtk.vtkObject):
    """Libs/MRML/Core/vtkMRMLScene.{h,cxx}."""

    BatchProcessState, CloseState, ImportState, RestoreState = 0x0001, 0x0003, 0x0005, 0x0009
    SaveState, UndoState, RedoState = 0x0010, 0x0020, 0x0040
    NodeAboutToBeAddedEvent = 0x2000
    NodeAddedEvent = 0x2001
    NodeAboutToBeRemovedEvent = 0x2002
    NodeRemovedEvent = 0x2003
    NodeClassRegisteredEvent = 0x2004
    NewSceneEvent = 66030
    MetadataAddedEvent = 66032
    StateEvent, StartEvent, EndEvent, ProgressEvent = 0x2000, 0x0100, 0x0200, 0x0400
    StartBatchProcessEvent = 0x2000 | 0x0100 | 0x0001
    EndBatchProcessEvent = 0x2000 | 0x0200 | 0x0001
    ProgressBatchProcessEvent = 0x2000 | 0x0400 | 0x0001
    StartCloseEvent = 0x2000 | 0x0100 | 0x0003
    EndCloseEvent = 0x2000 | 0x0200 | 0x0003
    ProgressCloseEvent = 0x2000 | 0x0400 | 0x0003
    StartImportEvent = 0x2000 | 0x0100 | 0x0005
    EndImportEvent = 0x2000 | 0x0200 | 0x0005
    ProgressImportEvent = 0x2000 | 0x0200 | 0x0005  # sic: the header uses EndEvent here
    StartRestoreEvent = 0x2000 | 0x0100 | 0x0009
    EndRestoreEvent = 0x2000 | 0x0200 | 0x0009
    StartSaveEvent = 0x2000 | 0x0100 | 0x0010
    EndSaveEvent = 0x2000 | 0x0200 | 0x0010

    def __init__(self) -> None:
        super().__init__()
        self._nodes: list[vtkMRMLNode] = []
        self._by_id: dict[str, vtkMRMLNode] = {}
        self._unique_ids: dict[str, int] = {}
        self._unique_names: dict[str, int] = {}
        self._states: list[int] = []
        self._classes: dict[str, type] = {cls.__name__: cls for cls in _NODE_CLASSES}
        self._sh_node: vtkMRMLSubjectHierarchyNode | None = None
        self._url = ""
        self.GetSubjectHierarchyNode()  # Slicer's scene has its SH node from the start

    def GetClassName(self) -> str:
        return "vtkMRMLScene"

    def GetAddressAsString(self, _text: str = "") -> str:
        return "Addr=" + hex(id(self))

    def GetURL(self) -> str:
        return self._url

    def SetURL(self, url: str) -> None:
        self._url = url

    # states
    def GetStates(self) -> int:
        result = 0
        for state in self._states:
            result |= state
        return result

    def IsBatchProcessing(self) -> bool:
        return (self.GetStates() & self.BatchProcessState) == self.BatchProcessState

    def IsClosing(self) -> bool:
        return (self.GetStates() & self.CloseState) == self.CloseState

    def IsImporting(self) -> bool:
        return (self.GetStates() & self.ImportState) == self.ImportState

    def IsRestoring(self) -> bool:
        return (self.GetStates() & self.RestoreState) == self.RestoreState

    def IsUndoing(self) -> bool:
        return bool(self.GetStates() & self.UndoState)

    def IsRedoing(self) -> bool:
        return bool(self.GetStates() & self.RedoState)

    def StartState(self, state: int, anticipated_max_progress: int = 0) -> None:
        was_batch = self.IsBatchProcessing()
        was_in_state = (self.GetStates() & state) == state
        self._states.append(state)
        if self.IsBatchProcessing() and not was_batch:
            self.InvokeEvent(self.StartBatchProcessEvent)
        if state != self.BatchProcessState and not was_in_state:
            self.InvokeEvent(self.StateEvent | self.StartEvent | state)

    def EndState(self, state: int) -> None:
        if not self._states:
            vtk.vtkOutputWindow.GetInstance().DisplayErrorText(
                "vtkMRMLScene::EndState failed: there was no previous state"
            )
            return
        self._states.pop()
        if state != self.BatchProcessState and (self.GetStates() & state) != state:
            self.InvokeEvent(self.StateEvent | self.EndEvent | state)
        if (state & self.BatchProcessState) and not self.IsBatchProcessing():
            self.InvokeEvent(self.EndBatchProcessEvent)

    # node classes
    def RegisterNodeClass(self, node: vtkMRMLNode, tag_name: str | None = None) -> None:
        self._classes[node.GetClassName()] = type(node)
        self.InvokeEvent(self.NodeClassRegisteredEvent, node)

    def IsNodeClassRegistered(self, class_name: str) -> bool:
        return class_name in self._classes

    def CreateNodeByClass(self, class_name: str):
        """A new node owning one extra reference, as the C++ New() (callers UnRegister it)."""
        cls = self._classes.get(class_name)
        if cls is None:
            return None
        node = cls()
        node.Register(None)
        return node

    # IDs and names
    def _unique_id_index(self, base: str) -> int:
        index = self._unique_ids.get(base, 0)
        while True:
            index += 1
            if f"{base}{index}" not in self._by_id:
                return index

    def GenerateUniqueID(self, node: vtkMRMLNode) -> str:
        base = node.GetClassName()
        if node.GetSingletonTag():
            return base + node.GetSingletonTag()
        index = self._unique_id_index(base)
        self._unique_ids[base] = index
        return f"{base}{index}"

    def GenerateUniqueName(self, base: str) -> str:
        """ "foo", then "foo_1", "foo_2"...: the first index not used by any node name (remembered)."""
        index = self._unique_names.get(base, -1)
        while True:
            index += 1
            candidate = base if index == 0 else f"{base}_{index}"
            if self.GetFirstNodeByName(candidate) is None:
                break
        self._unique_names[base] = index
        return candidate

    def GetUniqueNameByString(self, base: str | None) -> str:
        return self.GenerateUniqueName(base if base else "Node")

    # add / remove
    def GetSingletonNode(self, tag_or_node, class_name: str | None = None):
        if isinstance(tag_or_node, vtkMRMLNode):
            found = self.GetSingletonNode(tag_or_node.GetSingletonTag(), tag_or_node.GetClassName())
            return (
                found
                if found is not None
                else self._by_id.get(tag_or_node.GetClassName() + tag_or_node.GetSingletonTag())
            )
        return next(
            (n for n in self._nodes if n.IsA(class_name) and n.GetSingletonTag() == tag_or_node), None
        )

    def IsNodePresent(self, node) -> int:
        return int(any(n is node for n in self._nodes))

    def AddNode(self, node: vtkMRMLNode):
        if node is None:
            return None
        if self.IsNodePresent(node):
            return node
        if node.GetSingletonTag() is not None:
            existing = self.GetSingletonNode(node)
            if existing is not None:
                existing.Copy(node)  # the singleton keeps its ID; no add events (vtkMRMLScene::AddNode)
                self.Modified()
                return existing
        self.InvokeEvent(self.NodeAboutToBeAddedEvent, node)
        was = node.StartModify()
        if not node.GetID() or node.GetID() in self._by_id:
            node.SetID(self.GenerateUniqueID(node))
        if not node.GetName():
            node.SetName(self.GenerateUniqueName(node.GetDefaultNodeNamePrefix()))
        node.SetScene(self)
        self._nodes.append(node)
        self._by_id[node.GetID()] = node
        node.EndModify(was)
        self.InvokeEvent(self.NodeAddedEvent, node)
        self._add_sh_item(node)
        self.Modified()
        return node

    def _add_sh_item(self, node: vtkMRMLNode) -> None:
        if self.IsImporting() or not _gets_sh_item(node):
            return
        sh = self.GetSubjectHierarchyNode()
        if sh is not None and not sh.GetItemByDataNode(node):
            sh.CreateItem(sh.GetSceneItemID(), node)

    def AddNewNodeByClass(self, class_name: str, node_base_name: str = ""):
        """Names are used as given (not made unique); only an empty name gets a generated one."""
        if not class_name:
            return None
        node = self.CreateNodeByClass(class_name)
        if node is None:
            vtk.vtkOutputWindow.GetInstance().DisplayErrorText(
                f"AddNewNodeByClass: failed to create node by class {class_name}"
            )
            return None
        node.UnRegister(None)
        if node_base_name:
            node.SetName(node_base_name)
        return self.AddNode(node)

    def AddNewNodeByClassWithID(self, class_name: str, node_base_name: str, node_id: str):
        if not node_id or node_id in self._by_id:
            return None
        node = self.CreateNodeByClass(class_name)
        if node is None:
            return None
        node.UnRegister(None)
        node.SetID(node_id)
        if node_base_name:
            node.SetName(node_base_name)
        return self.AddNode(node)

    def RemoveNode(self, node: vtkMRMLNode | None) -> None:
        if node is None or not self.IsNodePresent(node):
            return
        self.InvokeEvent(self.NodeAboutToBeRemovedEvent, node)
        if self._sh_node is not None and node is not self._sh_node:
            item = self._sh_node.GetItemByDataNode(node)
            if item:
                self._sh_node._forget_item(item)
        if node is self._sh_node:
            self._sh_node = None
        node.SetScene(None)
        self._nodes = [n for n in self._nodes if n is not node]
        self._by_id.pop(node.GetID(), None)
        self.InvokeEvent(self.NodeRemovedEvent, node)
        if not self.IsClosing():
            for other in list(self._nodes):
                other._drop_references_to(node.GetID())
        self.Modified()

    def Clear(self, remove_singletons: int = 0) -> None:
        """CloseState; removes every node but singletons (all if asked), resets the ID/name counters.
        The subject hierarchy node is kept and reset (emulation choice: Slicer re-resolves it)."""
        self.StartState(self.CloseState)
        keep = self._sh_node if not remove_singletons else None
        for node_id in [
            n.GetID()
            for n in self._nodes
            if (remove_singletons or n.GetSingletonTag() is None) and n is not keep
        ]:
            node = self._by_id.get(node_id)
            if node is not None:
                self.RemoveNode(node)
        for node in self._nodes:
            for role in list(node._references):
                node._references[role] = [i for i in node._references[role] if i in self._by_id]
        if keep is not None:  # ResetNodes: the kept SH node loses all items but the scene item
            for child in list(keep._items[keep.GetSceneItemID()]["children"]):
                keep.RemoveItem(child, False, True)
        self._unique_ids.clear()
        self._unique_names.clear()
        self.Modified()
        self.EndState(self.CloseState)

    # queries
    def GetNodes(self) -> vtk.vtkCollection:
        collection = vtk.vtkCollection()
        for node in self._nodes:
            collection.AddItem(node)
        return collection

    def GetNumberOfNodes(self) -> int:
        return len(self._nodes)

    def GetNthNode(self, n: int):
        return self._nodes[n] if 0 <= n < len(self._nodes) else None

    def GetNodeByID(self, node_id: str | None):
        return self._by_id.get(node_id) if node_id is not None else None

    def _new_collection(self, nodes) -> vtk.vtkCollection:
        """A vtkCollection with the extra reference of C++ vtkCollection::New() (callers UnRegister)."""
        collection = vtk.vtkCollection()
        for node in nodes:
            collection.AddItem(node)
        collection.Register(None)
        return collection

    def GetNodesByClass(self, class_name: str) -> vtk.vtkCollection:
        return self._new_collection(n for n in self._nodes if n.IsA(class_name))

    def GetNodesByName(self, name: str) -> vtk.vtkCollection:
        return self._new_collection(n for n in self._nodes if n.GetName() == name)

    def GetNodesByClassByName(self, class_name: str, name: str) -> vtk.vtkCollection:
        return self._new_collection(n for n in self._nodes if n.GetName() == name and n.IsA(class_name))

    def GetNumberOfNodesByClass(self, class_name: str) -> int:
        return sum(1 for n in self._nodes if n.IsA(class_name))

    def GetNthNodeByClass(self, n: int, class_name: str):
        matches = [node for node in self._nodes if node.IsA(class_name)]
        return matches[n] if 0 <= n < len(matches) else None

    def GetFirstNodeByClass(self, class_name: str):
        return self.GetNthNodeByClass(0, class_name)

    def GetFirstNodeByName(self, name: str):
        return next((n for n in self._nodes if n.GetName() == name), None)

    def GetFirstNode(self, by_name=None, by_class=None, by_hide_from_editors=None, exact_name_match=True):
        """exactNameMatch False: regular-expression search in the name (vtksys::RegularExpression::find)."""
        import re

        for node in self._nodes:
            name = node.GetName()
            if by_name is not None and name is not None:
                if exact_name_match and name != by_name:
                    continue
                if not exact_name_match and re.search(by_name, name) is None:
                    continue
            if by_class and not node.IsA(by_class):
                continue
            if by_hide_from_editors is not None and node.GetHideFromEditors() != int(by_hide_from_editors):
                continue
            return node
        return None

    def GetSubjectHierarchyNode(self) -> vtkMRMLSubjectHierarchyNode:
        """Resolved lazily: created (hidden from nothing, named "SubjectHierarchy") when missing."""
        if self._sh_node is None or not self.IsNodePresent(self._sh_node):
            existing = self.GetFirstNodeByClass("vtkMRMLSubjectHierarchyNode")
            if existing is None:
                existing = vtkMRMLSubjectHierarchyNode()
                existing.SetName("SubjectHierarchy")
                self._sh_node = existing
                self.AddNode(existing)
                for node in self._nodes:
                    if _gets_sh_item(node) and not existing.GetItemByDataNode(node):
                        existing.CreateItem(existing.GetSceneItemID(), node)
            self._sh_node = existing
        return self._sh_node


# ----------------------------------------------------------------------------------------------- logics
class vtkSlicerVolumesLogic:
    """Modules/Loadable/Volumes/Logic/vtkSlicerVolumesLogic.cxx (the parts util.py and modules use)."""

    def __init__(self, scene: vtkMRMLScene | None = None) -> None:
        self._scene = scene

    def GetMRMLScene(self):
        return self._scene

    def SetMRMLScene(self, scene) -> None:
        self._scene = scene

    def CreateAndAddLabelVolume(self, *args):
        """(volumeNode, name) or (scene, volumeNode, name): unique name, geometry copied, zero-filled
        VTK_SHORT voxels, a label-map display node with the "Labels" colors."""
        scene, volume, name = (self._scene, *args) if len(args) == 2 else args
        if scene is None or volume is None or name is None:
            return None
        label = vtkMRMLLabelMapVolumeNode()
        label.SetName(scene.GetUniqueNameByString(name))
        scene.AddNode(label)
        if volume.GetID():
            label.SetNodeReferenceID("AssociatedNodeID", volume.GetID())
        image = vtk.vtkImageData()
        source = volume.GetImageData()
        image.SetExtent(source.GetExtent() if source is not None else (0, -1, 0, -1, 0, -1))
        image.AllocateScalars(vtk.VTK_SHORT, 1)
        if image.GetNumberOfPoints():
            _image_array(image)[:] = 0
        label.SetAndObserveImageData(image)
        matrix = vtk.vtkMatrix4x4()
        volume.GetIJKToRASMatrix(matrix)
        label.SetIJKToRASMatrix(matrix)
        label.SetAndObserveTransformNodeID(volume.GetTransformNodeID())
        display = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeDisplayNode")
        display.SetDefaultColorMap()
        label.SetAndObserveDisplayNodeID(display.GetID())
        return label


class vtkSlicerSegmentationsModuleLogic:
    """Static methods of vtkSlicerSegmentationsModuleLogic.cxx used for label-map import/export."""

    @staticmethod
    def _ids(segment_ids) -> list[str]:
        if segment_ids is None:
            return []
        if hasattr(segment_ids, "GetNumberOfValues"):
            return [segment_ids.GetValue(i) for i in range(segment_ids.GetNumberOfValues())]
        return list(segment_ids)

    @staticmethod
    def ExportSegmentsToLabelmapNode(
        segmentation_node,
        segment_ids,
        labelmap_node,
        reference_volume=None,
        extent_mode=vtkSegmentation.EXTENT_UNION_OF_EFFECTIVE_SEGMENTS,
        color_table=None,
    ) -> bool:
        """Merged VTK_SHORT labelmap (value = index in segment_ids + 1) on the reference volume's grid
        (full extent) or on the segmentation's reference geometry with ``extent_mode``."""
        if segmentation_node is None or labelmap_node is None:
            return False
        if segmentation_node.GetScene() is None or labelmap_node.GetScene() is None:
            return False
        segmentation = segmentation_node.GetSegmentation()
        ids = vtkSlicerSegmentationsModuleLogic._ids(segment_ids) or list(segmentation.GetSegmentIDs())
        geometry = None
        if reference_volume is not None and reference_volume.GetImageData() is not None:
            matrix = vtk.vtkMatrix4x4()
            reference_volume.GetIJKToRASMatrix(matrix)
            geometry = (_matrix_to_array(matrix), tuple(reference_volume.GetImageData().GetExtent()))
        merged = segmentation.GenerateMergedLabelmap(extent_mode, geometry, ids)
        transform = (
            reference_volume.GetParentTransformNode()
            if reference_volume
            else segmentation_node.GetParentTransformNode()
        )
        labelmap_node.SetAndObserveTransformNodeID(transform.GetID() if transform else None)
        _set_volume_from_oriented(labelmap_node, merged)
        if labelmap_node.GetDisplayNode() is None:
            labelmap_node.CreateDefaultDisplayNodes()
        if segmentation_node.GetDisplayNode() is None:
            segmentation_node.CreateDefaultDisplayNodes()
        colors = labelmap_node.GetScene().AddNewNodeByClass(
            "vtkMRMLColorTableNode", f"{segmentation_node.GetName()}_ColorTable"
        )
        colors.SetTypeToUser()
        colors.HideFromEditorsOff()
        colors.SetColor(0, "Background", 0.0, 0.0, 0.0, 0.0)
        for index, segment_id in enumerate(ids):
            segment = segmentation.GetSegment(segment_id)
            colors.SetColor(index + 1, segment.GetName(), *segment.GetColor(), 1.0)
        labelmap_node.GetDisplayNode().SetAndObserveColorNodeID(colors.GetID())
        sh = segmentation_node.GetScene().GetSubjectHierarchyNode()
        seg_item, label_item = sh.GetItemByDataNode(segmentation_node), sh.GetItemByDataNode(labelmap_node)
        if seg_item and label_item:
            sh.SetItemParent(label_item, sh.GetItemParent(seg_item))
        return True

    @staticmethod
    def ExportAllSegmentsToLabelmapNode(
        segmentation_node, labelmap_node, extent_mode=vtkSegmentation.EXTENT_UNION_OF_EFFECTIVE_SEGMENTS
    ) -> bool:
        return vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            segmentation_node, [], labelmap_node, None, extent_mode
        )

    @staticmethod
    def ExportVisibleSegmentsToLabelmapNode(
        segmentation_node,
        labelmap_node,
        reference_volume=None,
        extent_mode=vtkSegmentation.EXTENT_UNION_OF_EFFECTIVE_SEGMENTS,
    ) -> bool:
        display = segmentation_node.GetDisplayNode() if segmentation_node else None
        ids = list(display.GetVisibleSegmentIDs()) if display is not None else []
        return vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            segmentation_node, ids, labelmap_node, reference_volume, extent_mode
        )

    @staticmethod
    def ImportLabelmapToSegmentationNode(labelmap, segmentation_node, third="", *_rest) -> bool:
        """With a vtkStringArray: label value n + 1 updates segment ids[n] (created if missing, named by
        its ID), the segment then holds the label map on the label map's own geometry. Otherwise every
        label value becomes a new segment "Label_<n>" (or "<base>_<n>")."""
        if segmentation_node is None or labelmap is None:
            return False
        if segmentation_node.GetSegmentation().GetSourceRepresentationName() != _BINARY:
            return False
        image = labelmap.GetImageData() if isinstance(labelmap, vtkMRMLVolumeNode) else labelmap
        if image is None:
            return False
        if isinstance(labelmap, vtkMRMLVolumeNode):
            matrix = vtk.vtkMatrix4x4()
            labelmap.GetIJKToRASMatrix(matrix)
            to_world = _matrix_to_array(matrix)
        else:
            to_world = _image_to_world(labelmap)
        voxels = _image_array(image)
        if segmentation_node.GetDisplayNode() is None:
            segmentation_node.CreateDefaultDisplayNodes()
        segmentation = segmentation_node.GetSegmentation()
        start = image.GetExtent()[0::2]
        was = segmentation_node.StartModify()
        if hasattr(third, "GetNumberOfValues"):
            for index in range(third.GetNumberOfValues()):
                segment_id = third.GetValue(index)
                if not segment_id:
                    continue
                segment = segmentation.GetSegment(segment_id)
                if segment is None:
                    segment = vtkSegment()
                    segment.SetName(segment_id)
                    if not segmentation.AddSegment(segment, segment_id):
                        segmentation_node.EndModify(was)
                        return False
                mask = (voxels == index + 1).astype(np.uint8)
                segment.SetLabelValue(1)
                segment.AddRepresentation(_BINARY, _make_oriented(mask, to_world, start))
                segmentation.InvokeEvent(segmentation.SourceRepresentationModified)
        else:
            base = third if isinstance(labelmap, vtkOrientedImageData) and third else "Label"
            values = [int(v) for v in np.unique(voxels) if v != 0]
            for index, value in enumerate(values):
                segment = vtkSegment()
                segment.SetName(f"{base}_{index + 1}")
                segment.AddRepresentation(
                    _BINARY, _make_oriented((voxels == value).astype(np.uint8), to_world, start)
                )
                segmentation.AddSegment(segment)
        segmentation_node.EndModify(was)
        segmentation_node.Modified()
        return True


def _set_volume_from_oriented(volume: vtkMRMLVolumeNode, oriented: vtkOrientedImageData) -> None:
    """CreateLabelmapVolumeFromOrientedImageData: image data with zero-based extent, geometry on the node."""
    image = vtk.vtkImageData()
    image.DeepCopy(oriented)
    extent = oriented.GetExtent()
    matrix = vtk.vtkMatrix4x4()
    oriented.GetImageToWorldMatrix(matrix)
    m = _matrix_to_array(matrix)
    m[:3, 3] = m[:3, :3] @ np.array([extent[0], extent[2], extent[4]], float) + m[:3, 3]
    image.SetExtent(0, extent[1] - extent[0], 0, extent[3] - extent[2], 0, extent[5] - extent[4])
    image.SetOrigin(0, 0, 0)
    image.SetSpacing(1, 1, 1)
    volume.SetIJKToRASMatrix(_array_to_matrix(m))
    volume.SetAndObserveImageData(image)


_NODE_CLASSES = [
    vtkMRMLScalarVolumeNode,
    vtkMRMLLabelMapVolumeNode,
    vtkMRMLTensorVolumeNode,
    vtkMRMLVectorVolumeNode,
    vtkMRMLScalarVolumeDisplayNode,
    vtkMRMLLabelMapVolumeDisplayNode,
    vtkMRMLGlyphableVolumeDisplayNode,
    vtkMRMLVectorVolumeDisplayNode,
    vtkMRMLSegmentationDisplayNode,
    vtkMRMLColorTableNode,
    vtkMRMLProceduralColorNode,
    vtkMRMLVolumeArchetypeStorageNode,
    vtkMRMLSegmentationStorageNode,
    vtkMRMLTableStorageNode,
    vtkMRMLScriptedModuleNode,
    vtkMRMLTableNode,
    vtkMRMLSliceCompositeNode,
    vtkMRMLSegmentationNode,
    vtkMRMLSubjectHierarchyNode,
]


def add_default_nodes(scene: vtkMRMLScene) -> None:
    """What Slicer's startup puts in a fresh scene that matters here: the default color nodes
    (vtkMRMLColorLogic::AddDefaultColorNodes) and the Red/Yellow/Green slice composite nodes of the
    conventional layout (singletons, IDs vtkMRMLSliceCompositeNodeRed...). Call once per scene."""
    vtkMRMLColorLogic.AddDefaultColorNodes(scene)
    for view in ("Red", "Yellow", "Green"):
        composite = vtkMRMLSliceCompositeNode()
        composite.SetSingletonTag(view)
        composite.SetName(f"SliceComposite{view}")
        scene.AddNode(composite)
