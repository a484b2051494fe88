"""Stand-in for Slicer's ``sitkUtils`` (Base/Python/sitkUtils.py, commit 583e9b37).

Slicer now converts through numpy (no MRMLIDImageIO): voxels go into a vtkImageData with origin 0,
spacing 1, identity direction, and the geometry goes into the node's IJK->RAS matrix, built from the
LPS image geometry as diag(-1, -1, 1) . [direction * spacing | origin]. The same is done here.
"""

from __future__ import annotations

import SimpleITK as sitk
import slicer
import vtk


def _get_lps_to_ras_matrix() -> vtk.vtkMatrix4x4:
    """diag(-1, -1, 1, 1): LPS <-> RAS (its own inverse)."""
    lpsToRas = vtk.vtkMatrix4x4()
    lpsToRas.Identity()
    lpsToRas.SetElement(0, 0, -1)
    lpsToRas.SetElement(1, 1, -1)
    return lpsToRas


def PushVolumeToSlicer(sitkimage, targetNode=None, name=None, className="vtkMRMLScalarVolumeNode"):
    """Deep-copy a SimpleITK image into ``targetNode`` (or a new node of ``className`` named
    GetUniqueNameByString(name), with default display nodes) and return the node. The class is not
    chosen from the pixel type: pass vtkMRMLVectorVolumeNode for multi-component images yourself."""
    if not targetNode:
        targetNode = slicer.mrmlScene.AddNewNodeByClass(
            className, slicer.mrmlScene.GetUniqueNameByString(name)
        )
        targetNode.CreateDefaultDisplayNodes()
    targetNode.SetAndObserveImageData(sitk2vtk(sitkimage))
    spacing = sitkimage.GetSpacing()
    direction_lps = sitkimage.GetDirection()
    origin_lps = sitkimage.GetOrigin()
    ijkToLPS = vtk.vtkMatrix4x4()
    for row in range(3):
        for col in range(3):
            ijkToLPS.SetElement(row, col, direction_lps[row * 3 + col] * spacing[col])
        ijkToLPS.SetElement(row, 3, origin_lps[row])
    ijkToRAS = vtk.vtkMatrix4x4()
    vtk.vtkMatrix4x4.Multiply4x4(_get_lps_to_ras_matrix(), ijkToLPS, ijkToRAS)
    targetNode.SetIJKToRASMatrix(ijkToRAS)
    targetNode.Modified()
    return targetNode


def PullVolumeFromSlicer(nodeObjectOrName):
    """The node (or the node found by slicer.util.getNode) as a SimpleITK image in LPS."""
    targetNode = (
        nodeObjectOrName
        if isinstance(nodeObjectOrName, slicer.vtkMRMLNode)
        else slicer.util.getNode(nodeObjectOrName)
    )
    ijkToRAS = vtk.vtkMatrix4x4()
    targetNode.GetIJKToRASMatrix(ijkToRAS)
    ijkToLPS = vtk.vtkMatrix4x4()
    vtk.vtkMatrix4x4.Multiply4x4(_get_lps_to_ras_matrix(), ijkToRAS, ijkToLPS)
    spacing = targetNode.GetSpacing()
    origin_lps = [ijkToLPS.GetElement(i, 3) for i in range(3)]
    direction_lps = [ijkToLPS.GetElement(row, col) / spacing[col] for row in range(3) for col in range(3)]
    return vtk2sitk(targetNode.GetImageData(), origin=origin_lps, spacing=spacing, direction=direction_lps)


def GetSlicerITKReadWriteAddress(nodeObjectOrName):
    """ "slicer:<scene address>#<node ID>" (the old MRMLIDImageIO address)."""
    myNode = (
        nodeObjectOrName
        if isinstance(nodeObjectOrName, slicer.vtkMRMLNode)
        else slicer.util.getNode(nodeObjectOrName)
    )
    myNodeSceneAddress = myNode.GetScene().GetAddressAsString("").replace("Addr=", "")
    return "slicer:" + myNodeSceneAddress + "#" + myNode.GetID()


def IsMRMLIDImageIOAvailable():
    """Deprecated: always True."""
    return True


def vtk2sitk(vtkimg, origin=None, spacing=None, direction=None):
    """vtkImageData -> SimpleITK image (geometry from the arguments, else from the vtkImageData).
    As in Slicer, multi-component voxels fail here (ValueError: the (N, C) array cannot take the
    (k, j, i) shape), so vector volumes cannot be pulled."""
    import vtk.util.numpy_support as vtknp

    npdata = vtknp.vtk_to_numpy(vtkimg.GetPointData().GetScalars())
    dims = list(vtkimg.GetDimensions())
    dims.reverse()
    npdata.shape = tuple(dims)
    sitkimg = sitk.GetImageFromArray(npdata)
    sitkimg.SetSpacing(spacing if spacing is not None else vtkimg.GetSpacing())
    if direction is not None:
        sitkimg.SetDirection(direction)
    else:
        vtk_dir = vtkimg.GetDirectionMatrix()
        sitkimg.SetDirection([vtk_dir.GetElement(row, col) for row in range(3) for col in range(3)])
    sitkimg.SetOrigin(origin if origin is not None else vtkimg.GetOrigin())
    return sitkimg


def sitk2vtk(img, deep=1):
    """SimpleITK image -> vtkImageData with origin 0, spacing 1, identity direction (geometry belongs on
    the MRML node)."""
    import vtk.util.numpy_support as vtknp

    npdata = sitk.GetArrayFromImage(img)
    size = list(img.GetSize())
    if len(size) == 2:
        size.append(1)
    vtk_image = vtk.vtkImageData()
    vtk_image.SetDimensions(size)
    vtk_image.SetSpacing(1.0, 1.0, 1.0)
    vtk_image.SetOrigin(0.0, 0.0, 0.0)
    depth_array = vtknp.numpy_to_vtk(npdata.ravel(), deep=deep)
    depth_array.SetNumberOfComponents(img.GetNumberOfComponentsPerPixel())
    vtk_image.GetPointData().SetScalars(depth_array)
    return vtk_image
