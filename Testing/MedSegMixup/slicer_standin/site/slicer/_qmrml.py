"""Stand-in for the qMRML widgets scripted modules use: qMRMLWidget and qMRMLNodeComboBox.

Libs/MRML/Widgets/qMRMLWidget.h, qMRMLNodeComboBox.{h,cxx} and qMRMLSortFilterProxyModel.cxx (the node
filter). The combo box lists the scene's nodes of ``nodeTypes`` in scene order by name (names may repeat:
the selection is the node), follows the scene (node added/removed, renamed, HideFromEditors or attribute
changes) and keeps QComboBox's own current-index rules, which is what selects a node automatically:
with ``noneEnabled`` off, the first node added to an empty selector becomes current; removing the current
node selects the next one (the previous one if it was last).
Not emulated: the "Create new / Delete / Rename" action items of the drop-down (``addEnabled`` etc. are
kept as properties; ``addNode()`` and ``removeCurrentNode()`` work) and the node-type labels.
"""

from __future__ import annotations

import qt
import shiboken6
import vtk
from PySide6.QtCore import Property, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QWidget


@qt.cpp_class
class qMRMLWidget(QWidget):
    """qMRMLWidget.h: a QWidget with a scene; ``mrmlSceneChanged(vtkMRMLScene*)`` when it changes."""

    mrmlSceneChanged = Signal(object)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        qt.cpp_setattr(self, "_scene", None)

    def setMRMLScene(self, scene) -> None:
        if scene is self._scene:
            return
        qt.cpp_setattr(self, "_scene", scene)
        qt.cpp_signal(self, "mrmlSceneChanged").emit(scene)

    def mrmlScene(self):
        return self._scene


def _flag(key: str, type_: object = bool, refilter: bool = False) -> Property:
    """A Q_PROPERTY stored in the combo box's private state; ``refilter`` re-applies the node filter."""

    def write(self: qMRMLNodeComboBox, value: object) -> None:
        self._d[key] = value
        if refilter:
            self._refresh()

    return Property(type_, lambda self: self._d[key], write)


@qt.cpp_class
class qMRMLNodeComboBox(QWidget):
    """qMRMLNodeComboBox.h: Q_PROPERTYs, the node list and its signals (overloads in header order)."""

    currentNodeChanged = Signal((object,), (bool,))
    currentNodeIDChanged = Signal(str)
    nodeActivated = Signal(object)
    nodeAdded = Signal(object)
    nodeAddedByUser = Signal(object)
    nodeAboutToBeRemoved = Signal(object)
    currentNodeRenamed = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        combo = QComboBox(self)
        QHBoxLayout(self).addWidget(combo)
        # qMRMLNodeComboBoxPrivate constructor defaults
        qt.cpp_setattr(
            self,
            "_d",
            {
                "combo": combo,
                "scene": None,
                "sceneTags": [],
                "nodeTags": {},
                "names": {},
                "switching": False,
                "nodeTypes": [],
                "showHidden": False,
                "showChildNodeTypes": True,
                "hideChildNodeTypes": [],
                "attributes": {},
                "baseName": "",
                "noneEnabled": False,
                "addEnabled": True,
                "removeEnabled": True,
                "editEnabled": False,
                "renameEnabled": False,
                "selectNodeUponCreation": True,
                "noneDisplay": "None",
                "interactionNodeSingletonTag": "Singleton",
            },
        )
        combo.currentIndexChanged.connect(self._emitCurrentNodeChanged)
        combo.activated.connect(self._emitNodeActivated)
        self.setEnabled(False)  # setMRMLScene: enabled only with a scene

    # ---------------------------------------------------------------------------------------------
    # properties
    def _nodeTypes(self) -> list[str]:
        return list(self._d["nodeTypes"])

    def _setNodeTypes(self, nodeTypes: list[str]) -> None:
        self._d["nodeTypes"] = [str(t) for t in nodeTypes if t]  # setNodeTypes drops empty names
        self._observeNodes()
        self._refresh()

    def _setNoneEnabled(self, enable: bool) -> None:
        if self._d["noneEnabled"] == bool(enable):
            return
        self._d["noneEnabled"] = bool(enable)
        combo = self._d["combo"]
        if enable:
            combo.insertItem(0, self._d["noneDisplay"], None)
        else:
            combo.removeItem(0)

    def _currentNodeID(self) -> str:
        node = self.currentNode()
        return node.GetID() if node is not None else ""

    nodeTypes = Property(list, _nodeTypes, _setNodeTypes)
    showHidden = _flag("showHidden", refilter=True)
    showChildNodeTypes = _flag("showChildNodeTypes", refilter=True)
    hideChildNodeTypes = _flag("hideChildNodeTypes", list, refilter=True)
    baseName = _flag("baseName", str)
    noneEnabled = Property(bool, lambda self: self._d["noneEnabled"], _setNoneEnabled)
    addEnabled = _flag("addEnabled")
    removeEnabled = _flag("removeEnabled")
    editEnabled = _flag("editEnabled")
    renameEnabled = _flag("renameEnabled")
    selectNodeUponCreation = _flag("selectNodeUponCreation")
    noneDisplay = _flag("noneDisplay", str)
    interactionNodeSingletonTag = _flag("interactionNodeSingletonTag", str)
    currentNodeID = Property(
        str, _currentNodeID, lambda self, nodeID: self.setCurrentNodeID(nodeID), notify=currentNodeIDChanged
    )
    currentNodeId = Property(str, _currentNodeID, lambda self, nodeID: self.setCurrentNodeID(nodeID))

    # ---------------------------------------------------------------------------------------------
    # scene
    def setMRMLScene(self, scene) -> None:
        """qMRMLNodeComboBox::setMRMLScene: no-op for the same scene; the list is rebuilt; the current node is
        kept by ID when the previous scene had nodes; the widget is enabled only with a scene."""
        d = self._d
        if scene is d["scene"]:
            return
        before = self.currentNode()
        oldID = before.GetID() if before is not None else ""
        previousSceneWasValid = self.nodeCount() > 0
        if d["scene"] is not None:
            for tag in d["sceneTags"]:
                d["scene"].RemoveObserver(tag)
        self._unobserveNodes()
        d["scene"] = scene
        d["sceneTags"] = []
        d["switching"] = True
        try:
            self._refresh()
        finally:
            d["switching"] = False
        if scene is not None:
            d["sceneTags"] = [
                scene.AddObserver(scene.NodeAddedEvent, self._sceneCallback(self._onNodeAdded)),
                scene.AddObserver(
                    scene.NodeAboutToBeRemovedEvent, self._sceneCallback(self._onNodeAboutToBeRemoved)
                ),
                scene.AddObserver(scene.NodeRemovedEvent, self._sceneCallback(self._onNodeRemoved)),
            ]
            self._observeNodes()
        if previousSceneWasValid:
            self.setCurrentNodeID(oldID)
        if self.currentNode() is not before:
            self._emitCurrentNodeChanged()
        self.setEnabled(scene is not None)

    def mrmlScene(self):
        return self._d["scene"]

    def _sceneCallback(self, method):
        @vtk.calldata_type(vtk.VTK_OBJECT)
        def callback(caller, event, node) -> None:
            if shiboken6.isValid(self):
                method(node)

        return callback

    def _observeNodes(self) -> None:
        d = self._d
        if d["scene"] is None:
            return
        for index in range(d["scene"].GetNumberOfNodes()):
            self._observeNode(d["scene"].GetNthNode(index))

    def _observeNode(self, node) -> None:
        """qMRMLSceneModel observes each node's ModifiedEvent (name, HideFromEditors, attributes)."""
        d = self._d
        if id(node) in d["nodeTags"]:
            return

        def modified(caller, event) -> None:
            if shiboken6.isValid(self):
                self._onNodeModified(caller)

        d["nodeTags"][id(node)] = (node, node.AddObserver(vtk.vtkCommand.ModifiedEvent, modified))

    def _unobserveNodes(self) -> None:
        for node, tag in self._d["nodeTags"].values():
            node.RemoveObserver(tag)
        self._d["nodeTags"] = {}

    def _onNodeAdded(self, node) -> None:
        self._observeNode(node)
        if not self._accepts(node):
            return  # qMRMLSortFilterProxyModel filters the new row out: the list cannot change
        if self._refresh():
            qt.cpp_signal(self, "nodeAdded").emit(node)  # emitNodesAdded: rows inserted in the model

    def _onNodeAboutToBeRemoved(self, node) -> None:
        if self._indexOf(node) >= 0:
            qt.cpp_signal(self, "nodeAboutToBeRemoved").emit(node)

    def _onNodeRemoved(self, node) -> None:
        entry = self._d["nodeTags"].pop(id(node), None)
        if entry is not None:
            node.RemoveObserver(entry[1])
        if self._indexOf(node) >= 0:  # a filtered-out node had no row to remove
            self._refresh()

    def _onNodeModified(self, node) -> None:
        index = self._indexOf(node)
        combo = self._d["combo"]
        renamedCurrent = (
            index >= 0 and index == combo.currentIndex and combo.itemText(index) != node.GetName()
        )
        self._refresh()
        if renamedCurrent and self.currentNode() is node:
            # QComboBox::_q_dataChanged (Qt 5) emits currentTextChanged for the current item, which
            # qMRMLNodeComboBox turns into currentNodeChanged again
            self._emitCurrentNodeChanged()

    # ---------------------------------------------------------------------------------------------
    # node filter: qMRMLSortFilterProxyModel::filterAcceptsNode
    def _accepts(self, node) -> bool:
        d = self._d
        if not d["showHidden"] and node.GetHideFromEditors():
            return False
        if not d["nodeTypes"]:
            return True
        for nodeType in d["nodeTypes"]:
            if not node.IsA(nodeType):
                continue
            if not d["showChildNodeTypes"] and nodeType != node.GetClassName():
                continue
            if d["showChildNodeTypes"] and any(node.IsA(hidden) for hidden in d["hideChildNodeTypes"]):
                return False
            if nodeType in d["attributes"]:
                name, value = d["attributes"][nodeType]
                actual = node.GetAttribute(name)
                if actual is None or (value is not None and str(value) != actual):
                    return False
            return True
        return False

    def _accepted(self) -> list:
        scene = self._d["scene"]
        if scene is None:
            return []
        nodes = (scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes()))
        return [node for node in nodes if self._accepts(node)]

    def _refresh(self) -> bool:
        """Bring the items in line with the accepted nodes, one insert/remove at a time so that QComboBox
        applies its current-index rules. Returns whether the list changed."""
        combo = self._d["combo"]
        offset = 1 if self._d["noneEnabled"] else 0
        wanted = self._accepted()
        wantedIDs = [node.GetID() for node in wanted]
        changed = False
        index = offset
        while index < combo.count:
            if combo.itemData(index) in wantedIDs:
                index += 1
            else:
                combo.removeItem(index)
                changed = True
        for position, node in enumerate(wanted):
            index = position + offset
            if index >= combo.count or combo.itemData(index) != node.GetID():
                existing = next(
                    (i for i in range(index, combo.count) if combo.itemData(i) == node.GetID()), -1
                )
                if existing >= 0:
                    combo.removeItem(existing)
                combo.insertItem(index, node.GetName() or "", node.GetID())
                changed = True
            elif combo.itemText(index) != (node.GetName() or ""):
                combo.setItemText(index, node.GetName() or "")
        return changed

    # ---------------------------------------------------------------------------------------------
    # current node
    def _indexOf(self, node) -> int:
        if node is None or node.GetID() is None:
            return -1
        return self._d["combo"].findData(node.GetID(), Qt.ItemDataRole.UserRole)

    def _nodeAt(self, comboIndex: int):
        if comboIndex < 0 or self._d["scene"] is None:
            return None
        nodeID = self._d["combo"].itemData(comboIndex)
        return self._d["scene"].GetNodeByID(nodeID) if nodeID else None

    def currentNode(self):
        return self._nodeAt(self._d["combo"].currentIndex)

    def setCurrentNode(self, node) -> None:
        if isinstance(node, str):
            print("This function is deprecated. Use setCurrentNodeID() instead")
            self.setCurrentNodeID(node)
            return
        self.setCurrentNodeID(node.GetID() if node is not None else "")

    def setCurrentNodeID(self, nodeID: str) -> None:
        """setCurrentNodeIDInternal: an unknown ID selects "None" (index 0) or nothing (-1)."""
        combo = self._d["combo"]
        index = combo.findData(nodeID, Qt.ItemDataRole.UserRole) if nodeID else -1
        if index < 0:
            index = 0 if self._d["noneEnabled"] else -1
        combo.setCurrentIndex(index)

    def setCurrentNodeIndex(self, index: int) -> None:
        if index >= self.nodeCount():
            index = -1
        if self._d["noneEnabled"]:
            index += 1
        self._d["combo"].setCurrentIndex(index)

    def nodeCount(self) -> int:
        if self._d["scene"] is None:
            return 0
        return self._d["combo"].count - (1 if self._d["noneEnabled"] else 0)

    def nodeFromIndex(self, index: int):
        return self._nodeAt(index + 1 if self._d["noneEnabled"] else index)

    def nodes(self) -> list:
        return [self.nodeFromIndex(i) for i in range(self.nodeCount())]

    def _emitCurrentNodeChanged(self, *_args: object) -> None:
        if self._d["switching"]:
            return
        node = self.currentNode()
        qt.cpp_signal(self, "currentNodeChanged")[object].emit(node)
        qt.cpp_signal(self, "currentNodeChanged")[bool].emit(node is not None)
        qt.cpp_signal(self, "currentNodeIDChanged").emit(node.GetID() if node is not None else "")

    def _emitNodeActivated(self, index: int) -> None:
        node = self._nodeAt(index)
        if node is not None or (self._d["noneEnabled"] and index == 0):
            qt.cpp_signal(self, "nodeActivated").emit(node)

    # ---------------------------------------------------------------------------------------------
    # filters and actions
    def addAttribute(self, nodeType: str, attributeName: str, attributeValue: object = None) -> None:
        """One attribute filter per node type (qMRMLSortFilterProxyModel::addAttribute replaces)."""
        self._d["attributes"][nodeType] = (attributeName, attributeValue)
        self._refresh()

    def removeAttribute(self, nodeType: str, attributeName: str) -> None:
        if self._d["attributes"].get(nodeType, (None,))[0] == attributeName:
            del self._d["attributes"][nodeType]
            self._refresh()

    def addNode(self, nodeType: str | None = None):
        """qMRMLNodeComboBox::addNode: a node of ``nodeType`` (default: the first of nodeTypes) named after
        ``baseName`` (or the node's default prefix), selected if selectNodeUponCreation."""
        scene = self._d["scene"]
        nodeType = nodeType or (self._d["nodeTypes"][0] if self._d["nodeTypes"] else None)
        if scene is None or not nodeType:
            return None
        node = scene.CreateNodeByClass(nodeType)
        node.UnRegister(None)
        base = self._d["baseName"] or node.GetDefaultNodeNamePrefix() or nodeType
        node.SetName(scene.GenerateUniqueName(base))
        scene.AddNode(node)
        if self._d["selectNodeUponCreation"]:
            self.setCurrentNode(node)
        qt.cpp_signal(self, "nodeAddedByUser").emit(node)
        return node

    def removeCurrentNode(self) -> None:
        self._d["scene"].RemoveNode(self.currentNode())

    def sortFilterProxyModel(self) -> None:
        """Not emulated: the filter lives in the combo box itself."""
        return None
