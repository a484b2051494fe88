"""Stand-in for Slicer's ``slicer.util`` (Base/Python/slicer/util.py, commit 583e9b37).

Scene, node and array functions live here; the application/GUI helpers in ``_util_app`` and the
process/pip helpers in ``_util_process`` are re-exported at the end, as one module like Slicer's.
File IO that Slicer does through qSlicerCoreIOManager (ITK readers/writers) is done with SimpleITK,
with the same LPS (file) <-> RAS (MRML) flip as vtkMRMLVolumeArchetypeStorageNode.
"""

from __future__ import annotations

import importlib.abc
import logging
import sys
from pathlib import Path

import numpy as np
import vtk
import vtk.util.numpy_support


class _NoITKPython(importlib.abc.MetaPathFinder):
    """Slicer's ITK is built with ITK_WRAP_PYTHON OFF: ``import itk`` fails there, so it fails here too,
    even when some ``itk`` package is installed in this interpreter."""

    def find_spec(self, name, path=None, target=None):
        if name == "itk" or name.startswith("itk."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


if not any(isinstance(finder, _NoITKPython) for finder in sys.meta_path):
    sys.meta_path.insert(0, _NoITKPython())
for _module in [m for m in sys.modules if m == "itk" or m.startswith("itk.")]:
    del sys.modules[_module]

#: Layers set by setSliceViewerLayers (there are no slice views here): node IDs, opacities, fit flags.
slice_viewer_layers: dict = {}


class MRMLNodeNotFoundException(Exception):
    """Exception raised when a requested MRML node was not found."""


# ----------------------------------------------------------------------------------------------- nodes
def getNodes(pattern="*", scene=None, useLists=False):
    """Nodes whose name or ID matches the fnmatch ``pattern``, keyed by name (last one wins)."""
    import collections
    import fnmatch

    import slicer

    nodes = collections.OrderedDict()
    if scene is None:
        scene = slicer.mrmlScene
    for index in range(scene.GetNumberOfNodes()):
        node = scene.GetNthNode(index)
        name, node_id = node.GetName(), node.GetID()
        if fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(node_id, pattern):
            if useLists:
                nodes.setdefault(name, []).append(node)
            else:
                nodes[name] = node
    return nodes


def getNode(pattern="*", index=0, scene=None):
    """The ``index``-th node matching ``pattern``; raises MRMLNodeNotFoundException if none."""
    nodes = getNodes(pattern, scene)
    if not nodes:
        raise MRMLNodeNotFoundException(
            "could not find nodes in the scene by name or id '%s'"
            % (pattern if isinstance(pattern, str) else "")
        )
    return list(nodes.values())[index]


def getNodesByClass(className, scene=None):
    """All nodes of the class (IsA, so subclasses too). As in Slicer, ``scene`` is ignored: the
    query always runs on slicer.mrmlScene."""
    import slicer

    if scene is None:
        scene = slicer.mrmlScene
    nodes = slicer.mrmlScene.GetNodesByClass(className)
    nodes.UnRegister(slicer.mrmlScene)
    node_list = []
    nodes.InitTraversal()
    node = nodes.GetNextItemAsObject()
    while node:
        node_list.append(node)
        node = nodes.GetNextItemAsObject()
    return node_list


def getFirstNodeByClassByName(className, name, scene=None):
    """First node with exactly this name and of this class (None if none)."""
    import slicer

    if scene is None:
        scene = slicer.mrmlScene
    return scene.GetFirstNode(name, className)


def getFirstNodeByName(name, className=None):
    """First node whose name matches ``name`` as a regular expression (vtkMRMLScene::GetFirstNode with
    exactNameMatch=False); the call passes byHideFromEditors=False, i.e. only nodes shown in editors."""
    import slicer

    return slicer.mrmlScene.GetFirstNode(name, className, False, False)


class NodeModify:
    """Context manager compressing a node's Modified events (StartModify/EndModify)."""

    def __init__(self, node):
        self.node = node

    def __enter__(self):
        self.wasModifying = self.node.StartModify()
        return self.node

    def __exit__(self, type, value, traceback):
        self.node.EndModify(self.wasModifying)


def getSubjectHierarchyItemChildren(parentItem=None, recursive=False):
    """Child item IDs of ``parentItem`` (the scene item when None)."""
    import slicer

    shNode = slicer.mrmlScene.GetSubjectHierarchyNode()
    if not parentItem:
        parentItem = shNode.GetSceneItemID()
    ids = vtk.vtkIdList()
    shNode.GetItemChildren(parentItem, ids, recursive)
    return [ids.GetId(index) for index in range(ids.GetNumberOfIds())]


# ----------------------------------------------------------------------------------------------- arrays
def arrayFromVolume(volumeNode):
    """A numpy VIEW on the node's voxels, axes (k, j, i) (+ component axis for multi-component vector
    volumes). Raises RuntimeError for other node classes (exact class names, as in Slicer)."""
    scalarTypes = ["vtkMRMLScalarVolumeNode", "vtkMRMLLabelMapVolumeNode"]
    vectorTypes = ["vtkMRMLVectorVolumeNode", "vtkMRMLMultiVolumeNode", "vtkMRMLDiffusionWeightedVolumeNode"]
    tensorTypes = ["vtkMRMLDiffusionTensorVolumeNode"]
    vimage = volumeNode.GetImageData()
    nshape = tuple(reversed(volumeNode.GetImageData().GetDimensions()))
    if volumeNode.GetClassName() in scalarTypes:
        return vtk.util.numpy_support.vtk_to_numpy(vimage.GetPointData().GetScalars()).reshape(nshape)
    if volumeNode.GetClassName() in vectorTypes:
        components = vimage.GetNumberOfScalarComponents()
        if components > 1:
            nshape = (*nshape, components)
        return vtk.util.numpy_support.vtk_to_numpy(vimage.GetPointData().GetScalars()).reshape(nshape)
    if volumeNode.GetClassName() in tensorTypes:
        return vtk.util.numpy_support.vtk_to_numpy(vimage.GetPointData().GetTensors()).reshape(
            (*nshape, 3, 3)
        )
    raise RuntimeError("Unsupported volume type: " + volumeNode.GetClassName())


def arrayFromVolumeModified(volumeNode):
    """Signal that the array returned by arrayFromVolume was changed."""
    imageData = volumeNode.GetImageData()
    pointData = imageData.GetPointData() if imageData else None
    if pointData:
        if pointData.GetScalars():
            pointData.GetScalars().Modified()
        if pointData.GetTensors():
            pointData.GetTensors().Modified()
    volumeNode.Modified()


def arrayFromVTKMatrix(vmatrix):
    """A copy of a vtkMatrix4x4/vtkMatrix3x3 as a numpy array."""
    if isinstance(vmatrix, vtk.vtkMatrix4x4):
        size = 4
    elif isinstance(vmatrix, vtk.vtkMatrix3x3):
        size = 3
    else:
        raise RuntimeError("Input must be vtk.vtkMatrix3x3 or vtk.vtkMatrix4x4")
    narray = np.eye(size)
    vmatrix.DeepCopy(narray.ravel(), vmatrix)
    return narray


def vtkMatrixFromArray(narray):
    """A new vtkMatrix4x4 / vtkMatrix3x3 from a 4x4 / 3x3 array."""
    if narray.shape == (4, 4):
        vmatrix = vtk.vtkMatrix4x4()
    elif narray.shape == (3, 3):
        vmatrix = vtk.vtkMatrix3x3()
    else:
        raise RuntimeError("Unsupported numpy array shape: " + str(narray.shape) + " expected (4,4)")
    updateVTKMatrixFromArray(vmatrix, narray)
    return vmatrix


def updateVTKMatrixFromArray(vmatrix, narray):
    """Copy array values into an existing VTK matrix of the same size."""
    if isinstance(vmatrix, vtk.vtkMatrix4x4):
        size = 4
    elif isinstance(vmatrix, vtk.vtkMatrix3x3):
        size = 3
    else:
        raise RuntimeError("Output vmatrix must be vtk.vtkMatrix3x3 or vtk.vtkMatrix4x4")
    if narray.shape != (size, size):
        raise RuntimeError(f"Input narray size must match output vmatrix size ({size}x{size})")
    vmatrix.DeepCopy(narray.ravel())


def updateVolumeFromArray(volumeNode, narray):
    """Deep-copy ``narray`` (k, j, i[, c]) into the node's image data (dimensions and type follow the
    array; 1-D/2-D arrays become a single slice); long long is rejected."""
    vshape = tuple(reversed(narray.shape))
    if len(vshape) == 1:
        vcomponents = 1
        narray3d = np.zeros([1, 1, narray.shape[0]])
        narray3d[0, 0, :] = narray
        narray = narray3d
        vshape = tuple(reversed(narray.shape))
    elif len(vshape) == 2:
        vcomponents = 1
        narray3d = np.zeros([1, narray.shape[0], narray.shape[1]])
        narray3d[0] = narray
        narray = narray3d
        vshape = tuple(reversed(narray.shape))
    elif len(vshape) == 3:
        vcomponents = 1
    elif len(vshape) == 4:
        vcomponents = vshape[0]
        vshape = vshape[1:4]
    else:
        raise RuntimeError("Unsupported numpy array shape: " + str(narray.shape))
    vimage = volumeNode.GetImageData()
    if not vimage:
        vimage = vtk.vtkImageData()
        volumeNode.SetAndObserveImageData(vimage)
    vtype = vtk.util.numpy_support.get_vtk_array_type(narray.dtype)
    if vtype == vtk.VTK_LONG_LONG:
        raise RuntimeError("Unsupported numpy array type: long long")
    vimage.SetDimensions(vshape)
    vimage.AllocateScalars(vtype, vcomponents)
    narrayTarget = arrayFromVolume(volumeNode)
    narrayTarget[:] = narray
    import slicer

    volumeNode.StorableModified()
    volumeNode.Modified()
    volumeNode.InvokeEvent(slicer.vtkMRMLVolumeNode.ImageDataModifiedEvent, volumeNode)


def addVolumeFromArray(narray, ijkToRAS=None, name=None, nodeClassName=None):
    """New volume node (default vtkMRMLScalarVolumeNode) with a deep copy of ``narray``; ``ijkToRAS`` is
    a 4x4 array or vtkMatrix4x4; the name is used as given ("" -> generated)."""
    import slicer

    if name is None:
        name = ""
    if nodeClassName is None:
        nodeClassName = "vtkMRMLScalarVolumeNode"
    volumeNode = slicer.mrmlScene.AddNewNodeByClass(nodeClassName, name)
    if ijkToRAS is not None:
        if not isinstance(ijkToRAS, vtk.vtkMatrix4x4):
            ijkToRAS = vtkMatrixFromArray(ijkToRAS)
        volumeNode.SetIJKToRASMatrix(ijkToRAS)
    updateVolumeFromArray(volumeNode, narray)
    volumeNode.CreateDefaultDisplayNodes()
    return volumeNode


# ----------------------------------------------------------------------------------------------- segments
def _segmentations_logic():
    """slicer.modules.segmentations.logic() (its static methods)."""
    from slicer._mrml import vtkSlicerSegmentationsModuleLogic

    return vtkSlicerSegmentationsModuleLogic


def arrayFromSegment(segmentationNode, segmentId):
    """Deprecated since 4.13: logs a warning and returns arrayFromSegmentBinaryLabelmap(...)."""
    logging.warning(
        "arrayFromSegment is deprecated. "
        "Binary labelmap representation may be shared between multiple segments."
    )
    return arrayFromSegmentBinaryLabelmap(segmentationNode, segmentId)


def arrayFromSegmentInternalBinaryLabelmap(segmentationNode, segmentId):
    """A view on the segment's internal labelmap, on its own geometry and extent."""
    vimage = segmentationNode.GetBinaryLabelmapInternalRepresentation(segmentId)
    nshape = tuple(reversed(vimage.GetDimensions()))
    return vtk.util.numpy_support.vtk_to_numpy(vimage.GetPointData().GetScalars()).reshape(nshape)


def arrayFromSegmentBinaryLabelmap(segmentationNode, segmentId, referenceVolumeNode=None):
    """A copy of the segment's mask (int16, 0/1) on the reference volume's full grid, resampled
    nearest-neighbour. Without ``referenceVolumeNode`` the segmentation's reference-geometry volume node
    is used; RuntimeError if that node is gone."""
    import slicer

    if not referenceVolumeNode:
        referenceVolumeNode = segmentationNode.GetNodeReference(
            slicer.vtkMRMLSegmentationNode.GetReferenceImageGeometryReferenceRole()
        )
        if not referenceVolumeNode:
            raise RuntimeError(
                "No reference volume is found in the input segmentationNode, therefore a valid "
                "referenceVolumeNode input is required."
            )
    segmentIds = vtk.vtkStringArray()
    segmentIds.InsertNextValue(segmentId)
    labelmapVolumeNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__temp__")
    try:
        if not _segmentations_logic().ExportSegmentsToLabelmapNode(
            segmentationNode, segmentIds, labelmapVolumeNode, referenceVolumeNode
        ):
            raise RuntimeError("Export of segment failed.")
        narray = arrayFromVolume(labelmapVolumeNode)
    finally:
        if labelmapVolumeNode.GetDisplayNode():
            slicer.mrmlScene.RemoveNode(labelmapVolumeNode.GetDisplayNode().GetColorNode())
        slicer.mrmlScene.RemoveNode(labelmapVolumeNode)
    return narray


def updateSegmentBinaryLabelmapFromArray(narray, segmentationNode, segmentId, referenceVolumeNode=None):
    """Set the segment from a 0/1 (or >0) array on the reference volume's grid (deep copy)."""
    import slicer

    if not referenceVolumeNode:
        referenceVolumeNode = segmentationNode.GetNodeReference(
            slicer.vtkMRMLSegmentationNode.GetReferenceImageGeometryReferenceRole()
        )
        if not referenceVolumeNode:
            raise RuntimeError(
                "No reference volume is found in the input segmentationNode, therefore a valid "
                "referenceVolumeNode input is required."
            )
    from slicer._mrml import vtkSlicerVolumesLogic

    labelmapVolumeNode = vtkSlicerVolumesLogic(slicer.mrmlScene).CreateAndAddLabelVolume(
        referenceVolumeNode, "__temp__"
    )
    try:
        if narray.min() >= 0 and narray.max() <= 1:
            updateVolumeFromArray(labelmapVolumeNode, narray)
        else:
            narrayNormalized = np.zeros(narray.shape, np.uint8)
            narrayNormalized[narray > 0] = 1
            updateVolumeFromArray(labelmapVolumeNode, narrayNormalized)
        segmentIds = vtk.vtkStringArray()
        segmentIds.InsertNextValue(segmentId)
        if not _segmentations_logic().ImportLabelmapToSegmentationNode(
            labelmapVolumeNode, segmentationNode, segmentIds
        ):
            raise RuntimeError("Importing of segment failed.")
    finally:
        slicer.mrmlScene.RemoveNode(labelmapVolumeNode)


# ----------------------------------------------------------------------------------------------- tables
def arrayFromTableColumn(tableNode, columnName):
    """A view on a numeric column."""
    return vtk.util.numpy_support.vtk_to_numpy(tableNode.GetTable().GetColumnByName(columnName))


def arrayFromTableColumnModified(tableNode, columnName):
    """Signal that the array returned by arrayFromTableColumn was changed."""
    tableNode.GetTable().GetColumnByName(columnName).Modified()
    tableNode.GetTable().Modified()


def _vtkArrayFromNumpyArray(narray, deep=False, arrayType=None):
    """numpy -> VTK array; VTK_BIT packed by hand (VTK issue 19610)."""
    if arrayType == vtk.VTK_BIT:
        packedBits = np.packbits(narray)
        resultArray = vtk.util.numpy_support.create_vtk_array(arrayType)
        resultArray.SetNumberOfComponents(1)
        resultArray.SetNumberOfTuples(narray.shape[0])
        resultArray.SetVoidArray(packedBits, narray.shape[0], 1)
        copy = resultArray.NewInstance()
        copy.DeepCopy(resultArray)
        return copy
    return vtk.util.numpy_support.numpy_to_vtk(narray, deep=deep, array_type=arrayType)


def updateTableFromArray(tableNode, narrays, columnNames=None, setBoolAsUchar=False):
    """Replace all columns of ``tableNode`` (a new table node when None) with the arrays."""
    import slicer

    if tableNode is None:
        tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode")
    if isinstance(narrays, np.ndarray) and narrays.dtype.names:
        if columnNames is None:
            columnNames = list(narrays.dtype.names)
        ncolumns = [narrays[field] for field in narrays.dtype.names]
    elif isinstance(narrays, np.ndarray) and len(narrays.shape) == 1:
        ncolumns = [narrays]
    elif isinstance(narrays, np.ndarray) and len(narrays.shape) == 2:
        ncolumns = narrays.T
    elif isinstance(narrays, (tuple, list)):
        ncolumns = narrays
    else:
        raise ValueError(
            "Expected a structured NumPy array (with named fields), a 1D/2D NumPy array, or a "
            f"list/tuple of 1D arrays; got {type(narrays)} instead."
        )
    tableNode.RemoveAllColumns()
    if columnNames is None:
        columnNames = []
    if isinstance(columnNames, str):
        columnNames = [columnNames]
    for columnIndex, ncolumn in enumerate(ncolumns):
        vtype = None
        if ncolumn.dtype == np.bool_:
            if setBoolAsUchar:
                ncolumn = ncolumn.astype("uint8")
            else:
                vtype = vtk.VTK_BIT
        if vtype is None:
            vtype = vtk.util.numpy_support.get_vtk_array_type(ncolumn.dtype)
        vcolumn = _vtkArrayFromNumpyArray(ncolumn.ravel(), deep=True, arrayType=vtype)
        if columnIndex < len(columnNames):
            vcolumn.SetName(columnNames[columnIndex])
        tableNode.AddColumn(vcolumn)
    return tableNode


# ----------------------------------------------------------------------------------------------- ITK (absent)
def itkImageFromVolume(volumeNode):
    """Needs ITK-Python: ``import itk`` raises ModuleNotFoundError in Slicer (and here)."""
    import itk

    return itk.image_from_vtk_image(volumeNode.GetImageData())


def itkImageFromVolumeModified(volumeNode):
    """Signal voxel changes made through an ITK image (does not need itk)."""
    imageData = volumeNode.GetImageData()
    pointData = imageData.GetPointData() if imageData else None
    if pointData:
        for array in (pointData.GetScalars(), pointData.GetTensors(), pointData.GetVectors()):
            if array:
                array.Modified()
    volumeNode.Modified()


def addVolumeFromITKImage(itkImage, name=None, nodeClassName=None, deepCopy=True):
    """As in Slicer: the node is added to the scene first, then updateVolumeFromITKImage raises
    ModuleNotFoundError (so an empty node is left behind)."""
    import slicer

    if name is None:
        name = ""
    if nodeClassName is None:
        nodeClassName = "vtkMRMLScalarVolumeNode"
    volumeNode = slicer.mrmlScene.AddNewNodeByClass(nodeClassName, name)
    updateVolumeFromITKImage(volumeNode, itkImage, deepCopy)
    volumeNode.CreateDefaultDisplayNodes()
    return volumeNode


def updateVolumeFromITKImage(volumeNode, itkImage, deepCopy=True):
    """Needs ITK-Python: ``import itk`` raises ModuleNotFoundError in Slicer (and here)."""
    import itk

    volumeNode.SetAndObserveImageData(itk.vtk_image_from_image(itkImage))


# ----------------------------------------------------------------------------------------------- views
def setSliceViewerLayers(
    background="keep-current",
    foreground="keep-current",
    label="keep-current",
    foregroundOpacity=None,
    labelOpacity=None,
    fit=False,
    rotateToVolumePlane=False,
):
    """Set the layers on every vtkMRMLSliceCompositeNode of the scene (as Slicer) and record them in
    ``slice_viewer_layers`` (there are no views to fit or rotate here: those flags are recorded)."""
    import slicer

    def _nodeID(nodeOrID):
        return nodeOrID.GetID() if isinstance(nodeOrID, slicer.vtkMRMLNode) else nodeOrID

    for index in range(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")):
        sliceViewer = slicer.mrmlScene.GetNthNodeByClass(index, "vtkMRMLSliceCompositeNode")
        if background != "keep-current":
            sliceViewer.SetBackgroundVolumeID(_nodeID(background))
        if foreground != "keep-current":
            sliceViewer.SetForegroundVolumeID(_nodeID(foreground))
        if foregroundOpacity is not None:
            sliceViewer.SetForegroundOpacity(foregroundOpacity)
        if label != "keep-current":
            sliceViewer.SetLabelVolumeID(_nodeID(label))
        if labelOpacity is not None:
            sliceViewer.SetLabelOpacity(labelOpacity)
    for key, value in (("background", background), ("foreground", foreground), ("label", label)):
        if value != "keep-current":
            slice_viewer_layers[key] = _nodeID(value)
    if foregroundOpacity is not None:
        slice_viewer_layers["foregroundOpacity"] = foregroundOpacity
    if labelOpacity is not None:
        slice_viewer_layers["labelOpacity"] = labelOpacity
    slice_viewer_layers["fit"] = fit
    slice_viewer_layers["rotateToVolumePlane"] = rotateToVolumePlane


# ----------------------------------------------------------------------------------------------- file IO
_VOLUME_EXTENSIONS = (
    ".seg.nrrd",
    ".nii.gz",
    ".nrrd",
    ".nhdr",
    ".nii",
    ".mha",
    ".mhd",
    ".hdr",
    ".img",
    ".img.gz",
    ".tif",
    ".tiff",
    ".png",
    ".jpg",
    ".bmp",
    ".vtk",
    ".dcm",
)
_TABLE_EXTENSIONS = (".tsv", ".csv", ".txt")


def _known_extension(filename) -> str:
    lower = str(filename).lower()
    return next(
        (ext for ext in _VOLUME_EXTENSIONS + _TABLE_EXTENSIONS if lower.endswith(ext)), Path(lower).suffix
    )


def _ras_matrix_from_sitk(image) -> np.ndarray:
    """IJK->RAS = diag(-1, -1, 1) . [direction * spacing | origin] in LPS (2-D images: k axis = LPS S)."""
    dim = image.GetDimension()
    direction = np.eye(3)
    direction[:dim, :dim] = np.array(image.GetDirection()).reshape(dim, dim)
    spacing = np.ones(3)
    spacing[:dim] = image.GetSpacing()
    origin = np.zeros(3)
    origin[:dim] = image.GetOrigin()
    ijk_to_lps = np.eye(4)
    ijk_to_lps[:3, :3] = direction * spacing[None, :]
    ijk_to_lps[:3, 3] = origin
    return np.diag([-1.0, -1.0, 1.0, 1.0]) @ ijk_to_lps


def _sitk_from_volume(volumeNode, narray=None):
    """The node's voxels and geometry as a SimpleITK image in LPS."""
    import SimpleITK as sitk

    narray = arrayFromVolume(volumeNode) if narray is None else narray
    vector = narray.ndim == 4
    image = sitk.GetImageFromArray(np.ascontiguousarray(narray), isVector=vector)
    matrix = vtk.vtkMatrix4x4()
    volumeNode.GetIJKToRASMatrix(matrix)
    ijk_to_lps = np.diag([-1.0, -1.0, 1.0, 1.0]) @ arrayFromVTKMatrix(matrix)
    spacing = volumeNode.GetSpacing()
    image.SetSpacing(spacing)
    image.SetOrigin(ijk_to_lps[:3, 3].tolist())
    image.SetDirection([ijk_to_lps[r, c] / spacing[c] for r in range(3) for c in range(3)])
    return image


def _read_volume(filename, properties):
    import SimpleITK as sitk

    import slicer

    image = sitk.ReadImage(str(filename))
    name = properties.get("name") or Path(str(filename)).name.split(".")[0]  # QFileInfo::baseName
    labelmap = bool(properties.get("labelmap", False))
    components = image.GetNumberOfComponentsPerPixel()
    class_name = (
        "vtkMRMLLabelMapVolumeNode"
        if labelmap
        else "vtkMRMLVectorVolumeNode"
        if components > 1
        else "vtkMRMLScalarVolumeNode"
    )
    narray = sitk.GetArrayFromImage(image)
    if image.GetDimension() == 2:
        narray = narray[np.newaxis, ...]
    node = slicer.mrmlScene.AddNewNodeByClass(class_name, slicer.mrmlScene.GetUniqueNameByString(name))
    storage = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(filename))
    node.SetAndObserveStorageNodeID(storage.GetID())
    ijk_to_ras = _ras_matrix_from_sitk(image)
    if properties.get("discardOrientation"):
        ijk_to_ras[:3, :3] = np.diag(np.sqrt((ijk_to_ras[:3, :3] ** 2).sum(axis=0)))
    node.SetIJKToRASMatrix(vtkMatrixFromArray(ijk_to_ras))
    updateVolumeFromArray(node, narray)
    if properties.get("center"):
        center = ijk_to_ras[:3, :3] @ ((np.array(narray.shape[:3][::-1]) - 1) / 2.0)
        node.SetOrigin(*(-center))
    node.CreateDefaultDisplayNodes()
    if properties.get("colorNodeID"):
        node.GetDisplayNode().SetAndObserveColorNodeID(properties["colorNodeID"])
    if properties.get("show", True):
        if labelmap:
            setSliceViewerLayers(label=node)
        else:
            setSliceViewerLayers(background=node)
    return node


def _read_segmentation(filename, properties):
    import SimpleITK as sitk

    import slicer

    image = sitk.ReadImage(str(filename))
    base = Path(str(filename)).name
    for ext in (".seg.nrrd", ".nii.gz", *_VOLUME_EXTENSIONS):
        if base.lower().endswith(ext):
            base = base[: -len(ext)]
            break
    name = properties.get("name") or base
    node = slicer.mrmlScene.AddNewNodeByClass(
        "vtkMRMLSegmentationNode", slicer.mrmlScene.GetUniqueNameByString(name)
    )
    node.CreateDefaultDisplayNodes()
    storage = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(filename))
    node.SetAndObserveStorageNodeID(storage.GetID())
    from slicer._mrml import vtkOrientedImageData

    labelmap = vtkOrientedImageData()
    narray = sitk.GetArrayFromImage(image)
    k, j, i = narray.shape
    labelmap.SetDimensions(i, j, k)
    labelmap.AllocateScalars(vtk.util.numpy_support.get_vtk_array_type(narray.dtype), 1)
    vtk.util.numpy_support.vtk_to_numpy(labelmap.GetPointData().GetScalars()).reshape(narray.shape)[:] = (
        narray
    )
    labelmap.SetGeometryFromImageToWorldMatrix(vtkMatrixFromArray(_ras_matrix_from_sitk(image)))
    return node if _segmentations_logic().ImportLabelmapToSegmentationNode(labelmap, node) else None


_READERS = {"VolumeFile": _read_volume, "SegmentationFile": _read_segmentation}


def loadNodeFromFile(filename, filetype=None, properties={}, returnNode=False):  # noqa: B006 (Slicer's signature)
    """Load a node with the reader for ``filetype`` (VolumeFile / SegmentationFile here); RuntimeError on
    failure, or (success, node) with the deprecated ``returnNode``."""
    properties["fileName"] = str(filename)
    if filetype is None:
        filetype = "SegmentationFile" if str(filename).lower().endswith(".seg.nrrd") else "VolumeFile"
    reader = _READERS.get(filetype)
    loadedNode = None
    try:
        loadedNode = (
            reader(filename, properties) if reader is not None and Path(str(filename)).exists() else None
        )
    except RuntimeError as error:
        logging.error(f"Failed to read {filename}: {error}")
    success = loadedNode is not None
    if returnNode:
        logging.warning(
            "loadNodeFromFile `returnNode` argument is deprecated. Loaded node is now returned "
            "directly if `returnNode` is not specified."
        )
        return success, loadedNode
    if not success:
        raise RuntimeError(f"Failed to load node from file: {filename}")
    return loadedNode


def loadNodesFromFile(filename, filetype=None, properties={}, returnNode=False):  # noqa: B006
    """As loadNodeFromFile, but an iterator over the loaded node(s)."""
    return iter([loadNodeFromFile(filename, filetype, properties)])


def loadVolume(filename, properties={}, returnNode=False):  # noqa: B006
    """Load a volume (name = file base name before the first dot, made unique)."""
    return loadNodeFromFile(filename, "VolumeFile", properties, returnNode)


def loadLabelVolume(filename, properties={}, returnNode=False):  # noqa: B006
    """Load a label-map volume (sets properties["labelmap"] = True, in the shared default dict too)."""
    properties["labelmap"] = True
    return loadNodeFromFile(filename, "VolumeFile", properties, returnNode)


def loadSegmentation(filename, properties={}, returnNode=False):  # noqa: B006
    """Load a label image as a segmentation node (one segment per label value, "Label_<n>")."""
    return loadNodeFromFile(filename, "SegmentationFile", properties, returnNode)


def _write_node(node, filename) -> bool:
    import SimpleITK as sitk

    import slicer
    from slicer._mrml import vtkMRMLSegmentationNode, vtkMRMLTableNode, vtkMRMLVolumeNode, vtkSegmentation

    extension = _known_extension(filename)
    if isinstance(node, vtkMRMLVolumeNode) and extension in _VOLUME_EXTENSIONS:
        sitk.WriteImage(
            _sitk_from_volume(node), str(filename), extension in (".nrrd", ".seg.nrrd", ".nii.gz", ".mha")
        )
        return True
    if isinstance(node, vtkMRMLSegmentationNode) and extension in _VOLUME_EXTENSIONS:
        labelmap = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__export__")
        try:
            _segmentations_logic().ExportAllSegmentsToLabelmapNode(
                node, labelmap, vtkSegmentation.EXTENT_REFERENCE_GEOMETRY
            )
            sitk.WriteImage(_sitk_from_volume(labelmap), str(filename), True)
        finally:
            if labelmap.GetDisplayNode():
                slicer.mrmlScene.RemoveNode(labelmap.GetDisplayNode().GetColorNode())
            slicer.mrmlScene.RemoveNode(labelmap)
        return True
    if isinstance(node, vtkMRMLTableNode) and extension in _TABLE_EXTENSIONS:
        writer = vtk.vtkDelimitedTextWriter()
        writer.SetFieldDelimiter("," if extension == ".csv" else "\t")
        writer.SetUseStringDelimiter(False)
        writer.SetFileName(str(filename))
        writer.SetInputData(node.GetTable())
        return bool(writer.Write())
    return False


def saveNode(node, filename, properties={}):  # noqa: B006
    """Write the node and point its storage node at ``filename``; False (logged) on failure."""
    properties["nodeID"] = node.GetID()
    properties["fileName"] = filename
    try:
        success = _write_node(node, filename)
    except RuntimeError as error:
        logging.error(str(error))
        success = False
    if success and node.AddDefaultStorageNode():
        node.GetStorageNode().SetFileName(str(filename))
    if not success:
        logging.error(f"Failed to save node to file: {filename}")
    return success


def exportNode(node, filename, properties={}, world=False):  # noqa: B006
    """Write the node without touching its storage node; ValueError for an unknown extension."""
    extension = _known_extension(filename)
    if "fileFormat" not in properties and extension not in _VOLUME_EXTENSIONS + _TABLE_EXTENSIONS:
        raise ValueError(
            f"Failed to export {node.GetID()} - no known file format was found for filename {filename}"
        )
    try:
        success = _write_node(node, filename)
    except RuntimeError as error:
        logging.error(str(error))
        success = False
    if not success:
        logging.error(f"Failed to export node to file: {filename}")
    return success


from slicer._util_app import *  # noqa: E402,F403
from slicer._util_process import *  # noqa: E402,F403
